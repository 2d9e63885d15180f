/**
 * The request budget (`platform.requestBudgetRps`): the most requests a second the whole canary
 * sends the platform's API. Pure scheduling math, shared by the sweep (SQS `DelaySeconds` per
 * tenant, rotation of the rejection probes), the local `run` (paced tenant starts) and the synth
 * check (lib/drain.ts).
 *
 * A tenant run sends one request per webhook check that runs (the entry points' forgeries: several,
 * {@link entryPointRequests}), at about the same time (its checks
 * run concurrently), so tenants are packed into one-second slots of at most half the budget
 * ({@link PACING_FILL}): a run may spill into the next second, so any one-second window spans at
 * most two slots and stays within the budget.
 */
import type { Config, EntryPointConfig } from './config.ts';
import { periodSweeps, ROTATED_CHECKS, type SamplingDecision, type SamplingInput, sampleTenant } from './sampling.ts';

/** The tenant checks that send requests to the platform's API: one each, the entry points' forgeries several. */
export const WEBHOOK_CHECKS = ['webhook.signed_accepted', ...ROTATED_CHECKS] as const;

/** Requests one tenant's `webhook.entry_points_reject_forgeries` sends: 4 an entry point (3 with one shared secret), +1 accepting. */
export function entryPointRequests(entryPoints: readonly EntryPointConfig[]): number {
  return entryPoints.reduce((sum, entry) => sum + (entry.secret === 'tenant' ? 4 : 3) + (entry.acceptProbe ? 1 : 0), 0);
}

/** Requests one run of `checkId` sends the platform's API for one tenant. */
export function checkRequests(config: { platform?: Pick<Config['platform'], 'entryPoints'> }, checkId: string): number {
  if (checkId !== 'webhook.entry_points_reject_forgeries') return 1;
  return entryPointRequests(config.platform?.entryPoints ?? []);
}
/** The sweep's own requests (api.health, and the TLS handshake of api.tls_certificate). */
export const PLATFORM_REQUESTS = 2;
/** The share of the budget one second of the plan is filled to (two slots fit in any window of one second). */
export const PACING_FILL = 0.5;
/** The share of the interval the sweep spreads its tenants over (the rest: the last batches drain and are judged). */
export const SPREAD_SHARE = 0.8;
/** SQS's largest `DelaySeconds`. */
export const MAX_DELAY_S = 900;

/**
 * Requests one tenant run sends: its webhook checks that run (not disabled, not left out this
 * sweep, and planned: a run filtered to other checks sends none), and the confirmation a deferred
 * round trip may send ({@link confirmationRequests}).
 */
export function tenantRequests(
  config: Pick<Config, 'checks'> & {
    platform?: Pick<Config['platform'], 'entryPoints'>;
    run?: Pick<Config['run'], 'roundTrip'>;
  },
  decision?: SamplingDecision,
  planned: (checkId: string) => boolean = () => true,
): number {
  const disabled = new Set<string>(config.checks.disabled);
  const notDue = new Set<string>(decision?.notDue.map((entry) => entry.checkId));
  const runs = (checkId: string) => planned(checkId) && !disabled.has(checkId) && !notDue.has(checkId);
  const webhook = WEBHOOK_CHECKS.filter(runs).reduce((sum, checkId) => sum + checkRequests(config, checkId), 0);
  return webhook + confirmationRequests(config, runs);
}

/**
 * The request a deferred round trip keeps in reserve: when the previous ticket failed, it
 * confirms with a fresh synthetic ticket in the same run unless webhook.signed_accepted sent one
 * (functions/probes/enhancement.ts). Reserved whenever it may happen, so the plan holds during an
 * outage too; a healthy fleet never uses it.
 */
export function confirmationRequests(
  config: { run?: Pick<Config['run'], 'roundTrip'> },
  runs: (checkId: string) => boolean,
): number {
  const deferred = config.run?.roundTrip === 'deferred';
  return deferred && runs('enhancement.round_trip') && !runs('webhook.signed_accepted') ? 1 : 0;
}

