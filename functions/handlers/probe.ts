/**
 * The probe function. Three ways in:
 * - an SQS batch from the sweep: the batch's tenants probed concurrently, alerts published,
 *   and only the records that could not be probed reported as failed (Powertools batch);
 * - a direct invocation `{"tenantId": "...", "publish"?: boolean}`: returns the report;
 * - its Function URL (AWS_IAM auth), POST with that body: returns the report as JSON.
 * A malformed event gets a clear error answer (`{error}`, or HTTP 400), never an exception.
 */

import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type {
  Context,
  LambdaFunctionURLEvent,
  LambdaFunctionURLResult,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import { type Config, ConfigError } from '../core/config.ts';
import { countStatuses } from '../core/results.ts';
import { METRIC } from '../core/telemetry.ts';
import type { CheckResult, Report } from '../core/types.ts';
import { probeTenant, UnknownTenantError } from '../fanout.ts';
import { deadlineSignal, describe, judgeSweep, publishAlerts } from './alerts.ts';
import {
  classifyEvent,
  EventError,
  type OnDemandRequest,
  parseOnDemandRequest,
  parseTenantMessage,
  parseUrlBody,
} from './events.ts';
import { createLambdaDeps, type LambdaDeps } from './runtime.ts';
import { recordResultMetrics } from './telemetry.ts';

/** The answer to a direct invocation that could not run. */
export interface ErrorAnswer {
  error: string;
}

export type ProbeAnswer = SQSBatchResponse | Report | ErrorAnswer | LambdaFunctionURLResult;

/** A record whose tenant could not be probed: SQS delivers it again, then to the DLQ. */
export class TenantNotProbedError extends Error {
  override name = 'TenantNotProbedError';
}

export function createProbeHandler(deps: LambdaDeps) {
  return async (event: unknown, context?: Context): Promise<ProbeAnswer> => {
    const { logger, metrics } = deps;
    if (context) logger.addContext(context);
    try {
      const classified = classifyEvent(event);
      switch (classified.kind) {
        case 'sqs':
          return await handleBatch(deps, classified.event, context);
        case 'url':
          return await handleUrl(deps, classified.event, context);
        case 'direct':
          return await handleDirect(deps, classified.event, context);
      }
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

/** The config with the tenant list of the config's tenant source (static, or the platform's database). */
async function configWithTenants(deps: LambdaDeps): Promise<Config> {
  const config = await deps.config();
  if (config.tenantSource.type === 'static') return config;
  const listing = await deps.tenantSource(config).list();
  return { ...config, tenants: listing.tenants };
}

async function handleBatch(deps: LambdaDeps, event: SQSEvent, context: Context | undefined): Promise<SQSBatchResponse> {
  const { logger, metrics } = deps;
  // A config or tenant list that cannot be read fails the whole batch: SQS delivers it again.
  const config = await configWithTenants(deps);
  const known = new Set(config.tenants.map((tenant) => tenant.tenantId));
  const ports = await deps.openPorts(config);
  const signal = deadlineSignal(context?.getRemainingTimeInMillis());
  const results: CheckResult[] = [];
  // Results of messages from no sweep (sent by hand): judged with this batch alone.
  const unswept: { results: CheckResult[]; tenants: string[] } = { results: [], tenants: [] };
  const complete = new Set<string>();
  /** Each sweep's tenants of this batch: recorded together (one ledger item, one count) after probing. */
  const swept = new Map<string, { tenantId: string; results: readonly CheckResult[] }[]>();
  const sweptTenant = (sweepId: string, tenantId: string, tenantResults: readonly CheckResult[]) => {
    const list = swept.get(sweepId) ?? [];
    list.push({ tenantId, results: tenantResults });
    swept.set(sweepId, list);
  };
  /** Counts the tenants into their sweep; the probe that completes a sweep judges it. */
  const report = async (sweepId: string, tenants: { tenantId: string; results: readonly CheckResult[] }[]) => {
    try {
      const ledger = await deps.sweepLedger();
      if ((await ledger.report(sweepId, tenants, deps.now())).claimed) complete.add(sweepId);
    } catch (error) {
      // The probing itself succeeded: do not make SQS deliver it again for this.
      metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
      logger.error("the tenants' results could not be recorded for their sweep's alerts", {
        sweepRunId: sweepId,
        tenantIds: tenants.map((t) => t.tenantId),
        error: describe(error),
      });
    }
  };
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    try {
      await probeRecord(record);
    } catch (error) {
      logger.error('record failed; SQS delivers it again, then to the dead-letter queue', {
        messageId: record.messageId,
        error: describe(error),
      });
      throw error;
    }
  };
  const probeRecord = async (record: SQSRecord): Promise<void> => {
    const message = parseTenantMessage(record.body);
    const log = logger.createChild({
      persistentKeys: { tenantId: message.tenantId, messageId: record.messageId, sweepRunId: message.runId },
    });
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
      ...(signal ? { signal } : {}),
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
    if (outcome.unprobed !== undefined)
      throw new TenantNotProbedError(`tenant ${message.tenantId}: ${outcome.unprobed}`);
  };
  let response: SQSBatchResponse;
  try {
    response = await processPartialResponse(event, recordHandler, new BatchProcessor(EventType.SQS), {
      ...(context ? { context } : {}),
      // Every record failing is still a partial-batch answer, not a function error.
      throwOnFullBatchFailure: false,
    });
  } finally {
    await ports.close();
  }
  for (const [sweepId, tenants] of swept) await report(sweepId, tenants);
  const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
  recordResultMetrics(metrics, results);
  if (unswept.tenants.length > 0) await publishAlerts(deps, logger, config, unswept.results, unswept.tenants);
  for (const sweepId of complete) await judgeSweep(deps, logger, config, sweepId);
  logger.info('batch done', { records: event.Records.length, failed: failed.size, sweepsJudged: complete.size });
  return response;
}

async function runOnDemand(deps: LambdaDeps, request: OnDemandRequest, context: Context | undefined): Promise<Report> {
  const config = await configWithTenants(deps);
  const log = deps.logger.createChild({ persistentKeys: { tenantId: request.tenantId, onDemand: true } });
  const ports = await deps.openPorts(config);
  let report: Report;
  try {
    const signal = deadlineSignal(context?.getRemainingTimeInMillis());
    ({ report } = await probeTenant({
      config,
      ports,
      secrets: deps.secrets,
      tenantId: request.tenantId,
      ...(signal ? { signal } : {}),
    }));
  } finally {
    await ports.close();
  }
  recordResultMetrics(deps.metrics, report.results);
  if (request.publish === true) {
    report.alerts = await publishAlerts(deps, log, config, report.results, [request.tenantId]);
  }
  logTenantReport(log, report);
  return report;
}

async function handleDirect(
  deps: LambdaDeps,
  event: unknown,
  context: Context | undefined,
): Promise<Report | ErrorAnswer> {
  try {
    return await runOnDemand(deps, parseOnDemandRequest(event), context);
  } catch (error) {
    const answer = errorAnswer(error);
    deps.logger[answer.status >= 500 ? 'error' : 'warn']('on-demand request refused', { error: describe(error) });
    return { error: answer.message };
  }
}

async function handleUrl(
  deps: LambdaDeps,
  event: LambdaFunctionURLEvent,
  context: Context | undefined,
): Promise<LambdaFunctionURLResult> {
  const method = event.requestContext.http.method;
  if (method !== 'POST') {
    return json(405, { error: `use POST with {"tenantId": "..."} (not ${method})` }, { Allow: 'POST' });
  }
  try {
    return json(200, await runOnDemand(deps, parseUrlBody(event), context));
  } catch (error) {
    const answer = errorAnswer(error);
    deps.logger[answer.status >= 500 ? 'error' : 'warn']('on-demand request refused', { error: describe(error) });
    return json(answer.status, { error: answer.message });
  }
}

/** What a caller is told: its own mistakes in full, ours by name only. */
function errorAnswer(error: unknown): { status: number; message: string } {
  if (error instanceof EventError) return { status: 400, message: error.message };
  if (error instanceof UnknownTenantError) return { status: 404, message: error.message };
  if (error instanceof ConfigError) return { status: 500, message: `the canary is misconfigured: ${error.message}` };
  return { status: 500, message: `the canary failed (${error instanceof Error ? error.name : 'error'}); see its logs` };
}

function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): LambdaFunctionURLResult {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

function logTenantReport(log: Logger, report: Report): void {
  log.info('tenant probed', {
    runId: report.runId,
    statuses: countStatuses(report.results),
    failing: report.results
      .filter((r) => r.status === 'fail' || r.status === 'error' || r.status === 'degraded')
      .map((r) => ({ checkId: r.checkId, status: r.status, tier: r.tier, summary: r.summary })),
  });
}

let production: ReturnType<typeof createProbeHandler> | undefined;

/** The Lambda entry point. */
export const handler = (event: unknown, context: Context): Promise<ProbeAnswer> => {
  production ??= createProbeHandler(createLambdaDeps());
  return production(event, context);
};
