/**
 * What a run tells CloudWatch: EMF metrics (result counts per check and status, round-trip
 * latencies, alerts per tier; never a tenant dimension, see functions/core/telemetry.ts) and
 * the structured log line of a probed tenant (tenant detail lives in logs).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { countStatuses, needsAttention } from '../core/results.ts';
import { DIMENSION, METRIC } from '../core/telemetry.ts';
import type { AlertSummary, CheckResult, Report } from '../core/types.ts';

export function logTenantReport(log: Logger, report: Pick<Report, 'runId' | 'results'>): void {
  const failing = report.results.filter((r) => needsAttention(r.status));
  log.info('tenant probed', {
    runId: report.runId,
    statuses: countStatuses(report.results),
    failing: failing.map((r) => ({ checkId: r.checkId, status: r.status, tier: r.tier, summary: r.summary })),
    // Flat fields for the dashboard's "tenants failing now" (Logs Insights reads them per tenant).
    failingCount: failing.length,
    failingChecks: failing.map((r) => `${r.checkId} ${r.status}${r.tier === null ? '' : ` ${r.tier}`}`).join(', '),
  });
}

export function recordResultMetrics(metrics: Metrics, results: readonly CheckResult[]): void {
  const counts = new Map<string, { check: string; status: string; count: number }>();
  for (const result of results) {
    const key = `${result.checkId}\u0000${result.status}`;
    const entry = counts.get(key) ?? { check: result.checkId, status: result.status, count: 0 };
    entry.count += 1;
    counts.set(key, entry);
  }
  for (const { check, status, count } of counts.values()) {
    metrics
      .singleMetric()
      .addDimensions({ [DIMENSION.check]: check, [DIMENSION.status]: status })
      .addMetric(METRIC.checkResults, MetricUnit.Count, count);
  }
  for (const result of results) {
    const latency = result.checkId === 'enhancement.round_trip' ? result.evidence.latencyS : undefined;
    if (typeof latency === 'number' && Number.isFinite(latency)) {
      metrics.addMetric(METRIC.roundTripLatency, MetricUnit.Seconds, latency);
    }
  }
}

export function recordAlertMetrics(metrics: Metrics, alerts: readonly AlertSummary[]): void {
  const byTier = new Map<string, number>();
  for (const alert of alerts) byTier.set(alert.tier, (byTier.get(alert.tier) ?? 0) + 1);
  for (const [tier, count] of byTier) {
    metrics
      .singleMetric()
      .addDimensions({ [DIMENSION.tier]: tier })
      .addMetric(METRIC.alertsSent, MetricUnit.Count, count);
  }
}
