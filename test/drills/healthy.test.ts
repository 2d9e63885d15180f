/**
 * No false alarms: 20 consecutive runs against the healthy sandbox, with the worker's latency
 * jittering between 50 ms and 2 s, produce no fail, degraded or error — on PGlite, and on a
 * real PostgreSQL 15 when DATABASE_URL is set (always in CI).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPorts } from '../../functions/adapters/index.ts';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { withPorts } from '../../functions/app/with-ports.ts';
import { parseConfig } from '../../functions/core/config.ts';
import { runChecks } from '../../functions/run.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { databaseUrl, hasRedisServer, requireRedisInCi } from '../support/services.ts';

const RUNS = 20;
const backends = [['PGlite', undefined] as const, ['PostgreSQL', databaseUrl()] as const].filter(
  ([, url], i) => i === 0 || url !== undefined,
);

describe.each(backends)('20 runs against the healthy sandbox on %s', (_name, url) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    requireRedisInCi();
    sandbox = await startSandbox({
      ...(url === undefined ? {} : { databaseUrl: url }),
      workerLatencyMs: { min: 50, max: 2_000 },
    });
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  it('never fail, degrade or error, and skip nothing when Redis and openssl are there', async () => {
    const config = parseConfig(sandbox.config);
    const latencies: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      await withPorts(openPorts, config, async (ports) => {
        const report = await runChecks({ config, ports, secrets: createSecretResolver({ env: {} }) });
        const alarms = report.results
          .filter((r) => r.status === 'fail' || r.status === 'degraded' || r.status === 'error')
          .map((r) => `${r.checkId} ${r.tenantId ?? ''}: ${r.status} (${r.summary})`);
        expect(alarms, `run ${run}`).toEqual([]);
        const skipped = report.results.filter((r) => r.status === 'skipped').map((r) => r.checkId);
        // Without openssl the sandbox is plain HTTP: no certificate. Without Redis, no queue to measure.
        const allowed = [
          ...(sandbox.info.tls ? [] : ['api.tls_certificate']),
          ...(hasRedisServer() ? [] : ['queue.depth']),
        ];
        expect(
          skipped.filter((id) => !allowed.includes(id)),
          `run ${run}`,
        ).toEqual([]);
        for (const result of report.results.filter((r) => r.checkId === 'enhancement.round_trip')) {
          latencies.push(Number(result.evidence.latencyS));
        }
      });
    }
    // The jitter really happened: some round trips were quick, some took over a second.
    expect(Math.min(...latencies)).toBeLessThan(1);
    expect(Math.max(...latencies)).toBeGreaterThan(1);
  }, 300_000);
});
