/**
 * A deterministic, seeded simulation of the deployed sweep protocol. The real use cases run
 * (functions/app/sweep.ts, probe-batch.ts, judge-sweep.ts, the alert path and policy) on
 * in-memory parts that keep the AWS semantics that matter:
 *
 * - SQS: at-least-once delivery (a message can go to two invocations), a visibility timeout,
 *   redelivery of failed records and of invocations that died, maxReceiveCount -> dead-letter
 *   queue, batches received out of order, `SendMessageBatch` refusing entries.
 * - Lambda: at most `maxConcurrency` probe invocations, each taking a sampled time; an
 *   invocation past its timeout dies mid-batch; any invocation may die at any call (mid-judgement
 *   included): it then does nothing more, no cleanup, as a killed container.
 * - The sweep ledger and alert state: the memory implementations (the DynamoDB ones' conditions),
 *   with transient errors; SNS throttling or failing some messages; sweeps that never start.
 *
 * Probes are simulated (`AppDeps.checks`): each tenant's results follow a seeded script of
 * incidents, so thousands of sweeps run in seconds. A run is a window of faulty sweeps, then a
 * fault-free tail that lets every sweep of the window be judged; the invariants are checked on
 * what happened ({@link INVARIANTS}). The same seed always gives the same run.
 *
 * `holes` put back, one at a time, a flaw the protocol was fixed for (by wrapping a part so it
 * behaves the old way), to show the invariants catch it.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { createMemoryStateStore } from '../functions/adapters/state-memory.ts';
import { createMemorySweepLedger } from '../functions/adapters/sweep-ledger-memory.ts';
import type { AppDeps } from '../functions/app/deps.ts';
import { probeBatch } from '../functions/app/probe-batch.ts';
import { sweep } from '../functions/app/sweep.ts';
import { type AlertMessage, dedupKeyOf } from '../functions/core/alert-policy.ts';
import { type CheckId, catalogEntry } from '../functions/core/catalog.ts';
import { type Config, parseConfig } from '../functions/core/config.ts';
import { isQuiet } from '../functions/core/results.ts';
import { Secret } from '../functions/core/secret.ts';
import { sweepDeadline } from '../functions/core/sweep-protocol.ts';
import { sweepIdAt } from '../functions/core/tables.ts';
import type { CheckResult, CheckStatus, Report } from '../functions/core/types.ts';
import type {
  AlertPublisher,
  AlertStateStore,
  OpenPorts,
  SweepLease,
  SweepLedger,
  TenantMessage,
  TenantQueue,
} from '../functions/ports.ts';
import type { RunInput } from '../functions/run.ts';
import { mulberry32 } from './random.ts';
import { sqsRecord } from './sqs-record.ts';

export const INVARIANTS = {
  judgedOnce: 'each sweep is judged exactly once (complete, or reported incomplete)',
  neverPartial: 'a sweep is judged on its full results unless its drain deadline has passed, and says which',
  judgedAfterAlerting: 'a sweep is marked judged only after its alert path ran to the end',
  noAlertLost: 'no alert is lost: every outbox is empty at the end, and every lasting failure fired',
  sentOnce: 'no alert is sent twice for the same transition (unless its sender died before recording it)',
  countedOnce: 'an incident fires only after as many sweeps saw it failing as its tier needs',
  notStale: 'no message is probed after its sweep drain deadline',
  refusedNotAwaited: 'a sweep is judged incomplete only when a tenant SQS accepted is missing',
} as const;
export type Invariant = keyof typeof INVARIANTS;

/** Flaws the protocol was fixed for, put back by wrapping a part. */
export const HOLES = {
  'lease-never-expires': 'a claim is never taken over (no lease): a judge that dies keeps the sweep forever',
  'closed-on-error': 'a failed judgement closes the sweep anyway',
  'judged-while-draining': 'the next sweep judges every earlier sweep, still draining or not (no drain deadline)',
  'stale-reprobed': 'messages carry no deadline: a redelivered message is probed however old',
  'refused-expected': 'tenants SQS refused stay expected',
  'counted-twice': 'the alert policy does not know which sweep it judged (a sweep judged again counts twice)',
} as const;
export type Hole = keyof typeof HOLES;

