/**
 * A batch of tenant messages from the sweep: each body parsed once; messages past their sweep's
 * drain deadline dropped (counted, not probed); the others' tenants probed together by one run
 * (functions/run.ts: its bounded concurrency and request pacing) on one set of ports with the
 * scheduled config (deferred round trips), each signing secret read once within the run's limit
 * (one slow secret fails only its tenant), each tenant forging with its message's peer; each
 * sweep's tenants recorded in the sweep ledger (one item per sweep), the sweeps this batch may
 * complete judged when time allows, and only the records that could not be probed reported failed
 * and handed back to the queue for a retry after a short delay (Powertools batch; after
 * maxReceiveCount SQS moves them to the dead-letter queue, inside their sweep's drain deadline). A
 * stale record that was delivered before (it failed) is handed back too, never deleted, so a cause
 * that fails again ends in the dead-letter queue.
 */

import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Config, SecretRef } from '../core/config.ts';
import { asError, describeError, errorClass, errorMessage } from '../core/errors.ts';
import { parseTenantMessage, type ReceivedTenantMessage } from '../core/events.ts';
import type { SamplingDecision } from '../core/sampling.ts';
import type { Secret } from '../core/secret.ts';
import { isStale, scheduledProbeConfig } from '../core/sweep-protocol.ts';
import { METRIC } from '../core/telemetry.ts';
import type { CheckResult, Report } from '../core/types.ts';
import type { Ports, SecretResolver, SweepTenantResults, TenantSource } from '../ports.ts';
import { runTenantChecks } from '../run-core.ts';
import { runAlertPath } from './alerting.ts';
import type { AppDeps } from './deps.ts';
import { judgeSweepIfDue } from './judge-sweep.ts';
import { logTenantReport, recordResultMetrics } from './telemetry.ts';
import { withPorts } from './with-ports.ts';

/** A record whose tenant could not be probed: SQS delivers it again, then to the DLQ. */
export const TenantNotProbedError = errorClass('TenantNotProbedError', 'not-probed');

/** A record of the batch: its body parsed once, and what becomes of it. */
interface BatchRecord {
  record: SQSRecord;
  /** Its body; undefined when malformed (then `failure` says why). */
  message: ReceivedTenantMessage | undefined;
  /** `probe`: its tenant is probed; `gone`: counted into its sweep with no results; `dropped`: neither. */
  fate: 'probe' | 'gone' | 'dropped';
  /** Why the record fails (SQS delivers it again). */
  failure?: Error;
}

