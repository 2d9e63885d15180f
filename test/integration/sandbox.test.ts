/**
 * The sandbox platform, end to end over loopback HTTP against real PGlite (and real PostgreSQL
 * when DATABASE_URL is set) and a real redis-server: one sandbox per backend, faults switched.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_IDS } from '../../functions/core/catalog.ts';
import { type Config, parseConfig } from '../../functions/core/config.ts';
import { type SignatureFormat, signBody } from '../../functions/core/signing.ts';
import { syntheticTicket } from '../../functions/core/synthetic.ts';
import { FAULT_TARGET_TENANT, SANDBOX_FAULTS, type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { findOnPath } from '../../sandbox/queue.ts';

const DATABASE_URL = process.env.DATABASE_URL || undefined;
const REDIS_SERVER = findOnPath('redis-server', process.env.PATH);
const BACKENDS: { backend: 'pglite' | 'postgres'; databaseUrl: string | undefined }[] = [
  { backend: 'pglite', databaseUrl: undefined },
  ...(DATABASE_URL === undefined ? [] : [{ backend: 'postgres' as const, databaseUrl: DATABASE_URL }]),
];
const TABLES = ['tenant_configs', 'enhancement_history', 'ticket_history', 'system_inventory'];

type Body = Record<string, unknown>;

function ticket(tenantId: string, overrides: Body = {}): Body {
  return {
    ...syntheticTicket({ tenantId, ticketPrefix: 'SYNTH-', createdAt: new Date(), uuid: randomUUID() }),
    ...overrides,
  };
}

interface Reply {
  status: number;
  json: unknown;
  headers: Headers;
}

async function post(sandbox: Sandbox, body: string, headers: Record<string, string> = {}, query = ''): Promise<Reply> {
  const response = await fetch(`${sandbox.baseUrl}/webhook/servicedesk${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text), headers: response.headers };
}

/** Posts `body` signed with `secret` (the tenant's own by default) in the sandbox's format. */
function postSigned(
  sandbox: Sandbox,
  body: Body,
  options: { secret?: string; format?: SignatureFormat; tamper?: (text: string) => string } = {},
): Promise<Reply> {
  const text = JSON.stringify(body);
  const secret = options.secret ?? secretOf(sandbox, String(body.tenant_id));
  const signature = signBody(text, secret, options.format ?? 'sha256-prefixed');
  return post(sandbox, options.tamper ? options.tamper(text) : text, { 'X-ServiceDesk-Signature': signature });
}

function secretOf(sandbox: Sandbox, tenantId: string): string {
  const tenant = sandbox.tenants.find((t) => t.tenantId === tenantId);
  if (tenant === undefined) throw new Error(`no tenant ${tenantId}`);
  return tenant.secret;
}

async function getJson(url: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text), headers: response.headers };
}

/**
 * Runs `fn` as the canary would: its login, SET LOCAL ROLE probeAsRole, the tenant setting for
 * this transaction only, always rolled back. Only database work inside (PGlite holds the backend).
 */
async function asCanary<T>(config: Config, tenantId: string | null, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const db = config.database;
  if (db?.url === undefined) throw new Error('the sandbox config has a database url');
  const client = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query('BEGIN');
    if (db.probeAsRole !== null) await client.query(`SET LOCAL ROLE ${db.probeAsRole}`);
    if (tenantId !== null) await client.query('SELECT set_config($1, $2, true)', [db.tenantSetting, tenantId]);
    return await fn(client);
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    await client.end();
  }
}

interface HistoryRow {
  status: string;
  llm_output: string | null;
  processing_time_ms: number | null;
  latency_ms: number | null;
  context_gathered: Record<string, unknown> | null;
}

