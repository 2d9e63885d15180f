/**
 * `platform_rps_peak_1000` checked against a real run at a smaller scale (issue 24, item 5): a
 * sandbox of N tenants (bench/sandbox-child.ts, plain HTTP), a counting proxy in front of its API
 * (this process, which otherwise only waits: each request's arrival time), and the deployed sweep
 * replayed by the canary's own process (bench/paced-run-child.ts -> bench/paced-sweep.ts: the real
 * sweep, SQS delays, an event source, concurrent real probe invocations). The real peak is the
 * most requests the proxy received in any sliding second; beside it, the drain simulation
 * (sim/drain.ts, as bench/shipped.ts `pacedSweepOf` runs it) of the same messages (the same
 * DelaySeconds and requests) with the run's measured invocation times, worst of 5 seeds.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PLATFORM_REQUESTS, planSweep } from '../functions/core/budget.ts';
import { type ConfigInput, parseConfig } from '../functions/core/config.ts';
import { periodSweeps } from '../functions/core/sampling.ts';
import { scheduledProbeConfig } from '../functions/core/sweep-protocol.ts';
import { simulateDrain } from '../sim/drain.ts';
import { runJsonChild } from './child-process.ts';
import type { PacedRunChildInput, PacedRunChildOutput } from './paced-run-child.ts';
import type { PacedSweepOutput } from './paced-sweep.ts';

export interface PacedRunOptions {
  root: string;
  tenants: number;
  budgetRps: number;
  intervalS: number;
  acceptEveryMinutes: number;
  /** The stack's event source (examples/platform.json: 10 and 20). */
  batchSize?: number;
  maxConcurrency?: number;
  /** The sweep (number from the epoch, at `intervalS`) to replay. @default the busiest of the first period */
  sweepIndex?: number;
  /** Also replay the sweep with every DelaySeconds ignored (the counter must see that exceed the budget). */
  unpaced?: boolean;
  /** The event source's polling latency, ms (bench/paced-sweep.ts; an experiment). @default 0 */
  deliveryJitterMs?: number;
  /** A real PostgreSQL for the sandbox. @default PGlite */
  databaseUrl?: string;
}

export interface PacedRunFigures {
  tenants: number;
  budgetRps: number;
  intervalS: number;
  acceptEveryMinutes: number;
  sweepIndex: number;
  /** The plan's rotation of the rejection probes and its last start, s (planSweep, recomputed). */
  rotation: number;
  lastStartS: number;
  /** Whether the DelaySeconds the real sweep sent are the recomputed plan's. */
  planMatches: boolean;
  /** Requests the plan accounts for (each tenant run's, plus the sweep's own) and those the proxy counted. */
  plannedRequests: number;
  realRequests: number;
  realPeakRps: number;
  /** Where the busiest sliding second starts, s after the sweep started. */
  realPeakAtS: number;
  /** Requests in each whole second after the sweep started. */
  realPerSecond: number[];
  simPeakRps: number;
  invocations: number;
  peakConcurrency: number;
  invocationMs: { p50: number; max: number };
  /** The invocations running during the busiest second: start and end (s after the sweep), tenants, their DelaySeconds. */
  peakInvocations: { startS: number; endS: number; tenants: number }[];
  /** When the last invocation ended, s after the sweep started. */
  drainS: number;
  recorded: number;
  expected: number;
  unprobed: number;
  unpacedPeakRps?: number;
  /** Wall time of the whole measurement (sandbox, both sweeps), s. */
  runS: number;
}

export interface CountingProxy {
  url: string;
  /** Arrival time of every request so far, epoch ms (performance.timeOrigin + now). */
  arrivals(): number[];
  /** Every request so far: when it arrived, its method and path. */
  requests(): { at: number; method: string; path: string; body: string }[];
  close(): Promise<void>;
}

