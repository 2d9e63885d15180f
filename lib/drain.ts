/**
 * Whether a worst-case sweep drains inside one interval, decided at synth: the probe queue is
 * worked `probe.batchSize` tenants per invocation, `probe.maxConcurrency` invocations at once,
 * and in the worst case (the platform hangs, every check runs to its time budget) a batch takes
 * as long as its tenants' slowest chain of checks. A sweep that cannot drain piles up behind the
 * next one and its judgement comes late or partial.
 *
 * The request budget (platform.requestBudgetRps) spreads the tenants' starts over the interval:
 * the last tenant starts at `pacedLastStartS`, and the budget must cover each tenant's webhook
 * checks once per `synthetic.acceptEveryMinutes` (functions/core/budget.ts).
 */
import { type BudgetEstimate, estimateBudget } from '../functions/core/budget.ts';
import { CATALOG, type TenantCheckId } from '../functions/core/catalog.ts';
import type { Config } from '../functions/core/config.ts';
import { TENANT_PROBES } from '../functions/probes/index.ts';
import { SECRET_LOOKUP_BUDGET_MS } from '../functions/run.ts';

export interface DrainEstimate {
  tenants: number;
  /** Invocations needed one after another at full concurrency. */
  waves: number;
  /** Worst case of one invocation: its tenants' slowest chain of checks, capped by the function timeout. */
  batchWorstS: number;
  /** The same, uncapped: past `probe.timeoutSeconds` the invocation dies and its tenants are redelivered. */
  batchUncappedS: number;
  drainS: number;
  intervalS: number;
  /** The smallest probe.maxConcurrency that drains in time (null when even one tenant per invocation cannot). */
  neededConcurrency: number | null;
  /** The request budget's plan of a healthy sweep: rotation (null: the budget cannot cover it), peak, budget needed. */
  budget: BudgetEstimate;
}

/** The longest chain of check budgets of one tenant (a check waits for the one it needs). */
export function tenantWorstMs(config: Config): number {
  const budget = (checkId: TenantCheckId): number => {
    const registration = TENANT_PROBES[checkId];
    // Deferred round trips judge the previous sweep's tickets with one query: no waiting. A failure
    // is confirmed in the run (up to roundTripTimeoutS) once per incident, by a tenant with none
    // open yet (in an outage, the first sweep that judges its failing ticket; as shipped a
    // period's share of the tenants, 1/12, each sweep): probe.timeoutSeconds >= roundTripTimeoutS
    // + PROBE_MARGIN_S (lib/config.ts) covers the invocation that carries one; the drain's waves
    // are counted without it.
    if (checkId === 'enhancement.round_trip' && config.run.roundTrip === 'deferred') {
      return (config.database?.statementTimeoutMs ?? 5000) * 3 + 2000;
    }
    return registration.budgetMs(config);
  };
  const needs = new Map<string, string | undefined>(
    CATALOG.filter((e) => e.scope === 'tenant').map((e) => [e.id, 'needs' in e ? e.needs : undefined]),
  );
  const chain = (checkId: TenantCheckId): number => {
    const need = needs.get(checkId) as TenantCheckId | undefined;
    return budget(checkId) + (need === undefined ? 0 : chain(need));
  };
  const longest = Math.max(...(Object.keys(TENANT_PROBES) as TenantCheckId[]).map(chain));
  return SECRET_LOOKUP_BUDGET_MS + longest;
}

export function estimateDrain(
  config: Config,
  probe: { batchSize: number; maxConcurrency: number; timeoutSeconds: number },
  tenants: number,
  intervalS: number,
): DrainEstimate {
  const rounds = Math.ceil(probe.batchSize / Math.max(1, config.run.tenantConcurrency));
  const batchUncappedS = Math.ceil((rounds * tenantWorstMs(config)) / 1000);
  const batchWorstS = Math.min(probe.timeoutSeconds, batchUncappedS);
  const waves = Math.ceil(tenants / (probe.batchSize * probe.maxConcurrency));
  const wavesPerInterval = Math.floor(intervalS / batchWorstS);
  const neededConcurrency = wavesPerInterval === 0 ? null : Math.ceil(tenants / (probe.batchSize * wavesPerInterval));
  const budget = estimateBudget({ ...config, run: { ...config.run, sweepIntervalS: intervalS } }, tenants);
  return {
    tenants,
    waves,
    batchWorstS,
    batchUncappedS,
    drainS: waves * batchWorstS,
    intervalS,
    neededConcurrency,
    budget,
  };
}
