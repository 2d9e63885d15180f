/**
 * The alert policy: from the previous alert state and one run's results to the next state and
 * the messages to send. Pure: no I/O, the clock is a parameter, and the state is plain JSON, so
 * it can be stored anywhere (DynamoDB, a file) and reloaded without changing what happens next.
 *
 * One incident per dedupKey: `checkId:tenantId` for a tenant check, `checkId:*` for a platform
 * check and for the platform-wide incident of a tenant check failing for most tenants (breadth),
 * `canary:checkId` for results the canary could not decide (`error`).
 *
 * Messages are put in the incident's outbox (`pending`) when decided and leave it only when the
 * caller reports them delivered ({@link settleAlerts}): a message that cannot be published stays
 * pending and is offered again next run, so nothing is lost (at-least-once).
 */

import { DEFAULT_ALERT_POLICY } from './alert-defaults.ts';
import { type CatalogEntry, catalogEntry, isCheckId } from './catalog.ts';
import type { Config } from './config.ts';
import { isAlerting, isConfirmedInRun, isDecided, needsAttention, tierFor } from './results.ts';
import { type AlertState, type AlertSummary, type CheckResult, type Evidence, TIERS, type Tier } from './types.ts';

export type IncidentKind = 'check' | 'breadth' | 'canary';
export type IncidentPhase = 'ok' | 'pending' | 'firing';

/** One alert, as sent to the tier's topic. Never holds a secret (results never do). */
export interface AlertMessage {
  /** Unique per incident key: `dedupKey#seq`. */
  id: string;
  state: AlertState;
  tier: Tier;
  checkId: string;
  /** null for platform checks, platform-wide (breadth) and canary incidents. */
  tenantId: string | null;
  dedupKey: string;
  kind: IncidentKind;
  /** When the incident's first failing run was seen. */
  firstFailedAt: string;
  /** When the policy decided to send this message. */
  createdAt: string;
  /** The report entry this message is about. */
  summary: string;
  evidence: Evidence;
  runbook: string;
  /** The first diagnostic step from the catalog. */
  firstStep: string;
  /** Why this message was sent at a higher tier than before, when it was. */
  escalatedFrom: Tier | null;
  note: string | null;
}

/** A message in an incident's outbox. A claim keeps a concurrent run from sending it too. */
export interface PendingAlert extends AlertMessage {
  claimedUntil: string | null;
}

/** The state of one incident key. Plain JSON: no Dates, no undefined. */
export interface IncidentRecord {
  dedupKey: string;
  kind: IncidentKind;
  checkId: string;
  tenantId: string | null;
  phase: IncidentPhase;
  /** The tier messages are sent at (pending: the worst seen so far). */
  tier: Tier | null;
  /** The tier whose `fireAfterRuns` applies (breadth: the tenants' tier, before raising it). */
  thresholdTier: Tier | null;
  /** Consecutive failing runs while pending (capped; not counted once firing). */
  consecutiveFails: number;
  /** Consecutive passing runs while firing (capped at `resolveAfterRuns`). */
  consecutivePasses: number;
  firstFailedAt: string | null;
  /** Since when the incident has been at its current tier (duration escalation counts from here). */
  tierSince: string | null;
  /** Tiers whose topics received a `firing` for this incident: each gets the `resolved`. */
  notifiedTiers: Tier[];
  /** When the last firing or reminder was decided (reminders count from here). */
  lastSentAt: string | null;
  resolvedAt: string | null;
  /** Message sequence number of this key. */
  seq: number;
  pending: PendingAlert[];
  /** The last sweep (`AlertPolicyInput.sweepId`) that changed this record (stored under this name). */
  lastRunId?: string;
}

export type AlertStateMap = Record<string, IncidentRecord>;

export interface MaintenanceWindow {
  start: string;
  end: string;
  /** Only these tenants; absent: every alert. */
  tenants?: readonly string[] | undefined;
  reason?: string | undefined;
}

