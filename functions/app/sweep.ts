/**
 * The scheduled sweep: platform checks once, every tenant handed to the probe queue with the
 * sweep's drain deadline, platform alerts published, the sweeps now due judged (complete ones
 * nobody judged, and those past their deadline: functions/app/judge-sweep.ts), and a heartbeat
 * metric when it ran to the end (its absence is an alarm).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { planSweep } from '../core/budget.ts';
import { CATALOG, type CheckId } from '../core/catalog.ts';
import type { Config } from '../core/config.ts';
import { asError, describeError } from '../core/errors.ts';
import { countStatuses, isFailing } from '../core/results.ts';
import { failingOf, openPacedChecks, type PacedCheckId, periodSweeps } from '../core/sampling.ts';
import { scheduledProbeConfig, sweepDeadline } from '../core/sweep-protocol.ts';
import { sweepIdAt } from '../core/tables.ts';
import { METRIC } from '../core/telemetry.ts';
import type { Report } from '../core/types.ts';
import type { EnqueueOutcome, SweepLedger, TenantListing, TenantQueue } from '../ports.ts';
import { runChecks } from '../run.ts';
import { runAlertPath } from './alerting.ts';
import type { AppDeps } from './deps.ts';
import { type JudgeOutcome, judgeSweepIfDue } from './judge-sweep.ts';
import { recordResultMetrics } from './telemetry.ts';
import { withPorts } from './with-ports.ts';

const PLATFORM_CHECKS: CheckId[] = CATALOG.filter((entry) => entry.scope === 'platform').map((entry) => entry.id);

export interface SweepSummary {
  sweepId: string;
  /** The run id of the sweep's platform checks (their report's `runId`; not the sweep's id). */
  platformRunId: string;
  tenants: number;
  enqueued: number;
  notEnqueued: number;
  skippedTenants: number;
  platform: Record<string, number>;
  alerts: number;
  /** Due sweeps (earlier ones, or this one) this one judged, by outcome; `left`: no time left to judge. */
  judged: Partial<Record<JudgeOutcome, number>>;
}

/**
 * Runs one sweep. A tenant list that cannot be read does not stop the platform checks (they may
 * say why) nor their alerts; it is thrown afterwards, so the sweep fails loudly.
 */
export async function sweep(
  deps: AppDeps,
  signal?: AbortSignal,
  remainingMs: () => number = () => Number.POSITIVE_INFINITY,
  /**
   * When the schedule meant this sweep to run (its `scheduledTime`): exact, so consecutive sweeps
   * get consecutive numbers for sampling whatever the invocation's jitter. @default the opening time
   */
  scheduledAt?: Date,
): Promise<SweepSummary> {
  const { logger, metrics } = deps;
  const started = performance.now();
  const config = await deps.config();
  const queue = await deps.tenantQueue();
  const ledger = await deps.sweepLedger();
  const openedAt = deps.now();
  const sweepId = sweepIdAt(openedAt);
  const deadline = sweepDeadline(openedAt, config.run.sweepIntervalS);

  // Ports first: a sweep whose ports cannot open queues nothing.
  const { listing, listingError, report, enqueue } = await withPorts(deps.openPorts, config, async (ports) => {
    let listing: TenantListing | undefined;
    let listingError: Error | undefined;
    try {
      listing = await deps.tenantSource(config).list();
    } catch (error) {
      listingError = asError(error);
    }
    // Queued while the platform checks run.
    const queued =
      listing === undefined
        ? undefined
        : fanOut(
            deps,
            config,
            ledger,
            queue,
            { sweepId, deadline, openedAt, sweepAt: scheduledAt ?? openedAt },
            tenantIdsOf(listing),
          );
    // Platform probes use the first tenant as a positive control; only its secret is read.
    const platformReport: Report = await (deps.checks ?? runChecks)({
      config: { ...config, tenants: (listing?.tenants ?? config.tenants).slice(0, 1) },
      ports,
      secrets: deps.secrets,
      filters: { checkIds: PLATFORM_CHECKS },
      signal,
    });
    const enqueue = (await queued) ?? { sent: 0, failed: [] };
    return { listing, listingError, report: platformReport, enqueue };
  });
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
  report.alerts = await runAlertPath(
    deps,
    logger,
    config,
    { results: report.results, tenants: tenantIds, sweepId },
    { onFailure: 'log' },
  );
  const judged = await judgeDueSweeps(deps, ledger, config, remainingMs);
  const platform = countStatuses(report.results);
  logger.info('sweep done', {
    sweepId,
    platformRunId: report.runId,
    tenants: tenantIds.length,
    enqueued: enqueue.sent,
    notEnqueued: enqueue.failed.length,
    platform,
    judged,
    failing: report.results.filter((r) => isFailing(r.status)).map((r) => r.checkId),
  });
  // The platform checks ran and alerted; the tenants were not probed: fail loudly.
  if (listing === undefined) throw listingError ?? new Error('the tenant list could not be read');
  metrics.addMetric(METRIC.sweepDuration, MetricUnit.Milliseconds, Math.round(performance.now() - started));
  metrics.addMetric(METRIC.heartbeat, MetricUnit.Count, 1);
  return {
    sweepId,
    platformRunId: report.runId,
    tenants: tenantIds.length,
    enqueued: enqueue.sent,
    notEnqueued: enqueue.failed.length,
    skippedTenants: listing.skipped.length,
    platform,
    alerts: report.alerts.length,
    judged,
  };
}

const tenantIdsOf = (listing: TenantListing): string[] => listing.tenants.map((tenant) => tenant.tenantId);

