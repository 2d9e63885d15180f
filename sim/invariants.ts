/**
 * The protocol simulation's checkers (sim/protocol.ts): what each judgement and each delivered
 * alert must satisfy when it happens, and what must hold at the end of a run ({@link INVARIANTS}).
 */
import { type AlertMessage, dedupKeyOf } from '../functions/core/alert-policy.ts';
import { type CheckId, catalogEntry } from '../functions/core/catalog.ts';
import { isAlerting, isConfirmedInRun } from '../functions/core/results.ts';
import { periodSweeps } from '../functions/core/sampling.ts';
import type { CheckResult } from '../functions/core/types.ts';
import type { SweepLease } from '../functions/ports.ts';
import { type Crash, count, type SimState, violate } from './state.ts';

/** The ledger's finish, checked: judged once, never partial before the deadline, after its alert path. */
export async function finishChecked(
  sim: SimState,
  held: SweepLease,
  outcome: { complete: boolean },
  at: Date,
  storeFailed: boolean,
): Promise<boolean> {
  const { ledger } = sim;
  const [status, parts, expected] = await Promise.all([
    ledger.status(held.sweepId),
    ledger.results(held.sweepId),
    ledger.expectedTenants(held.sweepId),
  ]);
  const won = await ledger.finish(held, outcome, at);
  if (!won || status === undefined) return won;
  const { sweepId } = held;
  sim.finishes.set(sweepId, (sim.finishes.get(sweepId) ?? 0) + 1);
  const truth = sim.opened.get(sweepId);
  const recorded = new Set(parts.map((p) => p.tenantId));
  const missing = expected.filter((t) => !recorded.has(t));
  if (truth !== undefined && at.getTime() < truth.deadline && missing.length > 0) {
    violate(sim, 'neverPartial', `judged before its deadline without ${missing.length} tenants`, sweepId);
  }
  if (outcome.complete !== (missing.length === 0)) {
    violate(
      sim,
      'neverPartial',
      `judged ${outcome.complete ? 'complete' : 'incomplete'} with ${missing.length} missing`,
      sweepId,
    );
  }
  if (storeFailed) violate(sim, 'judgedAfterAlerting', 'marked judged although its alert path failed', sweepId);
  // Refused tenants whose withdrawal failed stay expected (the sweep names them at its deadline).
  if (!outcome.complete && truth !== undefined && missing.every((t) => truth.withdrawn.has(t))) {
    violate(
      sim,
      'refusedNotAwaited',
      `judged incomplete for tenants SQS refused (${missing.slice(0, 3).join(', ')})`,
      sweepId,
    );
  }
  count(sim, outcome.complete ? 'sweeps.judged' : 'sweeps.judgedIncomplete');
  return won;
}

/** A delivered alert, checked: sent once per transition, fired only after enough failing sweeps. */
export function recordDelivery(sim: SimState, message: AlertMessage, crash: Crash): void {
  count(sim, 'alerts.delivered');
  const first = sim.delivered.get(message.id);
  // At-least-once: a sender that died or failed after publishing, before recording it, sends again.
  if (first !== undefined && !(first.by.published && (first.by.crashed || first.by.unsettled))) {
    violate(sim, 'sentOnce', `${message.id} (${message.state}) delivered twice`);
  }
  if (first === undefined) sim.delivered.set(message.id, { by: crash });
  if (message.state === 'firing' && !sim.firstFiring.has(message.checkId)) {
    sim.firstFiring.set(message.checkId, sim.now);
  }
  if (message.state !== 'firing' || message.kind !== 'check' || message.escalatedFrom !== null) return;
  if (message.tenantId === null) return;
  const transition = `${message.dedupKey}@${message.firstFailedAt}/${message.tier}`;
  const ids = sim.firings.get(transition) ?? new Set<string>();
  ids.add(message.id);
  sim.firings.set(transition, ids);
  if (ids.size === 2) violate(sim, 'sentOnce', `${transition} fired twice (${[...ids].join(', ')})`);
  // How many failing runs the sweeps a judge got hold of saw for this key (one that died after
  // recording its judgement counts too; a failure confirmed within its run counts twice).
  const failingRuns = [...sim.failingKeysOf.values()].reduce((sum, keys) => sum + (keys.get(message.dedupKey) ?? 0), 0);
  const needed = sim.config.alerts.fireAfterRuns[message.tier];
  if (failingRuns < needed) {
    violate(
      sim,
      'countedOnce',
      `${message.dedupKey} fired at ${message.tier} after ${failingRuns} failing run(s), needs ${needed}`,
    );
  }
}

