/**
 * Where alerts go: one SNS topic per tier and a topic for the canary's own alarms, all encrypted
 * with a key CloudWatch alarms may use too (the AWS-managed SNS key does not allow it); every
 * subscription parks what SNS could not deliver in one dead-letter queue.
 */
import { Arn, ArnFormat, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { TIERS, type Tier } from '../../functions/core/types.ts';
import type { DeploymentSettings, SubscriptionConfig } from '../config.ts';
import { deadLetterQueue } from './dead-letter-queue.ts';

export interface AlertTopics {
  topics: Record<Tier, sns.Topic>;
  /** Encrypts every topic the stack creates. */
  topicKey: kms.Key;
  /** What SNS could not deliver to a subscription. */
  deliveryDeadLetters: sqs.Queue;
}

/** The tier topics with the configured subscriptions, their key and the delivery dead-letter queue. */
export function createAlertTopics(stack: Stack, deployment: DeploymentSettings): AlertTopics {
  const topicKey = new kms.Key(stack, 'TopicKey', {
    description: 'tenant-canary: encrypts the alert topics',
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  topicKey.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'], // in a key policy, "*" is this key
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }),
  );
  // Every subscription parks what SNS could not deliver here (alarmed), instead of dropping it.
  const deliveryDeadLetters = deadLetterQueue(stack, 'AlertDeliveryDeadLetters');
  const topics = Object.fromEntries(
    TIERS.map((tier) => {
      const topic = new sns.Topic(stack, `Alerts${tier}`, {
        displayName: `tenant-canary ${tier}`,
        masterKey: topicKey,
        enforceSSL: true,
      });
      for (const subscription of deployment.subscriptions[tier]) {
        topic.addSubscription(subscriptionOf(subscription, deliveryDeadLetters));
      }
      return [tier, topic];
    }),
  ) as Record<Tier, sns.Topic>;
  return { topics, topicKey, deliveryDeadLetters };
}

/**
 * The topic of the canary's own alarms: an existing one (`selfWatch.topicArn`), or one of its own
 * with `selfWatch.subscriptions` (default: P0's and P1's).
 */
export function createAlarmTopic(stack: Stack, deployment: DeploymentSettings, alerts: AlertTopics): sns.ITopic {
  const { selfWatch } = deployment;
  if (selfWatch.topicArn !== undefined) return sns.Topic.fromTopicArn(stack, 'CanaryAlarms', selfWatch.topicArn);
  const topic = new sns.Topic(stack, 'CanaryAlarms', {
    displayName: 'tenant-canary alarms',
    masterKey: alerts.topicKey,
    enforceSSL: true,
  });
  // A topic policy replaces SNS's default one: without this, CloudWatch may not publish the alarms.
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': alarmArnPattern(stack) },
      },
    }),
  );
  const seen = new Set<string>();
  const wanted = selfWatch.subscriptions ?? [...deployment.subscriptions.P0, ...deployment.subscriptions.P1];
  for (const subscription of wanted) {
    const id = JSON.stringify(subscription);
    if (seen.has(id)) continue;
    seen.add(id);
    topic.addSubscription(subscriptionOf(subscription, alerts.deliveryDeadLetters));
  }
  return topic;
}

/** An email or HTTPS subscription, parking what SNS cannot deliver in `deadLetterQueue`. */
function subscriptionOf(subscription: SubscriptionConfig, deadLetterQueue: sqs.IQueue): sns.ITopicSubscription {
  return 'email' in subscription
    ? new subscriptions.EmailSubscription(subscription.email, { deadLetterQueue })
    : new subscriptions.UrlSubscription(subscription.https, {
        protocol: sns.SubscriptionProtocol.HTTPS,
        rawMessageDelivery: subscription.rawMessageDelivery,
        deadLetterQueue,
      });
}

/** The ARNs of this stack's alarms (SelfWatch names each `<stack name>-<id>`). */
export function alarmArnPattern(stack: Stack): string {
  return Arn.format(
    {
      service: 'cloudwatch',
      resource: 'alarm',
      resourceName: `${stack.stackName}-*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    },
    stack,
  );
}
