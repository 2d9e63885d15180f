/**
 * EMF metrics of a run: result counts per check and status, round-trip latencies, alerts per
 * tier. Never a tenant dimension (see functions/core/telemetry.ts).
 */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DIMENSION, METRIC } from '../core/telemetry.ts';
import type { AlertSummary, CheckResult } from '../core/types.ts';

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
