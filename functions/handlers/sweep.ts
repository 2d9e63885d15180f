/**
 * The scheduled sweep: platform checks once, every tenant handed to the probe queue, platform
 * alerts published, and a heartbeat metric when it ran to the end (its absence is an alarm).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { countStatuses } from '../core/results.ts';
import { METRIC } from '../core/telemetry.ts';
import { runSweep } from '../fanout.ts';
import { deadlineSignal, describe, judgeSweep, publishAlerts } from './alerts.ts';
import { createLambdaDeps, type LambdaDeps } from './runtime.ts';
import { recordResultMetrics } from './telemetry.ts';

export interface SweepSummary {
  sweepId: string;
  runId: string;
  tenants: number;
  enqueued: number;
  notEnqueued: number;
  skippedTenants: number;
  platform: Record<string, number>;
  alerts: number;
}

export function createSweepHandler(deps: LambdaDeps) {
  return async (_event: unknown, context?: Context): Promise<SweepSummary> => {
    const { logger, metrics } = deps;
    if (context) logger.addContext(context);
    const started = performance.now();
    try {
      const config = await deps.config();
      const queue = await deps.tenantQueue();
      const ledger = await deps.sweepLedger();
      const ports = await deps.openPorts(config);
      let outcome: Awaited<ReturnType<typeof runSweep>>;
      try {
        outcome = await runSweep({
          config,
          ports,
          secrets: deps.secrets,
          tenantSource: deps.tenantSource(config),
          queue,
          ledger,
          ...optionalSignal(deadlineSignal(context?.getRemainingTimeInMillis())),
        });
      } finally {
        await ports.close();
      }
      const { report, tenants, enqueue } = outcome;
      if (outcome.ledgerError) {
        metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
        logger.error("the sweep table cannot be used: this sweep's tenant results will not be judged", {
          sweepId: outcome.sweepId,
          error: describe(outcome.ledgerError),
        });
      }
      recordResultMetrics(metrics, report.results);
      metrics.addMetric(METRIC.tenantsEnqueued, MetricUnit.Count, enqueue.sent);
      metrics.addMetric(METRIC.tenantsNotEnqueued, MetricUnit.Count, enqueue.failed.length);
      for (const failure of enqueue.failed) {
        logger.error('tenant not queued: it is not probed this sweep', {
          tenantId: failure.tenantId,
          reason: failure.reason,
        });
      }
      if (tenants.ok) {
        for (const skipped of tenants.skipped) logger.warn('tenant source row skipped', { ...skipped });
      }
      const platformTenants = tenants.ok ? tenants.tenantIds : [];
      report.alerts = await publishAlerts(deps, logger, config, report.results, platformTenants);
      // Earlier sweeps some tenant never reported for: judge them with what they have.
      for (const sweepId of outcome.unjudged) {
        if (await ledger.claim(sweepId, deps.now()).catch(() => false)) {
          logger.warn('judging an incomplete earlier sweep', { sweepId });
          await judgeSweep(deps, logger, config, sweepId);
        } else {
          await ledger.close(sweepId).catch(() => {});
        }
      }
      const platform = countStatuses(report.results);
      logger.info('sweep done', {
        sweepId: outcome.sweepId,
        runId: report.runId,
        tenants: platformTenants.length,
        enqueued: enqueue.sent,
        notEnqueued: enqueue.failed.length,
        platform,
        failing: report.results.filter((r) => r.status === 'fail' || r.status === 'error').map((r) => r.checkId),
      });
      if (!tenants.ok) {
        // The platform checks ran and alerted; the tenants were not probed: fail loudly.
        throw tenants.error;
      }
      metrics.addMetric(METRIC.sweepDuration, MetricUnit.Milliseconds, Math.round(performance.now() - started));
      metrics.addMetric(METRIC.heartbeat, MetricUnit.Count, 1);
      return {
        sweepId: outcome.sweepId,
        runId: report.runId,
        tenants: platformTenants.length,
        enqueued: enqueue.sent,
        notEnqueued: enqueue.failed.length,
        skippedTenants: tenants.skipped.length,
        platform,
        alerts: report.alerts.length,
      };
    } catch (error) {
      logger.error('sweep failed', { error: describe(error) });
      throw error;
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

function optionalSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

let production: ReturnType<typeof createSweepHandler> | undefined;

/** The Lambda entry point. */
export const handler = (event: unknown, context: Context): Promise<SweepSummary> => {
  production ??= createSweepHandler(createLambdaDeps());
  return production(event, context);
};
