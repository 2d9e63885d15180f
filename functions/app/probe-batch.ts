/**
 * A batch of tenant messages from the sweep: messages past their sweep's drain deadline dropped
 * (counted, not probed), the others' tenants probed concurrently on one set of ports with the
 * scheduled config (deferred round trips), each sweep's tenants recorded in the sweep ledger (one
 * item per sweep), the sweeps this batch may complete judged when time allows, and only the
 * records that could not be probed reported failed and handed back to the queue for a retry after
 * a short delay (Powertools batch; after maxReceiveCount SQS moves them to the dead-letter queue,
 * inside their sweep's drain deadline). A stale record that was delivered before (it failed) is
 * handed back too, never deleted, so a cause that fails again ends in the dead-letter queue.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Config } from '../core/config.ts';
import { describeError, errorClass } from '../core/errors.ts';
import { parseTenantMessage } from '../core/events.ts';
import { isStale, scheduledProbeConfig } from '../core/sweep-protocol.ts';
import { METRIC } from '../core/telemetry.ts';
import type { CheckResult } from '../core/types.ts';
import type { OpenPorts, SweepTenantResults, TenantSource } from '../ports.ts';
import type { AppDeps } from './deps.ts';
import { judgeSweepIfDue, publishAlerts } from './judge-sweep.ts';
import { logTenantReport, recordResultMetrics } from './telemetry.ts';
import { probeTenant } from './tenants.ts';
import { withPorts } from './with-ports.ts';

/** A record whose tenant could not be probed: SQS delivers it again, then to the DLQ. */
export const TenantNotProbedError = errorClass('TenantNotProbedError', 'not-probed');

export async function probeBatch(
  deps: AppDeps,
  event: SQSEvent,
  context: Context | undefined,
  signal: AbortSignal | undefined,
): Promise<SQSBatchResponse> {
  const { logger, metrics } = deps;
  // A config or tenant list that cannot be read fails the whole batch: SQS delivers it again.
  const loaded = scheduledProbeConfig(await deps.config());
  // Only this batch's tenants (and their peers, for the cross-tenant checks) are read, secrets included.
  const config = await batchConfig(loaded, deps.tenantSource(loaded), event.Records);
  const known = new Set(config.tenants.map((tenant) => tenant.tenantId));
  const results: CheckResult[] = [];
  // Results of messages from no sweep (sent by hand): judged with this batch alone.
  const unswept: { results: CheckResult[]; tenants: string[] } = { results: [], tenants: [] };
  /** Each sweep's tenants of this batch: recorded together (one ledger item, one count) after probing. */
  const swept = new Map<string, SweepTenantResults[]>();
  const sweptTenant = (sweepId: string, tenantId: string, tenantResults: readonly CheckResult[]) => {
    const list = swept.get(sweepId) ?? [];
    list.push({ tenantId, results: tenantResults });
    swept.set(sweepId, list);
  };

  const probeRecord = async (ports: OpenPorts, record: SQSRecord): Promise<void> => {
    const message = parseTenantMessage(record.body);
    const log = logger.createChild({
      persistentKeys: { tenantId: message.tenantId, messageId: record.messageId, sweepRunId: message.runId },
    });
    if (isStale(message.deadline, deps.now())) {
      // Its sweep has been judged (or is being): probing now would be traffic nobody reads.
      const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
      if (receiveCount > 1) {
        // Delivered before and not deleted: it failed (or its invocation died), for a cause that may
        // fail again. Handed back, not deleted, so after maxReceiveCount it is in the dead-letter queue.
        metrics.addMetric(METRIC.staleRedeliveriesHandedBack, MetricUnit.Count, 1);
        throw new TenantNotProbedError(
          `tenant ${message.tenantId}: delivered again (receive ${receiveCount}) after its sweep's drain deadline; not probed, on its way to the dead-letter queue`,
        );
      }
      metrics.addMetric(METRIC.staleMessagesDropped, MetricUnit.Count, 1);
      log.warn("message delivered after its sweep's drain deadline; dropped, not probed", {
        deadline: message.deadline,
        receiveCount,
      });
      return;
    }
    if (!known.has(message.tenantId)) {
      // Gone since the sweep listed it (deactivated): nothing to retry, but it counts as reported.
      log.warn('tenant is no longer among the canary tenants; message dropped');
      if (message.runId !== undefined) sweptTenant(message.runId, message.tenantId, []);
      return;
    }
    const outcome = await probeTenant({
      config,
      ports,
      secrets: deps.secrets,
      tenantId: message.tenantId,
      signal,
      checks: deps.checks,
      sampling: message.sampling,
    });
    results.push(...outcome.report.results);
    logTenantReport(log, outcome.report);
    if (message.runId === undefined) {
      unswept.results.push(...outcome.report.results);
      unswept.tenants.push(message.tenantId);
    } else {
      // Recorded even when the record fails below: the sweep completes (a redelivery is not judged twice).
      sweptTenant(message.runId, message.tenantId, outcome.report.results);
    }
    if (outcome.unprobed !== undefined) {
      throw new TenantNotProbedError(`tenant ${message.tenantId}: ${outcome.unprobed}`);
    }
  };

  const response = await withPorts(deps.openPorts, config, (ports) =>
    processPartialResponse(
      event,
      async (record: SQSRecord) => {
        try {
          await probeRecord(ports, record);
        } catch (error) {
          logger.error('record failed; SQS delivers it again, then to the dead-letter queue', {
            messageId: record.messageId,
            error: describeError(error),
          });
          throw error;
        }
      },
      new BatchProcessor(EventType.SQS),
      {
        ...(context ? { context } : {}),
        // Every record failing is still a partial-batch answer, not a function error.
        throwOnFullBatchFailure: false,
      },
    ),
  );

  await handBack(deps, event.Records, response);

  // Counts the tenants into their sweep; the probe that may complete a sweep tries to judge it.
  const complete = new Set<string>();
  for (const [sweepId, tenants] of swept) {
    try {
      const ledger = await deps.sweepLedger();
      const outcome = await ledger.report(sweepId, tenants, deps.now());
      if (outcome.mayBeComplete) complete.add(sweepId);
      if (outcome.late) {
        metrics.addMetric(METRIC.lateResults, MetricUnit.Count, tenants.length);
        logger.warn('results arrived after their sweep was judged: not in its judgement', {
          sweepRunId: sweepId,
          tenantIds: tenants.map((t) => t.tenantId),
        });
      }
    } catch (error) {
      // The probing itself succeeded: do not make SQS deliver it again for this.
      metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
      logger.error("the tenants' results could not be recorded for their sweep's alerts", {
        sweepRunId: sweepId,
        tenantIds: tenants.map((t) => t.tenantId),
        error: describeError(error),
      });
    }
  }
  recordResultMetrics(metrics, results);
  if (unswept.tenants.length > 0) await publishAlerts(deps, logger, config, unswept.results, unswept.tenants);
  const judged: Record<string, string> = {};
  for (const sweepId of complete) {
    // Judging must fit in what is left of this invocation; otherwise the next sweep judges it.
    judged[sweepId] = await judgeSweepIfDue(deps, logger, config, sweepId, {
      ...(context ? { remainingMs: () => context.getRemainingTimeInMillis() } : {}),
    });
  }
  logger.info('batch done', {
    records: event.Records.length,
    failed: response.batchItemFailures.length,
    judged,
  });
  return response;
}

