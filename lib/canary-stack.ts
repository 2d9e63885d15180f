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
import type { DeploymentConfig } from './config.ts';
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

  constructor(scope: Construct, id: string, props: TenantCanaryStackProps) {
    super(scope, id, props);
    const { deployment, secretIds } = props.config;
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
      }),
    );
    this.topics = Object.fromEntries(
      TIERS.map((tier) => {
        const topic = new sns.Topic(this, `Alerts${tier}`, {
          displayName: `tenant-canary ${tier}`,
          masterKey: topicKey,
          enforceSSL: true,
        });
        for (const subscription of deployment.subscriptions[tier]) {
          topic.addSubscription(
            'email' in subscription
              ? new subscriptions.EmailSubscription(subscription.email)
              : new subscriptions.UrlSubscription(subscription.https, {
                  protocol: sns.SubscriptionProtocol.HTTPS,
                  rawMessageDelivery: subscription.rawMessageDelivery,
                }),
          );
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
    };
    const retention = deployment.logRetentionDays as logs.RetentionDays;
    const caFiles = Object.keys(props.config.caFiles);

    const sweepRole = this.functionRole('SweepRole', 'tenant-canary sweep', placement.vpc !== undefined);
    this.sweep = new CanaryFunction(this, 'Sweep', {
      entry: 'functions/handlers/sweep.ts',
      description: 'tenant-canary sweep: platform checks, then every tenant to the probe queue',
      role: sweepRole,
      embedDir,
      caFiles,
      timeout: Duration.seconds(deployment.sweep.timeoutSeconds),
      memorySize: deployment.sweep.memoryMb,
      logRetention: retention,
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

    const probeRole = this.functionRole('ProbeRole', 'tenant-canary probe', placement.vpc !== undefined);
    this.probe = new CanaryFunction(this, 'Probe', {
      entry: 'functions/handlers/probe.ts',
      description: 'tenant-canary probe: tenant checks from the queue, or on demand for one tenant',
      role: probeRole,
      embedDir,
      caFiles,
      timeout: Duration.seconds(deployment.probe.timeoutSeconds),
      memorySize: deployment.probe.memoryMb,
      logRetention: retention,
      ...placement,
      environment: { ...sharedEnvironment, [LAMBDA_ENV.urlPublish]: String(deployment.onDemand.allowUrlPublish) },
    });
    this.probe.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: deployment.probe.batchSize,
        maxConcurrency: deployment.probe.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    this.probeUrl = this.probe.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });

    // Least privilege, statement by statement: exact ARNs only.
    for (const [fn, role] of [
      [this.sweep, sweepRole],
      [this.probe, probeRole],
    ] as const) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'WriteOwnLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [fn.logGroupRef.logGroupArn],
        }),
      );
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
          actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:DeleteItem'],
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
      if (secretIds.length > 0) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            sid: 'ReadCanarySecrets',
            actions: ['secretsmanager:GetSecretValue'],
            resources: secretIds.map((secretId) => this.secretArn(secretId)),
          }),
        );
      }
      if (deployment.secretsKmsKeyArns.length > 0) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            sid: 'DecryptCanarySecrets',
            actions: ['kms:Decrypt'],
            resources: deployment.secretsKmsKeyArns,
            conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${this.region}.amazonaws.com` } },
          }),
        );
      }
    }
    sweepRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'QueueTenants',
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
      }),
    );

    const rate = Duration.minutes(deployment.schedule.rateMinutes);
    this.schedule = new scheduler.Schedule(this, 'SweepSchedule', {
      description: `tenant-canary sweep every ${deployment.schedule.rateMinutes} minutes${deployment.paused ? ' (paused)' : ''}`,
      enabled: !deployment.paused,
      schedule: scheduler.ScheduleExpression.rate(rate),
      target: new targets.LambdaInvoke(this.sweep, {
        input: scheduler.ScheduleTargetInput.fromObject({ source: 'tenant-canary.schedule' }),
        retryAttempts: deployment.schedule.retryAttempts,
        maxEventAge: Duration.minutes(deployment.schedule.maxEventAgeMinutes),
      }),
    });

    const watch = new SelfWatch(this, 'SelfWatch', {
      service,
      paused: deployment.paused,
      sweep: this.sweep,
      probe: this.probe,
      deadLetterQueue: this.deadLetterQueue,
      queue: this.queue,
      topics: this.topics,
      rateMinutes: deployment.schedule.rateMinutes,
      heartbeatMissedSweeps: deployment.alarms.heartbeatMissedSweeps,
      dlqDepth: deployment.alarms.dlqDepth,
      alarmTier: deployment.alarms.tier,
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

  /** A role with no managed policy except, inside a VPC, the one Lambda needs for its network interfaces. */
  private functionRole(id: string, description: string, inVpc: boolean): iam.Role {
    return new iam.Role(this, id, {
      description,
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      // Inside a VPC: only the network-interface actions Lambda needs, inline. The AWS managed
      // AWSLambdaVPCAccessExecutionRole also grants logs:* on every log group.
      ...(inVpc
        ? {
            inlinePolicies: {
              VpcNetworkInterfaces: new iam.PolicyDocument({
                statements: [
                  new iam.PolicyStatement({
                    sid: 'VpcNetworkInterfaces',
                    actions: [
                      'ec2:CreateNetworkInterface',
                      'ec2:DescribeNetworkInterfaces',
                      'ec2:DescribeSubnets',
                      'ec2:DeleteNetworkInterface',
                      'ec2:AssignPrivateIpAddresses',
                      'ec2:UnassignPrivateIpAddresses',
                    ],
                    resources: ['*'],
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