/** Requests a second one slot of the plan holds (at least one tenant's worth is always placed). */
export function slotCapacity(budgetRps: number): number {
  return Math.max(1, Math.floor(budgetRps * PACING_FILL));
}

/** Seconds of the interval over which the sweep starts its tenants. */
export function spreadSeconds(intervalS: number): number {
  return Math.max(1, Math.min(MAX_DELAY_S, Math.floor(intervalS * SPREAD_SHARE)));
}

/**
 * Start offsets (whole seconds from `firstS`) for tenants in order: each goes in the first second
 * that still has room for its requests; a tenant with more requests than a slot holds gets a
 * second of its own. Offsets never decrease.
 */
export function planStarts(requests: readonly number[], capacity: number, firstS = 0): number[] {
  const starts: number[] = [];
  let second = firstS;
  let used = 0;
  for (const count of requests) {
    if (used > 0 && used + count > capacity) {
      second += 1;
      used = 0;
    }
    starts.push(second);
    used += count;
  }
  return starts;
}

/** The busiest second of a plan: requests started in one second. */
export function peakPerSecond(requests: readonly number[], starts: readonly number[]): number {
  const bySecond = new Map<number, number>();
  requests.forEach((count, i) => {
    const second = starts[i] ?? 0;
    bySecond.set(second, (bySecond.get(second) ?? 0) + count);
  });
  return Math.max(0, ...bySecond.values());
}

export interface SweepPlanTenant {
  tenantId: string;
  decision: SamplingDecision;
  requests: number;
  /** Seconds after the sweep's start this tenant's message becomes visible (SQS DelaySeconds). */
  delayS: number;
}

export interface SweepPlan {
  tenants: SweepPlanTenant[];
  /** The rejection probes run every this many sweeps (1: every sweep). */
  rotation: number;
  /** The last tenant's start, seconds. */
  lastStartS: number;
  spreadS: number;
  /** Whether every tenant starts inside the spread (false: the budget cannot cover this sweep even rotating fully). */
  fits: boolean;
}

/**
 * A scheduled sweep's plan under the budget: the smallest rotation of the rejection probes (1:
 * every sweep, at most one period's sweeps) whose tenants all start inside the spread, each
 * tenant's sampling, requests and delay. The sweep's own requests go first, in second 0.
 */
export function planSweep(input: {
  tenantIds: readonly string[];
  sweepAt: Date;
  config: Pick<Config, 'run' | 'synthetic' | 'platform' | 'checks'>;
  failing: ReadonlySet<string>;
  /** Each tenant's rotated checks with an open incident (they run every sweep). */
  openRejections?: ReadonlyMap<string, ReadonlySet<string>>;
}): SweepPlan {
  const { tenantIds, sweepAt, config, failing } = input;
  const intervalS = config.run.sweepIntervalS;
  const maxRotation = periodSweeps(config.synthetic.acceptEveryMinutes, intervalS);
  const capacity = slotCapacity(config.platform.requestBudgetRps);
  const spreadS = spreadSeconds(intervalS);
  const firstS = PLATFORM_REQUESTS > 0 ? 1 : 0;
  // No rotation below what the rejection probes alone need (a cheap lower bound: fewer plans to try).
  const rejections =
    tenantIds.length * ROTATED_CHECKS.reduce((sum, checkId) => sum + checkRequests(config, checkId), 0);
  const lowest = Math.max(
    1,
    Math.min(maxRotation, Math.floor(rejections / (capacity * Math.max(1, spreadS - firstS)))),
  );
  let plan: SweepPlan | undefined;
  for (let rotation = lowest; rotation <= maxRotation; rotation++) {
    const decisions = tenantIds.map((tenantId) => {
      const open = input.openRejections?.get(tenantId);
      const sampling: SamplingInput = {
        tenantId,
        sweepAt,
        config,
        failing: failing.has(tenantId),
        rotation,
        ...(open === undefined ? {} : { openRejections: open }),
      };
      return sampleTenant(sampling);
    });
    const order = sweepOrder(tenantIds, decisions, config);
    const requests = order.map((i) => tenantRequests(config, decisions[i]));
    const starts = planStarts(requests, capacity, firstS);
    const lastStartS = starts.at(-1) ?? 0;
    plan = {
      tenants: order.map((i, at) => ({
        tenantId: tenantIds[i] as string,
        decision: decisions[i] as SamplingDecision,
        requests: requests[at] as number,
        delayS: Math.min(MAX_DELAY_S, starts[at] as number),
      })),
      rotation,
      lastStartS,
      spreadS,
      fits: lastStartS < spreadS,
    };
    if (plan.fits) break;
  }
  // maxRotation >= 1: the loop ran at least once.
  return plan as SweepPlan;
}

