/**
 * The sweep pipeline: the schedule invokes the sweep, which queues every tenant; the probe drains
 * the queue (several tenants per invocation, a dead-letter queue behind it) and answers on-demand
 * calls through its IAM-authenticated Function URL. Both functions run in the platform's VPC,
 * each with a role that allows exactly what it does.
 */
import { Duration, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { LAMBDA_ENV } from '../../functions/core/lambda-env.ts';
import { STATE_TABLE } from '../../functions/core/tables.ts';
import { TIERS } from '../../functions/core/types.ts';
import type { CanaryFunction, CanaryFunctionProps } from '../canary-function.ts';
import type { DeploymentConfig, DeploymentSettings } from '../config.ts';
import { CanaryNetwork, type Placement } from '../network.ts';
import type { AlertTopics } from './alert-topics.ts';
import { deadLetterQueue } from './dead-letter-queue.ts';
import { canaryFunction, type FunctionDefaults } from './function-defaults.ts';
import { allowOwnLogs, allowReadSecrets, functionRole } from './grants.ts';
import type { CanaryTables } from './tables.ts';

export interface SweepPipelineProps {
  config: DeploymentConfig;
  defaults: FunctionDefaults;
  tables: CanaryTables;
  alerts: AlertTopics;
}

export interface SweepPipeline {
  /** The tenants of a sweep, waiting for the probe. */
  queue: sqs.Queue;
  /** Tenants that could not be probed after every delivery. */
  deadLetterQueue: sqs.Queue;
  sweep: CanaryFunction;
  probe: CanaryFunction;
  probeUrl: lambda.FunctionUrl;
}

/** What the sweep and the probe share: where they run, what they embed and what they are told. */
interface DataPlane extends SweepPipelineProps {
  placement: Partial<Placement>;
  caFiles: string[];
  environment: Record<string, string>;
}

/** The probe queue, the sweep and the probe, with their roles. */
export function createSweepPipeline(stack: Stack, props: SweepPipelineProps): SweepPipeline {
  const { deployment } = props.config;
  const { queue, deadLetterQueue } = probeQueues(stack, deployment);
  const network = deployment.vpc ? new CanaryNetwork(stack, 'Network', deployment.vpc, props.config.canary) : undefined;
  const { stateTable, sweepTable } = props.tables;
  const plane: DataPlane = {
    ...props,
    placement: network?.placement ?? {},
    caFiles: Object.keys(props.config.caFiles),
    environment: {
      [LAMBDA_ENV.stateTable]: stateTable.tableName,
      [LAMBDA_ENV.sweepTable]: sweepTable.tableName,
      ...Object.fromEntries(TIERS.map((tier) => [LAMBDA_ENV.topic[tier], props.alerts.topics[tier].topicArn])),
      ...heartbeatEnvironment(deployment.heartbeatUrl),
    },
  };
  const sweep = createSweep(stack, plane, queue);
  const { probe, probeUrl } = createProbe(stack, plane, queue);
  return { queue, deadLetterQueue, sweep, probe, probeUrl };
}

/** The probe queue and its dead-letter queue. */
function probeQueues(stack: Stack, deployment: DeploymentSettings): { queue: sqs.Queue; deadLetterQueue: sqs.Queue } {
  const deadLetters = deadLetterQueue(stack, 'ProbeDeadLetters');
  const queue = new sqs.Queue(stack, 'ProbeQueue', {
    // Six times the probe's timeout, as Lambda's SQS integration recommends.
    visibilityTimeout: Duration.seconds(deployment.probe.timeoutSeconds * 6),
    retentionPeriod: Duration.days(1),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    deadLetterQueue: { queue: deadLetters, maxReceiveCount: deployment.probe.maxReceiveCount },
  });
  return { queue, deadLetterQueue: deadLetters };
}

/**
 * A function of the data plane (the sweep or the probe), with a role of its own: where the
 * platform's VPC places it, the CA bundles, the shared environment, and its timeout and memory
 * from its settings.
 */
function dataPlaneFunction(
  stack: Stack,
  plane: DataPlane,
  id: 'Sweep' | 'Probe',
  props: Pick<CanaryFunctionProps, 'entry' | 'description' | 'reservedConcurrency'> & {
    settings: { timeoutSeconds: number; memoryMb: number };
    environment: Record<string, string>;
  },
): { fn: CanaryFunction; role: iam.Role } {
  const role = functionRole(stack, `${id}Role`, `tenant-canary ${id.toLowerCase()}`, plane.placement);
  const { settings, environment, ...rest } = props;
  const fn = canaryFunction(stack, id, plane.defaults, {
    ...rest,
    role,
    caFiles: plane.caFiles,
    timeout: Duration.seconds(settings.timeoutSeconds),
    memorySize: settings.memoryMb,
    ...plane.placement,
    environment: { ...plane.environment, ...environment },
  });
  return { fn, role };
}

/** The sweep: platform checks, then every tenant to the probe queue. */
function createSweep(stack: Stack, plane: DataPlane, queue: sqs.Queue): CanaryFunction {
  const { deployment } = plane.config;
  const { fn: sweep, role } = dataPlaneFunction(stack, plane, 'Sweep', {
    entry: 'functions/handlers/sweep.ts',
    description: 'tenant-canary sweep: platform checks, then every tenant to the probe queue',
    settings: deployment.sweep,
    environment: { [LAMBDA_ENV.queueUrl]: queue.queueUrl },
    ...(deployment.sweep.reservedConcurrency === null
      ? {}
      : { reservedConcurrency: deployment.sweep.reservedConcurrency }),
  });
  // The schedule invokes asynchronously: a sweep that failed is not run again (the next one is an
  // interval away, and the heartbeat alarm tells), and one that waited too long is dropped.
  sweep.configureAsyncInvoke({
    retryAttempts: 0,
    maxEventAge: Duration.minutes(deployment.schedule.maxEventAgeMinutes),
  });
  allowSweepWork(stack, plane, role, sweep, plane.config.secretIds);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'QueueTenants',
      actions: ['sqs:SendMessage'],
      resources: [queue.queueArn],
    }),
  );
  return sweep;
}