export interface Violation {
  seed: number;
  invariant: Invariant;
  sweepId?: string;
  detail: string;
}

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
}

const INTERVAL_S = 300;
const STEP_MS = 5_000;
const TAIL_SWEEPS = 4;
const BATCH_SIZE = 10;
const MAX_CONCURRENCY = 6;
const PROBE_TIMEOUT_MS = 60_000;
const VISIBILITY_MS = PROBE_TIMEOUT_MS * 6;
const MAX_RECEIVE_COUNT = 3;
/** The probe hands a failed record back with this visibility (deployment.probe.retryDelaySeconds). */
const RETRY_DELAY_MS = 30_000;
const T0 = Date.parse('2026-12-01T00:00:00Z');
/** The tenant checks a simulated probe reports (a subset keeps 500 seeds quick). */
const SIM_CHECKS: CheckId[] = [
  'webhook.signed_accepted',
  'webhook.bad_signature_rejected',
  'enhancement.round_trip',
  'rls.cross_tenant_read',
];

// ---------------------------------------------------------------------------------------------
// Seeded randomness

interface Rng {
  next(): number;
  chance(p: number): boolean;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  shuffle<T>(items: T[]): T[];
}

function rngOf(seed: number): Rng {
  const next = mulberry32(seed * 2654435761 + 1);
  const rng: Rng = {
    next,
    chance: (p) => next() < p,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
    shuffle(items) {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [items[i], items[j]] = [items[j] as (typeof items)[number], items[i] as (typeof items)[number]];
      }
      return items;
    },
  };
  return rng;
}

// ---------------------------------------------------------------------------------------------
// The script: what each tenant's checks say when, and which faults hit the window

interface Episode {
  checkId: CheckId;
  /** null: every tenant (a platform-wide incident). */
  tenantId: string | null;
  fromSweep: number;
  /** Exclusive; past the end of the run for a lasting failure. */
  toSweep: number;
  status: CheckStatus;
}

interface Faults {
  sweepSkipped: number;
  sqsRefused: number;
  duplicateDelivery: number;
  ledgerError: number;
  storeError: number;
  snsThrottled: number;
  snsPartial: number;
  crash: number;
  slowBatch: number;
}

interface Script {
  tenants: string[];
  brokenSecrets: Set<string>;
  episodes: Episode[];
  faults: Faults;
}

function scriptOf(rng: Rng, tenantCount: number, window: number): Script {
  const tenants = Array.from({ length: tenantCount }, (_, i) => `t-${String(i + 1).padStart(5, '0')}`);
  const brokenSecrets = new Set(rng.shuffle([...tenants]).slice(0, rng.int(0, 2)));
  const episodes: Episode[] = [];
  const end = window + TAIL_SWEEPS + 1;
  // A platform-wide incident for a few sweeps, some tenants failing for good, some briefly.
  if (rng.chance(0.7)) {
    const from = rng.int(0, window - 3);
    episodes.push({
      checkId: 'webhook.bad_signature_rejected',
      tenantId: null,
      fromSweep: from,
      toSweep: from + rng.int(1, 4),
      status: 'fail',
    });
  }
  for (let i = 0; i < rng.int(1, 4); i++) {
    episodes.push({
      checkId: rng.pick(['webhook.signed_accepted', 'enhancement.round_trip'] as const),
      tenantId: rng.pick(tenants),
      fromSweep: rng.int(0, window - 2),
      toSweep: end,
      status: rng.chance(0.8) ? 'fail' : 'degraded',
    });
  }
  for (let i = 0; i < rng.int(0, 3); i++) {
    const from = rng.int(0, window - 2);
    episodes.push({
      checkId: 'webhook.signed_accepted',
      tenantId: rng.pick(tenants),
      fromSweep: from,
      toSweep: from + rng.int(1, 3),
      status: 'fail',
    });
  }
  const level = rng.next();
  const faults: Faults = {
    sweepSkipped: 0.05 * level,
    sqsRefused: 0.01 * level,
    duplicateDelivery: 0.03 * level,
    ledgerError: 0.02 * level,
    storeError: 0.03 * level,
    snsThrottled: 0.1 * level,
    snsPartial: 0.05 * level,
    crash: 0.02 * level,
    slowBatch: 0.1 * level,
  };
  return { tenants, brokenSecrets, episodes, faults };
}

