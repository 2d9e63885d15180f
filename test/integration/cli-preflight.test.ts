/**
 * `tenant-canary preflight` step by step, as a platform team meets it before the first sweep:
 * each missing piece (a grant, a secret, a trusted certificate, a Redis password, SET ROLE) is
 * its own line with the fix, exit 1; everything in place is all ok, exit 0. Real PostgreSQL
 * (PGlite, and PostgreSQL 15 in CI), a real redis-server with a password, a real HTTPS server.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetTopicAttributesCommand, PublishBatchCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PreflightReport } from '../../functions/app/preflight.ts';
import type { ConfigInput } from '../../functions/core/config.ts';
import { type SandboxDatabase, startDatabase } from '../../sandbox/db.ts';
import { CONTEXT_FUNCTION, quoteIdent } from '../../sandbox/schema.ts';
import { makeTestCertificates, type TestCertificates } from '../support/certs.ts';
import { runCli } from '../support/cli.ts';
import { closedPort, sendJson, startServer, type TestServer } from '../support/servers.ts';
import { databaseUrl, hasRedisServer, requireRedisInCi } from '../support/services.ts';
import { databaseSection, seedOneRowEach } from '../support/tenant-rows.ts';

const REDIS_PASSWORD = 'preflight-redis-Pw-31';
const sns = mockClient(SNSClient);

async function startRedisWithPassword(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await closedPort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--requirepass', REDIS_PASSWORD],
    {
      stdio: 'ignore',
    },
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    url: `redis://127.0.0.1:${port}/0`,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

function suite(name: string, url: string | undefined) {
  describe.runIf(hasRedisServer())(`preflight (${name})`, () => {
    let db: SandboxDatabase;
    let certs: TestCertificates;
    let api: TestServer;
    let redis: { url: string; stop(): Promise<void> };
    let dir: string;
    let healthy: ConfigInput;
    let probeRole: string;

    beforeAll(async () => {
      requireRedisInCi();
      db = await startDatabase({ ...(url ? { databaseUrl: url } : {}), log: () => {} });
      await seedOneRowEach(db, ['acme-corp', 'globex']);
      certs = await makeTestCertificates();
      api = await startServer(
        (request, res) => sendJson(res, 200, { status: 'healthy', path: request.url }),
        certs.valid,
      );
      redis = await startRedisWithPassword();
      dir = await mkdtemp(join(tmpdir(), 'canary-preflight-'));
      probeRole = db.canary.probeAsRole ?? db.roles.probe!;
      healthy = {
        platform: { baseUrl: api.url, caFile: certs.caFile },
        database: databaseSection(db),
        redis: { url: redis.url, auth: { password: { env: 'REDIS_PW' } } },
        tenants: ['acme-corp', 'globex'].map((tenantId) => ({
          tenantId,
          signingSecret: { value: `${tenantId}-secret` },
        })),
      };
    }, 120_000);

    afterAll(async () => {
      await db?.stop();
      await api?.close();
      await redis?.stop();
      await certs?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const preflight = async (config: ConfigInput, env: Record<string, string> = { REDIS_PW: REDIS_PASSWORD }) => {
      const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
      await writeFile(file, JSON.stringify(config));
      const json = await runCli(['preflight', '--config', file, '--json'], { env: { NO_COLOR: '1', ...env } });
      const text = await runCli(['preflight', '--config', file], { env: { NO_COLOR: '1', ...env } });
      return {
        code: json.code,
        report: JSON.parse(json.stdout) as PreflightReport,
        text: text.stdout,
        stderr: json.stderr,
      };
    };
    const failing = (report: PreflightReport) => report.steps.filter((s) => !s.ok);

    it('is all ok, exit 0, when everything is in place', async () => {
      const { code, report, text } = await preflight(healthy);
      expect(failing(report)).toEqual([]);
      expect(code).toBe(0);
      expect(report.steps.map((s) => s.step)).toEqual([
        'config',
        'secrets',
        'api: TLS handshake',
        'api: health endpoint',
        'postgres: connect',
        ...(db.canary.probeAsRole === null ? [] : ['postgres: SET ROLE']),
        'postgres: catalog',
        'postgres: probe role',
        'postgres: grants on the tenant tables',
        'postgres: context function',
        'redis',
      ]);
      expect(text).toMatch(/^ok {4}api: TLS handshake: 127\.0\.0\.1:\d+: certificate for valid, \d+ days left$/m);
      expect(text).toMatch(/all \d+ steps ok: the canary has what its checks need/);
    });

    it('names each missing grant with the GRANT that fixes it', async () => {
      await db.admin(`REVOKE ${quoteIdent(db.roles.appUser)} FROM ${quoteIdent(probeRole)}`);
      try {
        const { code, report, text } = await preflight(healthy);
        expect(code).toBe(1);
        const steps = Object.fromEntries(failing(report).map((s) => [s.step, s]));
        expect(Object.keys(steps).sort()).toEqual([
          'postgres: context function',
          'postgres: grants on the tenant tables',
        ]);
        expect(steps['postgres: grants on the tenant tables']?.fix).toContain(
          `GRANT SELECT, INSERT, UPDATE ON "tenant_configs" TO "${probeRole}";`,
        );
        expect(steps['postgres: context function']?.fix).toBe(
          `GRANT EXECUTE ON FUNCTION "${CONTEXT_FUNCTION}"(varchar) TO "${probeRole}";`,
        );
        expect(text).toMatch(/^FAIL {2}postgres: grants on the tenant tables: .*\n {6}fix: GRANT SELECT/m);
        expect(text).toMatch(/2 of \d+ steps need a fix before the first sweep/);
      } finally {
        await db.admin(`GRANT ${quoteIdent(db.roles.appUser)} TO ${quoteIdent(probeRole)}`);
      }
    });

    it('names the grants discovered tables lack: SELECT, INSERT, UPDATE with the tenant column, SELECT on a foreign-key child', async () => {
      // A later migration adds a table with tenant_id and a child of it, and grants neither.
      await db.admin(`CREATE TABLE public.agents (id uuid PRIMARY KEY, tenant_id varchar(100) NOT NULL);
CREATE TABLE public.agent_tools (id uuid PRIMARY KEY, agent_id uuid NOT NULL REFERENCES public.agents (id));`);
      try {
        const { code, report } = await preflight(healthy);
        expect(code).toBe(1);
        const steps = Object.fromEntries(failing(report).map((s) => [s.step, s]));
        expect(Object.keys(steps)).toEqual(['postgres: grants on the tenant tables']);
        expect(steps['postgres: grants on the tenant tables']?.fix).toContain(
          `GRANT SELECT ON "agent_tools" TO "${probeRole}"; GRANT SELECT, INSERT, UPDATE ON "agents" TO "${probeRole}";`,
        );
        expect(steps['postgres: grants on the tenant tables']?.detail).not.toContain('tenant_configs');
      } finally {
        await db.admin('DROP TABLE public.agent_tools; DROP TABLE public.agents;');
      }
    });

    it('says which secret cannot be read and how to provide it, never a value', async () => {
      const config = {
        ...healthy,
        tenants: [
          { tenantId: 'acme-corp', signingSecret: { value: 'acme-corp-secret' } },
          { tenantId: 'globex', signingSecret: { env: 'GLOBEX_SECRET_MISSING' } },
        ],
      };
      const { code, report, text } = await preflight(config);
      expect(code).toBe(1);
      expect(failing(report)).toEqual([
        expect.objectContaining({
          step: 'secret tenants[1].signingSecret',
          fix: 'export GLOBEX_SECRET_MISSING before running the canary',
        }),
      ]);
      expect(text).not.toContain('acme-corp-secret');
      expect(JSON.stringify(report)).not.toContain(REDIS_PASSWORD);
    });

    it('checks the PagerDuty routing key can be read, without sending an event', async () => {
      const config = {
        ...healthy,
        alerts: { pagerduty: { routingKey: { env: 'PD_ROUTING_KEY_MISSING' }, url: 'http://127.0.0.1:9/v2/enqueue' } },
      };
      const { code, report } = await preflight(config);
      expect(code).toBe(1);
      expect(failing(report)).toEqual([
        expect.objectContaining({
          step: 'secret alerts.pagerduty.routingKey',
          fix: 'export PD_ROUTING_KEY_MISSING before running the canary',
        }),
      ]);
    });

    it('refuses an API certificate Node does not trust, with the caFile fix', async () => {
      const { code, report } = await preflight({ ...healthy, platform: { baseUrl: api.url } });
      expect(code).toBe(1);
      const [step] = failing(report);
      expect(step).toMatchObject({ step: 'api: TLS handshake', fix: expect.stringContaining('platform.caFile') });
      expect(step?.detail).toMatch(/does not trust/);
    });

    it('reports a wrong Redis password with the redis.auth fix, and never the password', async () => {
      const { code, report, text, stderr } = await preflight(healthy, { REDIS_PW: 'not-the-Pw-99' });
      expect(code).toBe(1);
      expect(failing(report)).toEqual([
        expect.objectContaining({ step: 'redis', fix: expect.stringContaining('check redis.auth') }),
      ]);
      for (const output of [text, stderr, JSON.stringify(report)]) {
        expect(output).not.toContain('not-the-Pw-99');
        expect(output).not.toContain(REDIS_PASSWORD);
      }
    });

    it('with --publish checks each alert topic without publishing, and names the one that is missing', async () => {
      sns.reset();
      sns.on(GetTopicAttributesCommand).callsFake((input: { TopicArn: string }) => {
        if (input.TopicArn.endsWith(':canary-p3')) {
          throw Object.assign(new Error('Topic does not exist'), { name: 'NotFoundException' });
        }
        return { Attributes: { SubscriptionsConfirmed: '2', SubscriptionsPending: '0' } };
      });
      const topics = Object.fromEntries(
        ['P0', 'P1', 'P2', 'P3'].map((tier) => [
          tier,
          `arn:aws:sns:eu-west-1:123456789012:canary-${tier.toLowerCase()}`,
        ]),
      );
      const file = join(dir, 'publish.json');
      await writeFile(file, JSON.stringify({ ...healthy, alerts: { topics } }));
      const run = await runCli(['preflight', '--config', file, '--json', '--publish'], {
        env: { NO_COLOR: '1', REDIS_PW: REDIS_PASSWORD },
      });
      const report = JSON.parse(run.stdout) as PreflightReport;
      expect(run.code).toBe(1);
      expect(report.steps.filter((s) => s.step.startsWith('sns: ')).map((s) => [s.step, s.ok])).toEqual([
        ['sns: P0 topic', true],
        ['sns: P1 topic', true],
        ['sns: P2 topic', true],
        ['sns: P3 topic', false],
      ]);
      expect(failing(report)[0]?.fix).toContain('sns:GetTopicAttributes and sns:Publish');
      expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
      expect(sns.commandCalls(PublishBatchCommand)).toHaveLength(0);
      const usage = await runCli(['preflight', '--publish']);
      expect(usage).toMatchObject({ code: 2, stdout: '' });
    });

    it('reports an unreachable database with what to check', async () => {
      const port = await closedPort();
      const { code, report } = await preflight({
        ...healthy,
        database: { ...healthy.database!, url: `postgres://canary@127.0.0.1:${port}/x`, connectTimeoutMs: 1000 },
      });
      expect(code).toBe(1);
      expect(failing(report)).toEqual([
        expect.objectContaining({ step: 'postgres: connect', fix: expect.stringContaining('security group') }),
      ]);
    });

    if (url !== undefined) {
      it('names a SET ROLE the login may not do, with the GRANT that allows it', async () => {
        const { code, report } = await preflight({
          ...healthy,
          database: { ...healthy.database!, probeAsRole: db.roles.owner },
        });
        expect(code).toBe(1);
        expect(failing(report)).toEqual([
          expect.objectContaining({
            step: 'postgres: SET ROLE',
            fix: `GRANT ${quoteIdent(db.roles.owner)} TO ${quoteIdent(probeRole)};`,
          }),
        ]);
      });
    }
  });
}

suite('PGlite', undefined);
const realUrl = databaseUrl();
if (realUrl) suite('PostgreSQL', realUrl);
