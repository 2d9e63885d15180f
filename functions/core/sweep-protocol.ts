/**
 * The deployed sweep protocol's rules, pure: when a sweep must be drained, how long a judge may
 * hold it, and the result that says whether a judged sweep was complete.
 *
 * A sweep is judged once: by the probe whose results complete it, or, failing that, by the first
 * sweep that runs after its drain deadline. The judge holds a lease that expires, so a judge that
 * dies is taken over; an error never marks a sweep judged. Messages delivered after the deadline
 * are dropped, not probed.
 */
import { catalogEntry } from './catalog.ts';
import type { Config } from './config.ts';
import type { CheckResult } from './types.ts';

/** What a judgement may take (reading the ledger, the alert path); past it the judge gives up. */
export const JUDGE_BUDGET_MS = 30_000;
/** How long a claim holds: the budget, plus slack for a slow ledger. Then anyone may take over. */
export const JUDGE_LEASE_MS = 90_000;
/** Time a function keeps back after a judgement (its answer, the metrics flush). */
export const JUDGE_MARGIN_MS = 5_000;
/** Missing tenants named in an incomplete sweep's evidence (the count is always complete). */
export const MISSING_NAMED = 50;

/** The drain deadline of a sweep opened at `openedAt`: one interval later (synth checks a sweep can drain in it). */
export function sweepDeadline(openedAt: Date, intervalS: number): Date {
  return new Date(openedAt.getTime() + intervalS * 1000);
}

/** Whether a message of a sweep with this deadline is too old to probe (delivered at `now`). */
export function isStale(deadline: string | undefined, now: Date): boolean {
  if (deadline === undefined) return false;
  const at = Date.parse(deadline);
  return Number.isFinite(at) && now.getTime() >= at;
}

/** The `canary.sweep_complete` result of a judged sweep. */
export function sweepCompleteResult(input: {
  sweepId: string;
  expected: readonly string[];
  missing: readonly string[];
  deadline: string;
}): CheckResult {
  const entry = catalogEntry('canary.sweep_complete');
  const { sweepId, expected, missing, deadline } = input;
  const base = { checkId: entry.id, tenantId: null, durationMs: 0, runbook: entry.runbook };
  if (missing.length === 0) {
    return {
      ...base,
      status: 'pass',
      tier: null,
      summary: `Sweep ${sweepId}: all ${expected.length} tenants were probed and recorded.`,
      evidence: {},
    };
  }
  const named = missing.slice(0, MISSING_NAMED);
  return {
    ...base,
    status: 'fail',
    tier: entry.defaultTier,
    summary: `Sweep ${sweepId} was judged at its drain deadline without ${missing.length} of ${expected.length} tenants (first: ${named.slice(0, 3).join(', ')}): their results are missing from this judgement.`,
    evidence: {
      sweepId,
      deadline,
      expected: expected.length,
      missing: missing.length,
      missingTenants: named,
      ...(missing.length > named.length ? { missingNotNamed: missing.length - named.length } : {}),
    },
  };
}

/**
 * The config a scheduled probe runs with: `deferred` round trips when the database is there to
 * read the previous sweep's tickets from (no probe waits on an enhancement, so a sweep drains in
 * the time its checks take), the config's choice otherwise.
 */
export function scheduledProbeConfig(config: Config): Config {
  if (config.database === undefined || config.run.roundTrip === 'deferred') return config;
  return { ...config, run: { ...config.run, roundTrip: 'deferred' } };
}

/** The config an on-demand run uses: it waits for its own ticket's enhancement (a person is asking now). */
export function onDemandConfig(config: Config): Config {
  if (config.run.roundTrip === 'wait') return config;
  return { ...config, run: { ...config.run, roundTrip: 'wait' } };
}