function statusIn(script: Script, sweepIndex: number, checkId: CheckId, tenantId: string): CheckStatus {
  for (const episode of script.episodes) {
    if (episode.checkId !== checkId || sweepIndex < episode.fromSweep || sweepIndex >= episode.toSweep) continue;
    if (episode.tenantId === null || episode.tenantId === tenantId) return episode.status;
  }
  return 'pass';
}

// ---------------------------------------------------------------------------------------------
// One seed

interface QueuedMessage {
  messageId: string;
  body: string;
  message: TenantMessage;
  visibleAt: number;
  receiveCount: number;
}

/** A call that never returns: the invocation died there. */
const NEVER = new Promise<never>(() => {});

/** Where an invocation dies: at its n-th call to a part (null: it does not). */
class Crash {
  crashed = false;
  /** It published alerts; `unsettled`: then its alert path failed before recording them sent. */
  published = false;
  unsettled = false;
  private calls = 0;
  private resolveDied: () => void = () => {};
  readonly died = new Promise<'died'>((resolve) => {
    this.resolveDied = () => resolve('died');
  });
  constructor(private readonly at: number | null) {}
  /** Counts a call; true when the invocation is dead at it (this call never returns). */
  hit(): boolean {
    if (!this.crashed) {
      this.calls += 1;
      if (this.at !== null && this.calls > this.at) {
        this.crashed = true;
        this.resolveDied();
      }
    }
    return this.crashed;
  }
}