export interface AlertPolicyOptions {
  /** Consecutive failing runs before an incident fires. @default P0 1, P1–P3 2 */
  fireAfterRuns: Readonly<Record<Tier, number>>;
  /** Consecutive passing runs before a firing incident resolves. @default 2 */
  resolveAfterRuns: number;
  /** Minutes between reminders while firing; null: none. @default P0 15, P1 30, P2 120, P3 null */
  reminderMinutes: Readonly<Record<Tier, number | null>>;
  /** Minutes at a tier after which the incident is re-sent one tier higher. @default P2 60 */
  escalateAfterMinutes: Readonly<Record<Tier, number | null>>;
  /** Platform-wide incident when a tenant check fails for ≥ minTenants and ≥ minRatio of the run's tenants. */
  breadth: { minTenants: number; minRatio: number } | null;
  maintenance: readonly MaintenanceWindow[];
}

/** The policy's options when no config says otherwise (defined in functions/core/alert-defaults.ts). */
export { DEFAULT_ALERT_POLICY };

/** The policy options of a validated config (`alerts` section; its defaults are the guide's). */
export function alertPolicyOptions(config: Pick<Config, 'alerts'>): AlertPolicyOptions {
  const alerts = config.alerts;
  return {
    fireAfterRuns: { ...alerts.fireAfterRuns },
    resolveAfterRuns: alerts.resolveAfterRuns,
    reminderMinutes: { ...alerts.reminderMinutes },
    escalateAfterMinutes: { ...alerts.escalateAfterMinutes },
    breadth: alerts.breadth === null ? null : { ...alerts.breadth },
    maintenance: alerts.maintenance.map((window) => ({ ...window })),
  };
}

export function dedupKeyOf(checkId: string, tenantId: string | null): string {
  return `${checkId}:${tenantId ?? '*'}`;
}

export function canaryKeyOf(checkId: string): string {
  return `canary:${checkId}`;
}

/** Every incident key a run with these results may touch: load these before evaluating. */
export function alertKeysFor(results: readonly CheckResult[]): string[] {
  const keys = new Set<string>();
  for (const result of results) {
    keys.add(dedupKeyOf(result.checkId, result.tenantId));
    keys.add(canaryKeyOf(result.checkId));
    if (result.tenantId !== null) keys.add(dedupKeyOf(result.checkId, null));
  }
  return [...keys];
}

/**
 * Whether an incident has state the policy acts on without a failing result: it is pending or
 * firing (a passing run advances it toward resolution), or its outbox holds messages. Every
 * other record (at rest, outbox empty) is unchanged by a passing or skipped result.
 */
export function isOpenIncident(record: IncidentRecord): boolean {
  return record.phase !== 'ok' || record.pending.length > 0;
}

/**
 * The incident keys a run must load besides the open incidents ({@link isOpenIncident}): the
 * keys of its failing, degraded and error results. A key that is neither gives the policy nothing
 * to do: a pass or a skip leaves a missing or at-rest record as it is. So the policy decides the
 * same from `alertKeysToLoad(results)` ∪ open keys as from {@link alertKeysFor}.
 */
export function alertKeysToLoad(results: readonly CheckResult[]): string[] {
  return alertKeysFor(results.filter((r) => needsAttention(r.status)));
}

export interface AlertPolicyInput {
  previous: Readonly<AlertStateMap>;
  results: readonly CheckResult[];
  /** The tenants of this run (the denominator of breadth); default: those in the results. */
  tenants: readonly string[];
  now: Date;
  options: AlertPolicyOptions;
  /**
   * The sweep's id, when the run is a sweep (ordered, and may be judged more than once: its id
   * sorts by time). A key this sweep or a later one already changed is left alone, so a sweep
   * judged again after its judge died counts once, and a late sweep never undoes a newer one.
   */
  sweepId?: string | undefined;
}

export interface AlertPolicyOutput {
  /** The previous state with this run applied (unchanged records keep their identity). */
  state: AlertStateMap;
  /** Outbox messages to publish now: not held by a maintenance window, not claimed by another run. */
  messages: AlertMessage[];
}