/**
 * Judges every pending sweep that is due: complete (its completing probe could not judge it, or
 * died doing so) or past its drain deadline. This sweep's own is among them when it handed out no
 * tenant. A ledger that cannot be read is logged and counted; those sweeps stay pending.
 */
async function judgeDueSweeps(
  deps: AppDeps,
  ledger: SweepLedger,
  config: Config,
  remainingMs: () => number,
): Promise<Partial<Record<JudgeOutcome, number>>> {
  const counts: Partial<Record<JudgeOutcome, number>> = {};
  let pending: Awaited<ReturnType<SweepLedger['pending']>>;
  try {
    pending = await ledger.pending();
  } catch (error) {
    deps.metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
    deps.logger.error('the sweep ledger cannot be read: due sweeps are judged by a later sweep', {
      error: describeError(error),
    });
    return counts;
  }
  for (const status of pending) {
    const due = status.reported >= status.expected || deps.now().getTime() >= Date.parse(status.deadline);
    if (!due) continue;
    const outcome = await judgeSweepIfDue(deps, deps.logger, config, status.sweepId, { remainingMs });
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }
  return counts;
}

/**
 * Each tenant's sampled or rotated checks with an open incident in the alert state (the same store
 * the judge writes): a tenant whose accepted ticket, round trip or quality last failed runs every
 * sampled check this sweep, and a rotated probe with an open incident runs every sweep. A store
 * that cannot be read is logged and counted: the sweep samples as usual.
 */
async function openIncidents(deps: AppDeps): Promise<Map<string, Set<PacedCheckId>>> {
  try {
    return openPacedChecks(await (await deps.stateStore()).openKeys());
  } catch (error) {
    deps.metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
    deps.logger.error('the alert state cannot be read: failing tenants are sampled like the others this sweep', {
      error: describeError(error),
    });
    return new Map();
  }
}

/**
 * Opens the sweep in the ledger with its tenants and deadline (before any message is sent: the
 * first probe to report finds it), queues one message per tenant, and withdraws the tenants SQS
 * refused (they are not waited for). A ledger that cannot be used is logged and counted: the
 * tenants are still probed, but this sweep's tenant results will not be judged.
 */
async function fanOut(
  deps: AppDeps,
  config: Config,
  ledger: SweepLedger,
  queue: TenantQueue,
  sweep: { sweepId: string; deadline: Date; openedAt: Date; sweepAt: Date },
  tenantIds: string[],
): Promise<EnqueueOutcome> {
  const { sweepId, deadline } = sweep;
  let opened = false;
  try {
    await ledger.open(sweepId, tenantIds, deadline, sweep.openedAt);
    opened = true;
  } catch (error) {
    deps.metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
    deps.logger.error("the sweep ledger cannot be used: this sweep's tenant results will not be judged", {
      sweepId,
      error: describeError(error),
    });
  }
  // The open incidents decide who runs every sweep (sampling) and who does not confirm a failing
  // round trip again (deferred: every tenant would otherwise wait roundTripTimeoutS in every sweep
  // of an outage). A period of one sweep without deferred round trips needs no state.
  const sampled = periodSweeps(config.synthetic.acceptEveryMinutes, config.run.sweepIntervalS) > 1;
  const deferred = scheduledProbeConfig(config).run.roundTrip === 'deferred';
  const open = sampled || deferred ? await openIncidents(deps) : new Map<string, Set<PacedCheckId>>();
  const failing = failingOf(open);
  // Under the request budget: the tenants spread over the interval, the rejection probes rotated if need be.
  // Sampled as the probe will run them: deferred round trips when there is a database.
  const plan = planSweep({
    tenantIds,
    sweepAt: sweep.sweepAt,
    config: scheduledProbeConfig(config),
    failing,
    openRejections: open,
  });
  deps.logger.info('sweep paced under the request budget', {
    sweepId,
    requestBudgetRps: config.platform.requestBudgetRps,
    requests: plan.tenants.reduce((sum, tenant) => sum + tenant.requests, 0),
    rotation: plan.rotation,
    lastStartS: plan.lastStartS,
    failingTenants: failing.size,
  });
  if (!plan.fits) {
    deps.logger.warn('the request budget cannot cover this sweep inside its spread: the last tenants start late', {
      sweepId,
      requestBudgetRps: config.platform.requestBudgetRps,
      lastStartS: plan.lastStartS,
      spreadS: plan.spreadS,
      failingTenants: failing.size,
    });
  }
  // Each message names a peer (the next tenant in the plan's start order, never itself): a batch
  // of one still has a secret to forge with.
  const enqueue = await queue.send(
    plan.tenants.map(({ tenantId, decision, delayS }, i, planned) => {
      const peer = planned[(i + 1) % planned.length]?.tenantId;
      return {
        tenantId,
        runId: sweepId,
        deadline: deadline.toISOString(),
        ...(peer === undefined || peer === tenantId ? {} : { peer }),
        sampling: decision,
        ...(delayS > 0 ? { delaySeconds: delayS } : {}),
      };
    }),
  );
  if (opened && enqueue.failed.length > 0) {
    try {
      await ledger.withdraw(
        sweepId,
        enqueue.failed.map((failure) => failure.tenantId),
        deps.now(),
      );
    } catch (error) {
      // They stay expected: the sweep is judged at its deadline, naming them.
      deps.metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
      deps.logger.error('the tenants SQS refused could not be withdrawn from the sweep', {
        sweepId,
        error: describeError(error),
      });
    }
  }
  return enqueue;
}
