/**
 * The Lambda context the bench hands a probe handler or Powertools Logger, as Lambda builds it:
 * its fields are in every log line the bench measures, so they look like a deployed function's.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

export function benchLambdaContext(
  options: { functionName?: string; memoryMb?: number; logStreamName?: string; awsRequestId?: string } = {},
): Context {
  const functionName = options.functionName ?? 'TenantCanary-Probe';
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: String(options.memoryMb ?? 1024),
    awsRequestId: options.awsRequestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: options.logStreamName ?? '2026/12/01/[$LATEST]0123456789abcdef0123456789abcdef',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 200_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
