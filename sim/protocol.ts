/**
 * A deterministic, seeded simulation of the deployed sweep protocol. The real use cases run
 * (functions/app/sweep.ts, probe-batch.ts, judge-sweep.ts, the alert path and policy) on
 * in-memory parts that keep the AWS semantics that matter (sim/parts.ts):
 *
 * - SQS: at-least-once delivery (a message can go to two invocations), a visibility timeout,
 *   redelivery of failed records and of invocations that died, maxReceiveCount -> dead-letter
 *   queue, batches received out of order, `SendMessageBatch` refusing entries, each message's
 *   `DelaySeconds` (the sweep's pacing under the request budget).
 * - Lambda: at most `maxConcurrency` probe invocations, each taking a sampled time; an
 *   invocation past its timeout dies mid-batch; any invocation may die at any call (mid-judgement
 *   included): it then does nothing more, no cleanup, as a killed container.
 * - The sweep ledger and alert state: the memory implementations (the DynamoDB ones' conditions),
 *   with transient errors; SNS throttling or failing some messages; sweeps that never start.
 *
 * Probes are simulated (`AppDeps.checks`): each tenant's results follow a seeded script of
 * incidents (sim/script.ts), so thousands of sweeps run in seconds. They run what the sweep's
 * sampling asks (`synthetic.acceptEveryMinutes` at its default: each tenant's accepted ticket once
 * an hour in its slot, and every sweep while it fails, from the alert state the real sweep reads)
 * and judge deferred round trips (the previous ticket), as deployed with a database, confirming a
 * failure within the run as the real probe does (sim/parts.ts `Confirmation`: a confirming ticket
 * sent during an outage is not enhanced, and the invocation carrying it takes roundTripTimeoutS
 * longer, so its batch reports, and its sweep is judged, later). A run is a
 * window of faulty sweeps, then a fault-free tail of an acceptance period and four sweeps that
 * lets every sweep of the window be judged and every lasting failure be seen; the invariants are
 * checked on what happened (sim/invariants.ts, {@link INVARIANTS}). The same seed always gives
 * the same run.
 *
 * `holes` put back, one at a time, a flaw the protocol was fixed for (by wrapping a part so it
 * behaves the old way), to show the invariants catch it. {@link simulateDetection} measures how
 * long an enhancement outage (platform-wide, or of one tenant) takes to fire an alert.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { AppDeps } from '../functions/app/deps.ts';
import { probeBatch } from '../functions/app/probe-batch.ts';
import { sweep } from '../functions/app/sweep.ts';
import type { CheckId } from '../functions/core/catalog.ts';
import { type Config, parseConfig } from '../functions/core/config.ts';
import { periodSweeps } from '../functions/core/sampling.ts';
import { Secret } from '../functions/core/secret.ts';
import { sweepDeadline } from '../functions/core/sweep-protocol.ts';
import { sweepIdAt } from '../functions/core/tables.ts';
import type { OpenPorts, TenantMessage } from '../functions/ports.ts';
import { checkEnd } from './invariants.ts';
import {
  type Confirmation,
  checksFor,
  confirmationOf,
  type Lease,
  ledgerFor,
  publisherFor,
  queueFor,
  storeFor,
} from './parts.ts';
import { type Episode, NO_FAULTS, type Rng, rngOf, type Script, scriptOf, tenantIdsOf } from './script.ts';
import { sqsRecord } from './sqs-record.ts';
import {
  BATCH_SIZE,
  Crash,
  count,
  createState,
  faultNow,
  type Hole,
  INTERVAL_S,
  MAX_CONCURRENCY,
  MAX_RECEIVE_COUNT,
  NEVER,
  PROBE_TIMEOUT_MS,
  type QueuedMessage,
  type SimState,
  STEP_MS,
  sweepIndexAt,
  T0,
  VISIBILITY_MS,
  type Violation,
} from './state.ts';

export { HOLES, type Hole, INVARIANTS, type Invariant, type Violation } from './state.ts';

export interface SimulationOptions {
  tenants: number;
  /** Sweeps in the faulty window. @default 12 */
  sweeps?: number;
  holes?: readonly Hole[];
}

export interface SeedOutcome {
  seed: number;
  sweeps: number;
  violations: Violation[];
  /** What happened, for the README and for tests that want to see the faults were exercised. */
  counts: Record<string, number>;
  /** The sweeps (index) in which each tenant's accepted ticket was sent. */
  accepted: Record<string, number[]>;
  /** The script's episodes: which tenant failed which check from which sweep (for tests). */
  episodes: Script['episodes'];
}

