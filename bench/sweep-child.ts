/**
 * One benchmark sweep, as the probe Lambda runs it: `runChecks` over N tenants on one set of ports
 * with the config's tenant concurrency. bench/main.ts bundles this file with esbuild and runs it
 * in a fresh `node` process (as Lambda runs a bundle), so CPU time and peak RSS are the canary's
 * alone. Input: a JSON {@link SweepInput} in argv[2]. Output: one JSON {@link SweepOutput} line.
 */
import { openPorts } from '../functions/adapters/index.ts';
import { createSecretResolver } from '../functions/adapters/secrets.ts';
import { batchItem, itemBytes } from '../functions/adapters/sweep-ledger-items.ts';
import { logTenantReport } from '../functions/app/telemetry.ts';
import { withPorts } from '../functions/app/with-ports.ts';
import { alertKeysToLoad } from '../functions/core/alert-policy.ts';
import { CATALOG, type CheckId } from '../functions/core/catalog.ts';
import { type ConfigInput, parseConfig } from '../functions/core/config.ts';
import { countStatuses, isQuiet } from '../functions/core/results.ts';
import type { CheckResult, Report } from '../functions/core/types.ts';
import type { Ports } from '../functions/ports.ts';
import { runChecks } from '../functions/run.ts';
import { benchLambdaContext } from './lambda-context.ts';

/** Tenants per probe invocation: the stack's SQS batch size (lib/config.ts), whose ledger item is measured. */
const LEDGER_BATCH = 10;

export interface SweepInput {
  config: ConfigInput;
  /** One-tenant runs (uncontended) that measure the per-tenant critical path. */
  criticalRuns: number;
  /** Deferred round trips: a first, unmeasured sweep sends the tickets the measured one verifies. */
  primeSweep: boolean;
  /** Pause after the priming sweep (so its tickets are enhanced), ms. */
  primeWaitMs: number;
  /**
   * Only one Lambda-sized invocation: fresh ports, one batch of this many tenants, closed again
   * (its load, connections, alert-state keys and peak RSS are those of one probe invocation).
   */
  invocationBatch?: number;
  /** Pause before the invocation, ms. */
  delayMs?: number;
}

export interface InvocationOutput {
  batch: number;
  wallMs: number;
  cpuMs: number;
  peakRssMb: number;
  load: LoadCounts;
  /** Keys the alert path reads for this batch's results (functions/core/alert-policy.ts). */
  stateKeys: number;
  /** Log bytes per tenant: the probe handler's 'tenant probed' line, written by Powertools Logger. */
  logBytesPerTenant: number;
  /** Log bytes of the handler's own lines per invocation ('batch done'). */
  logBytesPerInvocation: number;
  /** The whole report's JSON bytes per tenant (what logging every result would ingest). */
  reportBytesPerTenant: number;
  /** A tenant's results as JSON with the evidence of passing and skipped ones dropped, bytes. */
  compactResultBytesPerTenant: number;
}

export interface LoadCounts {
  statements: number;
  roundTrips: number;
  connections: number;
  http: number;
  redis: number;
}

export interface SweepOutput {
  tenants: number;
  concurrency: number;
  /** Wall time of each one-tenant run, ms. */
  criticalMs: number[];
  wallMs: number;
  cpuMs: number;
  /** Peak RSS of this process, MB (process.resourceUsage().maxRSS). */
  peakRssMb: number;
  /** Load of the measured sweep (tenant checks only, as the probe Lambda runs them). */
  load: LoadCounts;
  /** Load of one run of the platform checks (the sweep Lambda's share), for the record. */
  platformLoad: LoadCounts;
  platformWallMs: number;
  platformCpuMs: number;
  /** Distinct (check, status) pairs in the measured sweep and in the platform run. */
  checkStatusPairs: number;
  platformCheckStatusPairs: number;
  /** Statuses of the measured sweep's results. */
  statuses: Record<string, number>;
  /** Tenant-checks of the measured sweep: tenant results that ran (not skipped). */
  tenantChecks: number;
  /**
   * Alert-state keys of this sweep's failing results the judgement reads (`alertKeysToLoad`;
   * the open incidents come on top), as so many per tenant plus so many per sweep (measured on
   * the whole sweep and on one tenant).
   */
  stateKeysPerTenant: number;
  stateKeysPerSweep: number;
  /**
   * DynamoDB size of the sweep-ledger item of one probe invocation's tenants
   * (functions/adapters/sweep-ledger.ts `batchItem`), bytes: the mean over the sweep's batches
   * of {@link LEDGER_BATCH} tenants.
   */
  ledgerBatchBytes: number;
  ledgerBatchTenants: number;
  /** A few non-passing results, to see why. */
  notPassing: { checkId: string; tenantId: string | null; status: string; summary: string }[];
  /** Per-tenant longest check duration in the measured sweep, ms: p50, p90, max. */
  tenantMs: { p50: number; p90: number; max: number };
}