const FIRST_STEP_CANARY =
  'The canary could not decide this check: read the summary and evidence (a probe timeout, a 5xx, missing access or a canary role that bypasses RLS), then fix what it names.';
const FIRST_STEP_UNKNOWN = 'Open the runbook section named in the alert and follow its diagnostic steps.';
/** Runs are scheduled every few minutes and start a little early or late; do not slip a whole cycle. */
const MAX_SLACK_MS = 60_000;
/** How many example results a platform-wide or canary alert lists in its evidence. */
const EXAMPLES = 5;

/** One run's verdict on one incident key. */
interface Observation {
  key: string;
  kind: IncidentKind;
  checkId: string;
  tenantId: string | null;
  failing: boolean;
  /**
   * The failure was confirmed within the run (results.ts isConfirmedInRun; breadth: at least
   * `minTenants` of its failing tenants were): it counts as two failing runs.
   */
  confirmed: boolean;
  /** The tier a message would be sent at. */
  alertTier: Tier;
  /** The tier whose `fireAfterRuns` applies. */
  thresholdTier: Tier;
  summary: string;
  evidence: Evidence;
  runbook: string;
  firstStep: string;
}

interface StepContext {
  now: Date;
  sweepId: string | undefined;
  options: AlertPolicyOptions;
  /** A maintenance window holds every message of this key. */
  held: boolean;
  /** A platform-wide incident covers this tenant incident: no firing, reminder or escalation. */
  covered: boolean;
}

export function evaluateAlertPolicy(input: AlertPolicyInput): AlertPolicyOutput {
  const { now, options, results, sweepId } = input;
  const state: AlertStateMap = { ...input.previous };
  const tenantsInRun = input.tenants.length > 0 ? [...new Set(input.tenants)] : tenantsOf(results);
  const windows = options.maintenance.filter((w) => Date.parse(w.start) <= now.getTime() && now < new Date(w.end));
  const globalHold = windows.some((w) => w.tenants === undefined);
  const tenantWindow = (tenantId: string) => windows.some((w) => w.tenants?.includes(tenantId) ?? false);
  const heldFor = (tenantId: string | null) => globalHold || (tenantId !== null && tenantWindow(tenantId));

  // Platform-wide incidents first: they decide which tenant incidents they cover this run.
  const breadth = breadthObservations(results, tenantsInRun, tenantWindow, options);
  for (const observation of breadth) {
    apply(state, observation, { now, sweepId, options, held: heldFor(null), covered: false });
  }
  for (const observation of canaryObservations(results)) {
    apply(state, observation, { now, sweepId, options, held: heldFor(null), covered: false });
  }
  for (const observation of checkObservations(results)) {
    const platformWide = observation.tenantId === null ? undefined : state[dedupKeyOf(observation.checkId, null)];
    const covered = platformWide?.kind === 'breadth' && platformWide.phase !== 'ok';
    apply(state, observation, { now, sweepId, options, held: heldFor(observation.tenantId), covered });
  }

  const messages: AlertMessage[] = [];
  for (const record of Object.values(state)) {
    if (heldFor(record.tenantId)) continue;
    for (const pending of record.pending) {
      if (pending.claimedUntil !== null && Date.parse(pending.claimedUntil) > now.getTime()) continue;
      const { claimedUntil: _claim, ...message } = pending;
      messages.push(message);
    }
  }
  return { state, messages };
}

/** Marks these outbox messages as being published by this run until `until`. */
export function claimAlerts(record: IncidentRecord, ids: ReadonlySet<string>, until: Date): IncidentRecord {
  if (!record.pending.some((m) => ids.has(m.id))) return record;
  const claimedUntil = until.toISOString();
  return { ...record, pending: record.pending.map((m) => (ids.has(m.id) ? { ...m, claimedUntil } : m)) };
}

/** After publishing: delivered messages leave the outbox; the others are released for the next run. */
export function settleAlerts(
  record: IncidentRecord,
  delivered: ReadonlySet<string>,
  undelivered: ReadonlySet<string>,
): IncidentRecord {
  if (!record.pending.some((m) => delivered.has(m.id) || undelivered.has(m.id))) return record;
  return {
    ...record,
    pending: record.pending
      .filter((m) => !delivered.has(m.id))
      .map((m) => (undelivered.has(m.id) ? { ...m, claimedUntil: null } : m)),
  };
}