/** Fault-free sweeps after the window, besides one acceptance period (a lasting failure is sampled within it). */
const TAIL_SWEEPS = 4;

/** The simulation's config: the tenants, the deployed sweep interval, deferred round trips, sampling at its default. */
export function simConfig(tenants: readonly string[]): Config {
  return parseConfig({
    platform: { baseUrl: 'https://platform.invalid' },
    tenants: tenants.map((tenantId) => ({ tenantId, signingSecret: { value: `secret-of-${tenantId}` } })),
    // Deferred round trips, as a deployed probe runs them with a database (scheduledProbeConfig).
    run: { tenantConcurrency: BATCH_SIZE, sweepIntervalS: INTERVAL_S, roundTrip: 'deferred' },
  });
}

/** Sweeps after the window: an acceptance period (every tenant sampled once) and four more. */
export function tailSweeps(config: Pick<Config, 'synthetic' | 'run'>): number {
  return periodSweeps(config.synthetic.acceptEveryMinutes, config.run.sweepIntervalS) + TAIL_SWEEPS;
}

export async function simulateSeed(seed: number, options: SimulationOptions): Promise<SeedOutcome> {
  const rng = rngOf(seed);
  const window = options.sweeps ?? 12;
  const config = simConfig(tenantIdsOf(options.tenants));
  const tail = tailSweeps(config);
  const script = scriptOf(rng, options.tenants, window, tail);
  const sim = createState({
    seed,
    rng,
    script,
    holes: new Set(options.holes ?? []),
    config,
  });
  await runSchedule(sim, { window, tail });
  await checkEnd(sim, window, tail);
  return {
    seed,
    sweeps: [...sim.opened.values()].filter((s) => s.index < window).length,
    violations: sim.violations,
    counts: sim.counts,
    accepted: Object.fromEntries(sim.accepted),
    episodes: script.episodes,
  };
}

export async function simulate(
  options: SimulationOptions & { seeds: number; firstSeed?: number },
): Promise<{ seeds: number; sweeps: number; violations: Violation[]; counts: Record<string, number> }> {
  const violations: Violation[] = [];
  const counts: Record<string, number> = {};
  let sweeps = 0;
  const first = options.firstSeed ?? 1;
  for (let seed = first; seed < first + options.seeds; seed++) {
    const outcome = await simulateSeed(seed, options);
    sweeps += outcome.sweeps;
    violations.push(...outcome.violations);
    for (const [name, n] of Object.entries(outcome.counts)) counts[name] = (counts[name] ?? 0) + n;
  }
  return { seeds: options.seeds, sweeps, violations, counts };
}

export interface DetectionOutcome {
  seed: number;
  scope: 'platform' | 'tenant';
  /** The check that starts failing: enhancement.round_trip (an enhancement outage) unless told. */
  checkId: CheckId;
  /** The tenant whose check fails (tenant scope). */
  tenantId: string | null;
  outageAt: string;
  /** The sweep (index) the outage starts in. */
  outageSweep: number;
  /** The first `firing` alert of the check (the tenant's, or platform-wide). */
  firedAt: string | null;
  /** Seconds from the outage to that alert; null: none fired in the run. */
  seconds: number | null;
  /** The sweeps (index) in which the failing tenant's accepted ticket was sent (tenant scope). */
  accepted: number[];
  violations: Violation[];
  /** What the run counted (e.g. `sweeps.judgedIncomplete`: sweeps judged at their drain deadline without every tenant). */
  counts: Record<string, number>;
}

/**
 * How long an outage takes to fire: a check (by default enhancement.round_trip: the enhancements
 * stop) starts failing for every tenant (platform-wide) or for one, without faults; the run ends
 * at the first firing alert of the check, or two periods and four sweeps later.
 *
 * Platform-wide, the outage starts at a seeded instant of the second acceptance period (every
 * tenant has sent a ticket by then). For one tenant it starts at its worst instant: 1 ms after
 * the tenant's accepted ticket of the second period went out (found by running the seed without
 * the outage up to it; the run with the outage is the same up to that instant), so that ticket
 * still passes and the outage is seen only at the next one, a period later.
 */
