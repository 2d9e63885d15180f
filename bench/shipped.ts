/**
 * What we ship, measured: the example configs synthesised as `cdk synth` builds them, one real
 * probe invocation of the synthesised bundle, the drain of a 10,000-tenant sweep, and the bill of
 * every billed resource in each template (bench/bill.ts).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PLATFORM_REQUESTS, planSweep } from '../functions/core/budget.ts';
import type { ConfigInput, SecretRef } from '../functions/core/config.ts';
import { periodSweeps } from '../functions/core/sampling.ts';
import { scheduledProbeConfig } from '../functions/core/sweep-protocol.ts';
import type { DeploymentConfig } from '../lib/config.ts';
import { simulateDrain } from '../sim/drain.ts';
import type { ConfigFacts } from './bill.ts';
import { runJsonChild } from './child-process.ts';
import type { InvocationChildInput, InvocationChildOutput } from './invocation-child.ts';
import { functionId, readConfig, type SynthesizedStack } from './template.ts';

/** The shipped examples, and the 1,000-tenant one grown to 10,000 (the fields it must change to synthesise). */
export function shippedVariants(root: string): { label: string; tenants: number; config: Record<string, unknown> }[] {
  const platform = readConfig(join(root, 'examples', 'platform.json'));
  const statics = readConfig(join(root, 'examples', 'static.json'));
  const deployment = platform.deployment as Record<string, unknown>;
  const at10k = {
    ...platform,
    // The synth's budget check: each tenant's 7 webhook checks once an hour needs 66 requests a second.
    platform: { ...(platform.platform as object), requestBudgetRps: 70 },
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
      label:
        'examples/platform.json at 10,000 tenants (expectedTenants 10000, probe.maxConcurrency 200, platform.requestBudgetRps 70)',
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

/**
 * The platform's side of a paced sweep of `tenants` healthy tenants (functions/core/budget.ts):
 * the busiest second its API sees in the drain simulation with each message's DelaySeconds (worst
 * of 5 seeds, from the measured invocation times), when the last invocation ends, and the
 * synthetic tickets (LLM jobs) a tenant causes a day.
 */
export function pacedSweepOf(stack: SynthesizedStack, tenants: number, invocationMs: readonly number[]) {
  const { canary, deployment } = stack.config;
  const intervalS = deployment.schedule.rateMinutes * 60;
  const config = scheduledProbeConfig({ ...canary, run: { ...canary.run, sweepIntervalS: intervalS } });
  const tenantIds = Array.from({ length: tenants }, (_, i) => `tenant-${String(i).padStart(5, '0')}`);
  const plan = planSweep({ tenantIds, sweepAt: new Date(0), config, failing: new Set() });
  const { maxConcurrency, batchSize } = drainOf(stack, tenants, invocationMs);
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
  return {
    budgetRps: config.platform.requestBudgetRps,
    rotation: plan.rotation,
    peakRps: Math.max(...seeds.map((seed) => seed.peakRps)),
    drainMs: Math.max(...seeds.map((seed) => seed.drainMs)),
    syntheticJobsPerTenantDay: 86_400 / intervalS / periodSweeps(config.synthetic.acceptEveryMinutes, intervalS),
  };
}
