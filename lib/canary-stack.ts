/**
 * The deployed canary: a five-minute schedule invokes the sweep, which runs the platform checks
 * and queues every tenant; the probe function drains the queue (several tenants per
 * invocation) and answers on-demand calls through its IAM-authenticated Function URL. Alerts go
 * to one SNS topic per tier; alert state lives in a small DynamoDB table. The parts live in
 * `stack/`, each creating its resources in this stack (so their logical IDs are the stack's).
 */
import { CfnOutput, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { SERVICE_NAME } from '../functions/core/telemetry.ts';
import { TIERS, type Tier } from '../functions/core/types.ts';
import type { CanaryFunction } from './canary-function.ts';
import type { DeploymentConfig } from './config.ts';
import { SelfWatch } from './self-watch.ts';
import { createAlarmTopic, createAlertTopics } from './stack/alert-topics.ts';
import { functionDefaults } from './stack/function-defaults.ts';
import { createPagerDutyForwarder, type PagerDutyForwarder } from './stack/pagerduty.ts';
import { createSweepPipeline, scheduleSweeps } from './stack/sweep-pipeline.ts';
import { createTables } from './stack/tables.ts';

export { alarmArnPattern } from './stack/alert-topics.ts';

export interface TenantCanaryStackProps extends StackProps {
  config: DeploymentConfig;
  /** Where the files embedded in the bundles are written. @default a fresh temporary directory */
  embedDir?: string;
}

export class TenantCanaryStack extends Stack {
  readonly topics: Record<Tier, sns.Topic>;
  readonly stateTable: dynamodb.Table;
  readonly sweepTable: dynamodb.Table;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly sweep: CanaryFunction;
  readonly probe: CanaryFunction;
  readonly probeUrl: lambda.FunctionUrl;
  readonly schedule: scheduler.Schedule;
  /** Where the canary's own alarms go (created, or `deployment.selfWatch.topicArn`). */
  readonly alarmTopic: sns.ITopic;
  /** What SNS could not deliver to a subscription. */
  readonly deliveryDeadLetters: sqs.Queue;
  /** The PagerDuty forwarder and the events it could not deliver (with `alerts.pagerduty`). */
  readonly pagerDuty?: PagerDutyForwarder;

  constructor(scope: Construct, id: string, props: TenantCanaryStackProps) {
    super(scope, id, props);
    const { deployment } = props.config;
    const defaults = functionDefaults(this, props.config, props.embedDir);
    const alerts = createAlertTopics(this, deployment);
    this.topics = alerts.topics;
    this.deliveryDeadLetters = alerts.deliveryDeadLetters;
    const tables = createTables(this);
    this.stateTable = tables.stateTable;
    this.sweepTable = tables.sweepTable;
    const pipeline = createSweepPipeline(this, { config: props.config, defaults, alerts, tables });
    this.queue = pipeline.queue;
    this.deadLetterQueue = pipeline.deadLetterQueue;
    this.sweep = pipeline.sweep;
    this.probe = pipeline.probe;
    this.probeUrl = pipeline.probeUrl;
    const pagerduty = props.config.canary.alerts.pagerduty;
    if (pagerduty !== undefined && 'secretId' in pagerduty.routingKey) {
      this.pagerDuty = createPagerDutyForwarder(
        this,
        { ...pagerduty, routingKey: pagerduty.routingKey },
        { defaults, alerts, kmsKeyArns: deployment.secretsKmsKeyArns },
      );
    }
    this.schedule = scheduleSweeps(this, this.sweep, deployment);
    // The canary's own alarms go to a topic of their own: a broken alert path still reaches someone.
    this.alarmTopic = createAlarmTopic(this, deployment, alerts);
    const watch = this.watchItself(props.config, defaults.service);
    this.addOutputs(watch, deployment.paused);
    Tags.of(this).add('service', SERVICE_NAME);
    for (const [key, value] of Object.entries(deployment.tags)) Tags.of(this).add(key, value);
  }

  /** The canary's own alarms and dashboard. */
  private watchItself({ deployment }: DeploymentConfig, service: string): SelfWatch {
    return new SelfWatch(this, 'SelfWatch', {
      alarmTopic: this.alarmTopic,
      service,
      paused: deployment.paused,
      sweep: this.sweep,
      probe: this.probe,
      deadLetterQueue: this.deadLetterQueue,
      queue: this.queue,
      topics: this.topics,
      deliveryDeadLetters: [
        ['AlertDelivery', this.deliveryDeadLetters],
        ...(this.pagerDuty ? [['PagerDuty', this.pagerDuty.deadLetters] as const] : []),
      ],
      rateMinutes: deployment.schedule.rateMinutes,
      heartbeatMissedSweeps: deployment.alarms.heartbeatMissedSweeps,
      dlqDepth: deployment.alarms.dlqDepth,
      alarmTier: deployment.alarms.tier,
      probeLogGroupName: this.probe.logGroupRef.logGroupName,
      runbookUrl: deployment.selfWatch.runbookUrl,
    });
  }

  /** What an operator needs after a deploy: the URL to invoke, the topics, queues, tables and schedule. */
  private addOutputs(watch: SelfWatch, paused: boolean): void {
    new CfnOutput(this, 'ProbeFunctionUrl', {
      value: this.probeUrl.url,
      description: 'tenant-canary invoke --url <this> --tenant <id>',
    });
    new CfnOutput(this, 'ProbeFunctionName', { value: this.probe.functionName });
    for (const tier of TIERS) new CfnOutput(this, `Topic${tier}`, { value: this.topics[tier].topicArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      value: this.deadLetterQueue.queueUrl,
      description: 'tenants that could not be probed: redrive after fixing the cause',
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.alarmTopic.topicArn,
      description: "the canary's own alarms (subscribe the on-call here, e.g. PagerDuty's CloudWatch integration)",
    });
    new CfnOutput(this, 'DashboardName', { value: watch.dashboard.dashboardName });
    new CfnOutput(this, 'StateTableName', { value: this.stateTable.tableName });
    new CfnOutput(this, 'SweepTableName', { value: this.sweepTable.tableName });
    new CfnOutput(this, 'ScheduleName', {
      value: this.schedule.scheduleName,
      description: paused ? 'paused: deployment.paused is true' : 'the sweep schedule',
    });
  }
}