export async function simulateSeed(seed: number, options: SimulationOptions): Promise<SeedOutcome> {
  const rng = rngOf(seed);
  const window = options.sweeps ?? 12;
  const holes = new Set(options.holes ?? []);
  const script = scriptOf(rng, options.tenants, window);
  const violations: Violation[] = [];
  const counts: Record<string, number> = {};
  const count = (name: string, n = 1) => {
    counts[name] = (counts[name] ?? 0) + n;
  };
  const violate = (invariant: Invariant, detail: string, sweepId?: string) =>
    violations.push({ seed, invariant, detail, ...(sweepId === undefined ? {} : { sweepId }) });

  let now = T0;
  let faulty = true;
  const windowEnd = T0 + window * INTERVAL_S * 1000;
  const sweepIndexAt = (ms: number) => Math.floor((ms - T0) / (INTERVAL_S * 1000));

  const config: Config = parseConfig({
    platform: { baseUrl: 'https://platform.invalid' },
    tenants: script.tenants.map((tenantId) => ({ tenantId, signingSecret: { value: `secret-of-${tenantId}` } })),
    run: { tenantConcurrency: BATCH_SIZE, sweepIntervalS: INTERVAL_S },
    // The simulated probes report every check each sweep (they do not model sampled acceptances):
    // a period of one sweep says so, and the sweep reads no alert state for sampling.
    synthetic: { acceptEveryMinutes: INTERVAL_S / 60 },
  });

  // What the checkers need to know, recorded as it happens.
  const ledger = createMemorySweepLedger({ token: () => `lease-${seed}-${rng.int(0, 1e9)}` });
  const store = createMemoryStateStore();
  const opened = new Map<string, { index: number; deadline: number; withdrawn: Set<string> }>();
  const finishes = new Map<string, number>();
  const failingKeysOf = new Map<string, Set<string>>();
  const delivered = new Map<string, { by: Crash }>();
  const firings = new Map<string, Set<string>>();
  const queue: QueuedMessage[] = [];
  let messageSeq = 0;

  // ---- the parts, per invocation (a crash stops only its own invocation)
  const faultNow = (p: number) => faulty && rng.chance(p);
  const transient = (what: string) => Object.assign(new Error(`simulated ${what}`), { name: 'ThrottlingException' });

  function ledgerFor(crash: Crash, lease: { current: SweepLease | null; storeFailed: boolean }): SweepLedger {
    const guard = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
      if (crash.hit()) return NEVER;
      if (faultNow(script.faults.ledgerError)) {
        count('fault.ledgerError');
        throw transient(`ledger ${what} error`);
      }
      return work();
    };
    return {
      open: (sweepId, tenantIds, deadline, at) => guard('open', () => ledger.open(sweepId, tenantIds, deadline, at)),
      withdraw: (sweepId, tenantIds, at) =>
        guard('withdraw', async () => {
          if (!holes.has('refused-expected')) await ledger.withdraw(sweepId, tenantIds, at);
          for (const tenantId of tenantIds) opened.get(sweepId)?.withdrawn.add(tenantId);
        }),
      report: (sweepId, tenants, at) => guard('report', () => ledger.report(sweepId, tenants, at)),
      status: (sweepId) =>
        guard('status', async () => {
          const status = await ledger.status(sweepId);
          // The old protocol: an earlier sweep is judged by the next, whatever its state.
          return status && holes.has('judged-while-draining') ? { ...status, deadline: status.openedAt } : status;
        }),
      pending: () =>
        guard('pending', async () => {
          const all = await ledger.pending();
          return holes.has('judged-while-draining') ? all.map((s) => ({ ...s, deadline: s.openedAt })) : all;
        }),
      claim: (sweepId, at, leaseMs) =>
        guard('claim', async () => {
          const won = await ledger.claim(sweepId, at, holes.has('lease-never-expires') ? 1e12 : leaseMs);
          if (won !== null) {
            lease.current = won;
            lease.storeFailed = false;
            failingKeysOf.set(sweepId, failingKeys(await ledger.results(sweepId)));
          }
          return won;
        }),
      expectedTenants: (sweepId) => guard('expected', () => ledger.expectedTenants(sweepId)),
      results: (sweepId) => guard('results', () => ledger.results(sweepId)),
      finish: (held, outcome, at) => guard('finish', () => finishChecked(held, outcome, at, lease.storeFailed)),
      release: (held) =>
        guard('release', async () => {
          if (holes.has('closed-on-error')) {
            // The old protocol closed a sweep whose judgement failed.
            await finishChecked(held, { complete: false }, new Date(now), lease.storeFailed);
            return;
          }
          await ledger.release(held);
        }),
    };
  }

  async function finishChecked(
    held: SweepLease,
    outcome: { complete: boolean },
    at: Date,
    storeFailed: boolean,
  ): Promise<boolean> {
    const [status, parts, expected] = await Promise.all([
      ledger.status(held.sweepId),
      ledger.results(held.sweepId),
      ledger.expectedTenants(held.sweepId),
    ]);
    const won = await ledger.finish(held, outcome, at);
    if (!won || status === undefined) return won;
    const { sweepId } = held;
    finishes.set(sweepId, (finishes.get(sweepId) ?? 0) + 1);
    const truth = opened.get(sweepId);
    const recorded = new Set(parts.map((p) => p.tenantId));
    const missing = expected.filter((t) => !recorded.has(t));
    if (truth !== undefined && at.getTime() < truth.deadline && missing.length > 0) {
      violate('neverPartial', `judged before its deadline without ${missing.length} tenants`, sweepId);
    }
    if (outcome.complete !== (missing.length === 0)) {
      violate(
        'neverPartial',
        `judged ${outcome.complete ? 'complete' : 'incomplete'} with ${missing.length} missing`,
        sweepId,
      );
    }
    if (storeFailed) violate('judgedAfterAlerting', 'marked judged although its alert path failed', sweepId);
    // Refused tenants whose withdrawal failed stay expected (the sweep names them at its deadline).
    if (!outcome.complete && truth !== undefined && missing.every((t) => truth.withdrawn.has(t))) {
      violate(
        'refusedNotAwaited',
        `judged incomplete for tenants SQS refused (${missing.slice(0, 3).join(', ')})`,
        sweepId,
      );
    }
    count(outcome.complete ? 'sweeps.judged' : 'sweeps.judgedIncomplete');
    return won;
  }

  function storeFor(crash: Crash, lease: { storeFailed: boolean }): AlertStateStore {
    const guard = async <T>(work: () => Promise<T>): Promise<T> => {
      if (crash.hit()) return NEVER;
      if (faultNow(script.faults.storeError)) {
        count('fault.storeError');
        lease.storeFailed = true;
        if (crash.published) crash.unsettled = true;
        throw transient('state table error');
      }
      return work();
    };
    return {
      load: (keys) => guard(() => store.load(keys)),
      openKeys: () => guard(() => store.openKeys()),
      save: (writes) =>
        guard(() =>
          store.save(
            holes.has('counted-twice')
              ? writes.map((w) => {
                  const { lastRunId: _forgotten, ...record } = w.record;
                  return { ...w, record };
                })
              : writes,
          ),
        ),
    };
  }

  function publisherFor(crash: Crash): AlertPublisher {
    return {
      async publish(messages) {
        if (crash.hit()) return NEVER;
        if (faultNow(script.faults.snsThrottled)) {
          count('fault.snsThrottled');
          throw transient('SNS throttling');
        }
        const failed: { id: string; reason: string }[] = [];
        const ok: string[] = [];
        for (const message of messages) {
          if (faultNow(script.faults.snsPartial)) {
            failed.push({ id: message.id, reason: 'InternalError' });
            continue;
          }
          ok.push(message.id);
          recordDelivery(message, crash);
        }
        crash.published = true;
        return { delivered: ok, failed };
      },
    };
  }

  function recordDelivery(message: AlertMessage, crash: Crash): void {
    count('alerts.delivered');
    const first = delivered.get(message.id);
    // At-least-once: a sender that died or failed after publishing, before recording it, sends again.
    if (first !== undefined && !(first.by.published && (first.by.crashed || first.by.unsettled))) {
      violate('sentOnce', `${message.id} (${message.state}) delivered twice`);
    }
    if (first === undefined) delivered.set(message.id, { by: crash });
    if (message.state !== 'firing' || message.kind !== 'check' || message.escalatedFrom !== null) return;
    if (message.tenantId === null) return;
    const transition = `${message.dedupKey}@${message.firstFailedAt}/${message.tier}`;
    const ids = firings.get(transition) ?? new Set<string>();
    ids.add(message.id);
    firings.set(transition, ids);
    if (ids.size === 2) violate('sentOnce', `${transition} fired twice (${[...ids].join(', ')})`);
    // How many sweeps a judge got hold of saw this key failing (one that died after recording its judgement counts too).
    const failingSweeps = [...failingKeysOf.values()].filter((keys) => keys.has(message.dedupKey)).length;
    const needed = config.alerts.fireAfterRuns[message.tier];
    if (failingSweeps < needed) {
      violate(
        'countedOnce',
        `${message.dedupKey} fired at ${message.tier} after ${failingSweeps} failing sweep(s), needs ${needed}`,
      );
    }
  }

  function queueFor(crash: Crash): TenantQueue {
    return {
      async send(messages) {
        if (crash.hit()) return NEVER;
        const failed: { tenantId: string; reason: string }[] = [];
        let sent = 0;
        for (const original of messages) {
          const message = holes.has('stale-reprobed')
            ? { tenantId: original.tenantId, runId: original.runId }
            : original;
          if (faultNow(script.faults.sqsRefused)) {
            failed.push({ tenantId: message.tenantId, reason: 'InternalError' });
            count('fault.sqsRefused');
            continue;
          }
          messageSeq += 1;
          queue.push({
            messageId: `m-${messageSeq}`,
            body: JSON.stringify(message),
            message,
            visibleAt: now,
            receiveCount: 0,
          });
          sent += 1;
        }
        return { sent, failed };
      },
      async retryLater(records) {
        if (crash.hit()) return NEVER;
        for (const record of records) {
          const message = queue.find((m) => m.messageId === record.messageId);
          if (message !== undefined) message.visibleAt = now + RETRY_DELAY_MS;
        }
        count('sqs.retriedLater', records.length);
        return { unchanged: [] };
      },
    };
  }

  /** A simulated probe: the script's statuses, at the invocation's clock; it hangs once the invocation has died. */
  function checksFor(crash: Crash, batch: Map<string, TenantMessage[]>) {
    return async (input: RunInput): Promise<Report> => {
      if (crash.hit()) return NEVER;
      const index = sweepIndexAt(now);
      const platform = input.filters?.checkIds !== undefined;
      const tenants = platform ? [] : (input.filters?.tenantIds ?? []);
      for (const tenantId of tenants) {
        // A batch may hold a tenant twice (a stale message of one sweep, a fresh one of the next).
        const messages = batch.get(tenantId) ?? [];
        const deadlines = messages.map((m) => opened.get(m.runId)?.deadline ?? Number.POSITIVE_INFINITY);
        if (deadlines.length > 0 && deadlines.every((deadline) => now >= deadline)) {
          const late = Math.round((now - Math.max(...deadlines)) / 1000);
          const bare = messages.some((m) => m.deadline === undefined) ? ' (message without deadline)' : '';
          violate('notStale', `${tenantId} probed ${late} s after its sweep's deadline${bare}`, messages[0]?.runId);
        }
      }
      const results: CheckResult[] = platform
        ? [result('api.health', null, 'pass')]
        : tenants.flatMap((tenantId) =>
            SIM_CHECKS.map((checkId) => result(checkId, tenantId, statusIn(script, index, checkId, tenantId))),
          );
      const at = new Date(now).toISOString();
      return { runId: `run-${now}`, startedAt: at, finishedAt: at, tenants: [...tenants], results, alerts: [] };
    };
  }

  function depsFor(crash: Crash, batch: Map<string, TenantMessage[]> = new Map()): AppDeps {
    const lease = { current: null as SweepLease | null, storeFailed: false };
    const sweepLedger = ledgerFor(crash, lease);
    const stateStore = storeFor(crash, lease);
    const publisher = publisherFor(crash);
    const tenantQueue = queueFor(crash);
    return {
      logger: SILENT_LOGGER,
      metrics: COUNTING_METRICS(count),
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
      now: () => new Date(now),
      checks: checksFor(crash, batch),
    };
  }

  /** Runs an invocation until it returns or dies; a death is sampled when crashes are on. */
  async function invoke<T>(work: (deps: AppDeps) => Promise<T>, batch?: Map<string, TenantMessage[]>, dieAt?: number) {
    const crash = new Crash(dieAt ?? (faultNow(script.faults.crash) ? rng.int(0, 40) : null));
    const outcome = await Promise.race([
      work(depsFor(crash, batch)).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      crash.died,
    ]);
    if (outcome === 'died') count('fault.crash');
    return outcome;
  }

  // ---- the schedule
  const totalSweeps = window + TAIL_SWEEPS;
  const busyUntil: number[] = [];
  const inFlight: { at: number; records: QueuedMessage[]; dieAt: number | undefined }[] = [];
  const endAt = T0 + (totalSweeps + 1) * INTERVAL_S * 1000;
  for (now = T0; now < endAt; now += STEP_MS) {
    faulty = now < windowEnd;
    const index = sweepIndexAt(now);
    if ((now - T0) % (INTERVAL_S * 1000) === 0 && index < totalSweeps) {
      const sweepId = sweepIdAt(new Date(now));
      if (faultNow(script.faults.sweepSkipped)) {
        count('fault.sweepSkipped');
      } else {
        opened.set(sweepId, {
          index,
          deadline: sweepDeadline(new Date(now), INTERVAL_S).getTime(),
          withdrawn: new Set(),
        });
        count('sweeps.started');
        await invoke((deps) => sweep(deps));
      }
    }
    // Invocations whose time is up finish now (their effects land at the end of their run).
    for (let i = inFlight.length - 1; i >= 0; i--) {
      const job = inFlight[i] as (typeof inFlight)[number];
      if (job.at > now) continue;
      inFlight.splice(i, 1);
      const batch = new Map<string, TenantMessage[]>();
      for (const r of job.records) batch.set(r.message.tenantId, [...(batch.get(r.message.tenantId) ?? []), r.message]);
      const event: SQSEvent = { Records: job.records.map(sqsRecordOf) };
      const outcome = await invoke((deps) => probeBatch(deps, event, undefined, undefined), batch, job.dieAt);
      if (outcome === 'died' || 'error' in outcome) continue; // every record comes back after the visibility timeout
      const failedIds = new Set(outcome.value.batchItemFailures.map((f) => f.itemIdentifier));
      for (const record of job.records) {
        if (failedIds.has(record.messageId)) continue;
        const at = queue.indexOf(record);
        if (at >= 0) queue.splice(at, 1);
      }
    }
    // Free pollers receive batches of visible messages, in no particular order.
    for (let slot = 0; slot < MAX_CONCURRENCY; slot++) {
      if ((busyUntil[slot] ?? 0) > now) continue;
      const visible = rng.shuffle(queue.filter((m) => m.visibleAt <= now));
      if (visible.length === 0) break;
      const records: QueuedMessage[] = [];
      for (const message of visible) {
        if (records.length === BATCH_SIZE) break;
        if (message.receiveCount >= MAX_RECEIVE_COUNT) {
          queue.splice(queue.indexOf(message), 1);
          count('sqs.deadLettered');
          continue;
        }
        message.receiveCount += 1;
        // At-least-once: now and then a message is handed to a second poller too.
        message.visibleAt = faultNow(script.faults.duplicateDelivery) ? now : now + VISIBILITY_MS;
        records.push(message);
      }
      if (records.length === 0) continue;
      const slow = faultNow(script.faults.slowBatch);
      const takes = slow ? rng.int(20_000, 90_000) : rng.int(2_000, 12_000);
      // Past its timeout the function dies mid-batch.
      const dieAt = takes > PROBE_TIMEOUT_MS ? rng.int(0, records.length) : undefined;
      const finishAt = now + Math.min(takes, PROBE_TIMEOUT_MS);
      busyUntil[slot] = finishAt;
      inFlight.push({ at: finishAt, records, dieAt });
      count('probe.invocations');
    }
  }

  // ---- what must hold at the end
  for (const [sweepId, truth] of opened) {
    // A sweep that died, or whose ledger failed, before opening its entry has nothing to judge.
    if (truth.index >= window || (await ledger.status(sweepId)) === undefined) continue;
    const judged = finishes.get(sweepId) ?? 0;
    if (judged !== 1) violate('judgedOnce', `judged ${judged} times`, sweepId);
  }
  const final = await store.load(await store.openKeys());
  for (const [key, item] of final) {
    if (item.record.pending.length > 0)
      violate('noAlertLost', `${key}: ${item.record.pending.length} message(s) never sent`);
  }
  for (const episode of script.episodes) {
    if (episode.tenantId === null || episode.toSweep <= window + TAIL_SWEEPS) continue;
    if (script.brokenSecrets.has(episode.tenantId)) continue;
    const key = dedupKeyOf(episode.checkId, episode.tenantId);
    const fired = [...delivered.keys()].some(
      (id) => id.startsWith(`${key}#`) || id.startsWith(`${dedupKeyOf(episode.checkId, null)}#`),
    );
    if (!fired) violate('noAlertLost', `${key} failed from sweep ${episode.fromSweep} to the end and never fired`);
  }
  return { seed, sweeps: [...opened.values()].filter((s) => s.index < window).length, violations, counts };
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

// ---------------------------------------------------------------------------------------------
// Small parts

function failingKeys(parts: readonly { results: readonly CheckResult[] }[]): Set<string> {
  const keys = new Set<string>();
  for (const part of parts) {
    for (const r of part.results) {
      if (r.status === 'fail' || r.status === 'degraded') keys.add(dedupKeyOf(r.checkId, r.tenantId));
    }
  }
  return keys;
}

function result(checkId: CheckId, tenantId: string | null, status: CheckStatus): CheckResult {
  const entry = catalogEntry(checkId);
  const failing = !isQuiet(status);
  return {
    checkId,
    tenantId,
    status,
    tier: failing ? (status === 'degraded' ? 'P2' : entry.defaultTier) : null,
    summary: `${checkId} ${status}`,
    durationMs: 1,
    evidence: failing ? { simulated: true } : {},
    runbook: entry.runbook,
  };
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
