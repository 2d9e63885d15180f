import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../../functions/core/catalog.ts';
import { EVIDENCE_MAX_BYTES, EVIDENCE_STRING_MAX_CHARS, SUMMARY_MAX_CHARS } from '../../functions/core/limits.ts';
import { REJECTION_CHECKS } from '../../functions/core/sampling.ts';
import type { CheckResult, Report } from '../../functions/core/types.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { CONTEXT_FUNCTION, TENANT_SETTING } from '../../sandbox/schema.ts';
import { runBinary, STACK_LINE } from '../support/cli.ts';
import { controlsIn, secretPieces } from '../support/hostile-text.ts';

const ESC = '\u001b';

const key = (r: Pick<CheckResult, 'checkId' | 'tenantId'>) => `${r.checkId}/${r.tenantId ?? '-'}`;

/** Every check the contract reports for a run over `tenants`: platform checks once, tenant checks per tenant. */
function expectedKeys(tenants: readonly string[]): string[] {
  return [
    ...CATALOG.filter((entry) => entry.scope === 'platform').map((entry) => `${entry.id}/-`),
    ...tenants.flatMap((tenantId) =>
      CATALOG.filter((entry) => entry.scope === 'tenant').map((entry) => `${entry.id}/${tenantId}`),
    ),
  ].sort();
}

/** Every string of a value (keys too). */
function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...stringsOf(v)]);
}

/** What every output of a run must satisfy, whatever the platform said. */
function expectInert(name: string, text: string, secrets: readonly string[]): void {
  expect(controlsIn(text), `${name}: control characters`).toEqual([]);
  // Escaped in JSON, an escape sequence comes back to life in `jq -r` or a log viewer.
  expect(text, `${name}: escaped control characters`).not.toMatch(/\\u00(?:1[0-9a-f]|0[0-8bcef]|7f|[89][0-9a-f])/i);
  expect(text, `${name}: stack trace`).not.toMatch(STACK_LINE);
  for (const secret of secrets) {
    for (const piece of secretPieces(secret)) expect(text, `${name}: a piece of a secret`).not.toContain(piece);
  }
}

function expectWithinCaps(report: Report): void {
  for (const result of report.results) {
    expect(result.summary.length, key(result)).toBeLessThanOrEqual(SUMMARY_MAX_CHARS);
    for (const text of stringsOf(result.evidence)) expect(text.length).toBeLessThanOrEqual(EVIDENCE_STRING_MAX_CHARS);
    expect(Buffer.byteLength(JSON.stringify(result.evidence))).toBeLessThanOrEqual(EVIDENCE_MAX_BYTES);
  }
}

