import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPorts } from '../../functions/adapters/index.ts';
import { ConnectionLostError, createPgPort } from '../../functions/adapters/postgres.ts';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { withPorts } from '../../functions/app/with-ports.ts';
import { type ConfigInput, parseConfig } from '../../functions/core/config.ts';
import type { CheckResult, Report } from '../../functions/core/types.ts';
import { runChecks } from '../../functions/run.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { CONTEXT_FUNCTION, contextFunctionSql, TENANT_SETTING } from '../../sandbox/schema.ts';
import { runBinary, STACK_LINE } from '../support/cli.ts';
import { type CuttingProxy, startCuttingProxy } from '../support/cutting-proxy.ts';
import { databaseUrl } from '../support/services.ts';

const LOCK_KEY = 424242;

const key = (r: Pick<CheckResult, 'checkId' | 'tenantId'>) => `${r.checkId}/${r.tenantId ?? '-'}`;

/** The context function with `body` run first, as the sandbox's owner defines it (owner and grants kept). */
const contextFunctionWith = (
  body: string,
) => `CREATE OR REPLACE FUNCTION public.${CONTEXT_FUNCTION}(p_tenant_id varchar)
  RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $fn$
BEGIN
  ${body}
  PERFORM set_config('${TENANT_SETTING}', p_tenant_id, true);
END;
$fn$;`;