/** A loopback HTTP proxy to `target` that notes when each request arrives, before forwarding it. */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const arrivals: number[] = [];
  const seen: { at: number; method: string; path: string; body: string }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const at = performance.timeOrigin + performance.now();
    arrivals.push(at);
    const entry = { at, method: req.method ?? '', path: req.url ?? '', body: '' };
    seen.push(entry);
    req.on('data', (chunk: Buffer) => {
      if (entry.body.length < 300) entry.body += chunk.toString('utf8').slice(0, 300);
    });
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals: () => [...arrivals],
    requests: () => seen.map((entry) => ({ ...entry })),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/** The most arrivals in any window [t, t + 1000 ms), and where the first such window starts. */
export function slidingPeak(times: readonly number[]): { peak: number; at: number } {
  const sorted = [...times].sort((a, b) => a - b);
  let best = { peak: 0, at: sorted[0] ?? 0 };
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while ((sorted[last] as number) - (sorted[first] as number) >= 1000) first += 1;
    if (last - first + 1 > best.peak) best = { peak: last - first + 1, at: sorted[first] as number };
  }
  return best;
}

/** The sandbox in its own process (bench/sandbox-child.ts), over plain HTTP so the proxy can count. */
async function startSandboxProcess(
  root: string,
  tenants: number,
  databaseUrl: string | undefined,
): Promise<{ config: ConfigInput; stop(): Promise<void> }> {
  const options = { tenantCount: tenants, tls: false, workerConcurrency: 100, ...(databaseUrl ? { databaseUrl } : {}) };
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join('bench', 'sandbox-child.ts'), JSON.stringify(options)],
    {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the sandbox exited (${code}) before it was ready: ${stderr}`)));
  });
  const { config } = JSON.parse(first) as { config: ConfigInput };
  return {
    config,
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The deployed shape on the sandbox: the examples' run settings (deferred round trips, 10 tenants
 * at once), the budget, interval and acceptance period given, and one signed entry point besides
 * the webhook with a platform-wide secret and no accepting probe (3 forgeries a tenant run, as
 * examples/platform.json's): 10 requests for a tenant run with every webhook check.
 */
export function pacedRunConfig(sandbox: ConfigInput, baseUrl: string, options: PacedRunOptions): ConfigInput {
  const entryPoints = (sandbox.platform.entryPoints ?? [])
    .filter((entry) => typeof entry.secret === 'object')
    .slice(0, 1)
    .map((entry) => ({ ...entry, acceptProbe: false }));
  return {
    ...sandbox,
    platform: { ...sandbox.platform, baseUrl, requestBudgetRps: options.budgetRps, entryPoints },
    run: { tenantConcurrency: 10, roundTrip: 'deferred', sweepIntervalS: options.intervalS },
    synthetic: { ...sandbox.synthetic, acceptEveryMinutes: options.acceptEveryMinutes },
  } as ConfigInput;
}

/** The sweep of the first period whose plan sends the most requests (the first such). */
function busiestSweep(config: ConfigInput): number {
  const parsed = scheduledProbeConfig(parseConfig(config));
  const tenantIds = parsed.tenants.map((tenant) => tenant.tenantId);
  const intervalS = parsed.run.sweepIntervalS;
  let best = { index: 0, requests: -1 };
  for (let index = 0; index < periodSweeps(parsed.synthetic.acceptEveryMinutes, intervalS); index++) {
    const plan = planSweep({
      tenantIds,
      sweepAt: new Date(index * intervalS * 1000),
      config: parsed,
      failing: new Set(),
    });
    const requests = plan.tenants.reduce((sum, tenant) => sum + tenant.requests, 0);
    if (requests > best.requests) best = { index, requests };
  }
  return best.index;
}

const quantile = (values: readonly number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))] ?? 0;
};

/** The most invocations that overlapped. */
function peakOverlap(invocations: PacedSweepOutput['invocations']): number {
  let peak = 0;
  for (const one of invocations) {
    peak = Math.max(peak, invocations.filter((o) => o.startMs <= one.startMs && o.endMs > one.startMs).length);
  }
  return peak;
}

/** The figures of the paced sweep from the proxy's arrivals and the sweep's own account. */
function figuresOf(
  config: ConfigInput,
  options: PacedRunOptions,
  sweepIndex: number,
  paced: PacedSweepOutput,
  arrivals: readonly number[],
): Omit<PacedRunFigures, 'runS' | 'unpacedPeakRps'> {
  const parsed = scheduledProbeConfig(parseConfig(config));
  const intervalS = parsed.run.sweepIntervalS;
  const sweepAt = new Date(sweepIndex * intervalS * 1000);
  const plan = planSweep({
    tenantIds: parsed.tenants.map((t) => t.tenantId),
    sweepAt,
    config: parsed,
    failing: new Set(),
  });
  const mine = arrivals.filter((at) => at >= paced.startedAtMs && at <= paced.endedAtMs);
  const { peak, at } = slidingPeak(mine);
  const perSecond: number[] = [];
  for (const time of mine) {
    const second = Math.floor((time - paced.startedAtMs) / 1000);
    while (perSecond.length <= second) perSecond.push(0);
    perSecond[second] = (perSecond[second] ?? 0) + 1;
  }
  const invocationMs = paced.invocations.map((i) => i.endMs - i.startMs);
  const sims = Array.from({ length: 5 }, (_, i) =>
    simulateDrain({
      tenants: paced.messages.length,
      batchSize: options.batchSize ?? 10,
      maxConcurrency: options.maxConcurrency ?? 20,
      invocationMs: invocationMs.length > 0 ? invocationMs : [1000],
      seed: i + 1,
      delaysS: paced.messages.map((m) => m.delayS),
      requests: paced.messages.map((m) => m.requests),
      platformRequests: PLATFORM_REQUESTS,
    }),
  );
  const peakFrom = at - paced.startedAtMs;
  return {
    tenants: paced.messages.length,
    budgetRps: options.budgetRps,
    intervalS,
    acceptEveryMinutes: options.acceptEveryMinutes,
    sweepIndex,
    rotation: plan.rotation,
    lastStartS: plan.lastStartS,
    planMatches: plan.tenants.map((t) => t.delayS).join() === paced.messages.map((m) => m.delayS).join(),
    plannedRequests: paced.messages.reduce((sum, m) => sum + m.requests, PLATFORM_REQUESTS),
    realRequests: mine.length,
    realPeakRps: peak,
    realPeakAtS: Math.round(peakFrom) / 1000,
    realPerSecond: perSecond,
    simPeakRps: Math.max(...sims.map((sim) => sim.peakRps)),
    invocations: paced.invocations.length,
    peakConcurrency: peakOverlap(paced.invocations),
    invocationMs: { p50: Math.round(quantile(invocationMs, 0.5)), max: Math.round(Math.max(0, ...invocationMs)) },
    peakInvocations: paced.invocations
      .filter((i) => i.startMs < peakFrom + 1000 && i.endMs > peakFrom)
      .map((i) => ({ startS: i.startMs / 1000, endS: i.endMs / 1000, tenants: i.tenants })),
    drainS: Math.max(0, ...paced.invocations.map((i) => i.endMs)) / 1000,
    recorded: paced.recorded,
    expected: paced.expected,
    unprobed: paced.unprobed,
  };
}

/** The whole measurement; see the file's comment. */
export async function measurePacedRun(options: PacedRunOptions): Promise<PacedRunFigures> {
  const started = performance.now();
  const sandbox = await startSandboxProcess(options.root, options.tenants, options.databaseUrl);
  let proxy: CountingProxy | undefined;
  try {
    proxy = await startCountingProxy(sandbox.config.platform.baseUrl);
    const config = pacedRunConfig(sandbox.config, proxy.url, options);
    const sweepIndex = options.sweepIndex ?? busiestSweep(config);
    const sweepAtMs = sweepIndex * options.intervalS * 1000;
    const shape = {
      config,
      batchSize: options.batchSize ?? 10,
      maxConcurrency: options.maxConcurrency ?? 20,
      ...(options.deliveryJitterMs === undefined ? {} : { deliveryJitterMs: options.deliveryJitterMs }),
    };
    const input: PacedRunChildInput = {
      sweeps: [
        { ...shape, sweepAtMs, pacing: 'planned' },
        // The same sweep again (the same plan), every message at once.
        ...(options.unpaced ? [{ ...shape, sweepAtMs, pacing: 'none' as const }] : []),
      ],
      gapMs: 2000,
    };
    const output = await runJsonChild<PacedRunChildOutput>(
      ['--import', 'tsx', join(options.root, 'bench', 'paced-run-child.ts')],
      input,
      'paced run',
      options.root,
    );
    const arrivals = proxy.arrivals();
    // BENCH_PACED_DUMP=FILE: every request the proxy saw and the canary's account, to trace a peak.
    const dump = process.env.BENCH_PACED_DUMP;
    if (dump) writeFileSync(dump, JSON.stringify({ config, requests: proxy.requests(), output }));
    const [paced, unpaced] = output.sweeps as [PacedSweepOutput, PacedSweepOutput | undefined];
    const figures = figuresOf(config, options, sweepIndex, paced, arrivals);
    const unpacedPeak =
      unpaced === undefined
        ? undefined
        : slidingPeak(arrivals.filter((at) => at >= unpaced.startedAtMs && at <= unpaced.endedAtMs)).peak;
    return {
      ...figures,
      ...(unpacedPeak === undefined ? {} : { unpacedPeakRps: unpacedPeak }),
      runS: (performance.now() - started) / 1000,
    };
  } finally {
    await proxy?.close();
    await sandbox.stop();
  }
}

/** The bench's real run: 100 tenants, the shipped budget (20 rps), sweeps every 60 s, 12 sweeps an acceptance period. */
export const PACED_RUN_BENCH = { tenants: 100, budgetRps: 20, intervalS: 60, acceptEveryMinutes: 12 } as const;

/** The bench JSON keys of the real run (bench/main.ts), beside the drain simulation of the same messages. */
export async function pacedRunJson(root: string, progress: (line: string) => void): Promise<Record<string, unknown>> {
  const shape = PACED_RUN_BENCH;
  progress(
    `paced run: a real sweep of ${shape.tenants} sandbox tenants at ${shape.budgetRps} rps every ${shape.intervalS} s, counted at the API (bench/paced-run.ts)`,
  );
  const databaseUrl = process.env.DATABASE_URL;
  const f = await measurePacedRun({ root, ...shape, unpaced: true, ...(databaseUrl ? { databaseUrl } : {}) });
  progress(
    `paced run: real peak ${f.realPeakRps} rps (simulated ${f.simPeakRps}), ${f.realRequests} requests, ` +
      `${f.recorded}/${f.expected} tenants recorded, unpaced ${f.unpacedPeakRps} rps, ${f.runS.toFixed(1)} s`,
  );
  const r3 = (s: number) => Math.round(s * 1000) / 1000;
  return {
    platform_rps_peak_small_real: f.realPeakRps,
    platform_rps_peak_small_sim: f.simPeakRps,
    platform_rps_small_tenants: f.tenants,
    platform_rps_small_budget: f.budgetRps,
    platform_rps_small_within_budget: f.realPeakRps <= f.budgetRps,
    platform_rps_small: {
      interval_s: f.intervalS,
      accept_every_minutes: f.acceptEveryMinutes,
      sweep_index: f.sweepIndex,
      rotation: f.rotation,
      last_start_s: f.lastStartS,
      plan_matches: f.planMatches,
      planned_requests: f.plannedRequests,
      real_requests: f.realRequests,
      real_peak_at_s: f.realPeakAtS,
      real_per_second: f.realPerSecond,
      peak_invocations: f.peakInvocations.map((i) => ({
        start_s: r3(i.startS),
        end_s: r3(i.endS),
        tenants: i.tenants,
      })),
      invocations: f.invocations,
      peak_concurrency: f.peakConcurrency,
      invocation_ms: f.invocationMs,
      drain_s: r3(f.drainS),
      tenants_recorded: f.recorded,
      tenants_expected: f.expected,
      unprobed: f.unprobed,
      unpaced_peak_rps: f.unpacedPeakRps,
      run_s: Math.round(f.runS * 10) / 10,
    },
  };
}
