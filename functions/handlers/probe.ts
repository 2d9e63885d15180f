/**
 * The probe function. Three ways in:
 * - an SQS batch from the sweep (functions/app/probe-batch.ts);
 * - a direct invocation `{"tenantId": "...", "publish"?: boolean}`: returns the report;
 * - its Function URL (AWS_IAM auth), POST with that body: returns the report as JSON.
 * A malformed event gets a clear error answer (`{error}`, or HTTP 400), never an exception.
 */
import type { Context, LambdaFunctionURLEvent, LambdaFunctionURLResult, SQSBatchResponse } from 'aws-lambda';
import type { AppDeps } from '../app/deps.ts';
import { runOnDemand } from '../app/on-demand.ts';
import { probeBatch } from '../app/probe-batch.ts';
import { deadlineSignal } from '../core/concurrency.ts';
import { describeError } from '../core/errors.ts';
import { classifyEvent, parseOnDemandRequest, parseUrlBody } from '../core/events.ts';
import type { Report } from '../core/types.ts';
import { errorAnswer, json } from './answers.ts';
import { createLambdaDeps } from './runtime.ts';

/** The answer to a direct invocation that could not run. */
export interface ErrorBody {
  error: string;
}

const PUBLISH_OFF = 'publishing from an on-demand call is off (deployment.onDemand.allowUrlPublish)';

export type ProbeAnswer = SQSBatchResponse | Report | ErrorBody | LambdaFunctionURLResult;

export function createProbeHandler(deps: AppDeps) {
  return async (event: unknown, context?: Context): Promise<ProbeAnswer> => {
    const { logger, metrics } = deps;
    if (context) logger.addContext(context);
    const signal = deadlineSignal(context?.getRemainingTimeInMillis());
    try {
      const classified = classifyEvent(event);
      switch (classified.kind) {
        case 'sqs':
          return await probeBatch(deps, classified.event, context, signal);
        case 'url':
          return await handleUrl(deps, classified.event, signal);
        case 'direct':
          return await handleDirect(deps, classified.event, signal);
      }
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

async function handleDirect(
  deps: AppDeps,
  event: unknown,
  signal: AbortSignal | undefined,
): Promise<Report | ErrorBody> {
  try {
    const request = parseOnDemandRequest(event);
    // The same switch as the URL: whoever may invoke the function could otherwise page on call.
    if (request.publish === true && deps.urlPublishAllowed?.() !== true) return { error: PUBLISH_OFF };
    return await runOnDemand(deps, request, signal);
  } catch (error) {
    return { error: refused(deps, error).message };
  }
}

async function handleUrl(
  deps: AppDeps,
  event: LambdaFunctionURLEvent,
  signal: AbortSignal | undefined,
): Promise<LambdaFunctionURLResult> {
  const method = event.requestContext.http.method;
  if (method !== 'POST') {
    return json(405, { error: `use POST with {"tenantId": "..."} (not ${method})` }, { Allow: 'POST' });
  }
  try {
    const request = parseUrlBody(event);
    if (request.publish === true && deps.urlPublishAllowed?.() !== true) {
      // Any caller allowed to invoke the URL could otherwise page on call.
      return json(403, { error: PUBLISH_OFF });
    }
    return json(200, await runOnDemand(deps, request, signal));
  } catch (error) {
    const answer = refused(deps, error);
    return json(answer.status, { error: answer.message });
  }
}

function refused(deps: AppDeps, error: unknown) {
  const answer = errorAnswer(error);
  deps.logger[answer.status >= 500 ? 'error' : 'warn']('on-demand request refused', { error: describeError(error) });
  return answer;
}

let production: ReturnType<typeof createProbeHandler> | undefined;

/** The Lambda entry point. */
export const handler = (event: unknown, context: Context): Promise<ProbeAnswer> => {
  production ??= createProbeHandler(createLambdaDeps());
  return production(event, context);
};