/** The probe: tenant checks from the queue, or on demand for one tenant through its Function URL. */
function createProbe(
  stack: Stack,
  plane: DataPlane,
  queue: sqs.Queue,
): { probe: CanaryFunction; probeUrl: lambda.FunctionUrl } {
  const { deployment } = plane.config;
  const { fn: probe, role } = dataPlaneFunction(stack, plane, 'Probe', {
    entry: 'functions/handlers/probe.ts',
    description: 'tenant-canary probe: tenant checks from the queue, or on demand for one tenant',
    settings: deployment.probe,
    environment: {
      [LAMBDA_ENV.urlPublish]: String(deployment.onDemand.allowUrlPublish),
      // Records it could not probe go back to the queue for a retry after a short delay.
      [LAMBDA_ENV.queueUrl]: queue.queueUrl,
      [LAMBDA_ENV.retryDelay]: String(deployment.probe.retryDelaySeconds),
    },
  });
  probe.addEventSource(
    new SqsEventSource(queue, {
      batchSize: deployment.probe.batchSize,
      maxConcurrency: deployment.probe.maxConcurrency,
      reportBatchItemFailures: true,
    }),
  );
  const probeUrl = probe.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
  // Operators named in config may call the URL without an identity policy of their own.
  deployment.operatorRoleArns.forEach((roleArn, i) => {
    const principal = new iam.ArnPrincipal(roleArn);
    probe.addPermission(`OperatorUrl${i}`, {
      principal,
      action: 'lambda:InvokeFunctionUrl',
      functionUrlAuthType: lambda.FunctionUrlAuthType.AWS_IAM,
    });
    // Since October 2025 a URL call needs lambda:InvokeFunction too, through the URL only.
    probe.addPermission(`OperatorInvoke${i}`, {
      principal,
      action: 'lambda:InvokeFunction',
      invokedViaFunctionUrl: true,
    });
  });
  // The probe never opens Redis: it does not read the Redis password.
  allowSweepWork(stack, plane, role, probe, plane.config.probeSecretIds);
  return { probe, probeUrl };
}

