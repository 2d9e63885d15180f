/**
 * The deployed canary: a five-minute schedule invokes the sweep, which runs the platform checks
 * and queues every tenant; the probe function drains the queue (several tenants per
 * invocation) and answers on-demand calls through its IAM-authenticated Function URL. Alerts go
 * to one SNS topic per tier; alert state lives in a small DynamoDB table.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Arn, ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { LAMBDA_ENV } from '../functions/core/lambda-env.ts';
import { STATE_TABLE, SWEEP_TABLE } from '../functions/core/tables.ts';
import { SERVICE_NAME } from '../functions/core/telemetry.ts';
import { TIERS, type Tier } from '../functions/core/types.ts';
import { CanaryFunction, writeEmbedDir } from './canary-function.ts';
import type { DeploymentConfig, SubscriptionConfig } from './config.ts';
import { CanaryNetwork, type Placement } from './network.ts';
import { SelfWatch } from './self-watch.ts';

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
  readonly pagerDuty?: { forwarder: CanaryFunction; deadLetters: sqs.Queue };

  constructor(scope: Construct, id: string, props: TenantCanaryStackProps) {
    super(scope, id, props);
    const { deployment } = props.config;
    // The heartbeat URL may itself be a secret: the functions that judge sweeps read it.
    const heartbeat = deployment.heartbeatUrl;
    const withHeartbeat = (ids: readonly string[]) => [
      ...ids,
      ...(typeof heartbeat === 'object' && !ids.includes(heartbeat.secretId) ? [heartbeat.secretId] : []),
    ];
    // The probe never opens Redis: it does not read the Redis password.
    const secretIds = {
      sweep: withHeartbeat(props.config.secretIds),
      probe: withHeartbeat(props.config.probeSecretIds),
    };
    const embedDir = props.embedDir ?? mkdtempSync(join(tmpdir(), 'tenant-canary-embed-'));
    writeEmbedDir(embedDir, props.config.embedded, props.config.caFiles);

    // Alert topics, encrypted with a key CloudWatch alarms may use too (the AWS-managed SNS key does not allow it).
    const topicKey = new kms.Key(this, 'TopicKey', {
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
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    // Every subscription parks what SNS could not deliver here (alarmed), instead of dropping it.
    this.deliveryDeadLetters = new sqs.Queue(this, 'AlertDeliveryDeadLetters', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const deadLetterQueue = this.deliveryDeadLetters;
    this.topics = Object.fromEntries(
      TIERS.map((tier) => {
        const topic = new sns.Topic(this, `Alerts${tier}`, {
          displayName: `tenant-canary ${tier}`,
          masterKey: topicKey,
          enforceSSL: true,
        });
        for (const subscription of deployment.subscriptions[tier]) {
          topic.addSubscription(subscriptionOf(subscription, deadLetterQueue));
        }
        return [tier, topic];
      }),
    ) as Record<Tier, sns.Topic>;

    this.stateTable = new dynamodb.Table(this, 'AlertState', {
      partitionKey: { name: STATE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: STATE_TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Sparse: only open incidents carry its key, so judging a sweep reads those, not every key.
    this.stateTable.addGlobalSecondaryIndex({
      indexName: STATE_TABLE.openIndex.indexName,
      partitionKey: { name: STATE_TABLE.openIndex.partitionKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });

    // Each sweep's tenant results, so the probe that completes a sweep can judge it whole (a day's TTL).
    this.sweepTable = new dynamodb.Table(this, 'SweepResults', {
      partitionKey: { name: SWEEP_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: SWEEP_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: SWEEP_TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.deadLetterQueue = new sqs.Queue(this, 'ProbeDeadLetters', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new sqs.Queue(this, 'ProbeQueue', {
      // Six times the probe's timeout, as Lambda's SQS integration recommends.
      visibilityTimeout: Duration.seconds(deployment.probe.timeoutSeconds * 6),
      retentionPeriod: Duration.days(1),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: deployment.probe.maxReceiveCount },
    });

    const network = deployment.vpc
      ? new CanaryNetwork(this, 'Network', deployment.vpc, props.config.canary)
      : undefined;
    const placement: Partial<Placement> = network?.placement ?? {};

    // One metric `service` per stack: two canaries in one account never satisfy each other's heartbeat.
    const service = `${SERVICE_NAME}/${this.stackName}`;
    const sharedEnvironment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: service,
      [LAMBDA_ENV.stateTable]: this.stateTable.tableName,
      [LAMBDA_ENV.sweepTable]: this.sweepTable.tableName,
      ...Object.fromEntries(TIERS.map((tier) => [LAMBDA_ENV.topic[tier], this.topics[tier].topicArn])),
      ...heartbeatEnvironment(deployment.heartbeatUrl),
    };
    const retention = deployment.logRetentionDays as logs.RetentionDays;
    const caFiles = Object.keys(props.config.caFiles);

    const sweepRole = this.functionRole('SweepRole', 'tenant-canary sweep', placement);
    this.sweep = new CanaryFunction(this, 'Sweep', {
      entry: 'functions/handlers/sweep.ts',
      description: 'tenant-canary sweep: platform checks, then every tenant to the probe queue',
      role: sweepRole,
      embedDir,
      caFiles,
      timeout: Duration.seconds(deployment.sweep.timeoutSeconds),
      memorySize: deployment.sweep.memoryMb,
      logRetention: retention,
      sourceMaps: deployment.sourceMaps,
      ...placement,
      environment: { ...sharedEnvironment, [LAMBDA_ENV.queueUrl]: this.queue.queueUrl },
      ...(deployment.sweep.reservedConcurrency === null
        ? {}
        : { reservedConcurrency: deployment.sweep.reservedConcurrency }),
    });

    // The schedule invokes asynchronously: a sweep that failed is not run again (the next one is an
    // interval away, and the heartbeat alarm tells), and one that waited too long is dropped.
    this.sweep.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.minutes(deployment.schedule.maxEventAgeMinutes),
    });

    const probeRole = this.functionRole('ProbeRole', 'tenant-canary probe', placement);
    this.probe = new CanaryFunction(this, 'Probe', {
      entry: 'functions/handlers/probe.ts',
      description: 'tenant-canary probe: tenant checks from the queue, or on demand for one tenant',
      role: probeRole,
      embedDir,
      caFiles,
      timeout: Duration.seconds(deployment.probe.timeoutSeconds),
      memorySize: deployment.probe.memoryMb,
      logRetention: retention,
      sourceMaps: deployment.sourceMaps,
      ...placement,
      environment: {
        ...sharedEnvironment,
        [LAMBDA_ENV.urlPublish]: String(deployment.onDemand.allowUrlPublish),
        // Records it could not probe go back to the queue for a retry after a short delay.
        [LAMBDA_ENV.queueUrl]: this.queue.queueUrl,
        [LAMBDA_ENV.retryDelay]: String(deployment.probe.retryDelaySeconds),
      },
    });
    this.probe.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: deployment.probe.batchSize,
        maxConcurrency: deployment.probe.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    this.probeUrl = this.probe.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
    // Operators named in config may call the URL without an identity policy of their own.
    deployment.operatorRoleArns.forEach((roleArn, i) => {
      const principal = new iam.ArnPrincipal(roleArn);
      this.probe.addPermission(`OperatorUrl${i}`, {
        principal,
        action: 'lambda:InvokeFunctionUrl',
        functionUrlAuthType: lambda.FunctionUrlAuthType.AWS_IAM,
      });
      // Since October 2025 a URL call needs lambda:InvokeFunction too, through the URL only.
      this.probe.addPermission(`OperatorInvoke${i}`, {
        principal,
        action: 'lambda:InvokeFunction',
        invokedViaFunctionUrl: true,
      });
    });

    // Least privilege, statement by statement: exact ARNs only.
    for (const [fn, role, readable] of [
      [this.sweep, sweepRole, secretIds.sweep],
      [this.probe, probeRole, secretIds.probe],
    ] as const) {
      this.allowOwnLogs(role, fn);
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'AlertState',
          actions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
          resources: [this.stateTable.tableArn],
        }),
      );
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'OpenIncidents',
          actions: ['dynamodb:Query'],
          resources: [`${this.stateTable.tableArn}/index/${STATE_TABLE.openIndex.indexName}`],
        }),
      );
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'SweepResults',
          actions: [
            'dynamodb:GetItem',
            'dynamodb:PutItem',
            'dynamodb:UpdateItem',
            'dynamodb:Query',
            'dynamodb:DeleteItem',
          ],
          resources: [this.sweepTable.tableArn],
        }),
      );
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'PublishAlerts',
          actions: ['sns:Publish'],
          resources: TIERS.map((tier) => this.topics[tier].topicArn),
        }),
      );
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'EncryptAlerts',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [topicKey.keyArn],
        }),
      );
      if (readable.length > 0) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            sid: 'ReadCanarySecrets',
            actions: ['secretsmanager:GetSecretValue'],
            resources: readable.map((secretId) => this.secretArn(secretId)),
          }),
        );
      }
      if (deployment.secretsKmsKeyArns.length > 0) {
        role.addToPrincipalPolicy(this.decryptSecrets('DecryptCanarySecrets', deployment.secretsKmsKeyArns));
      }
    }
    sweepRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'QueueTenants',
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
      }),
    );

    const pagerduty = props.config.canary.alerts.pagerduty;
    if (pagerduty !== undefined && 'secretId' in pagerduty.routingKey) {
      this.pagerDuty = this.pagerDutyForwarder(pagerduty.routingKey, pagerduty, {
        embedDir,
        retention,
        sourceMaps: deployment.sourceMaps,
        service,
        deadLetterQueue,
        kmsKeyArns: deployment.secretsKmsKeyArns,
      });
    }

    const rate = Duration.minutes(deployment.schedule.rateMinutes);
    this.schedule = new scheduler.Schedule(this, 'SweepSchedule', {
      description: `tenant-canary sweep every ${deployment.schedule.rateMinutes} minutes${deployment.paused ? ' (paused)' : ''}`,
      enabled: !deployment.paused,
      schedule: scheduler.ScheduleExpression.rate(rate),
      target: new ExactLambdaInvoke(this.sweep, {
        // The scheduled time (exact, without the invocation's jitter) numbers the sweep for sampling.
        input: scheduler.ScheduleTargetInput.fromObject({
          source: 'tenant-canary.schedule',
          scheduledTime: scheduler.ContextAttribute.scheduledTime,
        }),
        retryAttempts: deployment.schedule.retryAttempts,
        maxEventAge: Duration.minutes(deployment.schedule.maxEventAgeMinutes),
      }),
    });

    // The canary's own alarms go to a topic of their own: a broken alert path still reaches someone.
    this.alarmTopic = this.selfWatchTopic(deployment, topicKey);
    const watch = new SelfWatch(this, 'SelfWatch', {
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
      description: deployment.paused ? 'paused: deployment.paused is true' : 'the sweep schedule',
    });

    Tags.of(this).add('service', SERVICE_NAME);
    for (const [key, value] of Object.entries(deployment.tags)) Tags.of(this).add(key, value);
  }

  /**
   * The PagerDuty forwarder: subscribed to the configured tiers' topics, outside the VPC (it
   * talks to PagerDuty and Secrets Manager only), reading only the routing key. An event it cannot
   * deliver fails the invocation: Lambda tries twice more, then parks it in its dead-letter queue.
   */
  private pagerDutyForwarder(
    routingKey: { secretId: string; jsonKey?: string | undefined },
    settings: { tiers: readonly Tier[]; url: string },
    shared: {
      embedDir: string;
      retention: logs.RetentionDays;
      sourceMaps: boolean;
      service: string;
      deadLetterQueue: sqs.IQueue;
      kmsKeyArns: readonly string[];
    },
  ): { forwarder: CanaryFunction; deadLetters: sqs.Queue } {
    const deadLetters = new sqs.Queue(this, 'PagerDutyDeadLetters', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const role = this.functionRole('PagerDutyRole', 'tenant-canary PagerDuty forwarder', {});
    const forwarder = new CanaryFunction(this, 'PagerDuty', {
      entry: 'functions/handlers/pagerduty.ts',
      description: 'tenant-canary: alerts of the PagerDuty tiers to the Events API v2 (trigger, resolve by dedup key)',
      role,
      embedDir: shared.embedDir,
      timeout: Duration.seconds(60),
      memorySize: 256,
      logRetention: shared.retention,
      sourceMaps: shared.sourceMaps,
      environment: {
        POWERTOOLS_SERVICE_NAME: shared.service,
        [LAMBDA_ENV.pagerdutyUrl]: settings.url,
        [LAMBDA_ENV.pagerdutySecretId]: routingKey.secretId,
        ...(routingKey.jsonKey === undefined ? {} : { [LAMBDA_ENV.pagerdutyJsonKey]: routingKey.jsonKey }),
      },
    });
    forwarder.configureAsyncInvoke({ retryAttempts: 2, onFailure: new destinations.SqsDestination(deadLetters) });
    for (const tier of settings.tiers) {
      this.topics[tier].addSubscription(
        new subscriptions.LambdaSubscription(forwarder, { deadLetterQueue: shared.deadLetterQueue }),
      );
    }
    this.allowOwnLogs(role, forwarder);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadRoutingKey',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [this.secretArn(routingKey.secretId)],
      }),
    );
    if (shared.kmsKeyArns.length > 0)
      role.addToPrincipalPolicy(this.decryptSecrets('DecryptRoutingKey', shared.kmsKeyArns));
    return { forwarder, deadLetters };
  }

  /** An existing topic (`selfWatch.topicArn`), or one of its own with `selfWatch.subscriptions` (default: P0's and P1's). */
  private selfWatchTopic(deployment: DeploymentConfig['deployment'], key: kms.IKey): sns.ITopic {
    const { selfWatch } = deployment;
    if (selfWatch.topicArn !== undefined) return sns.Topic.fromTopicArn(this, 'CanaryAlarms', selfWatch.topicArn);
    const topic = new sns.Topic(this, 'CanaryAlarms', {
      displayName: 'tenant-canary alarms',
      masterKey: key,
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
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: { 'aws:SourceArn': alarmArnPattern(this) },
        },
      }),
    );
    const seen = new Set<string>();
    const wanted = selfWatch.subscriptions ?? [...deployment.subscriptions.P0, ...deployment.subscriptions.P1];
    for (const subscription of wanted) {
      const id = JSON.stringify(subscription);
      if (seen.has(id)) continue;
      seen.add(id);
      topic.addSubscription(subscriptionOf(subscription, this.deliveryDeadLetters));
    }
    return topic;
  }

  /** kms:Decrypt on customer-managed keys of secrets, only through Secrets Manager. */
  private decryptSecrets(sid: string, keyArns: readonly string[]): iam.PolicyStatement {
    return new iam.PolicyStatement({
      sid,
      actions: ['kms:Decrypt'],
      resources: [...keyArns],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${this.region}.amazonaws.com` } },
    });
  }

  /** A role with no managed policy except, inside a VPC, the one Lambda needs for its network interfaces. */
  /** A function writes to its own log group only. */
  private allowOwnLogs(role: iam.Role, fn: CanaryFunction): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [fn.logGroupRef.logGroupArn],
      }),
    );
  }

  /**
   * A role with no managed policy. Inside a VPC it gets the network-interface actions Lambda
   * needs, inline (the AWS managed AWSLambdaVPCAccessExecutionRole also grants logs:* on every log
   * group): creating one only in the configured subnets and security groups; the Describe actions
   * take no resource, so they keep "*".
   */
  private functionRole(id: string, description: string, placement: Partial<Placement>): iam.Role {
    const ec2Arn = (resource: string) =>
      Arn.format({ service: 'ec2', resource, resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }, this);
    const named = (resource: string, ids: readonly string[]) =>
      ids.map((id) =>
        Arn.format({ service: 'ec2', resource, resourceName: id, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }, this),
      );
    const inVpc = placement.vpc !== undefined;
    return new iam.Role(this, id, {
      description,
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      ...(inVpc
        ? {
            inlinePolicies: {
              VpcNetworkInterfaces: new iam.PolicyDocument({
                statements: [
                  new iam.PolicyStatement({
                    sid: 'DescribeNetwork',
                    actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
                    resources: ['*'], // Describe actions support no resource-level permissions
                  }),
                  new iam.PolicyStatement({
                    sid: 'CreateInPlacement',
                    actions: ['ec2:CreateNetworkInterface'],
                    resources: [
                      ec2Arn('network-interface'),
                      ...named(
                        'subnet',
                        (placement.subnets ?? []).map((subnet) => subnet.subnetId),
                      ),
                      ...named(
                        'security-group',
                        (placement.securityGroups ?? []).map((group) => group.securityGroupId),
                      ),
                    ],
                  }),
                  new iam.PolicyStatement({
                    sid: 'ManageNetworkInterfaces',
                    actions: [
                      'ec2:DeleteNetworkInterface',
                      'ec2:AssignPrivateIpAddresses',
                      'ec2:UnassignPrivateIpAddresses',
                    ],
                    resources: [ec2Arn('network-interface')],
                  }),
                ],
              }),
            },
          }
        : {}),
    });
  }

  /**
   * The ARN of a secret named in config: a full ARN as given; a name becomes the ARN with
   * Secrets Manager's six-character suffix matched by `??????` (never `*`).
   */
  private secretArn(secretId: string): string {
    if (secretId.startsWith('arn:')) return secretId;
    return Arn.format(
      {
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: `${secretId}-??????`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      },
      this,
    );
  }
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

/** The heartbeat's environment: its URL, or the secret that holds it. */
function heartbeatEnvironment(heartbeat: DeploymentConfig['deployment']['heartbeatUrl']): Record<string, string> {
  if (heartbeat === undefined) return {};
  if (typeof heartbeat === 'string') return { [LAMBDA_ENV.heartbeatUrl]: heartbeat };
  return {
    [LAMBDA_ENV.heartbeatSecretId]: heartbeat.secretId,
    ...(heartbeat.jsonKey === undefined ? {} : { [LAMBDA_ENV.heartbeatJsonKey]: heartbeat.jsonKey }),
  };
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

/**
 * The sweep as the schedule's target, invocable on its exact ARN only (the stock target also
 * allows every version and alias, `<arn>:*`, which the schedule never calls).
 */
class ExactLambdaInvoke extends targets.LambdaInvoke {
  constructor(
    private readonly target: lambda.IFunction,
    props: targets.ScheduleTargetBaseProps,
  ) {
    super(target, props);
  }

  protected override addTargetActionToRole(role: iam.IRole): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeSweep',
        actions: ['lambda:InvokeFunction'],
        resources: [this.target.functionArn],
      }),
    );
  }
}