const input = JSON.parse(process.argv[2] ?? '{}') as SweepInput;
const config = parseConfig(input.config);
if (input.invocationBatch !== undefined) {
  await new Promise((resolve) => setTimeout(resolve, input.delayMs ?? 0));
  process.stdout.write(`${JSON.stringify(await invocation(input.invocationBatch))}\n`);
  process.exit(0);
}
const secrets = createSecretResolver({ env: {} });
const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))] ?? 0;
};

await withPorts(openPorts, config, async (ports) => {
  const counts = (): LoadCounts => loadOf(ports);
  const minus = (a: LoadCounts, b: LoadCounts): LoadCounts => ({
    statements: a.statements - b.statements,
    roundTrips: a.roundTrips - b.roundTrips,
    connections: a.connections - b.connections,
    http: a.http - b.http,
    redis: a.redis - b.redis,
  });
  const tenantIds = config.tenants.map((tenant) => tenant.tenantId);
  const sweep = (filters: { tenantIds?: string[]; platform: boolean }): Promise<Report> =>
    runChecks({ config, ports, secrets, filters });

  // The critical path: one tenant alone (spread over the list), the slowest of several runs.
  const criticalMs: number[] = [];
  // Warm-up (pool connections, TLS sessions, JIT), as in a warm Lambda container: not counted.
  if (input.criticalRuns > 0) {
    await sweep({ tenantIds: [tenantIds.at(-1)!], platform: false });
    await sweep({ tenantIds: [tenantIds.at(-2) ?? tenantIds[0]!], platform: false });
  }
  for (let i = 0; i < input.criticalRuns; i += 1) {
    const tenantId = tenantIds[Math.floor((i * tenantIds.length) / input.criticalRuns)]!;
    const started = performance.now();
    await sweep({ tenantIds: [tenantId], platform: false });
    criticalMs.push(performance.now() - started);
  }
  if (input.primeSweep) {
    await sweep({ platform: false });
    await new Promise((resolve) => setTimeout(resolve, input.primeWaitMs));
  }

  const before = counts();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const report = await sweep({ platform: false });
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const load = minus(counts(), before);

  const platformIds = CATALOG.filter((entry) => entry.scope === 'platform').map((entry) => entry.id as CheckId);
  const beforePlatform = counts();
  const platformCpu = process.cpuUsage();
  const platformStarted = performance.now();
  const platformReport = await runChecks({
    config,
    ports,
    secrets,
    filters: { checkIds: platformIds, tenantIds: tenantIds.slice(0, 1) },
  });
  const platformWallMs = performance.now() - platformStarted;
  const platformCpuUsed = process.cpuUsage(platformCpu);
  const platformLoad = minus(counts(), beforePlatform);

  const statuses = countStatuses(report.results);
  const perTenant = new Map<string, number>();
  for (const result of report.results) {
    if (result.tenantId !== null) {
      perTenant.set(result.tenantId, Math.max(perTenant.get(result.tenantId) ?? 0, result.durationMs));
    }
  }
  const tenantDurations = [...perTenant.values()];
  const keysAll = alertKeysToLoad(report.results).length;
  const oneTenant = report.results.filter((result) => result.tenantId === tenantIds[0]);
  const keysOne = alertKeysToLoad(oneTenant).length;
  const batches: { tenantId: string; results: CheckResult[] }[][] = [];
  for (let start = 0; start + LEDGER_BATCH <= Math.max(tenantIds.length, LEDGER_BATCH); start += LEDGER_BATCH) {
    batches.push(
      tenantIds.slice(start, start + LEDGER_BATCH).map((tenantId) => ({
        tenantId,
        results: report.results.filter((result) => result.tenantId === tenantId),
      })),
    );
  }
  const ledgerAt = new Date();
  const stateKeysPerTenant = (keysAll - keysOne) / Math.max(1, tenantIds.length - 1);
  const output: SweepOutput = {
    tenants: tenantIds.length,
    concurrency: config.run.tenantConcurrency,
    criticalMs,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    load,
    platformLoad,
    platformWallMs,
    platformCpuMs: (platformCpuUsed.user + platformCpuUsed.system) / 1000,
    checkStatusPairs: new Set(report.results.map((r) => `${r.checkId} ${r.status}`)).size,
    platformCheckStatusPairs: new Set(platformReport.results.map((r) => `${r.checkId} ${r.status}`)).size,
    statuses,
    tenantChecks: report.results.filter((r) => r.tenantId !== null && r.status !== 'skipped').length,
    stateKeysPerTenant,
    stateKeysPerSweep: keysOne - stateKeysPerTenant,
    ledgerBatchBytes:
      batches.reduce((sum, batch) => sum + itemBytes(batchItem(report.runId, batch, ledgerAt)), 0) /
      Math.max(1, batches.length),
    ledgerBatchTenants: batches[0]?.length ?? 0,
    notPassing: report.results
      .filter((result) => result.status !== 'pass')
      .slice(0, 5)
      .map(({ checkId, tenantId, status, summary }) => ({ checkId, tenantId, status, summary })),
    tenantMs: {
      p50: quantile(tenantDurations, 0.5),
      p90: quantile(tenantDurations, 0.9),
      max: quantile(tenantDurations, 1),
    },
  };
  process.stdout.write(`${JSON.stringify(output)}\n`);
});