export async function simulateDetection(
  seed: number,
  options: {
    tenants: number;
    scope: 'platform' | 'tenant';
    checkId?: CheckId;
    /** Probe invocations at once: the deployed config's `deployment.probe.maxConcurrency`. @default MAX_CONCURRENCY */
    maxConcurrency?: number;
  },
): Promise<DetectionOutcome> {
  const tenants = tenantIdsOf(options.tenants);
  const config = simConfig(tenants);
  const checkId = options.checkId ?? 'enhancement.round_trip';
  const period = periodSweeps(config.synthetic.acceptEveryMinutes, INTERVAL_S);
  // The same draws in the same order for every run of the seed (the runs stay the same up to the outage).
  const setup = () => {
    const rng = rngOf(seed);
    const fromSweep = period + rng.int(0, period - 1);
    const fromMs = T0 + fromSweep * INTERVAL_S * 1000 + rng.int(0, INTERVAL_S * 1000 - 1);
    const tenantId = options.scope === 'tenant' ? rng.pick(tenants) : null;
    return { rng, fromSweep, fromMs, tenantId };
  };
  const drawn = setup();
  const { tenantId } = drawn;
  let { fromSweep, fromMs } = drawn;
  const concurrency = options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency };
  if (tenantId !== null) {
    const sentMs = await secondTicketAt(seed, setup().rng, config, tenantId, period, concurrency);
    fromSweep = sweepIndexAt(sentMs);
    fromMs = sentMs + 1;
  }
  const { rng } = setup();
  const outage: Episode = { checkId, tenantId, fromSweep, toSweep: Number.MAX_SAFE_INTEGER, status: 'fail', fromMs };
  const script: Script = { tenants, brokenSecrets: new Set(), episodes: [outage], faults: NO_FAULTS };
  const sim = createState({ seed, rng, script, holes: new Set(), config, ...concurrency });
  const tail = fromSweep + 2 * period + TAIL_SWEEPS;
  await runSchedule(sim, { window: 0, tail, stop: () => sim.firstFiring.has(checkId) });
  const fired = sim.firstFiring.get(checkId);
  return {
    seed,
    scope: options.scope,
    checkId,
    tenantId,
    outageAt: new Date(fromMs).toISOString(),
    outageSweep: fromSweep,
    firedAt: fired === undefined ? null : new Date(fired).toISOString(),
    seconds: fired === undefined ? null : Math.round((fired - fromMs) / 1000),
    accepted: tenantId === null ? [] : (sim.accepted.get(tenantId) ?? []),
    violations: sim.violations,
    counts: { ...sim.counts },
  };
}

/** When (ms) the tenant's accepted ticket of the second acceptance period goes out in a healthy run of the seed. */
async function secondTicketAt(
  seed: number,
  rng: Rng,
  config: Config,
  tenantId: string,
  period: number,
  concurrency: { maxConcurrency?: number },
): Promise<number> {
  const script: Script = {
    tenants: tenantIdsOf(config.tenants.length),
    brokenSecrets: new Set(),
    episodes: [],
    faults: NO_FAULTS,
  };
  const sim = createState({ seed, rng, script, holes: new Set(), config, ...concurrency });
  const sent = () => (sim.accepted.get(tenantId) ?? []).some((sweep) => sweep >= period);
  await runSchedule(sim, { window: 0, tail: 3 * period, stop: sent });
  const at = sim.lastAccepted.get(tenantId);
  if (!sent() || at === undefined) throw new Error(`${tenantId} sent no accepted ticket in the second period`);
  return at;
}

/** Detection seconds over `seeds` seeds: the worst, the median, and any run that never fired. */
export async function detectionSeconds(options: {
  tenants: number;
  scope: 'platform' | 'tenant';
  seeds: number;
  maxConcurrency?: number;
}): Promise<{
  worst: number | null;
  median: number | null;
  neverFired: number;
  runs: number[];
  /** Sweeps judged at their drain deadline without every tenant, over the seeds (until each fired). */
  judgedIncomplete: number;
}> {
  const runs: number[] = [];
  let neverFired = 0;
  let judgedIncomplete = 0;
  for (let seed = 1; seed <= options.seeds; seed++) {
    const outcome = await simulateDetection(seed, options);
    if (outcome.violations.length > 0) throw new Error(`detection seed ${seed}: ${outcome.violations[0]?.detail}`);
    judgedIncomplete += outcome.counts['sweeps.judgedIncomplete'] ?? 0;
    if (outcome.seconds === null) neverFired += 1;
    else runs.push(outcome.seconds);
  }
  const sorted = [...runs].sort((a, b) => a - b);
  return {
    worst: neverFired > 0 || sorted.length === 0 ? null : (sorted.at(-1) as number),
    median: sorted.length === 0 ? null : (sorted[Math.floor((sorted.length - 1) / 2)] as number),
    neverFired,
    runs,
    judgedIncomplete,
  };
}

