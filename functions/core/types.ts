/** Escalation tiers of the platform's guide: P0 critical … P3 low. */
export type Tier = 'P0' | 'P1' | 'P2' | 'P3';
export const TIERS = ['P0', 'P1', 'P2', 'P3'] as const satisfies readonly Tier[];

export type CheckStatus = 'pass' | 'fail' | 'degraded' | 'error' | 'skipped';
export const STATUSES = ['pass', 'fail', 'degraded', 'error', 'skipped'] as const satisfies readonly CheckStatus[];

export type Evidence = Record<string, unknown>;

/**
 * What a probe decides about one check. The run turns it into a {@link CheckResult}
 * (check id, tenant, tier, duration, runbook).
 */
export interface Outcome {
  status: CheckStatus;
  /** One sentence a person can act on. Never contains a secret. */
  summary: string;
  evidence?: Evidence;
  /** A tier other than the check's default for this particular failure (e.g. 429 → P2). */
  tier?: Tier;
  /** Output for checks that depend on this one; never reported. */
  data?: unknown;
}

/** One line of the report. `tier` is set exactly when status is fail, degraded or error. */
export interface CheckResult {
  checkId: string;
  tenantId: string | null;
  status: CheckStatus;
  tier: Tier | null;
  summary: string;
  durationMs: number;
  evidence: Evidence;
  runbook: string;
}

export type AlertState = 'firing' | 'reminder' | 'resolved';

export interface AlertSummary {
  state: AlertState;
  tier: Tier;
  checkId: string;
  tenantId: string | null;
  dedupKey: string;
}

export interface Report {
  runId: string;
  startedAt: string;
  finishedAt: string;
  /** The tenants the run covered, in report order (breadth and recovery count against them). */
  tenants: string[];
  results: CheckResult[];
  alerts: AlertSummary[];
}
