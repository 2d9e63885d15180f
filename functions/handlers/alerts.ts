/**
 * The alert path as the Lambdas run it: DynamoDB state, SNS topics, events logged. A failure
 * here is logged and counted (the AlertingFailures alarm), never allowed to lose the report.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { evaluateAlerts } from '../alerting.ts';
import { alertPolicyOptions } from '../core/alert-policy.ts';
import type { Config } from '../core/config.ts';
import { METRIC } from '../core/telemetry.ts';
import type { AlertSummary, CheckResult } from '../core/types.ts';
import { collectSweep } from '../fanout.ts';
import type { LambdaDeps } from './runtime.ts';
import { recordAlertMetrics } from './telemetry.ts';

export async function publishAlerts(
  deps: LambdaDeps,
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
    logger.error('the alert path failed: alerts of this run are not sent', { error: describe(error) });
    return [];
  }
}

/**
 * Judges a whole sweep: every tenant's recorded results as one run (platform-wide incidents
 * and the canary's own incidents see all tenants), then forgets the sweep's pending marker.
 */
export async function judgeSweep(deps: LambdaDeps, logger: Logger, config: Config, sweepId: string): Promise<void> {
  try {
    const ledger = await deps.sweepLedger();
    const { results, tenants } = await collectSweep(ledger, sweepId);
    const alerts = await publishAlerts(deps, logger, config, results, tenants);
    await ledger.close(sweepId);
    logger.info('sweep judged', { sweepId, tenants: tenants.length, results: results.length, alerts: alerts.length });
  } catch (error) {
    deps.metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
    logger.error('the sweep could not be judged: its tenant alerts are not sent', { sweepId, error: describe(error) });
  }
}

/** An error for a log line: name and message (ours never carry secret values). */
export function describe(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) };
}

/** Ends a run before the function's own timeout, leaving time to report. */
export function deadlineSignal(remainingMs: number | undefined, reserveMs = 10_000): AbortSignal | undefined {
  if (remainingMs === undefined || !Number.isFinite(remainingMs)) return undefined;
  return AbortSignal.timeout(Math.max(1_000, remainingMs - reserveMs));
}