// ---------------------------------------------------------------------------------------------
// The schedule: a sweep every interval, invocations finishing, free pollers receiving batches

interface InFlight {
  at: number;
  records: QueuedMessage[];
  dieAt: number | undefined;
  /** The deferred round trips its tenants confirm within their runs (by tenant). */
  confirmations: Map<string, Confirmation>;
}

async function runSchedule(sim: SimState, run: { window: number; tail: number; stop?: () => boolean }): Promise<void> {
  const totalSweeps = run.window + run.tail;
  const windowEnd = T0 + run.window * INTERVAL_S * 1000;
  const endAt = T0 + (totalSweeps + 1) * INTERVAL_S * 1000;
  const busyUntil: number[] = [];
  const inFlight: InFlight[] = [];
  for (sim.now = T0; sim.now < endAt; sim.now += STEP_MS) {
    sim.faulty = sim.now < windowEnd;
    await startSweep(sim, totalSweeps);
    await finishInvocations(sim, inFlight);
    if (run.stop?.()) return;
    receiveBatches(sim, busyUntil, inFlight);
  }
}

/** At each interval's start: a sweep (unless the schedule skipped it). */
async function startSweep(sim: SimState, totalSweeps: number): Promise<void> {
  const index = sweepIndexAt(sim.now);
  if ((sim.now - T0) % (INTERVAL_S * 1000) !== 0 || index >= totalSweeps) return;
  const sweepId = sweepIdAt(new Date(sim.now));
  if (faultNow(sim, sim.script.faults.sweepSkipped)) {
    count(sim, 'fault.sweepSkipped');
    return;
  }
  sim.opened.set(sweepId, {
    index,
    deadline: sweepDeadline(new Date(sim.now), INTERVAL_S).getTime(),
    withdrawn: new Set(),
  });
  count(sim, 'sweeps.started');
  await invoke(sim, (deps) => sweep(deps));
}

/** Invocations whose time is up finish now (their effects land at the end of their run). */
async function finishInvocations(sim: SimState, inFlight: InFlight[]): Promise<void> {
  for (let i = inFlight.length - 1; i >= 0; i--) {
    const job = inFlight[i] as InFlight;
    if (job.at > sim.now) continue;
    inFlight.splice(i, 1);
    const batch = new Map<string, TenantMessage[]>();
    for (const r of job.records) batch.set(r.message.tenantId, [...(batch.get(r.message.tenantId) ?? []), r.message]);
    const event: SQSEvent = { Records: job.records.map(sqsRecordOf) };
    const outcome = await invoke(
      sim,
      (deps) => probeBatch(deps, event, undefined, undefined),
      { batch, confirmations: job.confirmations },
      job.dieAt,
    );
    if (outcome === 'died' || 'error' in outcome) continue; // every record comes back after the visibility timeout
    const failedIds = new Set(outcome.value.batchItemFailures.map((f) => f.itemIdentifier));
    for (const record of job.records) {
      if (failedIds.has(record.messageId)) continue;
      const at = sim.queue.indexOf(record);
      if (at >= 0) sim.queue.splice(at, 1);
    }
  }
}

/** Free pollers receive batches of visible messages, in no particular order. */
function receiveBatches(sim: SimState, busyUntil: number[], inFlight: InFlight[]): void {
  const { rng, now } = sim;
  for (let slot = 0; slot < (sim.maxConcurrency ?? MAX_CONCURRENCY); slot++) {
    if ((busyUntil[slot] ?? 0) > now) continue;
    const visible = rng.shuffle(sim.queue.filter((m) => m.visibleAt <= now));
    if (visible.length === 0) break;
    const records: QueuedMessage[] = [];
    for (const message of visible) {
      if (records.length === BATCH_SIZE) break;
      if (message.receiveCount >= MAX_RECEIVE_COUNT) {
        sim.queue.splice(sim.queue.indexOf(message), 1);
        count(sim, 'sqs.deadLettered');
        continue;
      }
      message.receiveCount += 1;
      // At-least-once: now and then a message is handed to a second poller too.
      message.visibleAt = faultNow(sim, sim.script.faults.duplicateDelivery) ? now : now + VISIBILITY_MS;
      records.push(message);
    }
    if (records.length === 0) continue;
    const slow = faultNow(sim, sim.script.faults.slowBatch);
    const takes = slow ? rng.int(20_000, 90_000) : rng.int(2_000, 12_000);
    // Past its timeout the function dies mid-batch.
    const dieAt = takes > PROBE_TIMEOUT_MS ? rng.int(0, records.length) : undefined;
    // Tenants confirming a failed round trip wait for their confirming ticket, all at once (the
    // batch's tenants run concurrently): the batch takes the longest wait longer. The deployed
    // probe's timeout leaves room for it (at least roundTripTimeoutS + 30 s, lib/config.ts).
    const confirmations = new Map<string, Confirmation>();
    for (const record of records) {
      const confirmation = confirmationOf(sim, record.message, now);
      if (confirmation !== undefined) confirmations.set(record.message.tenantId, confirmation);
    }
    const waitMs = Math.max(0, ...[...confirmations.values()].map((c) => c.waitMs));
    const finishAt = now + Math.min(takes, PROBE_TIMEOUT_MS) + (dieAt === undefined ? waitMs : 0);
    busyUntil[slot] = finishAt;
    inFlight.push({ at: finishAt, records, dieAt, confirmations });
    count(sim, 'probe.invocations');
  }
}