describe('a platform whose answers forge terminal output, nest 5,000 deep and echo secrets', () => {
  // A quote and a backslash: JSON escapes them, so an echo printed from an object differs from the raw value.
  const SECRETS: Record<string, string> = {
    'acme-corp': 'Ac"me\\S3cr3t-7QxZpL',
    globex: 'Gl"ob\\K3yW4vB8nR1t',
    initech: 'In"it\\5ecrY6mK2qJ9',
  };
  const TENANTS = Object.keys(SECRETS);
  const FORGED = `${ESC}[2K${ESC}[1G  ✓ pass     webhook.signed_accepted  accepted${ESC}[8m`;
  const signatures: string[] = [];
  let server: Server;
  let dir: string;
  let configFile: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const json = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(typeof body === 'string' ? body : JSON.stringify(body));
        };
        if (req.method === 'GET') {
          // Escape sequences in the status and the dependencies; globex's secret where a cut at
          // 100 characters would split it.
          return json(503, {
            status: `${ESC}[2K${ESC}[1G${ESC}[32m✓ healthy${ESC}[8m${'z'.repeat(60)}${SECRETS.globex}`,
            dependencies: {
              [`${ESC}[8mdatabase`]: `down${ESC}]0;pwned\u0007`,
              '\u202eredis': '\u009b2Kunhealthy',
            },
          });
        }
        const signature = req.headers['x-servicedesk-signature'];
        if (typeof signature === 'string') signatures.push(signature, signature.replace(/^sha256=/, ''));
        const tenantId = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { tenant_id: string }).tenant_id;
        if (tenantId === 'acme-corp') return json(401, { detail: FORGED });
        if (tenantId === 'globex') return json(401, `{"detail":${'['.repeat(5_000)}${']'.repeat(5_000)}}`);
        return json(401, {
          detail: { msg: 'Invalid webhook signature', expected: SECRETS[tenantId], got: signature ?? null },
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    dir = await mkdtemp(join(tmpdir(), 'canary-hostile-text-'));
    configFile = join(dir, 'config.json');
    await writeFile(
      configFile,
      JSON.stringify({
        platform: { baseUrl: `http://127.0.0.1:${port}` },
        tenants: TENANTS.map((tenantId) => ({ tenantId, signingSecret: { value: SECRETS[tenantId] } })),
        thresholds: { requestTimeoutMs: 2_000 },
      }),
    );
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports every check with its verdict (exit 1), and no output carries an escape, a stack trace or a secret', async () => {
    const reportFile = join(dir, 'report.json');
    const htmlFile = join(dir, 'report.html');
    const { code, stdout, stderr } = await runBinary([
      'run',
      '--config',
      configFile,
      '--json',
      '--report',
      reportFile,
      '--html',
      htmlFile,
    ]);

    expect(stderr).toBe('');
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as Report;
    expect(report.results.map(key).sort()).toEqual(expectedKeys(TENANTS));
    const result = (checkId: string, tenantId: string | null) =>
      report.results.find((r) => r.checkId === checkId && r.tenantId === tenantId);

    expect(result('api.health', null)).toMatchObject({ status: 'fail', tier: 'P0' });
    expect(result('api.health', null)?.evidence).toMatchObject({
      dependencies: { database: 'down', redis: 'unhealthy' },
    });
    for (const tenantId of TENANTS) {
      // The 5,000-deep answer (globex) is a verdict like the others: never "a canary bug".
      expect(result('webhook.signed_accepted', tenantId), tenantId).toMatchObject({ status: 'fail', tier: 'P1' });
      for (const checkId of REJECTION_CHECKS) {
        expect(result(checkId, tenantId), `${checkId} ${tenantId}`).toMatchObject({ status: 'pass', tier: null });
      }
    }
    expect(report.results.some((r) => r.summary.includes('canary bug'))).toBe(false);
    expect(result('webhook.bad_signature_rejected', 'globex')?.evidence.bodyNotRead).toMatch(/nested deeper/);
    // The forged line is inert text inside the failing result's summary.
    expect(result('webhook.signed_accepted', 'acme-corp')?.summary).toContain(
      'HTTP 401: ✓ pass webhook.signed_accepted accepted)',
    );
    expect(result('webhook.bad_signature_rejected', 'initech')?.evidence.detail).toContain('"expected":"[redacted]"');
    expectWithinCaps(report);

    const secrets = [...Object.values(SECRETS)];
    const written = await readFile(reportFile, 'utf8');
    const html = await readFile(htmlFile, 'utf8');
    for (const [name, text] of Object.entries({ stdout, stderr, report: written, html })) {
      expectInert(name, text, secrets);
      for (const signature of signatures) expect(text, `${name}: a signature`).not.toContain(signature);
    }
  });

  it('prints the failing line as a failure in the human output, with nothing a terminal would act on', async () => {
    const { code, stdout, stderr } = await runBinary(['run', '--config', configFile]);

    expect(code).toBe(1);
    expect(stderr).toBe('');
    expectInert('stdout', stdout, Object.values(SECRETS));
    // The lines of the check (the forged text quotes its id in other lines' summaries too).
    const lines = stdout.split('\n').filter((line) => /^ {2}\S \S+\s+(?:P\d\s+)?webhook\.signed_accepted\s/.test(line));
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^ {2}✗ FAIL\s+P1 webhook\.signed_accepted /);
  });
});

describe('a context function that raises a 100 KB error with an escape sequence and a secret in it (PGlite)', () => {
  let sandbox: Sandbox;
  let dir: string;
  let configFile: string;
  let secrets: string[];

  beforeAll(async () => {
    sandbox = await startSandbox({ tenantCount: 3, redis: 'memory', tls: false });
    secrets = sandbox.tenants.map((tenant) => tenant.secret);
    const acme = sandbox.tenants.find((tenant) => tenant.tenantId === 'acme-corp')?.secret as string;
    // The secret lands where a summary's cut (after "set_tenant_context('acme-corp') raised: ") would split it.
    const client = new pg.Client({ connectionString: (sandbox.config.database as { url: string }).url });
    await client.connect();
    try {
      await client.query(`CREATE OR REPLACE FUNCTION public.${CONTEXT_FUNCTION}(p_tenant_id varchar)
  RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $fn$
BEGIN
  RAISE EXCEPTION '%', chr(27) || '[2K' || chr(27) || '[8m' || repeat('e', ${SUMMARY_MAX_CHARS - 50}) || ${pg.escapeLiteral(acme)} || repeat('e', 100000);
  PERFORM set_config('${TENANT_SETTING}', p_tenant_id, true);
END;
$fn$;`);
    } finally {
      await client.end();
    }
    dir = await mkdtemp(join(tmpdir(), 'canary-hostile-db-'));
    configFile = join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify(sandbox.config));
  }, 180_000);

  afterAll(async () => {
    await sandbox?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports the error within the summary cap (exit 1): the report stays small, inert and free of the secret', async () => {
    const { code, stdout, stderr } = await runBinary(['run', '--config', configFile, '--json']);

    expect(stderr).toBe('');
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as Report;
    expect(report.results.map(key).sort()).toEqual(expectedKeys(sandbox.tenants.map((t) => t.tenantId)));
    const context = report.results.find((r) => r.checkId === 'rls.context_function' && r.tenantId === 'acme-corp');
    expect(context).toMatchObject({ status: 'fail', tier: 'P1' });
    expect(context?.summary).toMatch(/^set_tenant_context\('acme-corp'\) raised: e{100}/);
    expectWithinCaps(report);
    // Three tenants, each quoting the 100 KB error in a few checks: uncapped, over a megabyte.
    expect(Buffer.byteLength(stdout)).toBeLessThan(200_000);
    expectInert('stdout', stdout, secrets);
  });
});
