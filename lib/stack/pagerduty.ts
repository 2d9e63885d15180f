/**
 * The PagerDuty forwarder: subscribed to the configured tiers' topics, outside the VPC (it talks
 * to PagerDuty and Secrets Manager only), reading only the routing key. An event it cannot
 * deliver fails the invocation: Lambda tries twice more, then parks it in its dead-letter queue.
 */
import { Duration, type Stack } from 'aws-cdk-lib';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { LAMBDA_ENV } from '../../functions/core/lambda-env.ts';
import type { Tier } from '../../functions/core/types.ts';
import type { CanaryFunction } from '../canary-function.ts';
import type { AlertTopics } from './alert-topics.ts';
import { deadLetterQueue } from './dead-letter-queue.ts';
import { canaryFunction, type FunctionDefaults } from './function-defaults.ts';
import { allowOwnLogs, allowReadSecrets, functionRole } from './grants.ts';

export interface PagerDutySettings {
  routingKey: { secretId: string; jsonKey?: string | undefined };
  tiers: readonly Tier[];
  url: string;
}

export interface PagerDutyForwarder {
  forwarder: CanaryFunction;
  /** The events it could not deliver. */
  deadLetters: sqs.Queue;
}

export function createPagerDutyForwarder(
  stack: Stack,
  settings: PagerDutySettings,
  context: { defaults: FunctionDefaults; alerts: AlertTopics; kmsKeyArns: readonly string[] },
): PagerDutyForwarder {
  const { routingKey } = settings;
  const deadLetters = deadLetterQueue(stack, 'PagerDutyDeadLetters');
  const role = functionRole(stack, 'PagerDutyRole', 'tenant-canary PagerDuty forwarder', {});
  const forwarder = canaryFunction(stack, 'PagerDuty', context.defaults, {
    entry: 'functions/handlers/pagerduty.ts',
    description: 'tenant-canary: alerts of the PagerDuty tiers to the Events API v2 (trigger, resolve by dedup key)',
    role,
    timeout: Duration.seconds(60),
    memorySize: 256,
    environment: {
      [LAMBDA_ENV.pagerdutyUrl]: settings.url,
      [LAMBDA_ENV.pagerdutySecretId]: routingKey.secretId,
      ...(routingKey.jsonKey === undefined ? {} : { [LAMBDA_ENV.pagerdutyJsonKey]: routingKey.jsonKey }),
    },
  });
  forwarder.configureAsyncInvoke({ retryAttempts: 2, onFailure: new destinations.SqsDestination(deadLetters) });
  for (const tier of settings.tiers) {
    context.alerts.topics[tier].addSubscription(
      new subscriptions.LambdaSubscription(forwarder, { deadLetterQueue: context.alerts.deliveryDeadLetters }),
    );
  }
  allowOwnLogs(role, forwarder);
  allowReadSecrets(
    stack,
    role,
    { read: 'ReadRoutingKey', decrypt: 'DecryptRoutingKey' },
    [routingKey.secretId],
    context.kmsKeyArns,
  );
  return { forwarder, deadLetters };
}
