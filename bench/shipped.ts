/**
 * What we ship, measured: the example configs synthesised as `cdk synth` builds them, one real
 * probe invocation of the synthesised bundle, the drain of a 10,000-tenant sweep, and the bill of
 * every billed resource in each template (bench/bill.ts).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { estimateBudget, PLATFORM_REQUESTS, planSweep } from '../functions/core/budget.ts';
import type { ConfigInput, SecretRef } from '../functions/core/config.ts';
import { periodSweeps } from '../functions/core/sampling.ts';
import { scheduledProbeConfig } from '../functions/core/sweep-protocol.ts';
import { type DeploymentConfig, parseDeploymentConfig } from '../lib/config.ts';
import { simulateDrain } from '../sim/drain.ts';
import type { ConfigFacts, NatBytes } from './bill.ts';
import { runJsonChild } from './child-process.ts';
import type { InvocationChildInput, InvocationChildOutput, NetworkSample } from './invocation-child.ts';
import { functionId, readConfig, type SynthesizedStack } from './template.ts';

/** The shipped examples, and the 1,000-tenant one grown to 10,000 (the fields it must change to synthesise). */
export function shippedVariants(root: string): { label: string; tenants: number; config: Record<string, unknown> }[] {
  const platform = readConfig(join(root, 'examples', 'platform.json'));
  const statics = readConfig(join(root, 'examples', 'static.json'));
  const deployment = platform.deployment as Record<string, unknown>;
  // The synth's budget check at 10,000 tenants: each tenant's webhook checks once per acceptance period.
  const parsed = parseDeploymentConfig(platform);
  const intervalS = parsed.deployment.schedule.rateMinutes * 60;
  const budgetRps = estimateBudget(
    { ...parsed.canary, run: { ...parsed.canary.run, sweepIntervalS: intervalS } },
    10_000,
  ).neededBudgetRps;
  const at10k = {
    ...platform,
    platform: { ...(platform.platform as object), requestBudgetRps: budgetRps },
    deployment: {
      ...deployment,
      expectedTenants: 10_000,
      // The synth's worst case (a batch up to its budget) needs at least 167 at 10,000 tenants.
      probe: { ...(deployment.probe as object), maxConcurrency: 200 },
    },
  };
  return [
    { label: 'examples/platform.json, 1,000 tenants', tenants: 1000, config: platform },
    {
      label: `examples/platform.json at 10,000 tenants (expectedTenants 10000, probe.maxConcurrency 200, platform.requestBudgetRps ${budgetRps})`,
      tenants: 10_000,
      config: at10k,
    },
    {
      label: `examples/static.json (${(statics.tenants as unknown[]).length} tenants, each its own secret)`,
      tenants: (statics.tenants as unknown[]).length,
      config: statics,
    },
  ];
}

/** The config facts the bill needs that a template does not hold. */
export function configFacts(config: DeploymentConfig, tenants: number): ConfigFacts {
  const { canary, deployment } = config;
  const id = (ref: SecretRef | undefined) => (ref !== undefined && 'secretId' in ref ? [ref.secretId] : []);
  const tenantSecrets = new Set(canary.tenants.flatMap((tenant) => id(tenant.signingSecret)));
  const source = canary.tenantSource.type === 'database' ? canary.tenantSource : undefined;
  const probe = new Set([
    ...(canary.database?.secretId === undefined ? [] : [canary.database.secretId]),
    ...(source?.secretId === undefined ? [] : [source.secretId]),
    ...id(source?.encryptionKey),
  ]);
  const sweep = new Set([...probe, ...id(canary.redis?.auth?.password)]);
  const shared = new Set([...config.secretIds.filter((s) => !tenantSecrets.has(s))]);
  const routing = canary.alerts.pagerduty?.routingKey;
  for (const s of id(routing as SecretRef | undefined)) shared.add(s);
  const heartbeat = deployment.heartbeatUrl;
  if (typeof heartbeat === 'object') shared.add(heartbeat.secretId);
  return {
    tenants,
    sharedSecrets: shared.size,
    tenantSecrets: tenantSecrets.size,
    sweepSecrets: sweep.size,
    probeSecrets: probe.size,
    egress: deployment.vpc === undefined ? undefined : deployment.vpc.egress,
    azs: deployment.vpc?.subnetIds.length ?? 0,
    region: deployment.env?.region,
    syntheticJobUsd: canary.costs.syntheticJobUsd,
  };
}