/**
 * The order a sweep starts its tenants in (indices into `tenantIds`, stable otherwise): first the
 * tenants with an open incident on a sampled check (their acceptance runs every sweep: their next
 * verdict comes early), then those whose deferred round trip is due without their acceptance (a
 * failure there is confirmed within the run, which may wait up to roundTripTimeoutS: started
 * early, it still reports well inside the sweep's drain deadline), then the rest.
 */
export function sweepOrder(
  tenantIds: readonly string[],
  decisions: readonly SamplingDecision[],
  config: Pick<Config, 'checks' | 'run'>,
): number[] {
  const disabled = new Set<string>(config.checks.disabled);
  const ranks = tenantIds.map((_, i) => {
    const decision = decisions[i];
    if (decision?.failing) return 0;
    const notDue = new Set<string>(decision?.notDue.map((entry) => entry.checkId));
    return confirmationRequests(config, (checkId) => !notDue.has(checkId) && !disabled.has(checkId)) > 0 ? 1 : 2;
  });
  return tenantIds.map((_, i) => i).sort((a, b) => (ranks[a] as number) - (ranks[b] as number) || a - b);
}

/** What a sweep of `tenants` needs of the budget, for the synth check (every tenant healthy). */
export interface BudgetEstimate {
  tenants: number;
  budgetRps: number;
  /** Requests of one tenant run with every webhook check (sent at once). */
  requestsPerTenantRun: number;
  /** The rotation the sweep needs, or null when even one period cannot cover every tenant once. */
  rotation: number | null;
  /** Requests a second the busiest second of the planned sweep starts. */
  peakRps: number;
  spreadS: number;
  /** The lowest budget that covers each tenant's webhook checks once per period. */
  neededBudgetRps: number;
}

/**
 * The budget check at synth: a planned sweep of `tenants` healthy tenants (their acceptances
 * sampled) must start every tenant inside the spread with the rejection probes rotated at most
 * once per period, and one slot must hold one tenant's run.
 */
export function estimateBudget(
  config: Pick<Config, 'run' | 'synthetic' | 'platform' | 'checks'>,
  tenants: number,
  sweepAt = new Date(0),
): BudgetEstimate {
  const tenantIds = Array.from({ length: tenants }, (_, i) => `tenant-${i}`);
  const plan = planSweep({ tenantIds, sweepAt, config, failing: new Set() });
  const perTenant = tenantRequests(config);
  const sweeps = periodSweeps(config.synthetic.acceptEveryMinutes, config.run.sweepIntervalS);
  const spreadS = spreadSeconds(config.run.sweepIntervalS);
  // Every tenant's webhook checks once per period, over the spread seconds of one sweep, at
  // PACING_FILL; with slack for uneven slots (10 %) and for a second a tenant's run does not fill.
  const perSweep = Math.ceil((tenants * perTenant) / sweeps);
  const neededBudgetRps = Math.ceil(
    Math.max(perTenant, (perSweep * 1.1) / Math.max(1, spreadS - 1) + perTenant - 1) / PACING_FILL,
  );
  const requests = plan.tenants.map((t) => t.requests);
  const starts = plan.tenants.map((t) => t.delayS);
  return {
    tenants,
    budgetRps: config.platform.requestBudgetRps,
    requestsPerTenantRun: perTenant,
    rotation: plan.fits && slotCapacity(config.platform.requestBudgetRps) >= perTenant ? plan.rotation : null,
    peakRps: Math.max(PLATFORM_REQUESTS, peakPerSecond(requests, starts)),
    spreadS,
    neededBudgetRps,
  };
}