export function toAlertSummary(message: AlertMessage): AlertSummary {
  return {
    state: message.state,
    tier: message.tier,
    checkId: message.checkId,
    tenantId: message.tenantId,
    dedupKey: message.dedupKey,
  };
}

// ---------------------------------------------------------------------------------------------
// Observations: what this run says about each key

function tenantsOf(results: readonly CheckResult[]): string[] {
  return [...new Set(results.flatMap((r) => (r.tenantId === null ? [] : [r.tenantId])))];
}

function entryOf(checkId: string): CatalogEntry | undefined {
  return isCheckId(checkId) ? catalogEntry(checkId) : undefined;
}

/** The tier of a failing (fail or degraded) result. */
function failingTier(result: CheckResult): Tier {
  return tierFor(result.status, result.tier, result.checkId) ?? 'P1';
}

function checkObservations(results: readonly CheckResult[]): Observation[] {
  const byKey = new Map<string, Observation>();
  for (const result of results) {
    if (!isDecided(result.status)) continue; // error: the canary's own incident; skipped: no news
    const key = dedupKeyOf(result.checkId, result.tenantId);
    const failing = isAlerting(result.status);
    const confirmed = isConfirmedInRun(result);
    const tier = failing ? failingTier(result) : 'P3';
    const earlier = byKey.get(key);
    // Two results for one key (should not happen): a failing one wins, then the worse tier.
    const replaces = !earlier || (failing && (!earlier.failing || worse(tier, earlier.alertTier)));
    if (!replaces) continue;
    byKey.set(key, {
      key,
      kind: 'check',
      checkId: result.checkId,
      tenantId: result.tenantId,
      failing,
      confirmed,
      alertTier: tier,
      thresholdTier: tier,
      summary: result.summary,
      evidence: result.evidence,
      runbook: result.runbook,
      firstStep: entryOf(result.checkId)?.firstStep ?? FIRST_STEP_UNKNOWN,
    });
  }
  return [...byKey.values()];
}

function canaryObservations(results: readonly CheckResult[]): Observation[] {
  const byCheck = new Map<string, CheckResult[]>();
  for (const result of results) {
    const list = byCheck.get(result.checkId) ?? [];
    list.push(result);
    byCheck.set(result.checkId, list);
  }
  const observations: Observation[] = [];
  for (const [checkId, list] of byCheck) {
    const errors = list.filter((r) => r.status === 'error');
    const base = {
      key: canaryKeyOf(checkId),
      kind: 'canary' as const,
      checkId,
      tenantId: null,
      alertTier: 'P2' as const,
      thresholdTier: 'P2' as const,
      runbook: list[0]?.runbook ?? entryOf(checkId)?.runbook ?? '',
      firstStep: FIRST_STEP_CANARY,
      confirmed: false,
    };
    const first = errors[0];
    if (first !== undefined) {
      const targets = errors.map((r) => r.tenantId ?? 'platform');
      observations.push({
        ...base,
        failing: true,
        summary:
          errors.length === 1
            ? `The canary could not decide ${checkId} (${targets[0]}): ${first.summary}`
            : `The canary could not decide ${checkId} for ${errors.length} targets; first (${targets[0]}): ${first.summary}`,
        evidence: {
          targets,
          examples: errors.slice(0, EXAMPLES).map((r) => ({ tenantId: r.tenantId, summary: r.summary })),
        },
      });
    } else if (list.some((r) => isDecided(r.status))) {
      observations.push({
        ...base,
        failing: false,
        summary: `The canary decides ${checkId} again.`,
        evidence: {},
      });
    }
  }
  return observations;
}

