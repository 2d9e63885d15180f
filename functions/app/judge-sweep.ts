/**
 * The alert path as the Lambdas run it: DynamoDB state, SNS topics, events logged. A failure
 * here is logged and counted (the AlertingFailures alarm), never allowed to lose the report.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { alertPolicyOptions } from '../core/alert-policy.ts';
import type { Config } from '../core/config.ts';
import { describeError } from '../core/errors.ts';
import { METRIC } from '../core/telemetry.ts';
import type { AlertSummary, CheckResult } from '../core/types.ts';
import type { SweepLedger } from '../ports.ts';
import { evaluateAlerts } from './alerting.ts';
import type { AppDeps } from './deps.ts';
import { recordAlertMetrics } from './telemetry.ts';

/** Judges `results` as one run over `tenants` and publishes; returns the alerts sent ([] when the path failed). */
export async function publishAlerts(
  deps: AppDeps,
  logger: Logger,
  config: Config,
  results: readonly CheckResult[],
  tenants: readonly string[],
): Promise<AlertSummary[]> {
  try {
    const alerts = await evaluateAlerts({
      report: { results: [...results] },
      tenants,
      store: await deps.stateStore(),
      publisher: deps.publisher(config),
      now: deps.now(),
      options: alertPolicyOptions(config),
      onEvent: (event) => logger.warn('alerting', { alertEvent: event }),
    });
    recordAlertMetrics(deps.metrics, alerts);
    for (const alert of alerts) logger.info('alert sent', { alert });
    return alerts;
  } catch (error) {
    deps.metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
    logger.error('the alert path failed: alerts of this run are not sent', { error: describeError(error) });
    return [];
  }
}

/**
 * Judges a whole sweep: every tenant's recorded results as one run (platform-wide incidents
 * and the canary's own incidents see all tenants), then forgets the sweep's pending marker.
 */
export async function judgeSweep(deps: AppDeps, logger: Logger, config: Config, sweepId: string): Promise<void> {
  try {
    const ledger = await deps.sweepLedger();
    const { results, tenants } = await collectSweep(ledger, sweepId);
    const alerts = await publishAlerts(deps, logger, config, results, tenants);
    await ledger.close(sweepId);
    logger.info('sweep judged', { sweepId, tenants: tenants.length, results: results.length, alerts: alerts.length });
  } catch (error) {
    deps.metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
    logger.error('the sweep could not be judged: its tenant alerts are not sent', {
      sweepId,
      error: describeError(error),
    });
  }
}

/** Every result a sweep's probes recorded, and the tenants they cover: one run, for the alert policy. */
export async function collectSweep(
  ledger: SweepLedger,
  sweepId: string,
): Promise<{ results: CheckResult[]; tenants: string[] }> {
  const parts = await ledger.results(sweepId);
  return { results: parts.flatMap((part) => part.results), tenants: parts.map((part) => part.tenantId) };
}
