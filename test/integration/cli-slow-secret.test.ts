/**
 * A Secrets Manager endpoint that accepts connections and never answers: the run still ends in
 * bounded time, the tenant whose signing secret lives there reports `error` naming the secret id
 * (never a value), and the other tenants run and pass. The SDK is real (no mock): its endpoint is
 * a silent TCP server on 127.0.0.1, as AWS_ENDPOINT_URL_SECRETS_MANAGER points it there.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPorts } from '../../functions/adapters/index.ts';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { runWithPorts } from '../../functions/app/with-ports.ts';
import { parseConfig } from '../../functions/core/config.ts';
import type { Report } from '../../functions/core/types.ts';
import { SECRET_LOOKUP_BUDGET_MS } from '../../functions/run.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { runCli } from '../support/cli.ts';
import { startSilentTcpServer } from '../support/servers.ts';

const AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDCANARYTEST',
  AWS_SECRET_ACCESS_KEY: 'canary-test-secret-key',
  AWS_REGION: 'eu-west-1',
} as const;

let sandbox: Sandbox;
let silent: Awaited<ReturnType<typeof startSilentTcpServer>>;
let dir: string;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  sandbox = await startSandbox({ redis: 'memory' });
  silent = await startSilentTcpServer();
  dir = await mkdtemp(join(tmpdir(), 'canary-slow-secret-'));
  // The SDK reads its endpoint and credentials from the process environment.
  const env: Record<string, string> = {
    ...AWS_ENV,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${silent.port}`,
  };
  for (const [name, value] of Object.entries(env)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await silent?.close();
  await sandbox?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const withSlowTenant = () => ({
  ...sandbox.config,
  tenants: [...sandbox.config.tenants, { tenantId: 'slow-secret', signingSecret: { secretId: 'canary/slow-secret' } }],
});

it('errors only the tenant whose secret never comes, naming the secret id, within a bounded time', async () => {
  const config = withSlowTenant();
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify(config));

  const started = performance.now();
  const result = await runCli(['run', '--json', '--config', file], { env: { NO_COLOR: '1', ...AWS_ENV } });
  const elapsed = performance.now() - started;

  // The secret's budget, then the other tenants' checks: far from a hang.
  expect(elapsed).toBeLessThan(SECRET_LOOKUP_BUDGET_MS + 20_000);
  const report = JSON.parse(result.stdout) as Report;
  expect(result.code).toBe(1);

  const slow = report.results.filter((r) => r.tenantId === 'slow-secret');
  expect(slow.length).toBeGreaterThan(0);
  for (const check of slow) {
    expect(check.status).toBe('error');
    expect(check.summary).toContain('canary/slow-secret');
    expect(check.summary).toContain(`within ${SECRET_LOOKUP_BUDGET_MS} ms`);
  }
  const others = report.results.filter((r) => r.tenantId !== 'slow-secret' && r.tenantId !== null);
  expect(new Set(others.map((r) => r.tenantId))).toEqual(new Set(sandbox.tenants.map((t) => t.tenantId)));
  for (const check of others)
    expect(check.status, `${check.checkId} ${check.tenantId}: ${check.summary}`).not.toBe('error');
  expect(others.filter((r) => r.status === 'pass').length).toBeGreaterThan(0);
  for (const { secret } of sandbox.tenants) expect(result.stdout + result.stderr).not.toContain(secret);
}, 90_000);

it('stops waiting for the secret when the run is cancelled', async () => {
  const config = parseConfig(withSlowTenant());
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('interrupted')), 300);
  try {
    const started = performance.now();
    const report = await runWithPorts(openPorts, {
      config,
      secrets: createSecretResolver({ env: {} }),
      signal: controller.signal,
    });
    // Well before the secret's budget, let alone the SDK's own timeouts.
    expect(performance.now() - started).toBeLessThan(SECRET_LOOKUP_BUDGET_MS / 2);
    const slow = report.results.filter((r) => r.tenantId === 'slow-secret');
    expect(slow.length).toBeGreaterThan(0);
    for (const check of slow) {
      expect(check.status).toBe('error');
      expect(check.summary).toBe(
        "the tenant's signing secret could not be read: the run was cancelled before Secrets Manager secret canary/slow-secret was read",
      );
    }
  } finally {
    clearTimeout(timer);
  }
}, 60_000);
