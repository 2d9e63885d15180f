/**
 * The protocol simulation's shared state (sim/protocol.ts): the invariants and holes it knows,
 * the simulated clock, the in-memory AWS parts, and what the checkers record as it happens.
 */
import { createMemoryStateStore } from '../functions/adapters/state-memory.ts';
import { createMemorySweepLedger } from '../functions/adapters/sweep-ledger-memory.ts';
import type { Config } from '../functions/core/config.ts';
import type { TenantMessage } from '../functions/ports.ts';
import type { Rng, Script } from './script.ts';

export const INVARIANTS = {
  judgedOnce: 'each sweep is judged exactly once (complete, or reported incomplete)',
  neverPartial: 'a sweep is judged on its full results unless its drain deadline has passed, and says which',
  judgedAfterAlerting: 'a sweep is marked judged only after its alert path ran to the end',
  noAlertLost: 'no alert is lost: every outbox is empty at the end, and every lasting failure fired',
  sentOnce: 'no alert is sent twice for the same transition (unless its sender died before recording it)',
  countedOnce:
    'an incident fires only after as many failing runs as its tier needs (one confirmed within its run counts as two), each sweep counted once',
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

export const INTERVAL_S = 300;
export const STEP_MS = 5_000;
export const BATCH_SIZE = 10;
export const MAX_CONCURRENCY = 6;
export const PROBE_TIMEOUT_MS = 60_000;
export const VISIBILITY_MS = PROBE_TIMEOUT_MS * 6;
export const MAX_RECEIVE_COUNT = 3;
/** The probe hands a failed record back with this visibility (deployment.probe.retryDelaySeconds). */
export const RETRY_DELAY_MS = 30_000;
export const T0 = Date.parse('2026-12-01T00:00:00Z');

export interface QueuedMessage {
  messageId: string;
  body: string;
  message: TenantMessage;
  visibleAt: number;
  receiveCount: number;
}

/** A call that never returns: the invocation died there. */
export const NEVER = new Promise<never>(() => {});

/** Where an invocation dies: at its n-th call to a part (null: it does not). */
export class Crash {
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

/** One seed's world. */
export interface SimState {
  seed: number;
  rng: Rng;
  script: Script;
  holes: ReadonlySet<Hole>;
  config: Config;
  /** Probe invocations at once (the event source's `maxConcurrency`). @default MAX_CONCURRENCY */
  maxConcurrency?: number;
  /** The simulated clock (ms) and whether faults are on (the faulty window). */
  now: number;
  faulty: boolean;
  ledger: ReturnType<typeof createMemorySweepLedger>;
  store: ReturnType<typeof createMemoryStateStore>;
  queue: QueuedMessage[];
  messageSeq: number;
  violations: Violation[];
  counts: Record<string, number>;
  // What the checkers need to know, recorded as it happens.
  opened: Map<string, { index: number; deadline: number; withdrawn: Set<string> }>;
  finishes: Map<string, number>;
  /** Per judged sweep, its failing keys, each with the failing runs it counts for (2: confirmed within its run). */
  failingKeysOf: Map<string, Map<string, number>>;
  delivered: Map<string, { by: Crash }>;
  firings: Map<string, Set<string>>;
  /** Each tenant's last accepted ticket (ms): a deferred round trip judges it. */
  lastAccepted: Map<string, number>;
  /** The sweeps (index) in which each tenant's accepted ticket was sent. */
  accepted: Map<string, number[]>;
  /** The first firing alert of each check (tenant or platform-wide), ms. */
  firstFiring: Map<string, number>;
}

export function createState(input: {
  seed: number;
  rng: Rng;
  script: Script;
  holes: ReadonlySet<Hole>;
  config: Config;
  maxConcurrency?: number;
}): SimState {
  const { seed, rng } = input;
  return {
    ...input,
    now: T0,
    faulty: true,
    ledger: createMemorySweepLedger({ token: () => `lease-${seed}-${rng.int(0, 1e9)}` }),
    store: createMemoryStateStore(),
    queue: [],
    messageSeq: 0,
    violations: [],
    counts: {},
    opened: new Map(),
    finishes: new Map(),
    failingKeysOf: new Map(),
    delivered: new Map(),
    firings: new Map(),
    lastAccepted: new Map(),
    accepted: new Map(),
    firstFiring: new Map(),
  };
}

export function count(sim: SimState, name: string, n = 1): void {
  sim.counts[name] = (sim.counts[name] ?? 0) + n;
}

export function violate(sim: SimState, invariant: Invariant, detail: string, sweepId?: string): void {
  sim.violations.push({ seed: sim.seed, invariant, detail, ...(sweepId === undefined ? {} : { sweepId }) });
}

/** A fault of probability p, only inside the faulty window. */
export function faultNow(sim: SimState, p: number): boolean {
  return sim.faulty && sim.rng.chance(p);
}

export function transient(what: string): Error {
  return Object.assign(new Error(`simulated ${what}`), { name: 'ThrottlingException' });
}

/** The number of the sweep a time falls in (0: the first). */
export function sweepIndexAt(ms: number): number {
  return Math.floor((ms - T0) / (INTERVAL_S * 1000));
}
