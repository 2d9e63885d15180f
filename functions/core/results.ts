/**
 * From a probe's {@link Outcome} to a report line: tier, runbook and ordering. Pure.
 */
import { type CheckId, catalogEntry, catalogIndex } from './catalog.ts';
import { type Config, tierOverride } from './config.ts';
import type { CheckResult, CheckStatus, Outcome, Tier } from './types.ts';

/**
 * The tier of a result: a plain `fail` takes the config's override or the catalog's default;
 * a probe may name a tier for a specific failure; `degraded` and `error` default to P2.
 */
export function tierOf(config: Config, checkId: CheckId, outcome: Outcome): Tier | null {
  switch (outcome.status) {
    case 'pass':
    case 'skipped':
      return null;
    case 'fail':
      return outcome.tier ?? tierOverride(config, checkId) ?? catalogEntry(checkId).defaultTier;
    case 'degraded':
    case 'error':
      return outcome.tier ?? 'P2';
  }
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