function breadthObservations(
  results: readonly CheckResult[],
  tenantsInRun: readonly string[],
  inTenantWindow: (tenantId: string) => boolean,
  options: AlertPolicyOptions,
): Observation[] {
  const rule = options.breadth;
  if (rule === null) return [];
  // Tenants in their own maintenance window count neither way.
  const eligible = new Set(tenantsInRun.filter((id) => !inTenantWindow(id)));
  const byCheck = new Map<string, CheckResult[]>();
  // A skipped result is no observation (a sampled check not due, a disabled one): those tenants
  // are out of the denominator, so a check sampled across the tenants still shows platform-wide.
  const skippedByCheck = new Map<string, number>();
  for (const result of results) {
    if (result.tenantId === null || !eligible.has(result.tenantId)) continue;
    if (result.status === 'skipped') skippedByCheck.set(result.checkId, (skippedByCheck.get(result.checkId) ?? 0) + 1);
    if (!isDecided(result.status)) continue;
    const list = byCheck.get(result.checkId) ?? [];
    list.push(result);
    byCheck.set(result.checkId, list);
  }
  const observations: Observation[] = [];
  for (const [checkId, decided] of byCheck) {
    // Too small a run (one tenant on demand) says nothing about the platform.
    if (decided.length < rule.minTenants) continue;
    const failing = decided.filter((r) => isAlerting(r.status));
    const observed = eligible.size - (skippedByCheck.get(checkId) ?? 0);
    const wide = failing.length >= rule.minTenants && failing.length >= rule.minRatio * observed;
    const entry = entryOf(checkId);
    const base = {
      key: dedupKeyOf(checkId, null),
      kind: 'breadth' as const,
      checkId,
      tenantId: null,
      runbook: decided[0]?.runbook ?? entry?.runbook ?? '',
      firstStep: entry?.firstStep ?? FIRST_STEP_UNKNOWN,
    };
    if (wide) {
      const thresholdTier = failing.map(failingTier).reduce((a, b) => (worse(b, a) ? b : a));
      const tenants = failing.map((r) => r.tenantId as string);
      const named = tenants.slice(0, EXAMPLES).join(', ') + (tenants.length > EXAMPLES ? ', …' : '');
      observations.push({
        ...base,
        failing: true,
        confirmed: failing.filter(isConfirmedInRun).length >= rule.minTenants,
        alertTier: breadthTier(thresholdTier),
        thresholdTier,
        summary: `${checkId} fails for ${failing.length} of ${observed} tenants (${named}); first: ${failing[0]?.summary ?? ''}`,
        evidence: {
          tenants,
          failingTenants: failing.length,
          tenantsInRun: observed,
          tenantTier: thresholdTier,
          examples: failing
            .slice(0, EXAMPLES)
            .map((r) => ({ tenantId: r.tenantId, status: r.status, summary: r.summary, evidence: r.evidence })),
        },
      });
    } else {
      observations.push({
        ...base,
        failing: false,
        confirmed: false,
        alertTier: 'P3',
        thresholdTier: 'P3',
        summary: `${checkId} now fails for ${failing.length} of ${observed} tenants, below the platform-wide threshold.`,
        evidence: { failingTenants: failing.length, tenantsInRun: observed },
      });
    }
  }
  return observations;
}

// ---------------------------------------------------------------------------------------------
// The state machine of one key: ok -> pending -> firing -> ok

const tierRank = (tier: Tier) => TIERS.indexOf(tier);
/** a is more severe than b. */
const worse = (a: Tier, b: Tier) => tierRank(a) < tierRank(b);
/** One tier up (duration escalation); P0 stays P0. */
export function raiseTier(tier: Tier): Tier {
  return TIERS[Math.max(0, tierRank(tier) - 1)] ?? 'P0';
}
/** A platform-wide incident is one tier above its tenants'; P0 stays P0 and quality (P3) stays P3. */
export function breadthTier(tier: Tier): Tier {
  return tier === 'P3' ? 'P3' : raiseTier(tier);
}

/** The incident fields of a record with no incident open. */
const REST = {
  phase: 'ok',
  tier: null,
  thresholdTier: null,
  consecutiveFails: 0,
  consecutivePasses: 0,
  firstFailedAt: null,
  tierSince: null,
  lastSentAt: null,
} as const satisfies Partial<IncidentRecord>;

