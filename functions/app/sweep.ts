/**
 * The scheduled sweep: platform checks once, every tenant handed to the probe queue, platform
 * alerts published, earlier sweeps some tenant never reported for judged with what they have,
 * and a heartbeat metric when it ran to the end (its absence is an alarm).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { CATALOG, type CheckId } from '../core/catalog.ts';
import { asError, describeError } from '../core/errors.ts';
import { countStatuses } from '../core/results.ts';
import { sweepIdAt } from '../core/tables.ts';
import { METRIC } from '../core/telemetry.ts';
import type { Report } from '../core/types.ts';
import type { EnqueueOutcome, SweepLedger, TenantListing, TenantQueue } from '../ports.ts';
import { runChecks } from '../run.ts';
import type { AppDeps } from './deps.ts';
import { judgeSweep, publishAlerts } from './judge-sweep.ts';
import { recordResultMetrics } from './telemetry.ts';
import { withPorts } from './with-ports.ts';

const PLATFORM_CHECKS: CheckId[] = CATALOG.filter((entry) => entry.scope === 'platform').map((entry) => entry.id);

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

/**
 * Runs one sweep. A tenant list that cannot be read does not stop the platform checks (they may
 * say why) nor their alerts; it is thrown afterwards, so the sweep fails loudly.
 */
export async function sweep(deps: AppDeps, signal?: AbortSignal): Promise<SweepSummary> {
  const { logger, metrics } = deps;
  const started = performance.now();
  const config = await deps.config();
  const queue = await deps.tenantQueue();
  const ledger = await deps.sweepLedger();
  const sweepId = sweepIdAt(deps.now());

  // Ports first: a sweep whose ports cannot open queues nothing.
  const { listing, listingError, report, enqueue, unjudged } = await withPorts(
    deps.openPorts,
    config,
    async (ports) => {
      let listing: TenantListing | undefined;
      let listingError: Error | undefined;
      try {
        listing = await deps.tenantSource(config).list();
      } catch (error) {
        listingError = asError(error);
      }
      // Queued while the platform checks run.
      const queued = listing === undefined ? undefined : fanOut(deps, ledger, queue, sweepId, tenantIdsOf(listing));
      // Platform probes use the first tenant as a positive control; only its secret is read.
      const platformReport: Report = await runChecks({
        config: { ...config, tenants: (listing?.tenants ?? config.tenants).slice(0, 1) },
        ports,
        secrets: deps.secrets,
        filters: { checkIds: PLATFORM_CHECKS },
        signal,
      });
      const fannedOut = (await queued) ?? { enqueue: { sent: 0, failed: [] }, unjudged: [] };
      return { listing, listingError, report: platformReport, ...fannedOut };
    },
  );
  const tenantIds = listing === undefined ? [] : tenantIdsOf(listing);

  recordResultMetrics(metrics, report.results);
  metrics.addMetric(METRIC.tenantsEnqueued, MetricUnit.Count, enqueue.sent);
  metrics.addMetric(METRIC.tenantsNotEnqueued, MetricUnit.Count, enqueue.failed.length);
  for (const failure of enqueue.failed) {
    logger.error('tenant not queued: it is not probed this sweep', {
      tenantId: failure.tenantId,
      reason: failure.reason,
    });
  }
  for (const skipped of listing?.skipped ?? []) logger.warn('tenant source row skipped', { ...skipped });
  report.alerts = await publishAlerts(deps, logger, config, report.results, tenantIds);
  // Earlier sweeps some tenant never reported for: judge them with what they have.
  for (const earlier of unjudged) {
    if (await ledger.claim(earlier, deps.now()).catch(() => false)) {
      logger.warn('judging an incomplete earlier sweep', { sweepId: earlier });
      await judgeSweep(deps, logger, config, earlier);
    } else {
      await ledger.close(earlier).catch(() => {});
    }
  }
  const platform = countStatuses(report.results);
  logger.info('sweep done', {
    sweepId,
    runId: report.runId,
    tenants: tenantIds.length,
    enqueued: enqueue.sent,
    notEnqueued: enqueue.failed.length,
    platform,
    failing: report.results.filter((r) => r.status === 'fail' || r.status === 'error').map((r) => r.checkId),
  });
  // The platform checks ran and alerted; the tenants were not probed: fail loudly.
  if (listing === undefined) throw listingError ?? new Error('the tenant list could not be read');
  metrics.addMetric(METRIC.sweepDuration, MetricUnit.Milliseconds, Math.round(performance.now() - started));
  metrics.addMetric(METRIC.heartbeat, MetricUnit.Count, 1);
  return {
    sweepId,
    runId: report.runId,
    tenants: tenantIds.length,
    enqueued: enqueue.sent,
    notEnqueued: enqueue.failed.length,
    skippedTenants: listing.skipped.length,
    platform,
    alerts: report.alerts.length,
  };
}

const tenantIdsOf = (listing: TenantListing): string[] => listing.tenants.map((tenant) => tenant.tenantId);

/**
 * Opens the sweep in the ledger (before any message is sent: the first probe to report finds
 * it) and queues one message per tenant. A ledger that cannot be used is logged and counted:
 * the tenants are still probed, but this sweep's tenant results will not be judged.
 */
async function fanOut(
  deps: AppDeps,
  ledger: SweepLedger,
  queue: TenantQueue,
  sweepId: string,
  tenantIds: string[],
): Promise<{ enqueue: EnqueueOutcome; unjudged: string[] }> {
  let unjudged: string[] = [];
  try {
    unjudged = await ledger.pendingBefore(sweepId);
    if (tenantIds.length > 0) await ledger.open(sweepId, tenantIds.length, deps.now());
  } catch (error) {
    deps.metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
    deps.logger.error("the sweep table cannot be used: this sweep's tenant results will not be judged", {
      sweepId,
      error: describeError(error),
    });
  }
  const enqueue = await queue.send(tenantIds.map((tenantId) => ({ tenantId, runId: sweepId })));
  return { enqueue, unjudged };
}