export async function probeBatch(
  deps: AppDeps,
  event: SQSEvent,
  context: Context | undefined,
  signal: AbortSignal | undefined,
): Promise<SQSBatchResponse> {
  const { logger, metrics } = deps;
  // A config or tenant list that cannot be read fails the whole batch: SQS delivers it again.
  const loaded = scheduledProbeConfig(await deps.config());
  const parsed = event.Records.map(parseRecord);
  // Only this batch's tenants (and their peers, for the cross-tenant checks) are read, secrets included.
  const config = await batchConfig(loaded, deps.tenantSource(loaded), parsed);
  const known = new Set(config.tenants.map((tenant) => tenant.tenantId));
  const records = parsed.map((record) => decide(deps, known, record));
  const probing = records.filter((r) => r.fate === 'probe');

  const probed =
    probing.length === 0
      ? nothingProbed()
      : await withPorts(deps.openPorts, config, (ports) =>
          probeTenants(deps, { config, ports, records: probing, signal }),
        );

  // Powertools answers the partial batch: a record with a failure is reported failed.
  const failures = new Map(
    records.flatMap((r) => {
      const failure = failureOf(r, probed.unprobed);
      return failure === undefined ? [] : [[r.record.messageId, failure] as const];
    }),
  );
  const response = await processPartialResponse(
    event,
    async (record: SQSRecord) => {
      const failure = failures.get(record.messageId);
      if (failure === undefined) return;
      logger.error('record failed; SQS delivers it again, then to the dead-letter queue', {
        messageId: record.messageId,
        error: describeError(failure),
      });
      throw failure;
    },
    new BatchProcessor(EventType.SQS),
    {
      ...(context ? { context } : {}),
      // Every record failing is still a partial-batch answer, not a function error.
      throwOnFullBatchFailure: false,
    },
  );

  await handBack(deps, event.Records, response);

  const { swept, unswept } = groupBySweep(records, probed);
  const complete = await recordInSweeps(deps, swept);
  recordResultMetrics(metrics, probed.results);
  if (unswept.tenants.length > 0) await runAlertPath(deps, logger, config, unswept, { onFailure: 'log' });
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

/** A record with its body parsed (the one parse of it); a malformed body is the record's failure. */
function parseRecord(record: SQSRecord): BatchRecord {
  try {
    return { record, message: parseTenantMessage(record.body), fate: 'probe' };
  } catch (error) {
    return { record, message: undefined, fate: 'dropped', failure: asError(error) };
  }
}

/** What becomes of a parsed record: stale ones are dropped (or handed back), gone tenants counted in. */
function decide(deps: AppDeps, known: ReadonlySet<string>, entry: BatchRecord): BatchRecord {
  const { record, message } = entry;
  if (message === undefined) return entry;
  const log = deps.logger.createChild({
    persistentKeys: { tenantId: message.tenantId, messageId: record.messageId, sweepId: message.runId },
  });
  if (isStale(message.deadline, deps.now())) {
    // Its sweep has been judged (or is being): probing now would be traffic nobody reads.
    const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
    if (receiveCount > 1) {
      // Delivered before and not deleted: it failed (or its invocation died), for a cause that may
      // fail again. Handed back, not deleted, so after maxReceiveCount it is in the dead-letter queue.
      deps.metrics.addMetric(METRIC.staleRedeliveriesHandedBack, MetricUnit.Count, 1);
      const failure = new TenantNotProbedError(
        `tenant ${message.tenantId}: delivered again (receive ${receiveCount}) after its sweep's drain deadline; not probed, on its way to the dead-letter queue`,
      );
      return { ...entry, fate: 'dropped', failure };
    }
    deps.metrics.addMetric(METRIC.staleMessagesDropped, MetricUnit.Count, 1);
    log.warn("message delivered after its sweep's drain deadline; dropped, not probed", {
      deadline: message.deadline,
      receiveCount,
    });
    return { ...entry, fate: 'dropped' };
  }
  if (!known.has(message.tenantId)) {
    // Gone since the sweep listed it (deactivated): nothing to retry, but it counts as reported.
    log.warn('tenant is no longer among the canary tenants; message dropped');
    return { ...entry, fate: 'gone' };
  }
  return entry;
}

/** Why a record fails: its own failure, or its tenant could not be probed. */
function failureOf(entry: BatchRecord, unprobed: ReadonlyMap<string, string>): Error | undefined {
  if (entry.failure !== undefined || entry.fate !== 'probe' || entry.message === undefined) return entry.failure;
  const reason = unprobed.get(entry.message.tenantId);
  return reason === undefined ? undefined : new TenantNotProbedError(`tenant ${entry.message.tenantId}: ${reason}`);
}

interface ProbedTenants {
  /** Every result of the run. */
  results: CheckResult[];
  byTenant: Map<string, CheckResult[]>;
  /** Tenants that could not be probed, and why (their signing secret was not read, or the run failed). */
  unprobed: Map<string, string>;
  /** The run itself failed: no tenant of the batch has results (none is counted into its sweep). */
  runFailed: boolean;
}

/** No tenant probed (nothing to probe, or the run failed: then `unprobed` says why for each). */
function nothingProbed(unprobed: Map<string, string> = new Map(), runFailed = false): ProbedTenants {
  return { results: [], byTenant: new Map(), unprobed, runFailed };
}

/**
 * The batch's tenants in one run, each probed once however many of its messages the batch holds,
 * each signing secret read once (by the run, within its time limit). A tenant whose secret was not
 * read, or every tenant when the run fails, is unprobed: its records fail.
 */
async function probeTenants(
  deps: AppDeps,
  input: { config: Config; ports: Ports; records: readonly BatchRecord[]; signal: AbortSignal | undefined },
): Promise<ProbedTenants> {
  const { config, ports, signal } = input;
  const messages = input.records.flatMap((entry) => (entry.message === undefined ? [] : [entry.message]));
  const tenantIds = [...new Set(messages.map((message) => message.tenantId))];
  const secrets = readOnce(deps.secrets);
  let report: Report;
  try {
    report = await (deps.checks ?? runTenantChecks)({
      config,
      ports,
      secrets,
      filters: { tenantIds, platform: false },
      signal,
      sampling: samplingOf(messages),
      peers: peersOf(messages),
      // The sweep paced the tenants (each message delayed to its slot): a batch starts them at once.
      paced: false,
    });
  } catch (error) {
    deps.logger.error("the batch's run failed: none of its tenants is probed", {
      tenantIds,
      error: describeError(error),
    });
    const reason = `the run failed: ${errorMessage(error)}`;
    return nothingProbed(new Map(tenantIds.map((id) => [id, reason])), true);
  }
  const byTenant = new Map<string, CheckResult[]>();
  for (const result of report.results) {
    if (result.tenantId === null) continue;
    byTenant.set(result.tenantId, [...(byTenant.get(result.tenantId) ?? []), result]);
  }
  const tenants = config.tenants.filter((tenant) => tenantIds.includes(tenant.tenantId));
  const unprobed = new Map<string, string>();
  for (const tenant of tenants) {
    const unread = secrets.unread(tenant.signingSecret);
    if (unread !== undefined) unprobed.set(tenant.tenantId, `its signing secret cannot be read: ${unread}`);
  }
  // One line per tenant, naming every message of it the batch holds (and their sweeps).
  for (const tenantId of tenantIds) {
    const mine = input.records.filter((entry) => entry.message?.tenantId === tenantId);
    const sweepIds = [...new Set(mine.flatMap((entry) => entry.message?.runId ?? []))];
    const log = deps.logger.createChild({
      persistentKeys: {
        tenantId,
        messageIds: mine.map((entry) => entry.record.messageId),
        ...(sweepIds.length === 1 ? { sweepId: sweepIds[0] } : { sweepIds }),
      },
    });
    logTenantReport(log, { runId: report.runId, results: byTenant.get(tenantId) ?? [] });
  }
  return { results: report.results, byTenant, unprobed, runFailed: false };
}

/** A resolver that reads each secret once for this batch, and tells which reads failed or were abandoned. */
interface BatchSecrets extends SecretResolver {
  /** Why `ref` was not read (rejected, or abandoned by its reader at its time limit); undefined: read. */
  unread(ref: SecretRef): string | undefined;
}

function readOnce(secrets: SecretResolver): BatchSecrets {
  const reads = new Map<SecretRef, Promise<Secret>>();
  const unread = new Map<SecretRef, string>();
  return {
    resolve(ref, abandoned) {
      let read = reads.get(ref);
      if (read === undefined) {
        read = secrets.resolve(ref, abandoned);
        reads.set(ref, read);
        let settled = false;
        read.then(
          () => {
            settled = true;
          },
          (error: unknown) => {
            settled = true;
            unread.set(ref, errorMessage(error));
          },
        );
        abandoned?.addEventListener(
          'abort',
          () => {
            if (!settled) unread.set(ref, 'not read in time (its reader stopped waiting)');
          },
          { once: true },
        );
      }
      return read;
    },
    resolveDatabaseUrl: (secretId) => secrets.resolveDatabaseUrl(secretId),
    unread: (ref) => unread.get(ref),
  };
}

/** Each tenant's peer (the first message of it that names one): its cross-tenant checks forge with it. */
function peersOf(messages: readonly ReceivedTenantMessage[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const { tenantId, peer } of messages) {
    if (peer !== undefined && !out.has(tenantId)) out.set(tenantId, peer);
  }
  return out;
}

/**
 * Each tenant's sampling for the run. A tenant with two messages in the batch (of two sweeps, or
 * delivered twice) runs what either asks for: a check is not due only when neither message runs
 * it, and a message without sampling (sent by hand) runs every check.
 */
function samplingOf(messages: readonly ReceivedTenantMessage[]): Map<string, SamplingDecision> {
  const out = new Map<string, SamplingDecision>();
  const everyCheck = new Set<string>();
  for (const { tenantId, sampling } of messages) {
    if (everyCheck.has(tenantId)) continue;
    if (sampling === undefined) {
      everyCheck.add(tenantId);
      out.delete(tenantId);
      continue;
    }
    const earlier = out.get(tenantId);
    if (earlier === undefined) {
      out.set(tenantId, sampling);
      continue;
    }
    const nextAt = new Map(sampling.notDue.map((entry) => [entry.checkId, entry.nextAt]));
    out.set(tenantId, {
      // Not due for either message: it runs at the sooner of the two times.
      notDue: earlier.notDue.flatMap((entry) => {
        const other = nextAt.get(entry.checkId);
        if (other === undefined) return [];
        return [Date.parse(other) < Date.parse(entry.nextAt) ? { ...entry, nextAt: other } : entry];
      }),
      failing: earlier.failing || sampling.failing,
    });
  }
  return out;
}

/**
 * Each sweep's tenants of this batch, to be recorded together (one ledger item, one count), and the
 * tenants of messages from no sweep (sent by hand), judged with this batch alone. A tenant is
 * recorded even when its record failed (its secret was not read): the sweep completes (a redelivery
 * is not judged twice). When the run itself failed, no probed tenant is recorded: their records
 * come back and are probed then.
 */
function groupBySweep(
  records: readonly BatchRecord[],
  probed: Pick<ProbedTenants, 'byTenant' | 'runFailed'>,
): { swept: Map<string, SweepTenantResults[]>; unswept: { results: CheckResult[]; tenants: string[] } } {
  const { byTenant } = probed;
  const swept = new Map<string, SweepTenantResults[]>();
  const unswept = { results: [] as CheckResult[], tenants: [] as string[] };
  for (const { message, fate } of records) {
    if (message === undefined || fate === 'dropped' || (fate === 'probe' && probed.runFailed)) continue;
    const { tenantId, runId: sweepId } = message;
    const results = fate === 'gone' ? [] : (byTenant.get(tenantId) ?? []);
    if (sweepId === undefined) {
      if (fate === 'probe' && !unswept.tenants.includes(tenantId)) {
        unswept.results.push(...results);
        unswept.tenants.push(tenantId);
      }
      continue;
    }
    const list = swept.get(sweepId) ?? [];
    if (!list.some((entry) => entry.tenantId === tenantId)) list.push({ tenantId, results });
    swept.set(sweepId, list);
  }
  return { swept, unswept };
}

/** Counts the tenants into their sweeps; returns the sweeps this batch may have completed. */
async function recordInSweeps(deps: AppDeps, swept: ReadonlyMap<string, SweepTenantResults[]>): Promise<Set<string>> {
  const { logger, metrics } = deps;
  const complete = new Set<string>();
  for (const [sweepId, tenants] of swept) {
    try {
      const ledger = await deps.sweepLedger();
      const outcome = await ledger.report(sweepId, tenants, deps.now());
      if (outcome.mayBeComplete) complete.add(sweepId);
      if (outcome.late) {
        metrics.addMetric(METRIC.lateResults, MetricUnit.Count, tenants.length);
        logger.warn('results arrived after their sweep was judged: not in its judgement', {
          sweepId,
          tenantIds: tenants.map((t) => t.tenantId),
        });
      }
    } catch (error) {
      // The probing itself succeeded: do not make SQS deliver it again for this.
      metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
      logger.error("the tenants' results could not be recorded for their sweep's alerts", {
        sweepId,
        tenantIds: tenants.map((t) => t.tenantId),
        error: describeError(error),
      });
    }
  }
  return complete;
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
async function batchConfig(config: Config, source: TenantSource, records: readonly BatchRecord[]): Promise<Config> {
  if (config.tenantSource.type === 'static') return config;
  const ids = new Set<string>();
  for (const { message } of records) {
    if (message === undefined) continue; // a malformed record fails on its own
    ids.add(message.tenantId);
    if (message.peer !== undefined) ids.add(message.peer);
  }
  const listing = await source.lookup([...ids]);
  return { ...config, tenants: listing.tenants };
}
