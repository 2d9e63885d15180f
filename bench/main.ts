/**
 * `npm run bench [-- --json] [-- --short]`: sweep efficiency, load per tenant-check, cold start
 * and the monthly bill, measured against the embedded sandbox. Three processes: this one
 * (orchestration), the sandbox (bench/sandbox-child.ts), and the canary (bench/sweep-child.ts,
 * bundled and run by plain `node`, as in Lambda), so the canary's CPU and memory are its own.
 *
 * --short: N=50 only (CI keeps it working); the `_1000` keys then hold the N=50 figures and
 * `tenants_measured` says so. Options: --latency-ms L (enhancement time, default 1000),
 * --concurrency C (run.tenantConcurrency, default 10), --sizes 100,1000.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { CATALOG } from '../functions/core/catalog.ts';
import type { ConfigInput } from '../functions/core/config.ts';
import { STATUSES, TIERS } from '../functions/core/types.ts';
import { pollDelays } from '../functions/probes/enhancement.ts';
import { parseDeploymentConfig } from '../lib/config.ts';
import { detectionSeconds } from '../sim/protocol.ts';
import { type Bill, type BillUsage, billTable, priceTemplate } from './bill.ts';
import { runJsonChild } from './child-process.ts';
import { type CostBreakdown, type CostInputs, costTable, MB_PER_VCPU, monthlyCost } from './cost.ts';
import { pacedRunJson } from './paced-run.ts';
import {
  configFacts,
  drainOf,
  measureImport,
  measureInvocation,
  natOf,
  pacedSweepOf,
  probeOf,
  shippedVariants,
  sweepsPerDay,
} from './shipped.ts';
import type { InvocationOutput, SweepInput, SweepOutput } from './sweep-child.ts';
import { readConfig, type SynthesizedStack, synthesize } from './template.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'bench', '.out');

export type RoundTripMode = 'wait' | 'deferred';

interface Args {
  json: boolean;
  short: boolean;
  latencyMs: number;
  concurrency: number;
  sizes: number[];
  modes: RoundTripMode[];
}

function parseArgs(argv: readonly string[]): Args {
  const value = (name: string): string | undefined => {
    const index = argv.indexOf(name);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const short = argv.includes('--short');
  const sizes = (value('--sizes') ?? (short ? '50' : '100,1000')).split(',').map(Number);
  const modes = (value('--modes') ?? 'wait,deferred').split(',') as RoundTripMode[];
  const args: Args = {
    json: argv.includes('--json'),
    short,
    latencyMs: Number(value('--latency-ms') ?? 1000),
    concurrency: Number(value('--concurrency') ?? 10),
    sizes,
    modes,
  };
  if (!sizes.every((n) => Number.isInteger(n) && n >= 2 && n <= 10_000)) throw new Error('--sizes: integers 2..10000');
  if (!modes.every((mode) => mode === 'wait' || mode === 'deferred')) throw new Error('--modes: wait,deferred');
  if (!(args.latencyMs >= 0 && Number.isInteger(args.concurrency) && args.concurrency >= 1)) {
    throw new Error('--latency-ms must be >= 0 and --concurrency a positive integer');
  }
  return args;
}

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);

interface SandboxChild {
  config: ConfigInput;
  info: { database: string; redis: string };
  readyMs: number;
  stop(): Promise<void>;
}

async function startSandboxChild(tenants: number, latencyMs: number, workers: number): Promise<SandboxChild> {
  const options = {
    tenantCount: tenants,
    workerLatencyMs: { min: latencyMs, max: latencyMs },
    workerConcurrency: workers,
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/sandbox-child.ts', JSON.stringify(options)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the sandbox exited (${code}) before it was ready: ${stderr}`)));
  });
  const ready = JSON.parse(first) as Omit<SandboxChild, 'stop'>;
  return {
    ...ready,
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

let sweepBundle: Promise<string> | undefined;
/** bench/sweep-child.ts as one ESM file, run by plain node like a Lambda bundle. */
function bundleSweepChild(): Promise<string> {
  sweepBundle ??= (async () => {
    const outfile = join(OUT, 'sweep-child.mjs');
    await build({
      entryPoints: [join(ROOT, 'bench', 'sweep-child.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Loaded lazily by the secrets adapter and pg; resolved from node_modules if ever used.
      external: ['@aws-sdk/*', '@aws-lambda-powertools/*', 'pg-native'],
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      logLevel: 'silent',
    });
    return outfile;
  })();
  return sweepBundle;
}

async function runChild<T>(input: SweepInput): Promise<T> {
  const file = await bundleSweepChild();
  // BENCH_CPU_PROF=1: a V8 CPU profile of each canary process in bench/.out/prof (find what costs CPU).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', join(OUT, 'prof')] : [];
  return runJsonChild<T>([...profile, file], input, 'sweep', ROOT);
}

interface SizeFigures {
  tenants: number;
  mode: RoundTripMode;
  sweep: SweepOutput;
  invocation: InvocationOutput;
  criticalPathMs: number;
  idealMs: number;
  efficiency: number;
}

function withMode(config: ConfigInput, concurrency: number, mode: RoundTripMode): ConfigInput {
  return { ...config, run: { tenantConcurrency: concurrency, roundTrip: mode } } as ConfigInput;
}

async function measureSize(args: Args, tenants: number): Promise<SizeFigures[]> {
  const started = performance.now();
  const workers = Math.max(100, args.concurrency * 2);
  const sandbox = await startSandboxChild(tenants, args.latencyMs, workers);
  progress(
    `sandbox with ${tenants} tenants ready in ${sandbox.readyMs} ms (${sandbox.info.database}, queue ${sandbox.info.redis})`,
  );
  const figures: SizeFigures[] = [];
  try {
    for (const mode of args.modes) {
      const config = withMode(sandbox.config, args.concurrency, mode);
      const deferred = mode === 'deferred';
      const sweep = await runChild<SweepOutput>({
        config,
        criticalRuns: 5,
        primeSweep: deferred,
        // Until the worker has enhanced every primed ticket (it takes `workers` at a time).
        primeWaitMs: Math.ceil(tenants / workers) * args.latencyMs + 2000,
      });
      const invocation = await runChild<InvocationOutput>({
        config,
        criticalRuns: 0,
        primeSweep: false,
        primeWaitMs: 0,
        invocationBatch: args.concurrency,
        // Deferred: let the measured sweep's tickets be enhanced first, as a sweep interval would.
        delayMs: deferred ? Math.ceil(tenants / workers) * args.latencyMs + 2000 : 0,
      });
      const criticalPathMs = Math.max(...sweep.criticalMs);
      const idealMs = Math.ceil(tenants / args.concurrency) * criticalPathMs;
      figures.push({ tenants, mode, sweep, invocation, criticalPathMs, idealMs, efficiency: idealMs / sweep.wallMs });
      progress(
        `N=${tenants} ${mode}: ${(sweep.wallMs / 1000).toFixed(2)} s, ideal ${(idealMs / 1000).toFixed(2)} s ` +
          `(critical path ${criticalPathMs.toFixed(0)} ms), efficiency ${(idealMs / sweep.wallMs).toFixed(3)}, ` +
          `statuses ${JSON.stringify(sweep.statuses)}`,
      );
    }
  } finally {
    await sandbox.stop();
  }
  progress(`N=${tenants} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return figures;
}

/** When an enhancement finishing `latencyMs` after the ticket is first seen by the poll schedule. */
function detectedAtMs(latencyMs: number): number {
  const next = pollDelays();
  let at = 0;
  while (at < latencyMs) at += next();
  return at;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

export interface StackSettings {
  probeMemoryMb: number;
  sweepMemoryMb: number;
  batchSize: number;
  probeContainers: number;
  rateMinutes: number;
  source: string;
}

interface ZodLike {
  parse(input: unknown): unknown;
}

/**
 * The deployment's defaults (lib/config.ts `deploymentSchema`): memory, SQS batch size, schedule.
 * Loaded by path, so that the bench still runs (with the values stated as assumed) without lib/.
 */
async function stackSettings(): Promise<StackSettings> {
  const file = join(ROOT, 'lib', 'config.ts');
  try {
    const { deploymentSchema } = (await import(pathToFileURL(file).href)) as {
      deploymentSchema: { shape: Record<string, ZodLike> };
    };
    const shape = deploymentSchema.shape;
    const probe = shape.probe!.parse(undefined) as { memoryMb: number; batchSize: number; maxConcurrency: number };
    const sweep = shape.sweep!.parse(undefined) as { memoryMb: number };
    const schedule = shape.schedule!.parse(undefined) as { rateMinutes: number };
    return {
      probeMemoryMb: probe.memoryMb,
      sweepMemoryMb: sweep.memoryMb,
      batchSize: probe.batchSize,
      probeContainers: probe.maxConcurrency,
      rateMinutes: schedule.rateMinutes,
      source: 'lib/config.ts defaults',
    };
  } catch (error) {
    progress(`lib/config.ts not usable (${(error as Error).message.split('\n')[0]}): assuming 1024 MB, batches of 10`);
    return {
      probeMemoryMb: 1024,
      sweepMemoryMb: 512,
      batchSize: 10,
      probeContainers: 10,
      rateMinutes: 5,
      source: 'assumed (lib/config.ts not found)',
    };
  }
}

/** Per-invocation log lines Lambda writes itself (START, END, REPORT), in their usual format. */
/**
 * Open incidents per tenant at any time, read every sweep besides the failing results' keys: an
 * assumption. With 4 state changes per tenant a month (2 incidents) open an hour each, it is
 * 2 × 12 / 8,760 = 0.003; this allows for incidents open four times as long.
 */
const OPEN_INCIDENTS_PER_TENANT = 0.01;

const PLATFORM_LOG_LINES = [
  'START RequestId: 6bc28136-1b41-4c1e-9cb7-3e2f5a0c8f11 Version: $LATEST',
  'END RequestId: 6bc28136-1b41-4c1e-9cb7-3e2f5a0c8f11',
  'REPORT RequestId: 6bc28136-1b41-4c1e-9cb7-3e2f5a0c8f11\tDuration: 412.33 ms\tBilled Duration: 413 ms\tMemory Size: 256 MB\tMax Memory Used: 98 MB\tInit Duration: 231.87 ms',
];

function costInputs(
  figures: SizeFigures,
  importMs: number,
  tenants: number,
  stack: StackSettings,
  metrics: readonly string[],
): CostInputs {
  const { sweep, invocation } = figures;
  const memory = stack.probeMemoryMb;
  return {
    tenants,
    intervalMinutes: stack.rateMinutes,
    hoursPerMonth: 730,
    lambdaMemoryMb: memory,
    tenantsPerInvocation: stack.batchSize,
    probeSecondsPerTenantRun: sweep.wallMs / 1000 / sweep.tenants,
    probeCpuSecondsPerTenantRun: sweep.cpuMs / 1000 / sweep.tenants,
    // The platform checks' run, CPU-bound at this memory or its wall time (SQS sends not measured).
    // Billed at the probe's memory (the sweep's is smaller or equal, so this is an upper bound).
    sweepSecondsPerSweep: Math.max(sweep.platformWallMs, (sweep.platformCpuMs * MB_PER_VCPU) / memory) / 1000,
    coldStartSeconds: importMs / 1000,
    probeContainers: stack.probeContainers,
    // functions/alerting.ts: the keys of the sweep's failing results (measured) and the open
    // incidents (an assumption, OPEN_INCIDENTS_PER_TENANT), read strongly consistent; per sweep
    // also one Query of the open-incident index (eventually consistent, keys only: under 1 unit).
    stateKeysPerTenantRun: sweep.stateKeysPerTenant + OPEN_INCIDENTS_PER_TENANT,
    stateKeysPerSweep: sweep.stateKeysPerSweep + 1,
    // functions/adapters/sweep-ledger.ts: per probe invocation a conditional Put of its tenants'
    // item (a write unit per KB) and an ADD on the sweep's counter; the claim and the judgement
    // each Query every item (strongly consistent, a read unit per 4 KB). Per sweep: open (2 Puts),
    // claim (an Update), close (a Delete), and a Query for pending sweeps.
    ledgerWritesPerInvocation: Math.ceil(sweep.ledgerBatchBytes / 1024) + 1,
    ledgerReadsPerInvocation: (2 * sweep.ledgerBatchBytes) / 4096,
    ledgerWritesPerSweep: 4,
    ledgerReadsPerSweep: 1,
    stateChangesPerTenantMonth: 4,
    // The database credentials and the tenant encryption key (tenantSource: database).
    secrets: 2,
    // The secrets resolver's default cache (functions/adapters/secrets.ts).
    secretCacheSeconds: 300,
    customMetrics: customMetrics(figures, metrics),
    alarms: 4,
    logBytesPerTenantRun: invocation.logBytesPerTenant,
    logBytesPerInvocation:
      PLATFORM_LOG_LINES.reduce((sum, line) => sum + line.length + 1, 0) + invocation.logBytesPerInvocation,
    // Lambda's SQS poller: 5 long polls (20 s) at a time, around the clock.
    sqsIdlePollRequestsMonth: 5 * 3 * 60 * 730,
  };
}

/**
 * Custom metrics a healthy month keeps alive (functions/core/telemetry.ts): CheckResults per
 * (check, status) pair seen in the measured sweep and platform run, plus each metric without a
 * per-check dimension. AlertsSent per tier only exists in hours with alerts and is left out.
 */
function customMetrics(figures: SizeFigures, metricNames: readonly string[]): number {
  const pairs = figures.sweep.checkStatusPairs + figures.sweep.platformCheckStatusPairs;
  const plain = metricNames.filter((name) => name !== 'CheckResults' && name !== 'AlertsSent');
  return pairs + plain.length;
}

/**
 * Custom metrics of a month that sees every check of the catalog in every status, and alerts of
 * every tier: the top of the metrics' range (the bottom is {@link customMetrics}, a healthy month).
 */
export function customMetricsEveryStatus(metricNames: readonly string[]): number {
  const plain = metricNames.filter((name) => name !== 'CheckResults' && name !== 'AlertsSent');
  return CATALOG.length * STATUSES.length + TIERS.length + plain.length;
}

/** The metric names the Lambdas emit (functions/core/telemetry.ts), loaded by path like lib/. */
async function metricNames(): Promise<string[]> {
  try {
    const file = join(ROOT, 'functions', 'core', 'telemetry.ts');
    const { METRIC } = (await import(pathToFileURL(file).href)) as { METRIC: Record<string, string> };
    return Object.values(METRIC);
  } catch {
    progress('functions/core/telemetry.ts not found: counting only the per-check result metrics');
    return [];
  }
}

interface Results {
  json: Record<string, unknown>;
  figures: SizeFigures[];
  costs: { label: string; cost: CostBreakdown }[];
  bills: { label: string; bill: Bill }[];
}

/** Seconds the forwarder is billed per alert (one Events API POST): an assumption. */
const FORWARDER_SECONDS_PER_ALERT = 0.3;
/** SDK clients a probe's first SQS invocation loads (the ledger; the secrets of the shipped config). */
const FIRST_INVOCATION_SDK = ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb', '@aws-sdk/client-secrets-manager'];

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The examples as shipped: synthesised, their probe bundle imported and invoked, their templates priced. */
type Shipped = Awaited<ReturnType<typeof measureShipped>>;

async function measureShipped(args: Args, head: SizeFigures, metrics: readonly string[]) {
  progress('shipped: synthesising examples/platform.json (1,000 and 10,000 tenants) and examples/static.json');
  const variants = shippedVariants(ROOT).map((variant) => ({ ...variant, stack: synthesize(variant.config) }));
  const [at1000, at10000] = variants as [(typeof variants)[number], (typeof variants)[number]];
  const probe = probeOf(at1000.stack);
  const imports = measureImport(probe.file, 7, FIRST_INVOCATION_SDK);
  progress(
    `shipped: probe bundle ${(probe.bytes / 1024).toFixed(1)} KB, import ${median(imports.alone).toFixed(0)} ms`,
  );
  const sandbox = await startSandboxChild(Math.max(20, probe.batchSize * 2), args.latencyMs, 100);
  let invocation: Awaited<ReturnType<typeof measureInvocation>>;
  try {
    invocation = await measureInvocation(ROOT, {
      bundle: probe.file,
      config: withMode(sandbox.config, args.concurrency, 'deferred'),
      batchSize: probe.batchSize,
      memoryMb: probe.memoryMb,
      primeWaitMs: args.latencyMs + 2000,
      rounds: 3,
    });
  } finally {
    await sandbox.stop();
  }
  const batchMs = median(invocation.batchMs);
  const cpuMs = median(invocation.batchCpuMs);
  const efficiency = median(invocation.aloneMaxMs) / batchMs;
  // At 1,024 MB a function has 1024/1769 of a vCPU: a CPU-bound invocation is billed for its CPU time scaled up.
  const billedMs = Math.max(batchMs, (cpuMs * MB_PER_VCPU) / probe.memoryMb);
  progress(
    `shipped: invocation of ${invocation.batch} tenants ${batchMs.toFixed(0)} ms (CPU ${cpuMs.toFixed(0)} ms), slowest alone ${median(invocation.aloneMaxMs).toFixed(0)} ms, efficiency ${efficiency.toFixed(3)}`,
  );
  const platformLines = PLATFORM_LOG_LINES.reduce((sum, line) => sum + line.length + 1, 0);
  const effectiveMs = invocation.batchMs.map((ms) => Math.max(ms, (cpuMs * MB_PER_VCPU) / probe.memoryMb));
  const drain = drainOf(at10000.stack, 10_000, effectiveMs);
  const paced = pacedSweepOf(at1000.stack, 1000, effectiveMs);
  // The 10,000-tenant variant is the same config grown: its jobs a tenant a day are the 1,000's, measured.
  const jobs = { perTenantDay: paced.syntheticJobsPerTenantDay, sweeps: paced.syntheticJobsDaySweeps };
  // A batch of one: the slowest tenant alone (wall), or its share of the batch's CPU-bound time.
  const tenantInvocationMs = Math.max(median(invocation.aloneMaxMs), billedMs / invocation.batch);
  const nat = natOf(invocation);
  progress(
    `shipped: NAT bytes a warm invocation of ${invocation.batch} ${Math.round(nat.warmInvocation)}, of one ${Math.round(nat.aloneInvocation)}, cold ${Math.round(nat.coldInvocation)}; ${nat.apiConnectionsWarm} API connections a warm invocation`,
  );
  const usage = (tenants: number, stack: SynthesizedStack): BillUsage => {
    const pacedSweep =
      stack === at1000.stack
        ? paced
        : pacedSweepOf(stack, tenants, effectiveMs, stack === at10000.stack ? jobs : undefined);
    return {
      // The deployed sweep is paced: the containers its spread-out invocations keep busy at once.
      probeContainers: pacedSweep.peakConcurrency,
      probeInvocationS: billedMs / 1000,
      probeTenantInvocationS: tenantInvocationMs / 1000,
      probeInvocationsPerSweep: pacedSweep.invocations,
      syntheticJobsPerTenantDay: pacedSweep.syntheticJobsPerTenantDay,
      customMetricsEveryStatus: customMetricsEveryStatus(metrics),
      probeInitS: median(imports.withSdk) / 1000,
      sweepS:
        Math.max(head.sweep.platformWallMs, (head.sweep.platformCpuMs * MB_PER_VCPU) / probe.memoryMb) / 1000 +
        // SendMessageBatch: 10 tenants a call, 8 at once, about 20 ms each.
        (Math.ceil(tenants / 80) * 20) / 1000,
      sweepInitS: median(imports.alone) / 1000,
      logBytesPerProbeInvocation: invocation.logBytes + invocation.emfBytes + platformLines,
      // The `tenant probed` line of each tenant (measured in the sweep's invocation).
      logBytesPerTenantRun: head.invocation.logBytesPerTenant,
      // The sweep writes a summary and its EMF like one invocation does, plus the platform lines.
      logBytesPerSweep: invocation.emfBytes + platformLines + 1024,
      customMetrics: customMetrics(head, metrics),
      stateKeysPerTenantRun: head.sweep.stateKeysPerTenant + OPEN_INCIDENTS_PER_TENANT,
      stateKeysPerSweep: head.sweep.stateKeysPerSweep + 1,
      ledgerWritesPerInvocation: Math.ceil(head.sweep.ledgerBatchBytes / 1024) + 1,
      ledgerReadsPerInvocation: (2 * head.sweep.ledgerBatchBytes) / 4096,
      ledgerWritesPerSweep: 4 + Math.ceil(tenants / 2000),
      ledgerReadsPerSweep: 1 + Math.ceil(tenants / 2000),
      stateChangesPerTenantMonth: 4,
      forwarderSecondsPerAlert: FORWARDER_SECONDS_PER_ALERT,
      secretCacheSeconds: 300,
      // Measured in the invocation: the API over TLS and DynamoDB through byte-counting proxies.
      natBytes: nat.bytes,
      // The ledger holds a day of sweeps (its TTL): a part per paced invocation, each sweep of the
      // day; the state table a few KB per incident.
      tableBytes:
        head.sweep.ledgerBatchBytes *
          pacedSweep.invocations *
          sweepsPerDay(stack.config.deployment.schedule.rateMinutes * 60) +
        tenants * 2048,
    };
  };
  const bills = variants.map((variant) => {
    const bill = priceTemplate(
      variant.stack.resources,
      configFacts(variant.stack.config, variant.tenants),
      usage(variant.tenants, variant.stack),
    );
    if (bill.unpriced.length > 0)
      throw new Error(
        `${variant.label}: the template has resources the bill does not price: ${bill.unpriced.join(', ')}`,
      );
    return { label: variant.label, bill };
  });
  return {
    probe,
    bundles: at1000.stack.bundles,
    imports,
    invocation,
    batchMs,
    cpuMs,
    efficiency,
    billedMs,
    drain,
    paced,
    bills,
    nat,
  };
}

/** The headline figures of the largest measured size, and what they are (a sweep in one process). */
function headlineJson(
  head: SizeFigures,
  shipped: Shipped,
  stack: StackSettings,
  metrics: readonly string[],
  context: {
    args: Args;
    largest: number;
    headlineMode: RoundTripMode;
    cost1000: CostBreakdown;
    cost10000: CostBreakdown;
    figures: readonly SizeFigures[];
  },
): Record<string, unknown> {
  const { args, largest, headlineMode, cost1000, cost10000, figures } = context;
  return {
    efficiency_1000: round(head.efficiency, 3),
    wall_s_1000: round(head.sweep.wallMs / 1000, 2),
    cpu_ms_per_tenant_check: round(head.sweep.cpuMs / head.sweep.tenantChecks, 3),
    peak_rss_mb_1000: round(head.sweep.peakRssMb, 1),
    sql_per_tenant_check: round(head.sweep.load.statements / head.sweep.tenantChecks, 2),
    http_per_tenant_check: round(head.sweep.load.http / head.sweep.tenantChecks, 2),
    // The shipped probe asset (examples/platform.json, cdk synth), not a bundle of our own.
    bundle_kb_probe: round(shipped.probe.bytes / 1024, 1),
    import_ms_probe: round(median(shipped.imports.alone), 1),
    monthly_usd_1000: round(cost1000.totalUsd, 2),
    monthly_usd_10000: round(cost10000.totalUsd, 2),
    cloudwatch_synthetics_usd_1000: round(cost1000.cloudwatchSyntheticsUsd, 2),
    checkly_usd_1000: round(cost1000.checklyUsd, 2),
    // Extras: what the figures above are, and the rest of what was measured.
    tenants_measured: largest,
    short: args.short,
    round_trip_mode: headlineMode,
    enhancement_latency_ms: args.latencyMs,
    tenant_concurrency: args.concurrency,
    critical_path_ms: round(head.criticalPathMs, 1),
    ideal_s: round(head.idealMs / 1000, 2),
    // The canary runs on one thread: a sweep cannot take less than its own CPU time either.
    cpu_aware_ideal_s: round(Math.max(head.idealMs, head.sweep.cpuMs) / 1000, 2),
    cpu_aware_efficiency_1000: round(Math.max(head.idealMs, head.sweep.cpuMs) / head.sweep.wallMs, 3),
    sql_round_trips_per_tenant_check: round(head.sweep.load.roundTrips / head.sweep.tenantChecks, 2),
    redis_per_tenant_check: round(head.sweep.load.redis / head.sweep.tenantChecks, 2),
    // A tenant-check is one check of one tenant (a tenant result that ran, as in
    // test/integration/sql-load.test.ts); per tenant is all of one tenant's checks in one sweep.
    tenant_checks_per_tenant: round(head.sweep.tenantChecks / head.tenants, 2),
    cpu_ms_per_tenant: round(head.sweep.cpuMs / head.tenants, 2),
    sql_per_tenant: round(head.sweep.load.statements / head.tenants, 2),
    sql_round_trips_per_tenant: round(head.sweep.load.roundTrips / head.tenants, 2),
    http_per_tenant: round(head.sweep.load.http / head.tenants, 2),
    db_connections_per_invocation: head.invocation.load.connections,
    sql_per_invocation: head.invocation.load.statements,
    invocation_batch: head.invocation.batch,
    invocation_wall_ms: round(head.invocation.wallMs, 1),
    invocation_peak_rss_mb: round(head.invocation.peakRssMb, 1),
    platform_checks_sql: head.sweep.platformLoad.statements,
    platform_checks_redis: head.sweep.platformLoad.redis,
    platform_checks_http: head.sweep.platformLoad.http,
    state_keys_read_per_invocation: head.invocation.stateKeys,
    state_keys_per_tenant_run: round(head.sweep.stateKeysPerTenant, 2),
    state_keys_per_sweep: round(head.sweep.stateKeysPerSweep, 2),
    ledger_item_bytes_per_invocation: round(head.sweep.ledgerBatchBytes, 0),
    ledger_tenants_per_item: head.sweep.ledgerBatchTenants,
    log_bytes_per_tenant: round(head.invocation.logBytesPerTenant, 0),
    report_bytes_per_tenant: round(head.invocation.reportBytesPerTenant, 0),
    // What storing a tenant's results per sweep (e.g. a sweep ledger item) would write: DynamoDB
    // bills a write unit per KB.
    compact_result_bytes_per_tenant: round(head.invocation.compactResultBytesPerTenant, 0),
    lambda_memory_mb: stack.probeMemoryMb,
    stack_settings: stack.source,
    sqs_batch_size: stack.batchSize,
    probe_containers: stack.probeContainers,
    custom_metrics: customMetrics(head, metrics),
    bundle_entry: 'functions/handlers/probe.ts, as cdk synth bundles it (lib/canary-function.ts)',
    source_map_kb_probe: round(shipped.probe.mapBytes / 1024, 1),
    import_ms_runs: shipped.imports.alone.map((ms) => round(ms, 1)),
    cdk_assets_kb: Object.entries(shipped.bundles).map(([asset, b]) => ({ asset, kb: round(b.bytes / 1024, 1) })),
    database: process.env.DATABASE_URL ? 'postgres' : 'pglite',
    sizes: figures.map((f) => ({
      tenants: f.tenants,
      mode: f.mode,
      efficiency: round(f.efficiency, 3),
      wall_s: round(f.sweep.wallMs / 1000, 2),
      ideal_s: round(f.idealMs / 1000, 2),
      critical_path_ms: round(f.criticalPathMs, 1),
      cpu_aware_efficiency: round(Math.max(f.idealMs, f.sweep.cpuMs) / f.sweep.wallMs, 3),
      cpu_ms_per_tenant_check: round(f.sweep.cpuMs / f.sweep.tenantChecks, 3),
      cpu_ms_per_tenant: round(f.sweep.cpuMs / f.tenants, 2),
      peak_rss_mb: round(f.sweep.peakRssMb, 1),
      sql_per_tenant_check: round(f.sweep.load.statements / f.sweep.tenantChecks, 2),
      sql_per_tenant: round(f.sweep.load.statements / f.tenants, 2),
      sql_round_trips_per_tenant: round(f.sweep.load.roundTrips / f.tenants, 2),
      tenant_ms_p50_p90_max: [f.sweep.tenantMs.p50, f.sweep.tenantMs.p90, f.sweep.tenantMs.max].map((v) => round(v, 0)),
      statuses: f.sweep.statuses,
      ...(f.sweep.notPassing.length > 0 ? { not_passing: f.sweep.notPassing } : {}),
    })),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`,
  };
}

/** The wait round trips' figures beside the headline (deferred) ones, and their cost. */
function waitJson(
  wait: SizeFigures,
  args: Args,
  costOf: (f: SizeFigures, tenants: number, label: string, override?: Partial<CostInputs>) => CostBreakdown,
): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  const waitCost = costOf(wait, 1000, 'wait round trips, 1,000 tenants');
  json.wait_efficiency = round(wait.efficiency, 3);
  json.wait_wall_s = round(wait.sweep.wallMs / 1000, 2);
  json.wait_sql_per_tenant_check = round(wait.sweep.load.statements / wait.sweep.tenantChecks, 2);
  json.wait_sql_per_tenant = round(wait.sweep.load.statements / wait.tenants, 2);
  json.wait_monthly_usd_1000 = round(waitCost.totalUsd, 2);
  // The platform's normal enhancement time (PLATFORM.md: "normal < 15 s") instead of the bench's L:
  // each tenant waits detectedAt(15 s) instead of detectedAt(L), C tenants at a time.
  const extraS = (detectedAtMs(15_000) - detectedAtMs(args.latencyMs)) / 1000 / args.concurrency;
  const at15 = costOf(wait, 1000, 'wait round trips at a 15 s enhancement, 1,000 tenants', {
    probeSecondsPerTenantRun: wait.sweep.wallMs / 1000 / wait.tenants + extraS,
  });
  json.wait_monthly_usd_1000_at_15s = round(at15.totalUsd, 2);
  return json;
}

/**
 * Tenants and seeds of the detection runs (the shipped fleet's size). A platform-wide outage starts
 * at a seeded instant of an hour; one tenant's at its worst instant (just after its hourly
 * accepted ticket went out), for a seeded tenant each seed.
 */
const DETECTION = { tenants: 1000, seeds: 12 } as const;
/** --short (CI): the same fleet, three seeds of each kind (about 15 s instead of a minute). */
const DETECTION_SHORT = { tenants: 1000, seeds: 3 } as const;

/**
 * Seconds from an enhancement outage (platform-wide, and one tenant's) to the first firing alert
 * in the seeded protocol simulation (sim/protocol.ts: the real sweep, probe and judgement code,
 * sampled acceptances, deferred round trips, the sweep's pacing), worst of the seeds; the
 * tenant's outage starts at its worst instant in every seed (sim/protocol.ts simulateDetection).
 */
async function detectionJson(short: boolean): Promise<Record<string, unknown>> {
  const runs = short ? DETECTION_SHORT : DETECTION;
  progress(
    `detection: ${runs.seeds} seeded outages of each kind (a tenant's at its worst instant), ${runs.tenants} tenants (sim/protocol.ts)`,
  );
  // As deployed: the shipped example's probe concurrency (the event source's maxConcurrency).
  const shipped = parseDeploymentConfig(readConfig(join(ROOT, 'examples', 'platform.json')));
  const maxConcurrency = shipped.deployment.probe.maxConcurrency;
  const platform = await detectionSeconds({ ...runs, scope: 'platform', maxConcurrency });
  const tenant = await detectionSeconds({ ...runs, scope: 'tenant', maxConcurrency });
  const summary = (d: typeof platform) => ({
    worst_s: d.worst,
    median_s: d.median,
    never_fired: d.neverFired,
    runs_s: d.runs,
    sweeps_judged_incomplete: d.judgedIncomplete,
  });
  return {
    detect_s_platform_outage: platform.worst,
    detect_s_tenant_outage: tenant.worst,
    detection: {
      tenants: runs.tenants,
      seeds: runs.seeds,
      probe_max_concurrency: maxConcurrency,
      platform: summary(platform),
      tenant: summary(tenant),
    },
  };
}

/** The NAT bytes the invocation measured, and the connections and TLS resumptions behind them. */
function natJson(nat: Shipped['nat']): Record<string, unknown> {
  return {
    nat_bytes_per_tenant_run_warm: Math.round(nat.bytes.perTenantRun),
    nat_bytes_per_invocation_warm: Math.round(nat.bytes.perInvocation),
    nat_bytes_per_invocation_cold: Math.round(nat.coldInvocation),
    nat_bytes_cold_start_extra: Math.round(nat.bytes.perColdStart),
    nat_bytes_invocation_warm_batch: Math.round(nat.warmInvocation),
    nat_bytes_invocation_warm_one: Math.round(nat.aloneInvocation),
    nat_connections_per_invocation: nat.apiConnectionsWarm,
    nat_connections_per_invocation_one: nat.apiConnectionsAlone,
    nat_connections_per_invocation_cold: nat.apiConnectionsCold,
    nat_tls_resumed_share_warm: round(nat.tlsResumedWarm, 3),
    nat_tls_resumed_share_cold: round(nat.tlsResumedCold, 3),
    nat_api_bytes_per_connection_warm: Math.round(nat.apiBytesPerConnectionWarm),
    nat_aws_bytes_per_invocation_warm: Math.round(nat.awsBytesWarm),
    nat_aws_connections_per_invocation_warm: nat.awsConnectionsWarm,
    nat_aws_connections_per_invocation_cold: nat.awsConnectionsCold,
  };
}

/** What the examples ship, measured: their bills, the invocation, the drain and the paced sweep. */
function shippedJson(shipped: Shipped): Record<string, unknown> {
  const [bill1000, bill10000, billStatic] = shipped.bills.map(({ bill }) => bill) as [Bill, Bill, Bill];
  return {
    monthly_usd_1000_shipped: round(bill1000.totalUsd, 2),
    monthly_usd_10000_shipped: round(bill10000.totalUsd, 2),
    monthly_usd_static_shipped: round(billStatic.totalUsd, 2),
    efficiency_invocation: round(shipped.efficiency, 3),
    drain_s_10000: round(shipped.drain.worst.drainMs / 1000, 1),
    synthetic_jobs_per_tenant_day: round(shipped.paced.syntheticJobsPerTenantDay, 2),
    platform_rps_peak_1000: shipped.paced.peakRps,
    // The shipped example deploys in a VPC with egress through the platform's NAT: its data is in the totals.
    nat_included: bill1000.natIncluded && bill10000.natIncluded,
    // Measured NAT data (bench/invocation-child.ts: byte-counting proxies, both directions, TLS included).
    ...natJson(shipped.nat),
    // Custom metrics from a healthy month to every check seen in every status.
    monthly_usd_1000_shipped_range: bill1000.totalUsdRange.map((usd) => round(usd, 2)),
    monthly_usd_10000_shipped_range: bill10000.totalUsdRange.map((usd) => round(usd, 2)),
    priced_region: bill1000.pricedAs,
    price_date: bill1000.priceDate,
    // Apart from the AWS totals: the platform's LLM spend on the canary's accepted tickets.
    synthetic_jobs_month_1000: Math.round(bill1000.syntheticJobs.perMonth),
    synthetic_jobs_usd_month_1000: round(bill1000.syntheticJobs.usd, 2),
    synthetic_jobs_usd_month_10000: round(bill10000.syntheticJobs.usd, 2),
    paced_sweep_1000: {
      budget_rps: shipped.paced.budgetRps,
      rejection_rotation: shipped.paced.rotation,
      rejection_rotations: shipped.paced.rotations,
      cycle_sweeps: shipped.paced.cycleSweeps,
      peak_sweep: shipped.paced.peakSweep,
      synthetic_jobs_day_sweeps: shipped.paced.syntheticJobsDaySweeps,
      drain_s: round(shipped.paced.drainMs / 1000, 1),
      invocations_mean: round(shipped.paced.invocations, 1),
      peak_concurrency: shipped.paced.peakConcurrency,
    },
    import_ms_probe_with_sdk: round(median(shipped.imports.withSdk), 1),
    invocation_shipped: {
      tenants: shipped.invocation.batch,
      wall_ms: round(shipped.batchMs, 1),
      cpu_ms: round(shipped.cpuMs, 1),
      billed_ms_at_memory: round(shipped.billedMs, 1),
      slowest_alone_ms: round(median(shipped.invocation.aloneMaxMs), 1),
      first_cold_ms: round(shipped.invocation.firstMs, 1),
      log_lines: shipped.invocation.logLines,
      log_bytes: shipped.invocation.logBytes,
      emf_lines: shipped.invocation.emfLines,
      emf_bytes: shipped.invocation.emfBytes,
      failed_records: shipped.invocation.failedRecords,
      peak_rss_mb: round(shipped.invocation.peakRssMb, 1),
    },
    drain_10000: {
      max_concurrency: shipped.drain.maxConcurrency,
      batch_size: shipped.drain.batchSize,
      invocations: shipped.drain.worst.invocations,
      peak_concurrency: shipped.drain.worst.peakConcurrency,
      queued_s: round(shipped.drain.worst.queuedMs / 1000, 2),
    },
    bills: shipped.bills.map(({ label, bill }) => ({
      label,
      region: bill.region ?? null,
      priced_as: bill.pricedAs,
      price_date: bill.priceDate,
      ...(bill.priceNote === undefined ? {} : { price_note: bill.priceNote }),
      total_usd: round(bill.totalUsd, 2),
      total_usd_range: bill.totalUsdRange.map((usd) => round(usd, 2)),
      nat_included: bill.natIncluded,
      synthetic_jobs: {
        per_month: Math.round(bill.syntheticJobs.perMonth),
        usd: round(bill.syntheticJobs.usd, 2),
        arithmetic: bill.syntheticJobs.arithmetic,
      },
      lines: bill.lines.map((line) => ({
        item: line.item,
        usd: round(line.usd, 2),
        resources: line.resources,
        arithmetic: line.arithmetic,
      })),
      egress: bill.egress.map((line) => ({ item: line.item, usd: round(line.usd, 2), arithmetic: line.arithmetic })),
      free: bill.free,
    })),
  };
}

async function main(): Promise<Results> {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const figures: SizeFigures[] = [];
  for (const tenants of args.sizes) figures.push(...(await measureSize(args, tenants)));
  const stack = await stackSettings();
  const metrics = await metricNames();

  const largest = Math.max(...args.sizes);
  const pick = (mode: RoundTripMode, n = largest) => figures.find((f) => f.tenants === n && f.mode === mode);
  const headlineMode: RoundTripMode = args.modes.includes('deferred') ? 'deferred' : 'wait';
  const head = pick(headlineMode)!;
  const wait = pick('wait');
  const shipped = await measureShipped(args, head, metrics);
  const importMs = median(shipped.imports.alone);
  const costs: Results['costs'] = [];
  const costOf = (f: SizeFigures, tenants: number, label: string, override: Partial<CostInputs> = {}) => {
    const cost = monthlyCost({ ...costInputs(f, importMs, tenants, stack, metrics), ...override });
    costs.push({ label, cost });
    return cost;
  };
  const cost1000 = costOf(head, 1000, `${headlineMode} round trips, 1,000 tenants`);
  const cost10000 = costOf(head, 10_000, `${headlineMode} round trips, 10,000 tenants`);

  const json: Record<string, unknown> = {
    ...headlineJson(head, shipped, stack, metrics, { args, largest, headlineMode, cost1000, cost10000, figures }),
    measured_at: startedAt.toISOString(),
  };
  if (wait !== undefined) Object.assign(json, waitJson(wait, args, costOf));
  Object.assign(json, shippedJson(shipped), await detectionJson(args.short));
  // issue 24: platform_rps_peak_1000 checked against a real paced sweep at a smaller scale (both modes, about 60 s).
  Object.assign(json, await pacedRunJson(ROOT, progress));
  json.costs = costs.map(({ label, cost }) => ({
    label,
    total_usd: round(cost.totalUsd, 2),
    items: cost.items.map((line) => ({ item: line.item, usd: round(line.usd, 2), arithmetic: line.arithmetic })),
  }));
  return { json, figures, costs, bills: shipped.bills };
}

function table(results: Results): string {
  const { json, costs } = results;
  const lines = ['', 'tenant-canary benchmark', ''];
  const width = Math.max(...Object.keys(json).map((key) => key.length));
  for (const [key, value] of Object.entries(json)) {
    if (['sizes', 'cdk_assets_kb', 'costs', 'bills'].includes(key)) continue;
    lines.push(`  ${key.padEnd(width)}  ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  lines.push('', '  sizes:');
  for (const size of json.sizes as Record<string, unknown>[]) lines.push(`    ${JSON.stringify(size)}`);
  for (const { label, bill } of results.bills) lines.push('', `  as shipped: ${label}:`, '', billTable(bill), '');
  for (const { label, cost } of costs) lines.push('', `  ${label}:`, '', costTable(cost), '');
  return lines.join('\n');
}

/** The keys issue #6 asks `--json` for; each must be a finite number. */
export const REQUIRED_KEYS = [
  'efficiency_1000',
  'wall_s_1000',
  'cpu_ms_per_tenant_check',
  'peak_rss_mb_1000',
  'sql_per_tenant_check',
  'http_per_tenant_check',
  'bundle_kb_probe',
  'import_ms_probe',
  'monthly_usd_1000',
  'monthly_usd_10000',
  'monthly_usd_1000_shipped',
  'monthly_usd_10000_shipped',
  'efficiency_invocation',
  'drain_s_10000',
  'synthetic_jobs_per_tenant_day',
  'platform_rps_peak_1000',
  'detect_s_platform_outage',
  'detect_s_tenant_outage',
  'cloudwatch_synthetics_usd_1000',
  'checkly_usd_1000',
] as const;

const results = await main();
// Every run also leaves its human report (with the cost arithmetic) beside the bundles.
await writeFile(join(OUT, 'last-report.md'), `${table(results)}\n`);
const missing = REQUIRED_KEYS.filter((key) => !Number.isFinite(results.json[key]));
if (missing.length > 0) {
  process.stderr.write(`[bench] not measured: ${missing.join(', ')}\n`);
  process.exitCode = 1;
}
process.stdout.write(
  process.argv.includes('--json') ? `${JSON.stringify(results.json, null, 2)}\n` : `${table(results)}\n`,
);