function idleRecord(o: Observation): IncidentRecord {
  return {
    dedupKey: o.key,
    kind: o.kind,
    checkId: o.checkId,
    tenantId: o.tenantId,
    ...REST,
    notifiedTiers: [],
    resolvedAt: null,
    seq: 0,
    pending: [],
  };
}

/** A record back at rest (sequence and outbox kept). */
function atRest(record: IncidentRecord, now: Date): IncidentRecord {
  return { ...record, ...REST, notifiedTiers: [], resolvedAt: now.toISOString() };
}

function elapsed(sinceIso: string | null, now: Date, minutes: number): boolean {
  if (sinceIso === null) return true;
  const intervalMs = minutes * 60_000;
  const slack = Math.min(MAX_SLACK_MS, intervalMs / 10);
  return now.getTime() - Date.parse(sinceIso) >= intervalMs - slack;
}

function minutesBetween(fromIso: string | null, now: Date): number {
  return fromIso === null ? 0 : Math.round((now.getTime() - Date.parse(fromIso)) / 60_000);
}

function apply(state: AlertStateMap, observation: Observation, ctx: StepContext): void {
  const previous = state[observation.key];
  // Already judged by this run (judged again) or by a later one (this run is late): no news.
  if (ctx.sweepId !== undefined && previous?.lastRunId !== undefined && previous.lastRunId >= ctx.sweepId) return;
  const next = step(previous, observation, ctx);
  if (next === undefined || next === previous) return;
  state[observation.key] = ctx.sweepId === undefined ? next : { ...next, lastRunId: ctx.sweepId };
}

