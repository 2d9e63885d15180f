/**
 * From a probe's {@link Outcome} to a report line: tier, runbook and ordering. Pure.
 */
import { type CheckId, catalogEntry, catalogIndex, isCheckId } from './catalog.ts';
import { type Config, tierOverride } from './config.ts';
import type { CheckResult, CheckStatus, Outcome, Tier } from './types.ts';

// The status predicates, in one place, each named for what it means.

/** `pass` and `skipped`: nothing to act on, no tier (every other status has one). */
export function isQuiet(status: CheckStatus): boolean {
  return status === 'pass' || status === 'skipped';
}

/**
 * `fail`, `degraded` or `error` (not {@link isQuiet}): a result someone should look at. A tenant
 * with one is shown in full, logged with it, and counted on the progress line.
 */
export function needsAttention(status: CheckStatus): boolean {
  return !isQuiet(status);
}

/** `fail` or `error`: the run failed (the CLI exits 1; the sweep logs these checks as failing). */
export function isFailing(status: CheckStatus): boolean {
  return status === 'fail' || status === 'error';
}

/** `pass`, `fail` or `degraded`: the check reached a verdict on the platform (`error` and `skipped` did not). */
export function isDecided(status: CheckStatus): boolean {
  return status === 'pass' || status === 'fail' || status === 'degraded';
}

/**
 * `fail` or `degraded`: a verdict against the platform, counted by the check's incident in the
 * alert policy (an `error` counts against the canary's own incident instead).
 */
export function isAlerting(status: CheckStatus): boolean {
  return status === 'fail' || status === 'degraded';
}

/** The evidence key of a failure its probe confirmed within the same run (enhancement.round_trip). */
export const CONFIRMED_IN_RUN = 'confirmedInRun';

/**
 * A `fail` its probe confirmed within the same run (a second look after the first failed, e.g. a
 * fresh synthetic ticket not enhanced either): as good as two failing runs, so the alert policy
 * counts it twice.
 */
export function isConfirmedInRun(result: Pick<CheckResult, 'status' | 'evidence'>): boolean {
  const confirmation = result.evidence[CONFIRMED_IN_RUN];
  return result.status === 'fail' && confirmation !== null && typeof confirmation === 'object';
}

/**
 * The tier rule, in one place. `pass` and `skipped` have none; a `fail` takes the tier its probe
 * named for that failure, else the config's override (`checks.tiers`), else the catalog's
 * default (P1 for a check id the catalog does not know); `degraded` is always P2; an `error`
 * takes the tier its probe named, else P2.
 */
export function tierFor(
  status: CheckStatus,
  named: Tier | null | undefined,
  checkId: string,
  config?: Pick<Config, 'checks'>,
): Tier | null {
  switch (status) {
    case 'pass':
    case 'skipped':
      return null;
    case 'fail': {
      const known = isCheckId(checkId);
      return (
        named ??
        (config && known ? tierOverride(config, checkId) : undefined) ??
        (known ? catalogEntry(checkId).defaultTier : 'P1')
      );
    }
    case 'degraded':
      return 'P2';
    case 'error':
      return named ?? 'P2';
  }
}

/** The tier of a probe's outcome under the config ({@link tierFor}). */
export function tierOf(config: Config, checkId: CheckId, outcome: Outcome): Tier | null {
  return tierFor(outcome.status, outcome.tier, checkId, config);
}

export function toResult(
  config: Config,
  checkId: CheckId,
  tenantId: string | null,
  outcome: Outcome,
  durationMs: number,
): CheckResult {
  return {
    checkId,
    tenantId,
    status: outcome.status,
    tier: tierOf(config, checkId, outcome),
    summary: outcome.summary,
    durationMs: Math.round(durationMs),
    evidence: outcome.evidence ?? {},
    runbook: catalogEntry(checkId).runbook,
  };
}

/** Platform results first, then each tenant in the given order; catalog order within. */
export function sortResults(results: CheckResult[], tenantOrder: readonly string[]): CheckResult[] {
  const tenantRank = new Map(tenantOrder.map((id, index) => [id, index]));
  const rank = (result: CheckResult) =>
    result.tenantId === null ? -1 : (tenantRank.get(result.tenantId) ?? tenantOrder.length);
  return [...results].sort(
    (a, b) => rank(a) - rank(b) || catalogIndex(a.checkId as CheckId) - catalogIndex(b.checkId as CheckId),
  );
}

export const skipped = (summary: string, evidence?: Outcome['evidence']): Outcome => ({
  status: 'skipped',
  summary,
  ...(evidence ? { evidence } : {}),
});

export const errored = (summary: string, evidence?: Outcome['evidence']): Outcome => ({
  status: 'error',
  summary,
  tier: 'P2',
  ...(evidence ? { evidence } : {}),
});

/** How many results have each status (report footers, log lines, benchmarks). */
export function countStatuses(results: readonly CheckResult[]): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { pass: 0, fail: 0, degraded: 0, error: 0, skipped: 0 };
  for (const result of results) counts[result.status] += 1;
  return counts;
}
