/**
 * The protocol simulation's in-memory AWS parts, per invocation (sim/protocol.ts): the sweep
 * ledger and alert state (the memory implementations, with transient errors), SNS (throttling,
 * partial failures), SQS (refused entries, `DelaySeconds`, retry visibility) and the simulated
 * probes (the script's statuses, sampled acceptances honoured). A crash stops only its own
 * invocation: every part hangs once it has died.
 */
import { type CheckId, catalogEntry } from '../functions/core/catalog.ts';
import { needsAttention } from '../functions/core/results.ts';
import type { SamplingDecision } from '../functions/core/sampling.ts';
import type { CheckResult, CheckStatus, Report } from '../functions/core/types.ts';
import type {
  AlertPublisher,
  AlertStateStore,
  SweepLease,
  SweepLedger,
  TenantMessage,
  TenantQueue,
} from '../functions/ports.ts';
import type { RunInput } from '../functions/run.ts';
import { failingKeys, finishChecked, recordDelivery } from './invariants.ts';
import { statusIn } from './script.ts';
import {
  type Crash,
  count,
  faultNow,
  NEVER,
  RETRY_DELAY_MS,
  type SimState,
  sweepIndexAt,
  transient,
  violate,
} from './state.ts';

/**
 * The tenant checks a simulated probe reports (a subset keeps 500 seeds quick): sampled, rotated,
 * and two every sweep runs (a P0 and a P2).
 */
export const SIM_CHECKS: CheckId[] = [
  'webhook.signed_accepted',
  'webhook.bad_signature_rejected',
  'enhancement.round_trip',
  'rls.cross_tenant_read',
  'tenant.success_rate',
];

export interface Lease {
  current: SweepLease | null;
  storeFailed: boolean;
}

export function ledgerFor(sim: SimState, crash: Crash, lease: Lease): SweepLedger {
  const { ledger, holes } = sim;
  const guard = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    if (crash.hit()) return NEVER;
    if (faultNow(sim, sim.script.faults.ledgerError)) {
      count(sim, 'fault.ledgerError');
      throw transient(`ledger ${what} error`);
    }
    return work();
  };
  return {
    open: (sweepId, tenantIds, deadline, at) => guard('open', () => ledger.open(sweepId, tenantIds, deadline, at)),
    withdraw: (sweepId, tenantIds, at) =>
      guard('withdraw', async () => {
        if (!holes.has('refused-expected')) await ledger.withdraw(sweepId, tenantIds, at);
        for (const tenantId of tenantIds) sim.opened.get(sweepId)?.withdrawn.add(tenantId);
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
          sim.failingKeysOf.set(sweepId, failingKeys(await ledger.results(sweepId)));
        }
        return won;
      }),
    expectedTenants: (sweepId) => guard('expected', () => ledger.expectedTenants(sweepId)),
    results: (sweepId) => guard('results', () => ledger.results(sweepId)),
    finish: (held, outcome, at) => guard('finish', () => finishChecked(sim, held, outcome, at, lease.storeFailed)),
    release: (held) =>
      guard('release', async () => {
        if (holes.has('closed-on-error')) {
          // The old protocol closed a sweep whose judgement failed.
          await finishChecked(sim, held, { complete: false }, new Date(sim.now), lease.storeFailed);
          return;
        }
        await ledger.release(held);
      }),
  };
}

