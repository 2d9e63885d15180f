import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../functions/adapters/http.ts';
import type { TenantCheckId } from '../../functions/core/catalog.ts';
import { verifySignature } from '../../functions/core/signing.ts';
import { syntheticTicket } from '../../functions/core/synthetic.ts';
import type { Outcome } from '../../functions/core/types.ts';
import type { HttpClient } from '../../functions/ports.ts';
import type { TenantProbe } from '../../functions/probes/types.ts';
import {
  type AcceptedTicket,
  flipOneLetterOfDescription,
  probeBadSignatureRejected,
  probeCrossTenantSignatureRejected,
  probeMissingSignatureRejected,
  probeSignedAccepted,
  probeStaleTimestampRejected,
  probeTamperedBodyRejected,
} from '../../functions/probes/webhook.ts';
import { controlsIn, secretPieces } from '../support/hostile-text.ts';
import {
  effectiveTier,
  resolveTenants,
  type TestConfigExtra,
  tenantContext,
  testConfig,
} from '../support/probe-context.ts';
import {
  acceptEverything,
  answerStatus,
  closedPort,
  type Handler,
  hang,
  type ReceivedRequest,
  sendJson,
  startServer,
  strictReceiver,
  type TestServer,
  ticketSchemaProblem,
} from '../support/servers.ts';

const SECRETS = {
  'acme-corp': 'acme-signing-secret-7f3a9c',
  globex: 'globex-signing-secret-2b8d41',
};
const TENANTS = resolveTenants(SECRETS);

const PROBES: Record<string, TenantProbe> = {
  'webhook.signed_accepted': probeSignedAccepted,
  'webhook.bad_signature_rejected': probeBadSignatureRejected,
  'webhook.missing_signature_rejected': probeMissingSignatureRejected,
  'webhook.tampered_body_rejected': probeTamperedBodyRejected,
  'webhook.cross_tenant_signature_rejected': probeCrossTenantSignatureRejected,
  'webhook.stale_timestamp_rejected': probeStaleTimestampRejected,
};
const FORGERY_CHECKS = [
  'webhook.bad_signature_rejected',
  'webhook.missing_signature_rejected',
  'webhook.tampered_body_rejected',
  'webhook.cross_tenant_signature_rejected',
] as const;
const ALL_CHECKS = Object.keys(PROBES) as TenantCheckId[];

let http: HttpClient;
const servers: TestServer[] = [];
/** Every outcome any test produced, for the no-secret check at the end. */
const produced: Outcome[] = [];

async function serve(handler: Handler): Promise<TestServer> {
  const server = await startServer(handler);
  servers.push(server);
  return server;
}

async function run(
  checkId: TenantCheckId,
  server: { url: string },
  options: {
    tenantId?: string;
    tenants?: typeof TENANTS;
    thresholds?: TestConfigExtra['thresholds'];
    platform?: TestConfigExtra['platform'];
    now?: () => Date;
    uuid?: () => string;
    signal?: AbortSignal;
  } = {},
): Promise<Outcome> {
  const probe = PROBES[checkId];
  if (!probe) throw new Error(`no probe for ${checkId}`);
  const config = testConfig(server.url, SECRETS, { thresholds: options.thresholds, platform: options.platform });
  const ctx = tenantContext(config, http, options.tenantId ?? 'acme-corp', options.tenants ?? TENANTS, options);
  const outcome = await probe(ctx);
  produced.push(outcome);
  return outcome;
}

async function runAll(server: { url: string }, options: Parameters<typeof run>[2] = {}) {
  const outcomes = await Promise.all(ALL_CHECKS.map(async (id) => [id, await run(id, server, options)] as const));
  return Object.fromEntries(outcomes) as Record<TenantCheckId, Outcome>;
}

function signatureOf(request: ReceivedRequest | undefined): string | undefined {
  const header = request?.headers['x-servicedesk-signature'];
  return typeof header === 'string' ? header : undefined;
}