/** The probe's asset, its batch size and memory, from a synthesised stack. */
export function probeOf(stack: SynthesizedStack): {
  file: string;
  bytes: number;
  mapBytes: number;
  memoryMb: number;
  batchSize: number;
} {
  const id = functionId(stack, 'Probe');
  if (id === undefined) throw new Error('no probe function in the template');
  const bundle = stack.bundles[id];
  if (bundle === undefined) throw new Error('the probe function has no bundle in the assembly');
  const mapping = Object.values(stack.resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
  return {
    file: bundle.file,
    bytes: bundle.bytes,
    mapBytes: bundle.mapBytes,
    memoryMb: Number(stack.resources[id]?.Properties?.MemorySize ?? 1024),
    batchSize: Number(mapping?.Properties?.BatchSize ?? 10),
  };
}

/**
 * Fresh `node` imports of a bundle, median of `runs`: the bundle alone (the SDK is loaded on
 * first use), and the bundle plus the SDK clients a probe's first SQS invocation loads.
 */
export function measureImport(
  file: string,
  runs: number,
  sdk: readonly string[],
): { alone: number[]; withSdk: number[] } {
  const url = pathToFileURL(file).href;
  const time = (extra: readonly string[]) => {
    const loads = [url, ...extra].map((m) => `await import(${JSON.stringify(m)});`).join(' ');
    const script = `const t = performance.now(); ${loads} process.stdout.write(String(performance.now() - t));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      // From the repository root: the external @aws-sdk/* resolves from node_modules, as the runtime's would.
      cwd: join(import.meta.dirname, '..'),
      env: {
        ...process.env,
        AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
        NODE_PATH: join(import.meta.dirname, '..', 'node_modules'),
      },
      timeout: 60_000,
    });
    const value = Number(child.stdout);
    if (child.status !== 0 || !Number.isFinite(value))
      throw new Error(`importing ${file} failed: ${child.stderr.slice(0, 400)}`);
    return value;
  };
  const alone: number[] = [];
  const withSdk: number[] = [];
  for (let i = 0; i < runs; i++) {
    alone.push(time([]));
    withSdk.push(time(sdk));
  }
  return { alone, withSdk };
}

/** One probe invocation of the synthesised bundle against a running sandbox (bench/invocation-child.ts). */
export async function measureInvocation(
  root: string,
  input: Omit<InvocationChildInput, 'taskRoot' | 'config'> & { config: ConfigInput },
): Promise<InvocationChildOutput> {
  // The embedded config as the stack writes it for a scheduled probe: the interval it judges.
  const config = {
    ...input.config,
    run: { ...(input.config.run ?? {}), roundTrip: 'deferred', sweepIntervalS: 300 },
  } as ConfigInput;
  const full: InvocationChildInput = { ...input, config, taskRoot: join(root, 'bench', '.out', 'invocation') };
  return runJsonChild<InvocationChildOutput>(
    ['--import', 'tsx', join(root, 'bench', 'invocation-child.ts')],
    full,
    'invocation',
    root,
  );
}

/** A sweep of `tenants`' drain at the default quotas, from the measured invocation times (worst of 5 seeds). */
export function drainOf(stack: SynthesizedStack, tenants: number, invocationMs: readonly number[]) {
  const mapping = Object.values(stack.resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
  const maxConcurrency = Number(
    (mapping?.Properties?.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency ?? 1000,
  );
  const batchSize = Number(mapping?.Properties?.BatchSize ?? 10);
  const seeds = Array.from({ length: 5 }, (_, i) =>
    simulateDrain({ tenants, batchSize, maxConcurrency, invocationMs, seed: i + 1 }),
  );
  return { maxConcurrency, batchSize, worst: seeds.reduce((a, b) => (b.drainMs > a.drainMs ? b : a)) };
}

/** Greatest common divisor and least common multiple of whole numbers. */
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const lcm = (a: number, b: number): number => (a / gcd(a, b)) * b;

/** Sweeps in a day at `intervalS` (288 at five minutes). */
export function sweepsPerDay(intervalS: number): number {
  return Math.round(86_400 / intervalS);
}

/**
 * The synthetic tickets (LLM jobs) a healthy tenant causes a day, measured: the sweep's own plan
 * (functions/core/budget.ts planSweep, with sampleTenant as the sweep calls it) at each of a day's
 * consecutive sweep times, the accepted tickets due counted, divided by the tenants.
 */
export function syntheticJobsPerTenantDay(
  config: Parameters<typeof planSweep>[0]['config'],
  tenantIds: readonly string[],
): { perTenantDay: number; sweeps: number; tickets: number } {
  const intervalS = config.run.sweepIntervalS;
  const sweeps = sweepsPerDay(intervalS);
  const accepting = !config.checks.disabled.includes('webhook.signed_accepted');
  let tickets = 0;
  for (let i = 0; i < sweeps; i++) {
    const plan = planSweep({ tenantIds, sweepAt: new Date(i * intervalS * 1000), config, failing: new Set() });
    for (const tenant of plan.tenants) {
      const notDue = tenant.decision.notDue.some((entry) => entry.checkId === 'webhook.signed_accepted');
      if (accepting && !notDue) tickets += 1;
    }
  }
  return { perTenantDay: tickets / tenantIds.length, sweeps, tickets };
}

/**
 * The platform's side of a paced sweep of `tenants` healthy tenants (functions/core/budget.ts)
 * over a full cycle of plans (the least common multiple of the acceptance period and the
 * rotations of the rejection probes, in sweeps: after it the plans repeat): the busiest second
 * its API sees in the drain simulation with each message's DelaySeconds (worst sweep of the
 * cycle, worst of 5 seeds each, from the measured invocation times), when the last invocation
 * ends, the invocations a sweep (mean over the cycle, for the bill) and the synthetic tickets
 * (LLM jobs) a tenant causes a day (measured over a day of plans, unless `jobs` gives that
 * measurement of another fleet size of the same config: a tenant's acceptances are sampled by its
 * own slot, whatever the tenant count and the budget, and a day of plans at 10,000 tenants takes
 * minutes).
 */
export function pacedSweepOf(
  stack: SynthesizedStack,
  tenants: number,
  invocationMs: readonly number[],
  jobs?: { perTenantDay: number; sweeps: number },
) {
  const { canary, deployment } = stack.config;
  const intervalS = deployment.schedule.rateMinutes * 60;
  const config = scheduledProbeConfig({ ...canary, run: { ...canary.run, sweepIntervalS: intervalS } });
  const tenantIds = Array.from({ length: tenants }, (_, i) => `tenant-${String(i).padStart(5, '0')}`);
  const period = periodSweeps(config.synthetic.acceptEveryMinutes, intervalS);
  const planAt = (sweep: number) =>
    planSweep({ tenantIds, sweepAt: new Date(sweep * intervalS * 1000), config, failing: new Set() });
  // The cycle: the period and every rotation a period's plans use (rotations are at most a period).
  let cycle = period;
  for (let sweep = 0; sweep < period; sweep++) cycle = lcm(cycle, planAt(sweep).rotation);
  const { maxConcurrency, batchSize } = drainOf(stack, tenants, invocationMs);
  const rotations = new Set<number>();
  let worst = { sweep: 0, peakRps: 0 };
  let drainMs = 0;
  let invocations = 0;
  let peakConcurrency = 0;
  for (let sweep = 0; sweep < cycle; sweep++) {
    const plan = planAt(sweep);
    rotations.add(plan.rotation);
    const seeds = Array.from({ length: 5 }, (_, i) =>
      simulateDrain({
        tenants,
        batchSize,
        maxConcurrency,
        invocationMs,
        seed: i + 1,
        delaysS: plan.tenants.map((t) => t.delayS),
        requests: plan.tenants.map((t) => t.requests),
        platformRequests: PLATFORM_REQUESTS,
      }),
    );
    const peakRps = Math.max(...seeds.map((seed) => seed.peakRps));
    if (peakRps > worst.peakRps) worst = { sweep, peakRps };
    drainMs = Math.max(drainMs, ...seeds.map((seed) => seed.drainMs));
    invocations += Math.max(...seeds.map((seed) => seed.invocations));
    peakConcurrency = Math.max(peakConcurrency, ...seeds.map((seed) => seed.peakConcurrency));
  }
  const day = jobs ?? syntheticJobsPerTenantDay(config, tenantIds);
  return {
    budgetRps: config.platform.requestBudgetRps,
    /** The rotations the cycle's plans used (1: the rejection probes every sweep). */
    rotation: Math.max(...rotations),
    rotations: [...rotations].sort((a, b) => a - b),
    /** Sweeps in the cycle the peak was taken over, and the sweep (from 0) with the busiest second. */
    cycleSweeps: cycle,
    peakSweep: worst.sweep,
    peakRps: worst.peakRps,
    drainMs,
    /** Probe invocations a paced sweep (most batches partial: tenants arrive a few a second), mean over the cycle of each sweep's worst seed. */
    invocations: invocations / cycle,
    /** The most invocations at once in any sweep of the cycle, worst of 5 seeds. */
    peakConcurrency,
    syntheticJobsPerTenantDay: day.perTenantDay,
    syntheticJobsDaySweeps: day.sweeps,
  };
}

/**
 * TLS the bench's DynamoDB (dynalite, plain HTTP) does not carry and AWS's endpoints do: stated,
 * not measured. A full handshake with an AWS endpoint: its certificate chain (leaf, Amazon RSA
 * 2048 intermediate, root cross-signed: about 4.3 KB) and the hellos and key exchange; a record's
 * header, nonce and tag per HTTP message (TLS 1.2 AES-GCM: 29 B; TLS 1.3: 22 B).
 */
export const AWS_TLS_HANDSHAKE_BYTES = 6_000;
export const AWS_TLS_RECORD_BYTES = 29;

const medianOf = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** An invocation's NAT bytes: the API's as counted, DynamoDB's with the TLS AWS would add. */
export function natBytesOfSample(sample: NetworkSample): { api: number; aws: number; total: number } {
  const api = sample.apiUp + sample.apiDown;
  const aws =
    sample.awsBytes + sample.awsConnections * AWS_TLS_HANDSHAKE_BYTES + sample.awsRequests * 2 * AWS_TLS_RECORD_BYTES;
  return { api, aws, total: api + aws };
}

/**
 * The bill's NAT figures from the measured invocation (bench/invocation-child.ts): an invocation
 * of k tenants moves `perInvocation + k × perTenantRun` (a line through the warm batch of one and
 * the warm full batch, medians), and a container's first invocation `perColdStart` more than a
 * warm one of the same batch.
 */
export function natOf(invocation: InvocationChildOutput) {
  const { cold, batch, alone } = invocation.network;
  const warm = medianOf(batch.map((s) => natBytesOfSample(s).total));
  const one = medianOf(alone.map((s) => natBytesOfSample(s).total));
  const perTenantRun = invocation.batch > 1 ? Math.max(0, (warm - one) / (invocation.batch - 1)) : warm;
  const perInvocation = Math.max(0, one - perTenantRun);
  const coldTotal = natBytesOfSample(cold).total;
  const perColdStart = Math.max(0, coldTotal - warm);
  const share = (samples: readonly NetworkSample[], pick: (s: NetworkSample) => number) => medianOf(samples.map(pick));
  const bytes: NatBytes = {
    perInvocation,
    perTenantRun,
    perColdStart,
    measured: `a warm invocation of ${invocation.batch} tenants ${Math.round(warm).toLocaleString('en-US')} B, of one ${Math.round(one).toLocaleString('en-US')} B, a container's first (cold) of ${invocation.batch} ${Math.round(coldTotal).toLocaleString('en-US')} B; the platform's API over TLS through a byte-counting proxy, DynamoDB through another plus ${AWS_TLS_HANDSHAKE_BYTES.toLocaleString('en-US')} B a new connection and ${AWS_TLS_RECORD_BYTES} B a message of TLS stated`,
  };
  return {
    bytes,
    warmInvocation: warm,
    aloneInvocation: one,
    coldInvocation: coldTotal,
    apiConnectionsWarm: share(batch, (s) => s.apiConnections),
    apiConnectionsAlone: share(alone, (s) => s.apiConnections),
    apiConnectionsCold: cold.apiConnections,
    tlsResumedWarm: share(batch, (s) => s.tlsResumed / Math.max(1, s.tlsHandshakes)),
    tlsResumedCold: cold.tlsResumed / Math.max(1, cold.tlsHandshakes),
    awsBytesWarm: share(batch, (s) => natBytesOfSample(s).aws),
    awsConnectionsWarm: share(batch, (s) => s.awsConnections),
    awsConnectionsCold: cold.awsConnections,
    apiBytesPerConnectionWarm: share(batch, (s) => (s.apiUp + s.apiDown) / Math.max(1, s.apiConnections)),
  };
}