/**
 * What the sweep and the probe both do, statement by statement (exact ARNs only): their own logs,
 * alert state and its open incidents, the sweep ledger, the tier topics and their key, and their
 * secrets (with the heartbeat URL's, when it is one: the functions that judge sweeps read it).
 */
function allowSweepWork(
  stack: Stack,
  plane: DataPlane,
  role: iam.Role,
  fn: CanaryFunction,
  secretIds: readonly string[],
): void {
  const { stateTable, sweepTable } = plane.tables;
  const { deployment } = plane.config;
  allowOwnLogs(role, fn);
  const allow = (sid: string, actions: string[], resources: string[]) =>
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions, resources }));
  allow('AlertState', ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem'], [stateTable.tableArn]);
  allow('OpenIncidents', ['dynamodb:Query'], [`${stateTable.tableArn}/index/${STATE_TABLE.openIndex.indexName}`]);
  allow(
    'SweepResults',
    ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:DeleteItem'],
    [sweepTable.tableArn],
  );
  allow(
    'PublishAlerts',
    ['sns:Publish'],
    TIERS.map((tier) => plane.alerts.topics[tier].topicArn),
  );
  allow('EncryptAlerts', ['kms:GenerateDataKey', 'kms:Decrypt'], [plane.alerts.topicKey.keyArn]);
  const heartbeat = deployment.heartbeatUrl;
  const readable = [
    ...secretIds,
    ...(typeof heartbeat === 'object' && !secretIds.includes(heartbeat.secretId) ? [heartbeat.secretId] : []),
  ];
  allowReadSecrets(
    stack,
    role,
    { read: 'ReadCanarySecrets', decrypt: 'DecryptCanarySecrets' },
    readable,
    deployment.secretsKmsKeyArns,
  );
}

/** The heartbeat's environment: its URL, or the secret that holds it. */
function heartbeatEnvironment(heartbeat: DeploymentSettings['heartbeatUrl']): Record<string, string> {
  if (heartbeat === undefined) return {};
  if (typeof heartbeat === 'string') return { [LAMBDA_ENV.heartbeatUrl]: heartbeat };
  return {
    [LAMBDA_ENV.heartbeatSecretId]: heartbeat.secretId,
    ...(heartbeat.jsonKey === undefined ? {} : { [LAMBDA_ENV.heartbeatJsonKey]: heartbeat.jsonKey }),
  };
}

/** The schedule that starts a sweep every interval (disabled while the canary is paused). */
export function scheduleSweeps(
  stack: Stack,
  sweep: lambda.IFunction,
  deployment: DeploymentSettings,
): scheduler.Schedule {
  const rate = Duration.minutes(deployment.schedule.rateMinutes);
  return new scheduler.Schedule(stack, 'SweepSchedule', {
    description: `tenant-canary sweep every ${deployment.schedule.rateMinutes} minutes${deployment.paused ? ' (paused)' : ''}`,
    enabled: !deployment.paused,
    schedule: scheduler.ScheduleExpression.rate(rate),
    target: new ExactLambdaInvoke(sweep, {
      // The scheduled time (exact, without the invocation's jitter) numbers the sweep for sampling.
      input: scheduler.ScheduleTargetInput.fromObject({
        source: 'tenant-canary.schedule',
        scheduledTime: scheduler.ContextAttribute.scheduledTime,
      }),
      retryAttempts: deployment.schedule.retryAttempts,
      maxEventAge: Duration.minutes(deployment.schedule.maxEventAgeMinutes),
    }),
  });
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