// ---------------------------------------------------------------------------------------------
// One invocation: its parts, and its death

/** What a probe invocation was handed: its tenants' messages and the confirmations they make. */
interface BatchInput {
  batch: Map<string, TenantMessage[]>;
  confirmations: Map<string, Confirmation>;
}

function depsFor(sim: SimState, crash: Crash, input?: BatchInput): AppDeps {
  const lease: Lease = { current: null, storeFailed: false };
  const sweepLedger = ledgerFor(sim, crash, lease);
  const stateStore = storeFor(sim, crash, lease);
  const publisher = publisherFor(sim, crash);
  const tenantQueue = queueFor(sim, crash);
  const { config, script } = sim;
  return {
    logger: SILENT_LOGGER,
    metrics: COUNTING_METRICS((name, n) => count(sim, name, n)),
    config: async () => config,
    secrets: {
      async resolve(ref) {
        if (crash.hit()) return NEVER;
        const value = 'value' in ref ? String(ref.value) : '';
        const tenantId = value.replace('secret-of-', '');
        if (script.brokenSecrets.has(tenantId)) throw new Error('ResourceNotFoundException');
        return new Secret(value);
      },
      resolveDatabaseUrl: async () => new Secret(''),
    },
    openPorts: async () => OPEN_PORTS,
    tenantSource: () => ({
      kind: 'static',
      list: async () => ({ tenants: config.tenants, skipped: [] }),
      lookup: async (ids) => ({ tenants: config.tenants.filter((t) => ids.includes(t.tenantId)), skipped: [] }),
    }),
    stateStore: async () => stateStore,
    sweepLedger: async () => sweepLedger,
    publisher: () => publisher,
    tenantQueue: async () => tenantQueue,
    now: () => new Date(sim.now),
    checks: checksFor(sim, crash, input?.batch ?? new Map(), input?.confirmations),
  };
}

/** Runs an invocation until it returns or dies; a death is sampled when crashes are on. */
async function invoke<T>(
  sim: SimState,
  work: (deps: AppDeps) => Promise<T>,
  batch?: BatchInput,
  dieAt?: number,
): Promise<'died' | { value: T } | { error: unknown }> {
  const crash = new Crash(dieAt ?? (faultNow(sim, sim.script.faults.crash) ? sim.rng.int(0, 40) : null));
  const outcome = await Promise.race([
    work(depsFor(sim, crash, batch)).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    crash.died,
  ]);
  if (outcome === 'died') count(sim, 'fault.crash');
  return outcome;
}

function sqsRecordOf(message: QueuedMessage): SQSRecord {
  return sqsRecord(message.messageId, message.body, { receiveCount: message.receiveCount });
}

const OPEN_PORTS = {
  close: async () => {},
  now: () => new Date(),
  uuid: () => '00000000-0000-4000-8000-000000000000',
} as unknown as OpenPorts;

const noop = () => {};
const SILENT_LOGGER = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  createChild: () => SILENT_LOGGER,
  addContext: noop,
} as unknown as Logger;

function COUNTING_METRICS(count: (name: string, n?: number) => void): Metrics {
  const single = { addDimensions: () => single, addMetric: noop };
  return {
    // Counts only: durations are wall time, which would make a seed's outcome differ run to run.
    addMetric: (name: string, unit: unknown, value: number) => {
      if (unit !== 'Milliseconds') count(`metric.${name}`, value);
    },
    singleMetric: () => single,
    hasStoredMetrics: () => false,
    publishStoredMetrics: noop,
  } as unknown as Metrics;
}