function suite(name: string, serverUrl: string | undefined) {
  describe(`a database connection failing under a run (${name})`, () => {
    let sandbox: Sandbox;
    let proxy: CuttingProxy;
    let dir: string;
    let configFile: string;
    let config: ConfigInput;
    let adminUrl: string;
    /** Status of each result of a healthy run through the proxy. */
    let healthy: Map<string, CheckResult['status']>;

    const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
      const client = new pg.Client({ connectionString: adminUrl });
      client.on('error', () => {});
      await client.connect();
      try {
        return await fn(client);
      } finally {
        await client.end();
      }
    };

    /** `tenant-canary run --config FILE` as a user runs it: the binary, in its own process. */
    const run = async (extra: string[] = ['--json']) => {
      const result = await runBinary(['run', '--config', configFile, ...extra]);
      for (const text of [result.stdout, result.stderr]) expect(text).not.toMatch(STACK_LINE);
      return result;
    };

    /** The results that differ from the healthy run's status. */
    const changed = (report: Report) => report.results.filter((r) => healthy.get(key(r)) !== r.status);

    beforeAll(async () => {
      sandbox = await startSandbox({
        tenantCount: 3,
        redis: 'memory',
        tls: false,
        ...(serverUrl ? { databaseUrl: serverUrl } : {}),
      });
      const canaryUrl = (sandbox.config.database as { url: string }).url;
      if (serverUrl) {
        // A superuser in the sandbox's own database.
        const url = new URL(serverUrl);
        url.pathname = new URL(canaryUrl).pathname;
        adminUrl = url.toString();
      } else {
        adminUrl = canaryUrl; // PGlite: everyone is the superuser postgres
      }
      proxy = await startCuttingProxy(canaryUrl);
      config = { ...sandbox.config, database: { ...(sandbox.config.database as object), url: proxy.url } };
      dir = await mkdtemp(join(tmpdir(), 'canary-db-faults-'));
      configFile = join(dir, 'config.json');
      await writeFile(configFile, JSON.stringify(config));
      const baseline = await run();
      expect(baseline.code, baseline.stdout).toBe(0);
      healthy = new Map((JSON.parse(baseline.stdout) as Report).results.map((r) => [key(r), r.status]));
      expect(healthy.get('rls.context_function/globex')).toBe('pass');
    }, 180_000);

    afterAll(async () => {
      await proxy?.stop();
      await sandbox?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('reports a connection cut mid-query as an error of that check, and every other check as before (exit 1)', async () => {
      // The context-function probe's call: cut the first connection that sends it.
      proxy.arm(`"${CONTEXT_FUNCTION}"($1::varchar)`);
      const { code, stdout, stderr } = await run();
      expect(proxy.cuts).toBe(1);
      expect(stderr).toBe('');
      const report = JSON.parse(stdout) as Report;
      expect(report.results.map(key).sort()).toEqual([...healthy.keys()].sort());
      const broken = changed(report);
      expect(broken.map((r) => [r.checkId, r.status, r.tier])).toEqual([['rls.context_function', 'error', 'P2']]);
      expect(broken[0]!.summary).toMatch(/database connection was lost mid-probe.*Connection terminated/);
      expect(code).toBe(1);
      // The cut connection was discarded: the next run through the same proxy is healthy again.
      const again = await run();
      expect(again.code).toBe(0);
    });

    it("discards a connection cut under a transaction: the work's verdict is replaced by the cause, the pool opens a new one", async () => {
      const port = createPgPort({ connectionString: proxy.url, connectTimeoutMs: 3000, statementTimeoutMs: 3000 });
      try {
        proxy.arm('canary-cut-marker');
        // Work that turns every query error into a verdict, as a probe's refusal handling does.
        const verdict = port.inRolledBackTransaction({ role: null }, async (session) => {
          try {
            await session.query("SELECT 'canary-cut-marker' AS marker, pg_sleep(0.2)");
            return 'answered';
          } catch {
            return 'refused';
          }
        });
        await expect(verdict).rejects.toThrow(ConnectionLostError);
        await expect(verdict).rejects.toThrow(/lost mid-probe and discarded: Connection terminated unexpectedly/);
        const next = await port.inRolledBackTransaction({ role: null }, async (session) => {
          const { rows } = await session.query<{ ok: number }>('SELECT 1 AS ok');
          return rows[0]!.ok;
        });
        expect(next).toBe(1);
        expect(port.connectionCount).toBe(2);
      } finally {
        await port.close();
      }
    });

    // PGlite is one backend shared by every connection: terminating it ends the sandbox too.
    it.skipIf(!serverUrl)(
      "reports a context function that terminates its own backend as that tenant's error, in the human output too",
      async () => {
        // A failover or an admin's pg_terminate_backend, for globex only. pg_signal_backend lets the
        // function's owner (not a superuser) end the canary's backend, as rds_superuser could.
        const owner = await admin(async (client) => {
          const { rows } = await client.query<{ owner: string }>(
            `SELECT pg_get_userbyid(proowner)::text AS owner FROM pg_proc WHERE proname = $1`,
            [CONTEXT_FUNCTION],
          );
          const role = pg.escapeIdentifier(rows[0]!.owner);
          await client.query(`GRANT pg_signal_backend TO ${role}`);
          await client.query(
            contextFunctionWith(
              `IF p_tenant_id = 'globex' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;`,
            ),
          );
          return role;
        });
        try {
          const { code, stdout, stderr } = await run();
          expect(stderr).toBe('');
          const report = JSON.parse(stdout) as Report;
          expect(report.results.map(key).sort()).toEqual([...healthy.keys()].sort());
          const broken = changed(report);
          expect(broken.map((r) => [r.checkId, r.tenantId, r.status])).toEqual([
            ['rls.context_function', 'globex', 'error'],
          ]);
          expect(broken[0]!.summary).toMatch(
            /connection was lost mid-probe.*terminating connection due to administrator command \(SQLSTATE 57P01\)/,
          );
          expect(code).toBe(1);

          const human = await run([]);
          expect(human.code).toBe(1);
          expect(human.stderr).toBe('');
          expect(human.stdout).toMatch(/terminating connection due to administrator command/);
        } finally {
          await admin(async (client) => {
            await client.query(contextFunctionSql('transaction'));
            await client.query(`REVOKE pg_signal_backend FROM ${owner}`);
          });
        }
      },
    );

    it('leaves no session advisory lock the context function took, and the next probe on the connection is not affected', async () => {
      // A context function that takes a session-level lock and never releases it, and refuses to
      // run in a session that already holds it (as a platform's "one worker per tenant" guard would).
      await admin((client) =>
        client.query(
          contextFunctionWith(`IF EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = ${LOCK_KEY}
                                 AND pid = pg_backend_pid() AND granted) THEN
    RAISE EXCEPTION 'this session already holds the tenant lock';
  END IF;
  PERFORM pg_advisory_lock(${LOCK_KEY});`),
        ),
      );
      const locks = () =>
        admin(async (client) => {
          const { rows } = await client.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1`,
            [LOCK_KEY],
          );
          return rows[0]!.n;
        });
      try {
        const parsed = parseConfig({ ...config, database: { ...(config.database as object), maxConnections: 1 } });
        const contextChecks = (ports: Parameters<typeof runChecks>[0]['ports'], tenantIds: string[]) =>
          runChecks({
            config: parsed,
            ports,
            secrets: createSecretResolver({ env: {} }),
            filters: { tenantIds, checkIds: ['rls.context_function'], platform: false },
          });
        await withPorts(openPorts, parsed, async (ports) => {
          const first = await contextChecks(ports, ['acme-corp']);
          expect(first.results.map((r) => [r.tenantId, r.status])).toEqual([['acme-corp', 'pass']]);
          // The pool still holds the connection the function ran on: no session holds the lock.
          expect(await locks()).toBe(0);
          // Every tenant's probe on that same pooled connection (one connection, reused).
          const next = await contextChecks(ports, ['acme-corp', 'globex', 'initech']);
          expect(next.results.map((r) => [r.tenantId, r.status, r.summary])).toEqual(
            ['acme-corp', 'globex', 'initech'].map((tenantId) => [tenantId, 'pass', expect.any(String)]),
          );
          expect(ports.pg?.connectionCount).toBe(1);
          expect(await locks()).toBe(0);
        });
      } finally {
        await admin((client) => client.query(contextFunctionSql('transaction')));
      }
    });
  });
}

suite('PGlite', undefined);
const realUrl = databaseUrl();
if (realUrl) suite('PostgreSQL', realUrl);