/**
 * The records that failed come back after the queue's short retry delay, not its visibility
 * timeout (6 x the function's): their retries, and after maxReceiveCount the dead-letter queue,
 * land while their sweep is still being drained, instead of long after it, dropped as stale.
 */
async function handBack(deps: AppDeps, records: readonly SQSRecord[], response: SQSBatchResponse): Promise<void> {
  if (response.batchItemFailures.length === 0) return;
  const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
  const handed = records
    .filter((record) => failed.has(record.messageId) && typeof record.receiptHandle === 'string')
    .map((record) => ({ messageId: record.messageId, receiptHandle: record.receiptHandle }));
  let unchanged: string[];
  try {
    ({ unchanged } = await (await deps.tenantQueue()).retryLater(handed));
  } catch (error) {
    unchanged = handed.map((record) => record.messageId);
    deps.logger.warn('the probe queue could not be reached to retry failed records', { error: describeError(error) });
  }
  if (unchanged.length > 0) {
    deps.logger.warn("failed records come back after the queue's visibility timeout, not the retry delay", {
      messageIds: unchanged,
    });
  }
}

/**
 * The config a batch runs with: for the database source, `tenants` holds only the batch's tenants
 * and their peers, read with one lookup (cached per container); the static source is the config.
 */
async function batchConfig(config: Config, source: TenantSource, records: readonly SQSRecord[]): Promise<Config> {
  if (config.tenantSource.type === 'static') return config;
  const ids = new Set<string>();
  for (const record of records) {
    try {
      const message = parseTenantMessage(record.body);
      ids.add(message.tenantId);
      if (message.peer !== undefined) ids.add(message.peer);
    } catch {
      // A malformed record fails on its own below.
    }
  }
  const listing = await source.lookup([...ids]);
  return { ...config, tenants: listing.tenants };
}