async function waitForHistory(
  config: Config,
  tenantId: string,
  ticketId: string,
  until: (row: HistoryRow) => boolean,
  timeoutMs = 10_000,
): Promise<HistoryRow> {
  const deadline = Date.now() + timeoutMs;
  let last: HistoryRow | undefined;
  while (Date.now() < deadline) {
    last = await asCanary(config, tenantId, async (client) => {
      const result = await client.query<HistoryRow>(
        `SELECT status, llm_output, processing_time_ms, context_gathered,
                round(extract(epoch FROM completed_at - created_at) * 1000)::int AS latency_ms
         FROM enhancement_history WHERE tenant_id = $1 AND ticket_id = $2`,
        [tenantId, ticketId],
      );
      return result.rows[0];
    });
    if (last !== undefined && until(last)) return last;
    await sleep(50);
  }
  throw new Error(`ticket ${ticketId} did not get there in ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

async function redisPid(url: string): Promise<number> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    const info = await client.info('server');
    return Number(/process_id:(\d+)/.exec(info)?.[1]);
  } finally {
    client.disconnect();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the test environment', () => {
  it('provides real PostgreSQL (DATABASE_URL) and redis-server when CI=true', (ctx) => {
    if (process.env.CI !== 'true') ctx.skip('only CI promises both');
    expect(DATABASE_URL, 'CI must set DATABASE_URL so the sandbox runs on real PostgreSQL too').toBeDefined();
    expect(REDIS_SERVER, 'CI must have redis-server on PATH').toBeDefined();
  });
});

describe('the fault table', () => {
  it('names known checks, unique faults and the tenant faults hit', () => {
    const names = SANDBOX_FAULTS.map((fault) => fault.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.slice(0, 6)).toEqual([
      'health-down',
      'health-hangs',
      'health-huge-body',
      'forged-signatures-accepted',
      'secret-mismatch',
      'replay-window-off',
    ]);
    // The data-plane faults and their exact expectations are pinned in test/drills/drill.test.ts.
    expect(names.length).toBe(34);
    for (const fault of SANDBOX_FAULTS) {
      expect(fault.expect.length).toBeGreaterThan(0);
      for (const expectation of fault.expect) expect(CHECK_IDS).toContain(expectation.checkId);
    }
    expect(SANDBOX_FAULTS.find((fault) => fault.name === 'secret-mismatch')?.expect).toEqual([
      { checkId: 'webhook.signed_accepted', status: 'fail', tier: 'P1', tenants: 'target' },
    ]);
    expect(FAULT_TARGET_TENANT).toBe('acme-corp');
  });
});

/** Handles that a stopped sandbox must not leave behind. */
function openHandles(): Record<string, number> {
  const counts: Record<string, number> = { TCPServerWrap: 0, TCPSocketWrap: 0, ProcessWrap: 0, PipeWrap: 0 };
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind in counts) counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

describe.each(BACKENDS)('the sandbox on $backend', ({ backend, databaseUrl }) => {
  let sandbox: Sandbox;
  let config: Config;
  let handlesBefore: Record<string, number>;
  const logLines: string[] = [];

  beforeAll(async () => {
    handlesBefore = openHandles();
    // Plain HTTP: these tests speak to the receiver with fetch; HTTPS has its own test below.
    sandbox = await startSandbox({
      databaseUrl,
      tls: false,
      workerLatencyMs: { min: 40, max: 120 },
      log: (line) => logLines.push(line),
    });
    config = parseConfig(sandbox.config);
  });

  afterAll(async () => {
    await sandbox?.stop();
  });

  afterEach(async () => {
    await sandbox.setFaults([]).catch(() => {}); // the last test stops the sandbox
  });

  it('hands out a valid canary config for its three tenants', () => {
    expect(sandbox.info.database).toBe(backend);
    expect(sandbox.info.redis).toBe(REDIS_SERVER === undefined ? sandbox.info.redis : 'redis-server');
    expect(sandbox.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(config.platform.baseUrl).toBe(sandbox.baseUrl);
    expect(config.platform.signatureFormat).toBe('sha256-prefixed');
    expect(sandbox.tenants.map((t) => t.tenantId)).toEqual(['acme-corp', 'globex', 'initech']);
    expect(config.tenants.map((t) => t.signingSecret)).toEqual(sandbox.tenants.map((t) => ({ value: t.secret })));
    expect(config.database).toMatchObject({ tenantTables: TABLES, enhancementTextColumn: 'llm_output' });
    expect(config.database?.probeAsRole).toBe(backend === 'pglite' ? 'canary_probe' : null);
    if (sandbox.info.redis !== 'memory') expect(config.redis?.queueKeys).toEqual(['enhancement:queue']);
    expect(sandbox.faults()).toEqual([]);
  });

  it('reports healthy and ready, and 404 for unknown paths', async () => {
    const health = await getJson(`${sandbox.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(health.json).toEqual({
      status: 'healthy',
      service: 'AI Agents',
      dependencies: { database: 'healthy', redis: 'healthy' },
    });
    const ready = await getJson(`${sandbox.baseUrl}/api/v1/ready`);
    expect(ready).toMatchObject({ status: 200, json: { status: 'ready' } });
    expect((await getJson(`${sandbox.baseUrl}/nope`)).status).toBe(404);
    expect((await getJson(`${sandbox.baseUrl}/health`, { method: 'POST' })).status).toBe(405);
  });

  it('accepts a signed synthetic ticket and records its enhancement as completed', async () => {
    const body = ticket('globex');
    const reply = await postSigned(sandbox, body);
    expect(reply.status).toBe(202);
    expect(reply.json).toMatchObject({ status: 'accepted', message: 'Enhancement job queued successfully' });
    expect((reply.json as { job_id: string }).job_id).toMatch(/^[0-9a-f-]{36}$/);
    const row = await waitForHistory(config, 'globex', String(body.ticket_id), (r) => r.status === 'completed');
    expect(row.llm_output).toContain(String(body.ticket_id));
    expect(row.processing_time_ms).toBeGreaterThanOrEqual(40);
    expect(Math.abs((row.processing_time_ms ?? 0) - (row.latency_ms ?? 0))).toBeLessThanOrEqual(1);
    expect(row.context_gathered).toMatchObject({ write_back: 'skipped: synthetic ticket' });
  });

  it('processes a burst of tickets for every tenant concurrently', async () => {
    const bodies = sandbox.tenants.flatMap((tenant) => Array.from({ length: 8 }, () => ticket(tenant.tenantId)));
    const replies = await Promise.all(bodies.map((body) => postSigned(sandbox, body)));
    expect(replies.map((reply) => reply.status)).toEqual(bodies.map(() => 202));
    await Promise.all(
      bodies.map((body) =>
        waitForHistory(config, String(body.tenant_id), String(body.ticket_id), (r) => r.status === 'completed'),
      ),
    );
  });

  it('rejects a missing, wrong, other-format, tampered or other tenant signature with 401', async () => {
    const body = ticket('acme-corp');
    const text = JSON.stringify(body);
    expect(await post(sandbox, text)).toMatchObject({ status: 401, json: { detail: 'Missing signature header' } });
    const invalid = { status: 401, json: { detail: 'Invalid webhook signature' } };
    expect(await postSigned(sandbox, body, { secret: 'not-the-secret' })).toMatchObject(invalid);
    expect(await postSigned(sandbox, body, { format: 'hex' })).toMatchObject(invalid);
    expect(await post(sandbox, text, { 'X-ServiceDesk-Signature': 'sha256=zz' })).toMatchObject(invalid);
    expect(
      await postSigned(sandbox, body, { tamper: (t) => t.replace('synthetic ticket', 'synthetic tickeT') }),
    ).toMatchObject(invalid);
    expect(await postSigned(sandbox, body, { secret: secretOf(sandbox, 'globex') })).toMatchObject(invalid);
  });

  it('rejects unknown and inactive tenants as an invalid signature', async () => {
    const invalid = { status: 401, json: { detail: 'Invalid webhook signature' } };
    expect(await postSigned(sandbox, ticket('no-such-tenant'), { secret: 'x' })).toMatchObject(invalid);
    expect(await postSigned(sandbox, ticket('umbrella-offboarded'), { secret: 'x' })).toMatchObject(invalid);
  });

  it('ignores the query string: the tenant is the one in the body', async () => {
    const body = ticket('initech');
    expect((await postSigned(sandbox, body)).status).toBe(202);
    const text = JSON.stringify(body);
    const signedByGlobex = signBody(text, secretOf(sandbox, 'globex'), 'sha256-prefixed');
    const reply = await post(sandbox, text, { 'X-ServiceDesk-Signature': signedByGlobex }, '?tenant_id=globex');
    expect(reply.status).toBe(401);
  });

  it('rejects invalid payloads with 422 naming each field', async () => {
    const details = async (body: string): Promise<{ type: string; loc: unknown[] }[]> => {
      const reply = await post(sandbox, body, { 'X-ServiceDesk-Signature': signBody(body, 'irrelevant', 'hex') });
      expect(reply.status).toBe(422);
      return (reply.json as { detail: { type: string; loc: unknown[] }[] }).detail;
    };
    expect(await details(JSON.stringify(ticket('acme-corp', { extra: 1 })))).toEqual([
      expect.objectContaining({ type: 'extra_forbidden', loc: ['body', 'extra'] }),
    ]);
    const broken = ticket('acme-corp', {
      event: '',
      ticket_id: 'lower-case',
      priority: 'urgent',
      created_at: '2026-01-01T10:00:00',
      correlation_id: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
    });
    delete broken.description;
    const types = (await details(JSON.stringify(broken))).map((d) => `${d.loc[1]}:${d.type}`);
    expect(types.sort()).toEqual([
      'correlation_id:uuid_version',
      'created_at:timezone_aware',
      'description:missing',
      'event:string_too_short',
      'priority:enum',
      'ticket_id:string_pattern_mismatch',
    ]);
    expect((await details(JSON.stringify(ticket('acme-corp', { description: 'x'.repeat(10_001) }))))[0]?.type).toBe(
      'string_too_long',
    );
    expect((await details('{"not json'))[0]?.type).toBe('json_invalid');
    expect((await details('[1, 2]'))[0]?.type).toBe('model_attributes_type');
    expect((await details(JSON.stringify(ticket('acme-corp', { created_at: 'yesterday' }))))[0]?.type).toBe(
      'datetime_parsing',
    );
  });

  it('enforces the replay window: 300 s old, 30 s ahead', async () => {
    const at = (offsetS: number) => new Date(Date.now() + offsetS * 1000).toISOString();
    expect((await postSigned(sandbox, ticket('acme-corp', { created_at: at(-400) }))).status).toBe(401);
    expect((await postSigned(sandbox, ticket('acme-corp', { created_at: at(60) }))).status).toBe(401);
    expect((await postSigned(sandbox, ticket('acme-corp', { created_at: at(-250) }))).status).toBe(202);
    const offset = new Date(Date.now() - 100_000).toISOString().replace('Z', '+00:00');
    expect((await postSigned(sandbox, ticket('acme-corp', { created_at: offset }))).status).toBe(202);
  });

  it('refuses a body over 256 KiB with 413', async () => {
    const reply = await post(sandbox, JSON.stringify({ padding: 'x'.repeat(300 * 1024) }), {
      'X-ServiceDesk-Signature': 'sha256=00',
    });
    expect(reply.status).toBe(413);
  });

  it('answers 503 when Redis refuses the job', async () => {
    const url = config.redis?.url;
    if (url === undefined) return; // queueing in memory: nothing can refuse
    const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    try {
      await admin.config('SET', 'maxmemory', '1'); // every write is now refused with OOM
      const reply = await postSigned(sandbox, ticket('globex'));
      expect(reply).toMatchObject({ status: 503, json: { detail: 'Queue unavailable, please retry' } });
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      admin.disconnect();
    }
    expect((await postSigned(sandbox, ticket('globex'))).status).toBe(202);
  });

  it('health-down: /health answers 503 with the database unhealthy, until reverted', async () => {
    await sandbox.setFaults(['health-down']);
    expect(sandbox.faults()).toEqual(['health-down']);
    const down = await getJson(`${sandbox.baseUrl}/health`);
    expect(down.status).toBe(503);
    expect(down.json).toMatchObject({ status: 'unhealthy', dependencies: { database: 'unhealthy', redis: 'healthy' } });
    expect((await postSigned(sandbox, ticket('globex'))).status).toBe(202); // only health is affected
    await sandbox.setFaults([]);
    expect((await getJson(`${sandbox.baseUrl}/health`)).status).toBe(200);
  });

  it('health-hangs: /health never answers while webhooks still work, until reverted', async () => {
    await sandbox.setFaults(['health-hangs']);
    await expect(fetch(`${sandbox.baseUrl}/health`, { signal: AbortSignal.timeout(400) })).rejects.toThrow();
    expect((await postSigned(sandbox, ticket('globex'))).status).toBe(202);
    await sandbox.setFaults([]);
    expect((await getJson(`${sandbox.baseUrl}/health`)).status).toBe(200);
  });

  it('health-huge-body: /health streams a body of unknown length, only as fast as it is read', async () => {
    await sandbox.setFaults(['health-huge-body']);
    const response = await fetch(`${sandbox.baseUrl}/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBeNull();
    const reader = response.body?.getReader();
    if (reader === undefined) throw new Error('no body');
    let received = 0;
    while (received < 16 * 1024 * 1024) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error('the body ended early');
      received += chunk.value.length;
    }
    const rssBefore = process.memoryUsage().rss;
    await sleep(300); // not reading: the server must wait for the client, not buffer the rest
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    await reader.cancel();
    let left: string | undefined;
    for (let attempt = 0; attempt < 40 && left === undefined; attempt++) {
      left = logLines.find((line) => line.includes('huge /health body: the client left after'));
      if (left === undefined) await sleep(25);
    }
    const written = Number(/after (\d+) bytes/.exec(left ?? '')?.[1]);
    expect(written).toBeGreaterThanOrEqual(received);
    expect(written - received).toBeLessThan(32 * 1024 * 1024); // it stopped writing when the client went away
    await sandbox.setFaults([]);
    expect((await getJson(`${sandbox.baseUrl}/health`)).status).toBe(200);
  });

  it('forged-signatures-accepted: missing, wrong, tampered and cross-tenant signatures get 202, until reverted', async () => {
    await sandbox.setFaults(['forged-signatures-accepted']);
    const body = ticket('acme-corp');
    const forgeries = () => [
      post(sandbox, JSON.stringify(body)),
      postSigned(sandbox, body, { secret: 'not-the-secret' }),
      postSigned(sandbox, body, { tamper: (t) => t.replace('synthetic ticket', 'synthetic tickeT') }),
      postSigned(sandbox, body, { secret: secretOf(sandbox, 'globex') }),
    ];
    expect((await Promise.all(forgeries())).map((r) => r.status)).toEqual([202, 202, 202, 202]);
    expect((await postSigned(sandbox, ticket('no-such-tenant'), { secret: 'x' })).status).toBe(401);
    await sandbox.setFaults([]);
    expect((await Promise.all(forgeries())).map((r) => r.status)).toEqual([401, 401, 401, 401]);
  });

  it('secret-mismatch: only the target tenant is refused its correctly signed ticket, until reverted', async () => {
    await sandbox.setFaults(['secret-mismatch']);
    expect((await postSigned(sandbox, ticket(FAULT_TARGET_TENANT))).status).toBe(401);
    expect((await postSigned(sandbox, ticket('globex'))).status).toBe(202);
    expect((await postSigned(sandbox, ticket('initech'))).status).toBe(202);
    const stored = await asCanary(config, FAULT_TARGET_TENANT, async (client) => {
      const result = await client.query('SELECT webhook_signing_secret_encrypted AS token FROM tenant_configs');
      return String(result.rows[0]?.token);
    });
    expect(stored).toMatch(/^gAAAAA/); // still a Fernet token, never the plaintext
    expect(stored).not.toContain(secretOf(sandbox, FAULT_TARGET_TENANT));
    await sandbox.setFaults([]);
    expect((await postSigned(sandbox, ticket(FAULT_TARGET_TENANT))).status).toBe(202);
  });

  it('replay-window-off: a stale ticket is accepted, until reverted', async () => {
    const stale = () => ticket('initech', { created_at: new Date(Date.now() - 3_600_000).toISOString() });
    await sandbox.setFaults(['replay-window-off']);
    expect((await postSigned(sandbox, stale())).status).toBe(202);
    expect((await postSigned(sandbox, stale(), { secret: 'wrong' })).status).toBe(401);
    await sandbox.setFaults([]);
    expect((await postSigned(sandbox, stale())).status).toBe(401);
  });

  it('switches several faults at once and refuses unknown ones', async () => {
    await sandbox.setFaults(['replay-window-off', 'health-down']);
    expect([...sandbox.faults()].sort()).toEqual(['health-down', 'replay-window-off']);
    await sandbox.setFaults(['health-down']);
    expect(sandbox.faults()).toEqual(['health-down']);
    // @ts-expect-error not a fault name
    await expect(sandbox.setFaults(['no-such-fault'])).rejects.toThrow(/unknown sandbox fault no-such-fault/);
    expect(sandbox.faults()).toEqual(['health-down']);
  });

  it('keeps tenants apart with row-level security, as the canary probes it', async () => {
    const perTable = async <T>(client: pg.Client, sql: (table: string) => string, pick: (r: pg.QueryResult) => T) => {
      const out: T[] = [];
      for (const table of TABLES) out.push(pick(await client.query(sql(table))));
      return out;
    };
    const counts = await asCanary(config, null, (client) =>
      perTable(
        client,
        (table) => `SELECT count(*)::int AS n FROM ${table}`,
        (r) => r.rows[0].n,
      ),
    );
    expect(counts).toEqual([0, 0, 0, 0]);
    const visible = await asCanary(config, 'globex', (client) =>
      perTable(
        client,
        (table) => `SELECT DISTINCT tenant_id FROM ${table}`,
        (r) => r.rows.map((row) => row.tenant_id),
      ),
    );
    expect(visible).toEqual([['globex'], ['globex'], ['globex'], ['globex']]);
    await expect(
      asCanary(config, 'globex', (client) =>
        client.query(`INSERT INTO system_inventory (tenant_id, ip_address) VALUES ('acme-corp', '192.0.2.1')`),
      ),
    ).rejects.toThrow(/row-level security/);
    const updated = await asCanary(config, 'globex', (client) =>
      client.query(`UPDATE ticket_history SET resolution = 'x' WHERE tenant_id = 'acme-corp'`),
    );
    expect(updated.rowCount).toBe(0);
  });

  it('has a context function that accepts active tenants only and sets the tenant setting', async () => {
    const setting = await asCanary(config, null, async (client) => {
      await client.query('SELECT set_tenant_context($1)', ['initech']);
      return (await client.query(`SELECT current_setting('app.current_tenant_id') AS value`)).rows[0].value;
    });
    expect(setting).toBe('initech');
    for (const tenantId of ['umbrella-offboarded', 'no-such-tenant']) {
      await expect(
        asCanary(config, null, (client) => client.query('SELECT set_tenant_context($1)', [tenantId])),
      ).rejects.toThrow('Invalid tenant_id value');
    }
    // Nothing leaked into other sessions (PGlite multiplexes one backend).
    expect(await asCanary(config, null, (client) => client.query('SELECT count(*) FROM ticket_history'))).toMatchObject(
      { rows: [{ count: '0' }] },
    );
  });

  it('runs the application role and the probe under RLS, on tables with RLS and tenant policies', async () => {
    const db = config.database;
    const facts = await asCanary(config, null, async (client) => {
      const roles = await client.query(
        `SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = ANY($1::text[])`,
        [[db?.appRole, db?.probeAsRole ?? 'none', 'postgres'].filter(Boolean)],
      );
      const tables = await client.query(
        `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner
         FROM pg_class c WHERE c.relname = ANY($1::text[]) AND c.relkind = 'r' ORDER BY c.relname`,
        [TABLES],
      );
      const policies = await client.query(
        `SELECT tablename, policyname, qual FROM pg_policies WHERE tablename = ANY($1::text[]) ORDER BY tablename`,
        [TABLES],
      );
      const me = await client.query('SELECT current_user AS name');
      return { roles: roles.rows, tables: tables.rows, policies: policies.rows, me: me.rows[0].name as string };
    });
    const app = facts.roles.find((role) => role.rolname === db?.appRole);
    expect(app).toMatchObject({ rolsuper: false, rolbypassrls: false });
    const me = facts.roles.find((role) => role.rolname === facts.me) ?? { rolsuper: false, rolbypassrls: false };
    expect(me).toMatchObject({ rolsuper: false, rolbypassrls: false });
    expect(facts.tables).toHaveLength(4);
    for (const table of facts.tables) {
      expect(table).toMatchObject({ relrowsecurity: true, relforcerowsecurity: false });
      expect([db?.appRole, facts.me]).not.toContain(table.owner);
    }
    expect(facts.policies.map((p) => p.policyname).sort()).toEqual(
      TABLES.map((table) => `${table}_tenant_isolation_policy`).sort(),
    );
    for (const policy of facts.policies) expect(policy.qual).toContain('app.current_tenant_id');
  });

  it('seeds 24 h of realistic history per tenant without synthetic tickets', async () => {
    const stats = await asCanary(config, 'acme-corp', async (client) => {
      const history = await client.query(`
        SELECT count(*)::int AS total,
               count(*) FILTER (WHERE status = 'completed')::int AS completed,
               count(*) FILTER (WHERE status = 'failed' AND error_message IS NOT NULL)::int AS failed,
               avg(extract(epoch FROM completed_at - created_at)) FILTER (WHERE status = 'completed') AS avg_s,
               min(extract(epoch FROM completed_at - created_at)) FILTER (WHERE status = 'completed') AS min_s,
               max(extract(epoch FROM completed_at - created_at)) FILTER (WHERE status = 'completed') AS max_s,
               count(*) FILTER (WHERE abs(processing_time_ms - extract(epoch FROM completed_at - created_at) * 1000) > 1)::int AS inconsistent,
               count(*) FILTER (WHERE status = 'completed' AND coalesce(llm_output, '') = '')::int AS empty
        FROM enhancement_history
        WHERE created_at > now() - interval '24 hours' AND ticket_id NOT LIKE 'SYNTH-%'`);
      const tickets = await client.query(`
        SELECT count(*)::int AS total, extract(day FROM max(created_at) - min(created_at))::int AS days
        FROM ticket_history`);
      const hosts = await client.query('SELECT count(*)::int AS total FROM system_inventory');
      const config = await client.query('SELECT is_active, name FROM tenant_configs');
      return { history: history.rows[0], tickets: tickets.rows[0], hosts: hosts.rows[0].total, config: config.rows };
    });
    expect(stats.history.total).toBeGreaterThanOrEqual(100);
    expect(stats.history.completed / stats.history.total).toBeGreaterThanOrEqual(0.97);
    expect(stats.history.failed).toBeGreaterThanOrEqual(2);
    expect(Number(stats.history.min_s)).toBeGreaterThanOrEqual(4);
    expect(Number(stats.history.max_s)).toBeLessThanOrEqual(12);
    expect(stats.history.inconsistent).toBe(0);
    expect(stats.history.empty).toBe(0);
    expect(stats.tickets.total).toBeGreaterThanOrEqual(120);
    expect(stats.tickets.days).toBeGreaterThanOrEqual(30);
    expect(stats.hosts).toBe(10);
    expect(stats.config).toEqual([{ is_active: true, name: 'Acme Corp' }]);
  });

  it('stops promptly with a /health request held open, leaving no server, process or database', async () => {
    const redisUrl = config.redis?.url;
    const pid = redisUrl === undefined ? undefined : await redisPid(redisUrl);
    if (sandbox.info.redis === 'redis-server') expect(pid && alive(pid)).toBe(true);
    await sandbox.setFaults(['health-hangs']);
    const held = fetch(`${sandbox.baseUrl}/health`).then(
      () => 'answered',
      () => 'closed',
    );
    await sleep(100);
    const started = performance.now();
    await sandbox.stop();
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(await held).toBe('closed');
    await sandbox.stop(); // idempotent
    const leftOver = () => Object.entries(openHandles()).filter(([kind, count]) => count > (handlesBefore[kind] ?? 0));
    for (let attempt = 0; attempt < 20 && leftOver().length > 0; attempt++) {
      await sleep(25); // a child's pipes close just after its exit
    }
    expect(leftOver()).toEqual([]);
    await expect(sandbox.setFaults([])).rejects.toThrow(/stopped/);
    await expect(fetch(`${sandbox.baseUrl}/health`)).rejects.toThrow();
    if (sandbox.info.redis === 'redis-server' && pid !== undefined) expect(alive(pid)).toBe(false);
    await expect(asCanary(config, null, (client) => client.query('SELECT 1'))).rejects.toThrow();
    if (databaseUrl !== undefined) {
      const database = new URL(config.database?.url ?? '').pathname.slice(1);
      const suffix = database.replace(/^sandbox_/, '');
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      try {
        const left = await admin.query(
          `SELECT (SELECT count(*) FROM pg_database WHERE datname = $1)::int AS databases,
                  (SELECT count(*) FROM pg_roles WHERE rolname LIKE '%\\_' || $2)::int AS roles`,
          [database, suffix],
        );
        expect(left.rows[0]).toEqual({ databases: 0, roles: 0 });
      } finally {
        await admin.end();
      }
    }
  });
});

describe('a sandbox demanding bare hex signatures, queueing in memory', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({
      signatureFormat: 'hex',
      tls: false,
      redis: 'memory',
      tenantCount: 5,
      workerLatencyMs: { min: 10, max: 20 },
    });
  });

  afterAll(async () => {
    await sandbox?.stop();
  });

  it('names tenants beyond the third, omits Redis from the config and completes a round trip', async () => {
    const config = parseConfig(sandbox.config);
    expect(sandbox.info).toEqual({ database: 'pglite', redis: 'memory', tls: false });
    expect(config.redis).toBeUndefined();
    expect(config.platform.signatureFormat).toBe('hex');
    expect(sandbox.tenants.map((t) => t.tenantId)).toEqual([
      'acme-corp',
      'globex',
      'initech',
      'tenant-004',
      'tenant-005',
    ]);
    const body = ticket('tenant-005');
    expect((await postSigned(sandbox, body, { format: 'sha256-prefixed' })).status).toBe(401);
    expect((await postSigned(sandbox, body, { format: 'hex' })).status).toBe(202);
    const row = await waitForHistory(config, 'tenant-005', String(body.ticket_id), (r) => r.status === 'completed');
    expect(row.llm_output).toContain(String(body.ticket_id));
  });
});

describe('the sandbox on HTTPS', () => {
  it('serves a certificate from its private CA that the config trusts, and can switch to one about to expire', async (ctx) => {
    if (findOnPath('openssl', process.env.PATH) === undefined) {
      if (process.env.CI === 'true') throw new Error('CI=true but openssl is not on PATH');
      ctx.skip('openssl is not on PATH: the sandbox speaks HTTP');
    }
    const { createHttpClient } = await import('../../functions/adapters/http.ts');
    const { readFile } = await import('node:fs/promises');
    const { connect } = await import('node:tls');
    const sandbox = await startSandbox({ redis: 'memory' });
    const trusting = createHttpClient({
      connectTimeoutMs: 2000,
      ca: await readFile(sandbox.config.platform.caFile as string, 'utf8'),
    });
    const daysLeft = async () => {
      const url = new URL(sandbox.baseUrl);
      const cert = await new Promise<{ valid_to: string }>((resolve, reject) => {
        const socket = connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false }, () => {
          resolve(socket.getPeerCertificate());
          socket.end();
        });
        socket.once('error', reject);
      });
      return (Date.parse(cert.valid_to) - Date.now()) / 86_400_000;
    };
    try {
      expect(sandbox.info.tls).toBe(true);
      expect(sandbox.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const health = await trusting.request({
        method: 'GET',
        url: `${sandbox.baseUrl}/health`,
        timeoutMs: 5000,
        maxBytes: 4096,
      });
      expect(health).toMatchObject({ kind: 'response', status: 200 });
      expect(await daysLeft()).toBeGreaterThan(30);
      await sandbox.setFaults(['certificate-expiring']);
      expect(await daysLeft()).toBeLessThan(3.01);
      await sandbox.setFaults([]);
      expect(await daysLeft()).toBeGreaterThan(30);
      // Untrusted without the CA: the canary's caFile is what makes it pass.
      await expect(fetch(`${sandbox.baseUrl}/health`)).rejects.toThrow();
    } finally {
      await trusting.close();
      await sandbox.stop();
    }
  });
});