function step(previous: IncidentRecord | undefined, o: Observation, ctx: StepContext): IncidentRecord | undefined {
  if (!o.failing) {
    if (previous === undefined || previous.phase === 'ok') return previous; // nothing changes, nothing is written
    if (previous.phase === 'pending') return atRest(previous, ctx.now); // never fired: nothing to resolve
    const passes = Math.min(previous.consecutivePasses + 1, ctx.options.resolveAfterRuns);
    let record: IncidentRecord = { ...previous, consecutivePasses: passes };
    if (passes < ctx.options.resolveAfterRuns || ctx.held) return record;
    // Resolved on every topic that saw it fire, the current tier first; unsent reminders are moot.
    record = { ...record, pending: record.pending.filter((m) => m.state !== 'reminder') };
    const tiers = [...new Set([record.tier ?? 'P3', ...record.notifiedTiers])];
    const firstFailedAt = record.firstFailedAt ?? ctx.now.toISOString();
    for (const tier of tiers) {
      record = emit(record, o, ctx.now, {
        state: 'resolved',
        tier,
        firstFailedAt,
        summary: `Resolved after ${passes} passing runs (failing since ${firstFailedAt}): ${o.summary}`,
        evidence: { failingSince: firstFailedAt, passingRuns: passes, result: o.evidence },
      });
    }
    return atRest(record, ctx.now);
  }

  const nowIso = ctx.now.toISOString();
  const quiet = ctx.held || ctx.covered;
  let record = previous ?? idleRecord(o);
  // A failure confirmed within its run is two observations (a second look found it failing too).
  const observed = o.confirmed ? 2 : 1;
  const maxNeeded = Math.max(...Object.values(ctx.options.fireAfterRuns));
  if (record.phase === 'ok') {
    record = {
      ...record,
      phase: 'pending',
      tier: o.alertTier,
      thresholdTier: o.thresholdTier,
      consecutiveFails: Math.min(observed, maxNeeded),
      consecutivePasses: 0,
      firstFailedAt: nowIso,
      tierSince: null,
      notifiedTiers: [],
      lastSentAt: null,
      resolvedAt: null,
    };
  } else if (record.phase === 'pending') {
    record = {
      ...record,
      consecutiveFails: Math.min(record.consecutiveFails + observed, maxNeeded),
      tier: record.tier !== null && !worse(o.alertTier, record.tier) ? record.tier : o.alertTier,
      thresholdTier:
        record.thresholdTier !== null && !worse(o.thresholdTier, record.thresholdTier)
          ? record.thresholdTier
          : o.thresholdTier,
    };
  } else if (record.consecutivePasses !== 0) {
    record = { ...record, consecutivePasses: 0 };
  }
  if (quiet) return record;

  const tier = record.tier ?? o.alertTier;
  const firstFailedAt = record.firstFailedAt ?? nowIso;
  if (record.phase === 'pending') {
    if (record.consecutiveFails < ctx.options.fireAfterRuns[record.thresholdTier ?? tier]) return record;
    record = { ...record, phase: 'firing', tierSince: firstFailedAt, lastSentAt: nowIso, notifiedTiers: [tier] };
    return emit(record, o, ctx.now, { state: 'firing', tier, firstFailedAt });
  }

  // Firing: a worse result, then duration escalation, then a reminder.
  let raisedTo: Tier | undefined;
  let note = '';
  if (worse(o.alertTier, tier)) {
    raisedTo = o.alertTier;
    note = `raised from ${tier}: the check now fails at ${o.alertTier}`;
  } else {
    const escalateAfter = ctx.options.escalateAfterMinutes[tier];
    if (tier !== 'P0' && escalateAfter !== null && elapsed(record.tierSince, ctx.now, escalateAfter)) {
      raisedTo = raiseTier(tier);
      note = `escalated from ${tier}: failing for ${minutesBetween(firstFailedAt, ctx.now)} min`;
    }
  }
  if (raisedTo !== undefined) {
    record = {
      ...record,
      tier: raisedTo,
      tierSince: nowIso,
      lastSentAt: nowIso,
      notifiedTiers: [...new Set([...record.notifiedTiers, raisedTo])],
    };
    return emit(record, o, ctx.now, {
      state: 'firing',
      tier: raisedTo,
      firstFailedAt,
      escalatedFrom: tier,
      note,
      evidence: { ...o.evidence, escalatedFrom: tier },
    });
  }
  const reminder = ctx.options.reminderMinutes[tier];
  if (reminder !== null && elapsed(record.lastSentAt, ctx.now, reminder)) {
    record = { ...record, lastSentAt: nowIso };
    return emit(record, o, ctx.now, {
      state: 'reminder',
      tier,
      firstFailedAt,
      note: `still failing after ${minutesBetween(firstFailedAt, ctx.now)} min`,
    });
  }
  return record;
}

interface Emission {
  state: AlertState;
  tier: Tier;
  firstFailedAt: string;
  summary?: string;
  evidence?: Evidence;
  escalatedFrom?: Tier;
  note?: string;
}

function emit(record: IncidentRecord, o: Observation, now: Date, e: Emission): IncidentRecord {
  const seq = record.seq + 1;
  const message: PendingAlert = {
    id: `${record.dedupKey}#${seq}`,
    state: e.state,
    tier: e.tier,
    checkId: record.checkId,
    tenantId: record.tenantId,
    dedupKey: record.dedupKey,
    kind: record.kind,
    firstFailedAt: e.firstFailedAt,
    createdAt: now.toISOString(),
    summary: e.summary ?? o.summary,
    evidence: e.evidence ?? o.evidence,
    runbook: o.runbook,
    firstStep: o.firstStep,
    escalatedFrom: e.escalatedFrom ?? null,
    note: e.note ?? null,
    claimedUntil: null,
  };
  return { ...record, seq, pending: [...record.pending, message] };
}

/** Resolved incidents are kept this long (history, seq continuity), then expire. */
export const DEFAULT_RESOLVED_TTL_DAYS = 7;

/**
 * When a record may be forgotten: an incident at rest with an empty outbox, `ttlDays` after it
 * came to rest; null while anything is open or pending.
 */
export function expiryOf(record: IncidentRecord, ttlDays: number): Date | null {
  if (record.phase !== 'ok' || record.pending.length > 0 || record.resolvedAt === null) return null;
  return new Date(Date.parse(record.resolvedAt) + ttlDays * 86_400_000);
}