beforeAll(() => {
  http = createHttpClient({ connectTimeoutMs: 1000 });
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterAll(async () => {
  await http.close();
});

describe('webhook probes against a receiver that verifies signatures', () => {
  it('passes all six checks', async () => {
    const server = await serve(strictReceiver({ secrets: SECRETS }));

    const outcomes = await runAll(server);

    for (const id of ALL_CHECKS) expect(outcomes[id]?.status, `${id}: ${outcomes[id]?.summary}`).toBe('pass');
    expect(outcomes['webhook.bad_signature_rejected'].summary).toBe(
      'a ticket signed with a wrong secret was rejected (HTTP 401: Invalid webhook signature)',
    );
    expect(outcomes['webhook.missing_signature_rejected'].evidence?.detail).toBe('Missing signature header');
  });

  it('hands the accepted ticket to the round-trip check', async () => {
    const server = await serve(strictReceiver({ secrets: SECRETS }));
    const now = new Date();
    const uuid = randomUUID();

    const outcome = await run('webhook.signed_accepted', server, { now: () => now, uuid: () => uuid });

    const data = outcome.data as AcceptedTicket;
    const sent = JSON.parse(server.received[0]?.body ?? '{}') as Record<string, unknown>;
    const answered = server.received.length === 1;
    expect(answered).toBe(true);
    expect(data.ticketId).toMatch(/^SYNTH-[A-Z0-9]{16}$/);
    expect(data.ticketId).toBe(sent.ticket_id);
    expect(data.correlationId).toBe(uuid);
    expect(data.sentAt).toBe(now.toISOString());
    expect(data.jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(outcome.evidence).toMatchObject({ status: 202, ticketId: data.ticketId, jobId: data.jobId });
  });

  it('sends the synthetic ticket as JSON, signed over the exact bytes sent', async () => {
    const server = await serve(strictReceiver({ secrets: SECRETS }));
    const now = new Date();
    const uuid = randomUUID();

    await run('webhook.signed_accepted', server, { now: () => now, uuid: () => uuid });

    const request = server.received[0];
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/webhook/servicedesk');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.body).toBe(
      JSON.stringify(syntheticTicket({ tenantId: 'acme-corp', ticketPrefix: 'SYNTH-', createdAt: now, uuid })),
    );
    expect(verifySignature(request?.body ?? '', SECRETS['acme-corp'], signatureOf(request), 'sha256-prefixed')).toBe(
      true,
    );
  });

  it('signs in bare hex when the platform expects the format of the guide', async () => {
    const server = await serve(strictReceiver({ secrets: SECRETS, format: 'hex' }));

    const outcome = await run('webhook.signed_accepted', server, { platform: { signatureFormat: 'hex' } });

    expect(outcome.status).toBe('pass');
    expect(signatureOf(server.received[0])).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps a path prefix of the base URL and the configured webhook path', async () => {
    const server = await serve(strictReceiver({ secrets: SECRETS }));

    const outcome = await run(
      'webhook.signed_accepted',
      { url: `${server.url}/api/` },
      { platform: { webhookPath: '/hooks/sd' } },
    );

    expect(outcome.status).toBe('pass');
    expect(server.received[0]?.url).toBe('/api/hooks/sd');
  });

  it('tampers with exactly one byte and keeps the body valid for the schema', async () => {
    const server = await serve(strictReceiver({ secrets: SECRETS }));
    const now = new Date();
    const uuid = randomUUID();

    const outcome = await run('webhook.tampered_body_rejected', server, { now: () => now, uuid: () => uuid });

    const original = JSON.stringify(
      syntheticTicket({ tenantId: 'acme-corp', ticketPrefix: 'SYNTH-', createdAt: now, uuid }),
    );
    const sent = server.received[0]?.body ?? '';
    const differing = [...Buffer.from(sent)].filter((byte, index) => byte !== Buffer.from(original)[index]);
    expect(Buffer.byteLength(sent)).toBe(Buffer.byteLength(original));
    expect(differing).toHaveLength(1);
    expect(ticketSchemaProblem(JSON.parse(sent))).toBeUndefined();
    // Signed over the original bytes: valid for them, not for what was sent.
    const signature = signatureOf(server.received[0]);
    expect(verifySignature(original, SECRETS['acme-corp'], signature, 'sha256-prefixed')).toBe(true);
    expect(verifySignature(sent, SECRETS['acme-corp'], signature, 'sha256-prefixed')).toBe(false);
    expect(outcome.status).toBe('pass');
  });

  it("signs the cross-tenant ticket with another tenant's secret, for this tenant", async () => {
    const server = await serve(strictReceiver({ secrets: SECRETS }));

    const outcome = await run('webhook.cross_tenant_signature_rejected', server);

    const request = server.received[0];
    expect(JSON.parse(request?.body ?? '{}')).toMatchObject({ tenant_id: 'acme-corp' });
    expect(verifySignature(request?.body ?? '', SECRETS.globex, signatureOf(request), 'sha256-prefixed')).toBe(true);
    expect(outcome).toMatchObject({ status: 'pass', evidence: { signedAsTenant: 'globex' } });
  });

  it('sends the stale ticket with created_at staleTimestampAgeS in the past, correctly signed', async () => {
    const server = await serve(strictReceiver({ secrets: SECRETS }));
    const now = new Date();

    const outcome = await run('webhook.stale_timestamp_rejected', server, {
      now: () => now,
      thresholds: { staleTimestampAgeS: 900 },
    });

    const request = server.received[0];
    const sent = JSON.parse(request?.body ?? '{}') as { created_at: string };
    expect(Date.parse(sent.created_at)).toBe(now.getTime() - 900_000);
    expect(verifySignature(request?.body ?? '', SECRETS['acme-corp'], signatureOf(request), 'sha256-prefixed')).toBe(
      true,
    );
    expect(outcome.status).toBe('pass');
    expect(outcome.summary).toBe(
      'a correctly signed ticket created 900 s ago was rejected (HTTP 401: Invalid webhook signature)',
    );
  });

  it('sends no signature header for the missing-signature check', async () => {
    const server = await serve(strictReceiver({ secrets: SECRETS }));

    await run('webhook.missing_signature_rejected', server);

    expect(server.received[0]?.headers['x-servicedesk-signature']).toBeUndefined();
  });
});

describe('webhook probes against a receiver that accepts everything', () => {
  it('reports P0 when a forged signature is accepted', async () => {
    const server = await serve(acceptEverything);

    const outcome = await run('webhook.bad_signature_rejected', server);

    expect(outcome.status).toBe('fail');
    expect(effectiveTier('webhook.bad_signature_rejected', outcome)).toBe('P0');
    expect(outcome.summary).toBe(
      'a ticket signed with a wrong secret was accepted (HTTP 202): forged webhooks get through',
    );
  });

  it('reports P0 for every forged ticket and P1 for the replayed one', async () => {
    const server = await serve(acceptEverything);

    const outcomes = await runAll(server);

    expect(outcomes['webhook.signed_accepted'].status).toBe('pass');
    for (const id of FORGERY_CHECKS) {
      expect(outcomes[id].status, id).toBe('fail');
      expect(effectiveTier(id, outcomes[id]), id).toBe('P0');
    }
    expect(outcomes['webhook.missing_signature_rejected'].summary).toContain(
      'the receiver does not require signatures',
    );
    expect(outcomes['webhook.tampered_body_rejected'].summary).toContain('the signature does not protect the body');
    expect(outcomes['webhook.cross_tenant_signature_rejected'].summary).toBe(
      "a ticket for acme-corp signed with globex's secret was accepted (HTTP 202): one tenant can forge another tenant's webhooks",
    );
    expect(outcomes['webhook.stale_timestamp_rejected'].status).toBe('fail');
    expect(effectiveTier('webhook.stale_timestamp_rejected', outcomes['webhook.stale_timestamp_rejected'])).toBe('P1');
  });
});

describe('webhook probes when the receiver misbehaves', () => {
  it('reports P1 when replay protection is off but signatures are checked', async () => {
    const server = await serve(strictReceiver({ secrets: SECRETS, checkTimestamp: false }));

    const outcome = await run('webhook.stale_timestamp_rejected', server);

    expect(outcome.status).toBe('fail');
    expect(effectiveTier('webhook.stale_timestamp_rejected', outcome)).toBe('P1');
    expect(outcome.summary).toContain('replay protection is off');
  });

  it('reports P1 with a hint when the correctly signed ticket is rejected', async () => {
    const server = await serve(strictReceiver({ secrets: { 'acme-corp': 'the-platform-has-another-secret' } }));

    const outcome = await run('webhook.signed_accepted', server);

    expect(outcome.status).toBe('fail');
    expect(effectiveTier('webhook.signed_accepted', outcome)).toBe('P1');
    expect(outcome.summary).toContain('HTTP 401: Invalid webhook signature');
    expect(outcome.summary).toContain('signing secret');
    expect(outcome.data).toBeUndefined();
  });

  it('reports P1 when the webhook path is not found', async () => {
    const server = await serve(answerStatus(404, 'Not Found'));

    const outcome = await run('webhook.signed_accepted', server);

    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('HTTP 404');
    expect(outcome.summary).toContain('platform.webhookPath');
  });

  it('reports 429 as degraded for the signed ticket and undecided for forged ones', async () => {
    const server = await serve(answerStatus(429, 'Too many requests'));

    const outcomes = await runAll(server);

    expect(outcomes['webhook.signed_accepted']).toMatchObject({ status: 'degraded', tier: 'P2' });
    expect(outcomes['webhook.signed_accepted'].evidence).toMatchObject({ status: 429, retryAfter: '30' });
    for (const id of [...FORGERY_CHECKS, 'webhook.stale_timestamp_rejected'] as const) {
      expect(outcomes[id], id).toMatchObject({ status: 'error', tier: 'P2' });
    }
  });

  it('reports a 5xx as P1 for the signed ticket and as an error (P2) for the rejection checks', async () => {
    const server = await serve(answerStatus(503, 'Queue unavailable, please retry'));

    const outcomes = await runAll(server);

    expect(outcomes['webhook.signed_accepted'].status).toBe('fail');
    expect(effectiveTier('webhook.signed_accepted', outcomes['webhook.signed_accepted'])).toBe('P1');
    expect(outcomes['webhook.signed_accepted'].summary).toBe(
      'the webhook receiver failed (HTTP 503: Queue unavailable, please retry): tickets for this tenant are not being queued',
    );
    for (const id of [...FORGERY_CHECKS, 'webhook.stale_timestamp_rejected'] as const) {
      expect(outcomes[id], id).toMatchObject({ status: 'error', tier: 'P2' });
      expect(outcomes[id].summary, id).toContain('so whether it is rejected is unknown');
    }
  });

  it('reports a redirect as undecided for the rejection checks and P1 for the signed ticket', async () => {
    const server = await serve((_request, res) => {
      res.writeHead(302, { location: '/login' });
      res.end();
    });

    const outcomes = await runAll(server);

    expect(outcomes['webhook.signed_accepted'].status).toBe('fail');
    expect(outcomes['webhook.bad_signature_rejected']).toMatchObject({ status: 'error', tier: 'P2' });
    expect(server.received.every((request) => request.url === '/webhook/servicedesk')).toBe(true);
  });

  it('reports a hanging receiver within the request timeout', async () => {
    const server = await serve(hang);
    const started = performance.now();

    const outcomes = await runAll(server, { thresholds: { requestTimeoutMs: 300 } });

    expect(performance.now() - started).toBeLessThan(300 + 400);
    expect(outcomes['webhook.signed_accepted'].status).toBe('fail');
    expect(outcomes['webhook.signed_accepted'].summary).toContain('did not answer within 300 ms');
    expect(outcomes['webhook.signed_accepted'].evidence).toMatchObject({ status: null, error: 'timeout (response)' });
    for (const id of [...FORGERY_CHECKS, 'webhook.stale_timestamp_rejected'] as const) {
      expect(outcomes[id], id).toMatchObject({ status: 'error', tier: 'P2' });
    }
  });

  it('reports an unreachable receiver', async () => {
    const port = await closedPort();

    const outcomes = await runAll({ url: `http://127.0.0.1:${port}` });

    expect(outcomes['webhook.signed_accepted'].status).toBe('fail');
    expect(outcomes['webhook.signed_accepted'].summary).toContain('ECONNREFUSED');
    expect(outcomes['webhook.bad_signature_rejected']).toMatchObject({
      status: 'error',
      evidence: { error: 'ECONNREFUSED' },
    });
  });

  it("reports an error, not a failure, when the check's budget runs out", async () => {
    const server = await serve(hang);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const outcome = await run('webhook.signed_accepted', server, { signal: controller.signal });

    expect(outcome).toMatchObject({ status: 'error', tier: 'P2' });
  });

  it('truncates a long detail to 200 characters', async () => {
    const server = await serve(answerStatus(401, `Invalid webhook signature ${'x'.repeat(500)}`));

    const outcome = await run('webhook.bad_signature_rejected', server);

    expect(outcome.status).toBe('pass');
    expect(String(outcome.evidence?.detail)).toHaveLength(200);
  });
});

describe('webhook probes against a hostile receiver', () => {
  // Secrets with a quote and a backslash: JSON escapes them, so an echo inside an object differs from the raw value.
  const QUOTED = {
    'acme-corp': 'Ac"me\\S3cr3t-7QxZpL',
    globex: 'Gl"ob\\K3yW4vB8nR1t',
    initech: 'In"it\\5ecrY6mK2qJ9',
  };
  const QUOTED_TENANTS = resolveTenants(QUOTED);

  it('reports a 401 whose JSON nests 5,000 arrays as fail P1 and pass, not as a canary bug', async () => {
    const deep = `{"detail":${'['.repeat(5_000)}${']'.repeat(5_000)}}`;
    const server = await serve((_request, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(deep);
    });

    const outcomes = await runAll(server);

    expect(outcomes['webhook.signed_accepted']).toMatchObject({ status: 'fail' });
    expect(effectiveTier('webhook.signed_accepted', outcomes['webhook.signed_accepted'])).toBe('P1');
    expect(outcomes['webhook.signed_accepted'].summary).toContain('HTTP 401');
    for (const id of FORGERY_CHECKS) expect(outcomes[id], id).toMatchObject({ status: 'pass' });
    expect(outcomes['webhook.bad_signature_rejected'].evidence?.bodyNotRead).toMatch(/nested deeper than 64 levels/);
    for (const outcome of Object.values(outcomes)) expect(() => JSON.stringify(outcome)).not.toThrow();
  });

  it('scrubs a secret echoed inside an object detail, where printing the object escapes it', async () => {
    const server = await serve((request, res) =>
      sendJson(res, 401, {
        detail: {
          msg: 'bad signature',
          expected: QUOTED['acme-corp'],
          got: request.headers['x-servicedesk-signature'],
        },
      }),
    );

    const outcome = await run('webhook.bad_signature_rejected', server, { tenants: QUOTED_TENANTS });

    expect(outcome.status).toBe('pass');
    expect(outcome.evidence?.detail).toBe('{"msg":"bad signature","expected":"[redacted]","got":"[redacted]"}');
    const text = JSON.stringify(outcome);
    for (const piece of secretPieces(QUOTED['acme-corp'])) expect(text).not.toContain(piece);
  });

  it("scrubs any tenant's secret from the detail before cutting it to 200 characters", async () => {
    // Another tenant's secret, straddling the cut: cut first, its first characters would remain.
    const server = await serve(answerStatus(401, `${'x'.repeat(190)}${QUOTED.initech}`));

    const outcome = await run('webhook.signed_accepted', server, { tenants: QUOTED_TENANTS });

    expect(String(outcome.evidence?.detail).length).toBeLessThanOrEqual(200);
    const text = JSON.stringify(outcome);
    for (const piece of secretPieces(QUOTED.initech)) expect(text).not.toContain(piece);
  });

  it('strips the escape sequences of a detail that forges a passing line', async () => {
    const forged = '\u001b[2K\u001b[1G  ✓ pass     webhook.signed_accepted  accepted\u001b[8m';
    const server = await serve(answerStatus(401, forged));

    const outcome = await run('webhook.signed_accepted', server);

    expect(outcome.status).toBe('fail');
    expect(controlsIn(outcome.summary)).toEqual([]);
    expect(controlsIn(String(outcome.evidence?.detail))).toEqual([]);
    expect(outcome.evidence?.detail).toBe('✓ pass webhook.signed_accepted accepted');
  });
});

describe('webhook.cross_tenant_signature_rejected without another secret', () => {
  it('is skipped with one tenant, saying why', async () => {
    const server = await serve(acceptEverything);

    const outcome = await run('webhook.cross_tenant_signature_rejected', server, {
      tenants: TENANTS.filter((tenant) => tenant.tenantId === 'acme-corp'),
    });

    expect(outcome.status).toBe('skipped');
    expect(outcome.summary).toContain("no other tenant's secret");
    expect(server.received).toHaveLength(0);
  });

  it('is skipped when every other tenant has the same secret', async () => {
    const server = await serve(acceptEverything);
    const shared = resolveTenants({ 'acme-corp': SECRETS['acme-corp'], globex: SECRETS['acme-corp'] });

    const outcome = await run('webhook.cross_tenant_signature_rejected', server, { tenants: shared });

    expect(outcome.status).toBe('skipped');
    expect(outcome.summary).toContain('same signing secret');
  });
});

describe('webhook probes with platform.internalBaseUrl', () => {
  it('send every webhook to the in-VPC address, none to the public one', async () => {
    const internal = await serve(strictReceiver({ secrets: SECRETS }));
    const ingress = await serve(acceptEverything);

    const outcomes = await runAll(ingress, { platform: { internalBaseUrl: internal.url } });

    for (const id of ALL_CHECKS) expect(outcomes[id]?.status, `${id}: ${outcomes[id]?.summary}`).toBe('pass');
    expect(internal.received).toHaveLength(ALL_CHECKS.length);
    expect(ingress.received).toHaveLength(0);
  });
});

describe('flipOneLetterOfDescription', () => {
  it('changes the case of the first letter of the description only', () => {
    const body = JSON.stringify({ ticket_id: 'SYNTH-A', description: '1 tenant-canary check', priority: 'low' });

    expect(flipOneLetterOfDescription(body)).toBe(
      JSON.stringify({ ticket_id: 'SYNTH-A', description: '1 Tenant-canary check', priority: 'low' }),
    );
  });
});

describe('secrets', () => {
  it('never puts a secret or a signature into an outcome (of this test or any before it)', async () => {
    // A receiver that echoes the signature it got, plus the receivers used above.
    const echo = await serve((request, res) =>
      sendJson(res, 401, { detail: `bad signature ${String(request.headers['x-servicedesk-signature'])}` }),
    );
    const strict = await serve(strictReceiver({ secrets: SECRETS }));
    const lax = await serve(acceptEverything);
    const before = produced.length;
    for (const server of [echo, strict, lax]) {
      await runAll(server);
      await runAll(server, { tenantId: 'globex' });
    }
    expect(produced.length - before).toBe(36);

    const signatures = servers
      .flatMap((server) => server.received.map(signatureOf))
      .filter((value) => value !== undefined);
    const needles = [
      ...Object.values(SECRETS),
      ...signatures,
      ...signatures.map((signature) => signature.replace('sha256=', '')),
    ];
    expect(signatures.length).toBe(30);
    for (const outcome of produced) {
      const text = JSON.stringify(outcome);
      for (const needle of needles) expect(text).not.toContain(needle);
    }
    const echoed = produced.find((outcome) => String(outcome.evidence?.detail).startsWith('bad signature '));
    expect(echoed?.evidence?.detail).toBe('bad signature [redacted]');
  });
});
