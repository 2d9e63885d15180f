/**
 * What the stack promises, asserted on the template (bundling skipped; test/cdk/synth.test.ts
 * does one real synth): the schedule and its retry policy, one topic per tier with its
 * subscriptions, the queue and its dead letters, the Function URL's auth, exact IAM resources,
 * VPC placement, the alarms and where they go, and the dashboard.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../../functions/core/catalog.ts';
import { EMBEDDED_CONFIG_FILE, LAMBDA_ENV } from '../../functions/core/lambda-env.ts';
import { type Built, buildStack, exampleConfig } from './support.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Sid?: string; Effect?: string; Action: string | string[]; Resource: unknown };

let built: Built;
beforeAll(() => {
  built = buildStack();
});

const resourcesOf = (type: string) =>
  Object.entries(built.template.findResources(type) as Record<string, Resource>).map(([id, r]) => ({
    id,
    ...r,
  }));
const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  built.stack.getLogicalId(construct.node.defaultChild as never);
const ref = (construct: { node: { defaultChild?: unknown } }) => ({ Ref: logicalId(construct) });
const arnOf = (construct: { node: { defaultChild?: unknown } }) => ({ 'Fn::GetAtt': [logicalId(construct), 'Arn'] });
const statementsOf = (role: { node: { defaultChild?: unknown } }) => {
  const roleId = logicalId(role);
  const policies = resourcesOf('AWS::IAM::Policy').filter((p) =>
    (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })),
  );
  return policies.flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
};

describe('schedule', () => {
  it('invokes the sweep every five minutes, retrying, and drops a sweep older than the interval', () => {
    built.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: arnOf(built.stack.sweep),
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 240 },
      },
    });
    const [schedule] = resourcesOf('AWS::Scheduler::Schedule');
    const target = schedule?.Properties.Target as { RetryPolicy: { MaximumEventAgeInSeconds: number } } | undefined;
    const age = target?.RetryPolicy.MaximumEventAgeInSeconds;
    expect(age).toBeLessThan(5 * 60);
  });
  it('hands the sweep its scheduled time (exact, so sampled acceptances keep their slots)', () => {
    const [schedule] = resourcesOf('AWS::Scheduler::Schedule');
    const target = schedule?.Properties.Target as { Input: string } | undefined;
    const input = JSON.parse(target?.Input ?? '{}') as Record<string, unknown>;
    expect(input).toEqual({ source: 'tenant-canary.schedule', scheduledTime: '<aws.scheduler.scheduled-time>' });
  });
  it('does not let Lambda retry a failed sweep or run a stale one', () => {
    built.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(built.stack.sweep),
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 240,
    });
  });
});

describe('alert topics', () => {
  it('has one encrypted topic per tier, each named to the functions', () => {
    for (const tier of ['P0', 'P1', 'P2', 'P3'] as const) {
      built.template.hasResourceProperties('AWS::SNS::Topic', {
        DisplayName: `tenant-canary ${tier}`,
        KmsMasterKeyId: arnOf({ node: { defaultChild: built.stack.node.findChild('TopicKey').node.defaultChild } }),
      });
      for (const fn of [built.stack.sweep, built.stack.probe]) {
        built.template.hasResourceProperties('AWS::Lambda::Function', {
          FunctionName: Match.absent(),
          Environment: { Variables: Match.objectLike({ [LAMBDA_ENV.topic[tier]]: ref(built.stack.topics[tier]) }) },
          Role: arnOf({ node: { defaultChild: fn.role!.node.defaultChild } }),
        });
      }
    }
  });

  it('subscribes the email endpoints and the PagerDuty forwarder (exactly its tiers), each with a dead-letter queue', () => {
    built.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: ref(built.stack.topics.P0),
    });
    built.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'platform-team@example.com',
      TopicArn: ref(built.stack.topics.P3),
    });
    const forwarder = built.stack.pagerDuty?.forwarder;
    expect(forwarder).toBeDefined();
    const lambdaSubscriptions = resourcesOf('AWS::SNS::Subscription').filter((r) => r.Properties.Protocol === 'lambda');
    expect(lambdaSubscriptions.map((r) => r.Properties.TopicArn)).toEqual([
      ref(built.stack.topics.P0),
      ref(built.stack.topics.P1),
    ]);
    for (const subscription of lambdaSubscriptions) expect(subscription.Properties.Endpoint).toEqual(arnOf(forwarder!));
    const all = resourcesOf('AWS::SNS::Subscription');
    expect(all).toHaveLength(6); // P0 email, P2 and P3 emails, the forwarder on P0 and P1, the alarm topic's email
    for (const subscription of all) {
      expect(subscription.Properties.RedrivePolicy, subscription.id).toEqual({
        deadLetterTargetArn: arnOf(built.stack.deliveryDeadLetters),
      });
    }
  });

  it('runs the forwarder outside the VPC, reading only the routing key, with a dead-letter queue for failed events', () => {
    const forwarder = built.stack.pagerDuty!.forwarder;
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: {
        Variables: Match.objectLike({
          [LAMBDA_ENV.pagerdutyUrl]: 'https://events.pagerduty.com/v2/enqueue',
          [LAMBDA_ENV.pagerdutySecretId]: 'tenant-canary/pagerduty-routing-key',
        }),
      },
      VpcConfig: Match.absent(),
    });
    built.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(forwarder),
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: arnOf(built.stack.pagerDuty!.deadLetters) } },
    });
    const secrets = statementsOf(forwarder.role!).filter((s) => JSON.stringify(s.Action).includes('secretsmanager'));
    expect(secrets).toHaveLength(1);
    expect(JSON.stringify(secrets[0]?.Resource)).toContain('secret:tenant-canary/pagerduty-routing-key-??????');
    // The probe and the sweep never read the routing key.
    for (const fn of [built.stack.sweep, built.stack.probe]) {
      expect(JSON.stringify(statementsOf(fn.role!))).not.toContain('pagerduty-routing-key');
    }
  });
});

describe('state table and queues', () => {
  it('keeps alert state on demand, with TTL and point-in-time recovery', () => {
    built.template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'dedupKey', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'open',
          KeySchema: [{ AttributeName: 'openShard', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it("keeps each sweep's results for the fan-in in an on-demand table that expires them", () => {
    built.template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'sweepId', KeyType: 'HASH' },
        { AttributeName: 'part', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    for (const fn of [built.stack.sweep, built.stack.probe]) {
      built.template.hasResourceProperties('AWS::Lambda::Function', {
        Role: arnOf({ node: { defaultChild: fn.role!.node.defaultChild } }),
        Environment: { Variables: Match.objectLike({ [LAMBDA_ENV.sweepTable]: ref(built.stack.sweepTable) }) },
      });
    }
  });

  it('feeds the probe from the queue in batches with a maximum concurrency and partial failures', () => {
    built.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arnOf(built.stack.queue),
      FunctionName: ref(built.stack.probe),
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 10 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    built.template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 240 * 6,
      RedrivePolicy: { deadLetterTargetArn: arnOf(built.stack.deadLetterQueue), maxReceiveCount: 3 },
      SqsManagedSseEnabled: true,
    });
  });
});

describe('functions', () => {
  it('runs both on Node.js 22, arm64, with their own log retention and no source maps unless asked', () => {
    for (const fn of [built.stack.sweep, built.stack.probe]) {
      built.template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Role: arnOf({ node: { defaultChild: fn.role!.node.defaultChild } }),
        LoggingConfig: { LogGroup: ref(fn.logGroupRef) },
        Environment: {
          Variables: Match.objectLike({
            NODE_OPTIONS: Match.absent(),
            [LAMBDA_ENV.stateTable]: ref(built.stack.stateTable),
          }),
        },
      });
      built.template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    }
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 240,
      MemorySize: 1024,
      // The probe hands the records it could not probe back to the same queue.
      Environment: { Variables: Match.objectLike({ [LAMBDA_ENV.queueUrl]: ref(built.stack.queue) }) },
    });
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 120,
      Environment: { Variables: Match.objectLike({ [LAMBDA_ENV.queueUrl]: ref(built.stack.queue) }) },
    });
  });

  it('answers on demand through a Function URL that needs IAM (SigV4) auth', () => {
    built.template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      TargetFunctionArn: arnOf(built.stack.probe),
    });
  });

  it("places both functions in the platform's subnets and security groups, without lookups", () => {
    const inVpc = new Set([logicalId(built.stack.sweep), logicalId(built.stack.probe)]);
    const functions = resourcesOf('AWS::Lambda::Function').filter((fn) => inVpc.has(fn.id));
    expect(functions).toHaveLength(2);
    for (const fn of functions) {
      expect(fn.Properties.VpcConfig).toEqual({
        SubnetIds: ['subnet-0a1b2c3d4e5f60718', 'subnet-0f1e2d3c4b5a69788'],
        SecurityGroupIds: ['sg-0a1b2c3d4e5f60718'],
      });
    }
    // No context lookups: the synth needs no AWS account.
    expect(built.app.synth().manifest.missing ?? []).toEqual([]);
  });

  it('runs outside any VPC when the config names none', () => {
    const { deployment, ...rest } = exampleConfig() as { deployment: Record<string, unknown> };
    const { vpc: _vpc, ...withoutVpc } = deployment;
    const plain = buildStack({ ...rest, deployment: withoutVpc });
    for (const fn of Object.values(plain.template.findResources('AWS::Lambda::Function')) as Resource[]) {
      expect(fn.Properties.VpcConfig).toBeUndefined();
    }
    plain.template.resourceCountIs('AWS::IAM::Role', 4); // sweep, probe, forwarder, scheduler
    expect(JSON.stringify(plain.template.toJSON())).not.toContain('AWSLambdaVPCAccessExecutionRole');
  });

  it('creates the functions\' own security group and the VPC endpoints when egress is "endpoints"', () => {
    const { deployment, platform, ...rest } = exampleConfig() as {
      deployment: { vpc: Record<string, unknown> };
      platform: Record<string, unknown>;
    };
    const { securityGroupIds: _given, ...vpc } = deployment.vpc;
    const privateStack = buildStack({
      ...rest,
      platform: { ...platform, baseUrl: 'https://api.platform.internal' },
      deployment: {
        ...deployment,
        vpc: { ...vpc, egress: 'endpoints', createSecurityGroup: true, routeTableIds: ['rtb-0a1b2c3d4e5f60718'] },
      },
    });
    const template = privateStack.template;
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint')) as Resource[];
    const names = endpoints.map((e) => JSON.stringify(e.Properties.ServiceName));
    expect(names.filter((n) => /\.(sqs|sns|secretsmanager)/.test(n))).toHaveLength(3);
    expect(endpoints.filter((e) => e.Properties.VpcEndpointType === 'Interface')).toHaveLength(3);
    const gateway = endpoints.find((e) => e.Properties.VpcEndpointType === 'Gateway');
    expect(gateway?.Properties.RouteTableIds).toEqual(['rtb-0a1b2c3d4e5f60718']);
    expect(JSON.stringify(gateway?.Properties.ServiceName)).toContain('.dynamodb');
    const groups = Object.entries(template.findResources('AWS::EC2::SecurityGroup') as Record<string, Resource>);
    const own = groups.find(([, g]) => String(g.Properties.GroupDescription).startsWith('tenant-canary functions'));
    expect(own).toBeDefined();
    const egress = (own![1].Properties.SecurityGroupEgress as { FromPort: number; CidrIp: string }[]).map(
      (r) => r.FromPort,
    );
    expect(egress.sort((a, b) => a - b)).toEqual([443, 5432, 6379]);
    for (const fn of [privateStack.stack.sweep, privateStack.stack.probe]) {
      const resource = template.findResources('AWS::Lambda::Function')[
        privateStack.stack.getLogicalId(fn.node.defaultChild as never)
      ] as Resource;
      expect(resource.Properties.VpcConfig).toMatchObject({
        SecurityGroupIds: [{ 'Fn::GetAtt': [own![0], 'GroupId'] }],
      });
    }
    template.hasOutput('FunctionsSecurityGroupId', { Value: { 'Fn::GetAtt': [own![0], 'GroupId'] } });
    // Each interface endpoint lets the functions' group in on 443.
    expect(Object.keys(template.findResources('AWS::EC2::SecurityGroupIngress'))).toHaveLength(3);
  });

  it('embeds the validated config with secret references only', () => {
    const embedded = readFileSync(join(built.embedDir, EMBEDDED_CONFIG_FILE), 'utf8');
    const config = JSON.parse(embedded) as { tenants: { signingSecret: unknown }[]; deployment?: unknown };
    expect(config.deployment).toBeUndefined();
    expect(config.tenants.map((t) => Object.keys(t.signingSecret as object))).toEqual([
      ['secretId', 'jsonKey'],
      ['secretId', 'jsonKey'],
      ['secretId', 'jsonKey'],
    ]);
    expect(embedded).toContain('enhancement:queue');
  });
});

describe('operability', () => {
  it('reserves concurrency for one sweep at a time, and none for the probe', () => {
    const byDescription = (prefix: string) =>
      resourcesOf('AWS::Lambda::Function').find((fn) => String(fn.Properties.Description).startsWith(prefix));
    expect(byDescription('tenant-canary sweep')?.Properties.ReservedConcurrentExecutions).toBe(1);
    expect(byDescription('tenant-canary probe')?.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it("gives each function the stack's own metric service, and the probe the URL publish switch (off)", () => {
    for (const fn of resourcesOf('AWS::Lambda::Function')) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables.POWERTOOLS_SERVICE_NAME).toBe('tenant-canary/TenantCanary');
    }
    const probe = resourcesOf('AWS::Lambda::Function').find((fn) =>
      String(fn.Properties.Description).startsWith('tenant-canary probe'),
    );
    expect((probe!.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      [LAMBDA_ENV.urlPublish]: 'false',
    });
  });

  it('tags every resource with the service and the configured tags', () => {
    const tagged = buildStack({
      ...exampleConfig(),
      deployment: {
        ...(exampleConfig().deployment as object),
        tags: { environment: 'production', owner: 'platform-team' },
      },
    });
    const tags = tagged.template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
    for (const queue of Object.values(tags)) {
      expect(queue.Properties.Tags).toEqual(
        expect.arrayContaining([
          { Key: 'service', Value: 'tenant-canary' },
          { Key: 'environment', Value: 'production' },
          { Key: 'owner', Value: 'platform-team' },
        ]),
      );
    }
  });

  it('outputs the dead-letter queue, dashboard, tables and schedule', () => {
    const outputs = Object.keys(built.template.findOutputs('*'));
    expect(outputs).toEqual(
      expect.arrayContaining([
        'DeadLetterQueueUrl',
        'DashboardName',
        'StateTableName',
        'SweepTableName',
        'ScheduleName',
      ]),
    );
  });

  it('pauses: the schedule is disabled and the heartbeat alarm takes no action', () => {
    built.template.hasResourceProperties('AWS::Scheduler::Schedule', { State: 'ENABLED' });
    const paused = buildStack({
      ...exampleConfig(),
      deployment: { ...(exampleConfig().deployment as object), paused: true },
    });
    paused.template.hasResourceProperties('AWS::Scheduler::Schedule', { State: 'DISABLED' });
    for (const metric of ['SweepHeartbeat', 'SweepsJudged']) {
      paused.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metric,
        ActionsEnabled: false,
        TreatMissingData: 'notBreaching',
      });
    }
  });
});

describe('IAM', () => {
  it('attaches no managed policy: inside the VPC only an inline statement for network interfaces', () => {
    for (const role of resourcesOf('AWS::IAM::Role')) {
      expect(role.Properties.ManagedPolicyArns, role.id).toBeUndefined();
    }
    const vpcStatements = resourcesOf('AWS::IAM::Role').flatMap((role) =>
      ((role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap(
        (policy) => policy.PolicyDocument.Statement,
      ),
    );
    expect(vpcStatements).toHaveLength(6); // sweep and probe, three each
    for (const statement of vpcStatements) {
      expect([statement.Action].flat().every((action) => String(action).startsWith('ec2:'))).toBe(true);
      // Only the Describe actions, which take no resource, have "*".
      if (JSON.stringify(statement.Resource) === '"*"') {
        expect(statement.Sid).toBe('DescribeNetwork');
        expect(statement.Action).toEqual(['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets']);
      }
    }
    // A network interface may be created only in the configured subnets and security groups.
    const create = vpcStatements.find((statement) => statement.Sid === 'CreateInPlacement');
    const resources = JSON.stringify(create?.Resource);
    const vpc = (exampleConfig().deployment as { vpc: { subnetIds: string[] } }).vpc;
    for (const subnetId of vpc.subnetIds) expect(resources).toContain(`:subnet/${subnetId}`);
    expect(resources).toContain(':network-interface/*');
    expect(resources).toContain(':security-group/');
    expect(resources).not.toContain('"*"');
  });

  const bySid = (statements: Statement[], sid: string) => statements.find((s) => s.Sid === sid);

  it('never grants a "*" resource to the functions', () => {
    for (const fn of [built.stack.sweep, built.stack.probe]) {
      for (const statement of statementsOf(fn.role!)) {
        const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
        for (const resource of resources) {
          expect(JSON.stringify(resource)).not.toMatch(/"\*"|:\*"|\/\*"/);
        }
      }
    }
  });

  it('scopes state, topics, queue and secrets to their exact ARNs', () => {
    const sweep = statementsOf(built.stack.sweep.role!);
    const probe = statementsOf(built.stack.probe.role!);
    for (const statements of [sweep, probe]) {
      expect(bySid(statements, 'AlertState')?.Resource).toEqual(arnOf(built.stack.stateTable));
      expect(bySid(statements, 'AlertState')?.Action).toEqual([
        'dynamodb:BatchGetItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
      ]);
      // The open incidents: Query on the sparse index only, not the table.
      expect(bySid(statements, 'OpenIncidents')).toMatchObject({
        Action: 'dynamodb:Query',
        Resource: { 'Fn::Join': ['', [arnOf(built.stack.stateTable), '/index/open']] },
      });
      expect(bySid(statements, 'PublishAlerts')?.Resource).toEqual(
        (['P0', 'P1', 'P2', 'P3'] as const).map((tier) => ref(built.stack.topics[tier])),
      );
      const secrets = JSON.stringify(bySid(statements, 'ReadCanarySecrets')?.Resource);
      expect(secrets).toContain(
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenant-canary/tenants/initech-Ab12Cd',
      );
      for (const name of [
        'tenant-canary/tenants/acme-corp',
        'tenant-canary/tenants/globex',
        'tenant-canary/probe-db',
      ]) {
        expect(secrets).toContain(`:secretsmanager:eu-west-1:123456789012:secret:${name}-??????`);
      }
    }
    for (const statements of [sweep, probe]) {
      // GetItem: the ledger reads a sweep's status before every judgement (test/cdk/iam-access.test.ts proves each call).
      expect(bySid(statements, 'SweepResults')).toMatchObject({
        Action: [
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:Query',
          'dynamodb:DeleteItem',
        ],
        Resource: arnOf(built.stack.sweepTable),
      });
    }
    expect(bySid(sweep, 'QueueTenants')).toMatchObject({
      Action: 'sqs:SendMessage',
      Resource: arnOf(built.stack.queue),
    });
    expect(bySid(probe, 'QueueTenants')).toBeUndefined();
    // The probe never opens Redis: it may not read the Redis password; the sweep may.
    expect(JSON.stringify(bySid(probe, 'ReadCanarySecrets')?.Resource)).not.toContain('tenant-canary/redis');
    expect(JSON.stringify(bySid(sweep, 'ReadCanarySecrets')?.Resource)).toContain('tenant-canary/redis');
  });

  it("lets the schedule invoke the sweep's exact ARN only (no versions, no aliases)", () => {
    const scheduleRole = built.template.findResources('AWS::Scheduler::Schedule');
    const roleArn = Object.values(scheduleRole)[0]?.Properties.Target.RoleArn as { 'Fn::GetAtt': [string, string] };
    const policies = Object.values(built.template.findResources('AWS::IAM::Policy')).filter((policy) =>
      (policy.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleArn['Fn::GetAtt'][0]),
    );
    const statements = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    expect(statements).toEqual([
      {
        Sid: 'InvokeSweep',
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: arnOf(built.stack.sweep),
      },
    ]);
  });

  it('gives the probe the queue to hand failed records back to, with the retry delay', () => {
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^tenant-canary probe'),
      Environment: {
        Variables: Match.objectLike({
          CANARY_TENANT_QUEUE_URL: ref(built.stack.queue),
          CANARY_PROBE_RETRY_DELAY_S: '30',
        }),
      },
    });
  });

  it('lets the operator roles of the config invoke the Function URL, through the URL only', () => {
    const roleArn = 'arn:aws:iam::123456789012:role/oncall';
    const withOperators = buildStack({
      ...exampleConfig(),
      deployment: { ...(exampleConfig().deployment as object), operatorRoleArns: [roleArn] },
    });
    withOperators.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunctionUrl',
      Principal: roleArn,
      FunctionUrlAuthType: 'AWS_IAM',
      FunctionName: arnOf(withOperators.stack.probe),
    });
    withOperators.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: roleArn,
      InvokedViaFunctionUrl: true,
    });
    expect(
      Object.keys(built.template.findResources('AWS::Lambda::Permission', { Properties: { Principal: roleArn } })),
    ).toEqual([]);
  });
});

describe('self-watch', () => {
  /** Every alarm goes to the alarm topic; its severity is the label its description starts with. */
  const alarmTopic = () => [ref(built.stack.alarmTopic as never)];
  const routedAs = (tier: 'P0' | 'P1' | 'P2' | 'P3') => ({
    AlarmActions: alarmTopic(),
    AlarmDescription: Match.stringLikeRegexp(`^\\[${tier}\\] `),
  });

  it('alarms to P1 when the heartbeat stops, treating missing data as breaching', () => {
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'TenantCanary',
      MetricName: 'SweepHeartbeat',
      // The stack's own service: another canary stack in the account never feeds this alarm.
      Dimensions: [{ Name: 'service', Value: 'tenant-canary/TenantCanary' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 3,
      TreatMissingData: 'breaching',
      ...routedAs('P1'),
      OKActions: alarmTopic(),
    });
  });

  it('alarms on errors and throttles of each function and on dead letters', () => {
    for (const fn of [built.stack.sweep, built.stack.probe]) {
      for (const metric of ['Errors', 'Throttles']) {
        built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: metric,
          Dimensions: [{ Name: 'FunctionName', Value: ref(fn) }],
          Threshold: 1,
          ...routedAs('P2'),
        });
      }
    }
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(built.stack.deadLetterQueue), 'QueueName'] } },
      ],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      ...routedAs('P2'),
    });
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'AlertingFailures',
      ...routedAs('P1'),
    });
  });

  it('alarms when a tenant has waited in the probe queue for a whole interval (the sweep does not drain)', () => {
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(built.stack.queue), 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 300,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      ...routedAs('P2'),
    });
  });

  it('alarms to P1 when no sweep is judged for three intervals (missing data breaches), and when sweeps are judged incomplete', () => {
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'TenantCanary',
      MetricName: 'SweepsJudged',
      Dimensions: [{ Name: 'service', Value: 'tenant-canary/TenantCanary' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'breaching',
      ...routedAs('P1'),
    });
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'TenantCanary',
      MetricName: 'SweepsIncomplete',
      Dimensions: [{ Name: 'service', Value: 'tenant-canary/TenantCanary' }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
      ...routedAs('P2'),
    });
  });

  it('alarms to P1 when SNS fails a notification on any topic, and on each delivery dead-letter queue', () => {
    for (const tier of ['P0', 'P1', 'P2', 'P3'] as const) {
      built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SNS',
        MetricName: 'NumberOfNotificationsFailed',
        Dimensions: [
          { Name: 'TopicName', Value: { 'Fn::GetAtt': [logicalId(built.stack.topics[tier]), 'TopicName'] } },
        ],
        Threshold: 1,
        ...routedAs('P1'),
      });
    }
    for (const queue of [built.stack.deliveryDeadLetters, built.stack.pagerDuty!.deadLetters]) {
      built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(queue), 'QueueName'] } }],
        ...routedAs('P1'),
      });
    }
  });

  it('sends the alarms to a topic of their own, subscribed by P0 and P1 unless told, never to a tier topic', () => {
    const tierTopics = (['P0', 'P1', 'P2', 'P3'] as const).map((tier) => JSON.stringify(ref(built.stack.topics[tier])));
    for (const alarm of resourcesOf('AWS::CloudWatch::Alarm')) {
      for (const action of alarm.Properties.AlarmActions as unknown[])
        expect(tierTopics).not.toContain(JSON.stringify(action));
    }
    built.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: ref(built.stack.alarmTopic as never),
    });
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SweepHeartbeat',
      AlarmDescription: Match.stringLikeRegexp('^\\[P1\\] tenant-canary stopped'),
    });
    built.template.hasOutput('AlarmTopicArn', { Value: ref(built.stack.alarmTopic as never) });
    // An existing topic elsewhere (another account) takes them instead; none is created.
    const shared = 'arn:aws:sns:us-east-1:210987654321:ops-alarms';
    const elsewhere = buildStack({
      ...exampleConfig(),
      deployment: { ...(exampleConfig().deployment as object), selfWatch: { topicArn: shared } },
    });
    for (const alarm of Object.values(elsewhere.template.findResources('AWS::CloudWatch::Alarm')) as Resource[]) {
      expect(alarm.Properties.AlarmActions).toEqual([shared]);
    }
    expect(Object.keys(elsewhere.template.findResources('AWS::SNS::Topic'))).toHaveLength(4);
  });

  it('gives the judging functions the heartbeat URL, or the secret holding it (and leave to read it)', () => {
    const plain = buildStack({
      ...exampleConfig(),
      deployment: { ...(exampleConfig().deployment as object), heartbeatUrl: 'https://hc-ping.com/0123' },
    });
    for (const fn of [plain.stack.sweep, plain.stack.probe]) {
      const resource = plain.template.findResources('AWS::Lambda::Function')[
        plain.stack.getLogicalId(fn.node.defaultChild as never)
      ] as Resource;
      expect(resource.Properties.Environment).toMatchObject({
        Variables: { [LAMBDA_ENV.heartbeatUrl]: 'https://hc-ping.com/0123' },
      });
    }
    const secret = buildStack({
      ...exampleConfig(),
      deployment: { ...(exampleConfig().deployment as object), heartbeatUrl: { secretId: 'ops/heartbeat-url' } },
    });
    expect(JSON.stringify(secret.template.toJSON())).toContain('secret:ops/heartbeat-url-??????');
    expect(JSON.stringify(secret.template.toJSON())).toContain(LAMBDA_ENV.heartbeatSecretId);
  });

  it('sends every alarm somewhere', () => {
    for (const alarm of resourcesOf('AWS::CloudWatch::Alarm')) {
      expect(alarm.Properties.AlarmActions, alarm.id).toHaveLength(1);
      expect(alarm.Properties.AlarmDescription, alarm.id).toMatch(/^\[P[0-3]\] \S/);
      expect(alarm.Properties.AlarmActions, alarm.id).toEqual([ref(built.stack.alarmTopic as never)]);
    }
  });

  it('draws the dashboard: failing checks by check, round-trip p50/p95, alerts by tier, sweep duration', () => {
    const [dashboard] = resourcesOf('AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    for (const text of [
      'Failing checks by check',
      'Enhancement round trip',
      'Alerts sent by tier',
      'Sweep duration',
      'RoundTripLatency',
      'p50',
      'p95',
      'SweepDuration',
      'AlertsSent',
    ]) {
      expect(body).toContain(text);
    }
    for (const entry of CATALOG) expect(body).toContain(entry.id);
    // Metrics are per check, never per tenant (tenants are read from the logs, below).
    expect(body).not.toMatch(/acme-corp/);
    expect(body).not.toMatch(/\[\\"TenantCanary\\",[^\]]*tenantId/);
  });

  it('lists the tenants failing now from the probe logs, and the undelivered alerts', () => {
    const [dashboard] = resourcesOf('AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    expect(body).toContain('Tenants failing now');
    expect(body).toMatch(new RegExp(`SOURCE '",\\{"Ref":"${logicalId(built.stack.probe.logGroupRef)}"\\}`));
    expect(body).toMatch(/stats latest\(failingCount\) as failing.* by tenantId/);
    expect(body).toContain('Undelivered alerts (dead-letter queues)');
    const widget = body.slice(body.indexOf('Undelivered alerts'));
    for (const queue of [built.stack.deliveryDeadLetters, built.stack.pagerDuty?.deadLetters]) {
      expect(widget).toContain(logicalId(queue as never));
    }
  });

  it('names each alarm after the stack and links its section of docs/operations.md', () => {
    const runbook = readFileSync(join(import.meta.dirname, '../../docs/operations.md'), 'utf8');
    const headings = new Set([...runbook.matchAll(/<a id="([a-z0-9-]+)"><\/a>/g)].map((m) => m[1]));
    for (const alarm of resourcesOf('AWS::CloudWatch::Alarm')) {
      const name = alarm.Properties.AlarmName as string;
      expect(name, alarm.id).toMatch(/^TenantCanary-[A-Za-z0-9]+$/);
      const id = name.slice('TenantCanary-'.length).toLowerCase();
      expect(alarm.Properties.AlarmDescription, alarm.id).toMatch(
        new RegExp(`Runbook: tenant-canary docs/operations\\.md#${id}$`),
      );
      expect(headings, `docs/operations.md has no section for ${id}`).toContain(id);
    }
    const published = buildStack({
      ...exampleConfig(),
      deployment: {
        ...(exampleConfig().deployment as object),
        selfWatch: { runbookUrl: 'https://wiki.example.com/canary/operations' },
      },
    });
    published.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'TenantCanary-HeartbeatMissing',
      AlarmDescription: Match.stringLikeRegexp('Runbook: https://wiki.example.com/canary/operations#heartbeatmissing$'),
    });
  });

  it("lets CloudWatch publish this stack's alarms to the alarm topic and use its key (a topic policy replaces the default)", () => {
    const topic = logicalId(built.stack.alarmTopic as never);
    const policies = Object.values(built.template.findResources('AWS::SNS::TopicPolicy')).filter((policy) =>
      JSON.stringify(policy.Properties.Topics).includes(topic),
    );
    const statements = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    expect(statements).toContainEqual({
      Sid: 'CloudWatchAlarmsPublish',
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Resource: { Ref: topic },
      Condition: {
        StringEquals: { 'aws:SourceAccount': '123456789012' },
        ArnLike: {
          'aws:SourceArn': {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:eu-west-1:123456789012:alarm:TenantCanary-*'],
            ],
          },
        },
      },
    });
    // The TLS deny stays beside it.
    expect(statements.some((statement) => statement.Effect === 'Deny')).toBe(true);
    built.template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'CloudWatchAlarmsPublish',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
          }),
        ]),
      },
    });
  });
});