/**
 * What must hold at the end of a run of `window` faulty sweeps and a fault-free tail of
 * `tailSweeps`: every sweep of the window judged once, every outbox empty, every lasting failure fired.
 */
export async function checkEnd(sim: SimState, window: number, tailSweeps: number): Promise<void> {
  const { ledger, store, script } = sim;
  for (const [sweepId, truth] of sim.opened) {
    // A sweep that died, or whose ledger failed, before opening its entry has nothing to judge.
    if (truth.index >= window || (await ledger.status(sweepId)) === undefined) continue;
    const judged = sim.finishes.get(sweepId) ?? 0;
    if (judged !== 1) violate(sim, 'judgedOnce', `judged ${judged} times`, sweepId);
  }
  const final = await store.load(await store.openKeys());
  for (const [key, item] of final) {
    if (item.record.pending.length > 0)
      violate(sim, 'noAlertLost', `${key}: ${item.record.pending.length} message(s) never sent`);
  }
  const lasting = script.episodes.filter((e) => e.tenantId !== null && e.toSweep > window + tailSweeps);
  const period = periodSweeps(sim.config.synthetic.acceptEveryMinutes, sim.config.run.sweepIntervalS);
  for (const episode of lasting) {
    const tenantId = episode.tenantId as string;
    if (script.brokenSecrets.has(tenantId)) continue;
    // A check whose prerequisite fails for good too may never be seen again (a refused acceptance
    // sends no ticket to follow): the prerequisite's alert stands for it, but only when the
    // prerequisite failed first, by the dependent's next sample (its period and the deferred
    // judgement after it); one failing later leaves the dependent's own failure to be seen first.
    const needs = catalogEntry(episode.checkId).needs as CheckId | undefined;
    const latest = episode.fromSweep + period + 1;
    const masked =
      needs !== undefined &&
      lasting.some((o) => o.tenantId === tenantId && o.checkId === needs && o.fromSweep <= latest);
    const checks = masked ? [episode.checkId, needs] : [episode.checkId];
    if (!checks.some((checkId) => firedFor(sim, checkId, tenantId))) {
      const key = dedupKeyOf(episode.checkId, tenantId);
      violate(sim, 'noAlertLost', `${key} failed from sweep ${episode.fromSweep} to the end and never fired`);
    }
  }
}

/** Whether an alert of the check went out, for the tenant or platform-wide. */
function firedFor(sim: SimState, checkId: CheckId, tenantId: string): boolean {
  const keys = [dedupKeyOf(checkId, tenantId), dedupKeyOf(checkId, null)];
  return [...sim.delivered.keys()].some((id) => keys.some((key) => id.startsWith(`${key}#`)));
}

/**
 * The keys of failing or degraded results in a sweep's recorded parts, each with the failing runs
 * it counts for: 2 when confirmed within its run (as the alert policy counts it), else 1.
 */
export function failingKeys(parts: readonly { results: readonly CheckResult[] }[]): Map<string, number> {
  const keys = new Map<string, number>();
  for (const part of parts) {
    for (const r of part.results) {
      if (!isAlerting(r.status)) continue;
      const key = dedupKeyOf(r.checkId, r.tenantId);
      keys.set(key, Math.max(keys.get(key) ?? 0, isConfirmedInRun(r) ? 2 : 1));
    }
  }
  return keys;
}