/** What a set of ports has sent so far. */
function loadOf(ports: Ports): LoadCounts {
  return {
    statements: ports.pg?.statementCount ?? 0,
    roundTrips: ports.pg?.roundTripCount ?? 0,
    connections: ports.pg?.connectionCount ?? 0,
    http: ports.http.requestCount,
    redis: ports.redis?.commandCount ?? 0,
  };
}

/** One probe invocation as the Lambda runs it: ports opened, a batch probed, ports closed. */
async function invocation(batch: number): Promise<InvocationOutput> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const { report, load } = await withPorts(openPorts, config, async (ports) => ({
    report: await runChecks({
      config,
      ports,
      secrets: createSecretResolver({ env: {} }),
      filters: { platform: false, tenantIds: config.tenants.slice(0, batch).map((tenant) => tenant.tenantId) },
    }),
    load: loadOf(ports),
  }));
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const tenantIds = report.tenants;
  const logs = await handlerLogBytes(report, tenantIds);
  return {
    batch,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    load,
    stateKeys: alertKeysToLoad(report.results).length,
    logBytesPerTenant: logs.perTenant,
    logBytesPerInvocation: logs.perInvocation,
    reportBytesPerTenant: Buffer.byteLength(JSON.stringify(report)) / Math.max(1, tenantIds.length),
    compactResultBytesPerTenant:
      Buffer.byteLength(JSON.stringify(report.results.map((r) => (isQuiet(r.status) ? { ...r, evidence: {} } : r)))) /
      Math.max(1, tenantIds.length),
  };
}

/**
 * The bytes the probe batch logs (functions/app/probe-batch.ts): one 'tenant probed' line per
 * tenant (statuses and the failing checks' summaries) from a child logger with the tenant's keys,
 * and one 'batch done' line, written by Powertools Logger with a Lambda context and captured here.
 */
async function handlerLogBytes(
  report: Report,
  tenantIds: string[],
): Promise<{ perTenant: number; perInvocation: number }> {
  const { Logger } = await import('@aws-lambda-powertools/logger');
  const logger = new Logger({ serviceName: 'tenant-canary' });
  logger.addContext(
    benchLambdaContext({
      functionName: 'tenant-canary-probe',
      awsRequestId: '6bc28136-1b41-4c1e-9cb7-3e2f5a0c8f11',
      logStreamName: '2026/11/29/[$LATEST]0123456789abcdef0123456789abcdef',
    }),
  );
  const captured = (write: () => void): number => {
    let bytes = 0;
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      return true;
    }) as typeof process.stdout.write;
    try {
      write();
    } finally {
      process.stdout.write = original;
    }
    return bytes;
  };
  let tenantBytes = 0;
  for (const tenantId of tenantIds) {
    const mine = { ...report, tenants: [tenantId], results: report.results.filter((r) => r.tenantId === tenantId) };
    const log = logger.createChild({
      persistentKeys: {
        tenantId,
        messageIds: ['059f36b4-87a3-44ab-83d2-661975830a7d'],
        sweepId: 'sweep-2026-12-07T16:00:00.000Z',
      },
    });
    tenantBytes += captured(() => logTenantReport(log, mine));
  }
  const perInvocation = captured(() =>
    logger.info('batch done', { records: tenantIds.length, failed: 0, tenants: tenantIds.length }),
  );
  if (tenantBytes === 0) throw new Error('Powertools Logger wrote nothing to stdout: the log figures would be wrong');
  return { perTenant: tenantBytes / Math.max(1, tenantIds.length), perInvocation };
}