export function storeFor(sim: SimState, crash: Crash, lease: Lease): AlertStateStore {
  const { store, holes } = sim;
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    if (crash.hit()) return NEVER;
    if (faultNow(sim, sim.script.faults.storeError)) {
      count(sim, 'fault.storeError');
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

export function publisherFor(sim: SimState, crash: Crash): AlertPublisher {
  return {
    async publish(messages) {
      if (crash.hit()) return NEVER;
      if (faultNow(sim, sim.script.faults.snsThrottled)) {
        count(sim, 'fault.snsThrottled');
        throw transient('SNS throttling');
      }
      const failed: { id: string; reason: string }[] = [];
      const ok: string[] = [];
      for (const message of messages) {
        if (faultNow(sim, sim.script.faults.snsPartial)) {
          failed.push({ id: message.id, reason: 'InternalError' });
          continue;
        }
        ok.push(message.id);
        recordDelivery(sim, message, crash);
      }
      crash.published = true;
      return { delivered: ok, failed };
    },
  };
}

export function queueFor(sim: SimState, crash: Crash): TenantQueue {
  return {
    async send(messages) {
      if (crash.hit()) return NEVER;
      const failed: { tenantId: string; reason: string }[] = [];
      let sent = 0;
      for (const original of messages) {
        const { delaySeconds, ...body } = original;
        const message: TenantMessage = sim.holes.has('stale-reprobed')
          ? { tenantId: original.tenantId, runId: original.runId }
          : body;
        if (faultNow(sim, sim.script.faults.sqsRefused)) {
          failed.push({ tenantId: message.tenantId, reason: 'InternalError' });
          count(sim, 'fault.sqsRefused');
          continue;
        }
        sim.messageSeq += 1;
        sim.queue.push({
          messageId: `m-${sim.messageSeq}`,
          body: JSON.stringify(message),
          message,
          // DelaySeconds: the sweep's pacing under the request budget.
          visibleAt: sim.now + (delaySeconds ?? 0) * 1000,
          receiveCount: 0,
        });
        sent += 1;
      }
      return { sent, failed };
    },
    async retryLater(records) {
      if (crash.hit()) return NEVER;
      for (const record of records) {
        const message = sim.queue.find((m) => m.messageId === record.messageId);
        if (message !== undefined) message.visibleAt = sim.now + RETRY_DELAY_MS;
      }
      count(sim, 'sqs.retriedLater', records.length);
      return { unchanged: [] };
    },
  };
}

/**
 * A simulated probe: the script's statuses, at the invocation's clock, with the sweep's sampling
 * (a check not due is `skipped`, as the real run reports it); it hangs once the invocation has died.
 */
export function checksFor(
  sim: SimState,
  crash: Crash,
  batch: Map<string, TenantMessage[]>,
  confirmations: ReadonlyMap<string, Confirmation> = new Map(),
) {
  return async (input: RunInput): Promise<Report> => {
    if (crash.hit()) return NEVER;
    const platform = input.filters?.checkIds !== undefined;
    const tenants = platform ? [] : (input.filters?.tenantIds ?? []);
    // As runChecks does: each tenant's signing secret is read (an unreadable one fails its record).
    const probed = input.config.tenants.filter((tenant) => tenants.includes(tenant.tenantId));
    await Promise.all(probed.map((tenant) => input.secrets.resolve(tenant.signingSecret).catch(() => undefined)));
    for (const tenantId of tenants) {
      // A batch may hold a tenant twice (a stale message of one sweep, a fresh one of the next).
      const messages = batch.get(tenantId) ?? [];
      const deadlines = messages.map((m) => sim.opened.get(m.runId)?.deadline ?? Number.POSITIVE_INFINITY);
      if (deadlines.length > 0 && deadlines.every((deadline) => sim.now >= deadline)) {
        const late = Math.round((sim.now - Math.max(...deadlines)) / 1000);
        const bare = messages.some((m) => m.deadline === undefined) ? ' (message without deadline)' : '';
        violate(sim, 'notStale', `${tenantId} probed ${late} s after its sweep's deadline${bare}`, messages[0]?.runId);
      }
    }
    const results: CheckResult[] = platform
      ? [result('api.health', null, 'pass')]
      : tenants.flatMap((tenantId) =>
          tenantResults(sim, tenantId, input.sampling?.get(tenantId), confirmations.get(tenantId)),
        );
    const at = new Date(sim.now).toISOString();
    return { runId: `run-${sim.now}`, startedAt: at, finishedAt: at, tenants: [...tenants], results, alerts: [] };
  };
}

/**
 * A deferred round trip's confirmation within its run (functions/probes/enhancement.ts): when the
 * previous ticket failed (or there was none to judge) and the tenant is not failing already, the
 * run follows a ticket sent now (its own accepted one, else one it sends) until it is enhanced or
 * roundTripTimeoutS has passed. Decided when the invocation starts, since it makes the run longer.
 */
export interface Confirmation {
  /** When the confirming ticket went out (ms). */
  sentAt: number;
  /** Whether it is enhanced (the round trip's status then is not `fail`). */
  enhanced: boolean;
  /** How much longer the tenant's run takes for it (ms). */
  waitMs: number;
}

/** The simulated time a healthy platform takes to enhance a confirming ticket. */
export const CONFIRMATION_ENHANCED_MS = 10_000;

/** The confirmation a tenant's run at `now` makes for this message, if any ({@link Confirmation}). */
export function confirmationOf(sim: SimState, message: TenantMessage, now: number): Confirmation | undefined {
  const { tenantId, sampling } = message;
  if (sim.config.run.roundTrip !== 'deferred' || sampling?.failing === true) return undefined;
  const notDue = new Set<string>(sampling?.notDue.map((entry) => entry.checkId));
  if (notDue.has('enhancement.round_trip')) return undefined;
  const at = { sweep: sweepIndexAt(now), ms: now };
  const previous = sim.lastAccepted.get(tenantId);
  const judged =
    previous === undefined
      ? 'fail'
      : statusIn(sim.script, { sweep: sweepIndexAt(previous), ms: previous }, 'enhancement.round_trip', tenantId);
  if (judged !== 'fail') return undefined;
  // Its own accepted ticket, or one it sends: either way the webhook must accept it now.
  if (statusIn(sim.script, at, 'webhook.signed_accepted', tenantId) !== 'pass') return undefined;
  const enhanced = statusIn(sim.script, at, 'enhancement.round_trip', tenantId) !== 'fail';
  const waitMs = enhanced ? CONFIRMATION_ENHANCED_MS : sim.config.thresholds.roundTripTimeoutS * 1000;
  return { sentAt: now, enhanced, waitMs };
}

/**
 * One tenant's simulated results. A sampled check not due is skipped with its next time. The
 * accepted ticket is recorded; a deferred round trip judges the tenant's previous ticket (the
 * script's status when it was sent), and has nothing to judge before the first or after a
 * refused acceptance; a failure (or nothing to judge) is confirmed as the real probe does
 * ({@link Confirmation}), the confirming ticket becoming the one the next run judges.
 */
function tenantResults(
  sim: SimState,
  tenantId: string,
  sampling: SamplingDecision | undefined,
  confirmation: Confirmation | undefined,
): CheckResult[] {
  const at = { sweep: sweepIndexAt(sim.now), ms: sim.now };
  const notDue = new Map(sampling?.notDue.map((entry) => [entry.checkId as string, entry.nextAt]));
  const previous = sim.lastAccepted.get(tenantId);
  const deferred = sim.config.run.roundTrip === 'deferred';
  return SIM_CHECKS.map((checkId) => {
    const nextAt = notDue.get(checkId);
    if (nextAt !== undefined) return result(checkId, tenantId, 'skipped', { nextAt });
    if (checkId === 'enhancement.round_trip' && deferred)
      return deferredRoundTrip(sim, tenantId, previous, confirmation);
    const status = statusIn(sim.script, at, checkId, tenantId);
    if (checkId === 'webhook.signed_accepted') {
      sim.accepted.set(tenantId, [...(sim.accepted.get(tenantId) ?? []), at.sweep]);
      // A refused acceptance sends no ticket: the next deferred round trip has nothing to judge.
      if (status === 'pass') sim.lastAccepted.set(tenantId, sim.now);
      else sim.lastAccepted.delete(tenantId);
    }
    return result(checkId, tenantId, status);
  });
}

/** A deferred round trip: the previous ticket's status, confirmed within the run when it failed. */
function deferredRoundTrip(
  sim: SimState,
  tenantId: string,
  previous: number | undefined,
  confirmation: Confirmation | undefined,
): CheckResult {
  const checkId = 'enhancement.round_trip';
  const judged =
    previous === undefined
      ? undefined
      : statusIn(sim.script, { sweep: sweepIndexAt(previous), ms: previous }, checkId, tenantId);
  if (confirmation === undefined || (judged !== undefined && judged !== 'fail')) {
    return judged === undefined
      ? result(checkId, tenantId, 'skipped', { reason: 'no earlier ticket' })
      : result(checkId, tenantId, judged);
  }
  count(sim, confirmation.enhanced ? 'probe.confirmedEnhanced' : 'probe.confirmedFailing');
  // The next run judges the confirming ticket (its own accepted one is the same ticket).
  sim.lastAccepted.set(tenantId, confirmation.sentAt);
  if (confirmation.enhanced) return result(checkId, tenantId, judged === undefined ? 'pass' : 'degraded');
  const failed = result(checkId, tenantId, 'fail');
  return {
    ...failed,
    evidence: { ...failed.evidence, confirmedInRun: { status: 'missing', sentAt: confirmation.sentAt } },
  };
}

export function result(
  checkId: CheckId,
  tenantId: string | null,
  status: CheckStatus,
  quiet: Record<string, unknown> = {},
): CheckResult {
  const entry = catalogEntry(checkId);
  const failing = needsAttention(status);
  return {
    checkId,
    tenantId,
    status,
    tier: failing ? (status === 'degraded' ? 'P2' : entry.defaultTier) : null,
    summary: `${checkId} ${status}`,
    durationMs: 1,
    evidence: failing ? { simulated: true } : quiet,
    runbook: entry.runbook,
  };
}
