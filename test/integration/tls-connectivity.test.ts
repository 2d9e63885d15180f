/**
 * The platform as it runs in production: PostgreSQL that accepts TLS only (`hostssl` in
 * pg_hba.conf, a certificate from a private CA, as RDS with its own CA) and Redis on a TLS port
 * only with an ACL user (as ElastiCache with in-transit encryption and RBAC). The canary passes
 * every check with `verify-full` and the CA file; every way the handshake or the login can go
 * wrong is an `error` naming the reason, quickly, and the Redis password is in no output.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../functions/core/config.ts';
import type { Report } from '../../functions/core/types.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { makeTestCertificates, type TestCertificates } from '../support/certs.ts';
import { runCli } from '../support/cli.ts';
import { cannotStartCluster, type PgCluster, startPgCluster } from '../support/pg-cluster.ts';
import { closedPort } from '../support/servers.ts';
import { hasRedisServer, inCi } from '../support/services.ts';

const unavailable = (await cannotStartCluster()) ?? (hasRedisServer() ? null : 'no redis-server on PATH');
if (unavailable !== null && inCi) throw new Error(`CI=true but ${unavailable}`);

const REDIS_USER = 'canary';
const REDIS_PASSWORD = 'redis-pw-Xq7-must-never-show';
const DB_CHECKS = ['rls.tables_enabled', 'rls.cross_tenant_read', 'db.connections'];

/** redis-server on a TLS port only, the default user off, one ACL user. */
async function startTlsRedis(dir: string, certs: TestCertificates): Promise<{ port: number; stop(): Promise<void> }> {
  await writeFile(join(dir, 'redis.crt'), certs.valid.cert);
  await writeFile(join(dir, 'redis.key'), certs.valid.key, { mode: 0o600 });
  const port = await closedPort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--tls-cert-file',
      join(dir, 'redis.crt'),
      '--tls-key-file',
      join(dir, 'redis.key'),
      '--tls-ca-cert-file',
      certs.caFile,
      '--tls-auth-clients',
      'no',
      '--user',
      'default',
      'off',
      '--user',
      REDIS_USER,
      'on',
      `>${REDIS_PASSWORD}`,
      '~*',
      '&*',
      '+@all',
    ],
    { stdio: 'ignore' },
  );
  const ca = await readFile(certs.caFile, 'utf8');
  for (let attempt = 0; ; attempt++) {
    const probe = new Redis({
      host: '127.0.0.1',
      port,
      username: REDIS_USER,
      password: REDIS_PASSWORD,
      tls: { ca: [ca] },
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch (error) {
      probe.disconnect();
      if (attempt > 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

describe.runIf(unavailable === null)('TLS-only PostgreSQL and Redis with an ACL user', () => {
  let dir: string;
  let certs: TestCertificates;
  let otherCa: TestCertificates;
  let cluster: PgCluster;
  let redis: { port: number; stop(): Promise<void> };
  let sandbox: Sandbox;
  let healthy: ConfigInput;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'canary-tls-'));
    certs = await makeTestCertificates();
    otherCa = await makeTestCertificates();
    cluster = await startPgCluster({ tls: certs.valid });
    redis = await startTlsRedis(dir, certs);
    sandbox = await startSandbox({
      databaseUrl: `${cluster.url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.caFile)}`,
      redis: {
        url: `rediss://${REDIS_USER}:${REDIS_PASSWORD}@127.0.0.1:${redis.port}/0`,
        ca: await readFile(certs.caFile, 'utf8'),
      },
    });
    healthy = {
      ...sandbox.config,
      redis: {
        url: `rediss://127.0.0.1:${redis.port}/0`,
        queueKeys: sandbox.config.redis!.queueKeys,
        tls: { caFile: certs.caFile },
        auth: { username: REDIS_USER, password: { env: 'CANARY_REDIS_PASSWORD' } },
      },
    };
  }, 180_000);

  afterAll(async () => {
    await sandbox?.stop();
    await redis?.stop();
    await cluster?.stop();
    await certs?.cleanup();
    await otherCa?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const run = async (config: ConfigInput, extra: string[] = []) => {
    const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    const reportFile = `${file}.report.json`;
    await writeFile(file, JSON.stringify(config));
    const started = Date.now();
    const cli = await runCli(['run', '--config', file, '--json', '--report', reportFile, ...extra], {
      env: { NO_COLOR: '1', CANARY_REDIS_PASSWORD: REDIS_PASSWORD },
    });
    const reportText = await readFile(reportFile, 'utf8').catch(() => '');
    return { ...cli, report: JSON.parse(cli.stdout) as Report, reportText, elapsedMs: Date.now() - started };
  };
  const withDatabase = (tls: Record<string, unknown>): ConfigInput => ({
    ...healthy,
    database: { ...healthy.database!, tls },
  });

  it('passes every check with verify-full and the CA file, over TLS to both', async () => {
    expect(sandbox.config.database?.tls).toEqual({ mode: 'verify-full', caFile: certs.caFile });
    const { code, report } = await run(healthy);
    const notPassing = report.results.filter((r) => r.status !== 'pass' && r.status !== 'skipped');
    expect(notPassing.map((r) => `${r.checkId} ${r.status}: ${r.summary}`)).toEqual([]);
    expect(report.results.find((r) => r.checkId === 'queue.depth')?.status).toBe('pass');
    expect(code).toBe(0);
  }, 120_000);

  const refusals: { name: string; tls: () => Record<string, unknown>; reason: RegExp }[] = [
    {
      name: 'no CA file (only the system roots)',
      tls: () => ({ mode: 'verify-full', caFile: null }),
      reason:
        /TLS to 127\.0\.0\.1:\d+ refused the server certificate: (self-signed certificate in certificate chain|unable to get local issuer certificate|unable to verify the first certificate).*database\.tls\.caFile/,
    },
    {
      name: 'the wrong CA',
      tls: () => ({ mode: 'verify-full', caFile: otherCa.caFile }),
      reason:
        /TLS to 127\.0\.0\.1:\d+ refused the server certificate: (self-signed certificate in certificate chain|unable to get local issuer certificate|unable to verify the first certificate)/,
    },
    {
      name: 'plain TCP to a server that only accepts TLS',
      tls: () => ({ mode: 'disable' }),
      reason: /no pg_hba\.conf entry .*no encryption/,
    },
  ];
  for (const refusal of refusals) {
    it(`makes the database checks error, naming the reason, with ${refusal.name}; exit 1 in under 30 s`, async () => {
      const { code, report, elapsedMs } = await run(withDatabase(refusal.tls()));
      expect(code).toBe(1);
      expect(elapsedMs).toBeLessThan(30_000);
      for (const checkId of DB_CHECKS) {
        const result = report.results.find((r) => r.checkId === checkId);
        expect(result?.status, checkId).toBe('error');
        expect(result?.summary, checkId).toMatch(refusal.reason);
      }
      expect(report.results.find((r) => r.checkId === 'api.health')?.status).toBe('pass');
    }, 60_000);
  }

  it('refuses a certificate for another host name, and require mode encrypts without checking it', async () => {
    await cluster.useCertificate(certs.wrongHost);
    try {
      const wrong = await run(healthy, ['--check', 'rls.tables_enabled']);
      expect(wrong.code).toBe(1);
      expect(wrong.report.results[0]?.summary).toMatch(
        /TLS to 127\.0\.0\.1:\d+ refused the server certificate: Hostname\/IP does not match certificate's altnames.*connect by a name the certificate lists/,
      );
      const required = await run(withDatabase({ mode: 'require' }), ['--check', 'rls.tables_enabled']);
      expect(required.report.results[0]?.status).toBe('pass');
    } finally {
      await cluster.useCertificate(certs.valid);
    }
  }, 60_000);

  it('makes queue.depth an error on a wrong Redis password, and the password is in no output', async () => {
    const wrongPassword = 'wrong-pw-Zr4-must-never-show';
    const config: ConfigInput = {
      ...healthy,
      redis: { ...healthy.redis!, auth: { username: REDIS_USER, password: { value: wrongPassword } } },
    };
    const { code, report, stdout, stderr, reportText } = await run(config, ['--check', 'queue.depth']);
    expect(code).toBe(1);
    expect(report.results[0]).toMatchObject({ checkId: 'queue.depth', status: 'error' });
    expect(report.results[0]?.summary).toMatch(/Redis at 127\.0\.0\.1:\d+ refused the login of user canary: WRONGPASS/);
    for (const text of [stdout, stderr, reportText]) {
      expect(text).not.toContain(wrongPassword);
      expect(text).not.toContain(REDIS_PASSWORD);
    }
  }, 60_000);

  it('ignores a Redis URL query that would turn TLS off or replace the login', async () => {
    const config: ConfigInput = {
      ...healthy,
      redis: { ...healthy.redis!, url: `rediss://127.0.0.1:${redis.port}/0?tls=&password=nope&username=nobody` },
    };
    const { report } = await run(config, ['--check', 'queue.depth']);
    // Plain TCP to a TLS-only port, or the URL's login, would fail: TLS and redis.auth were used.
    expect(report.results[0]).toMatchObject({ checkId: 'queue.depth', status: 'pass' });
  }, 60_000);

  it('makes queue.depth an error when the Redis certificate does not verify', async () => {
    const config: ConfigInput = { ...healthy, redis: { ...healthy.redis!, tls: { caFile: null } } };
    const { report } = await run(config, ['--check', 'queue.depth']);
    expect(report.results[0]).toMatchObject({ status: 'error' });
    expect(report.results[0]?.summary).toMatch(/certificate/);
  }, 60_000);
});
