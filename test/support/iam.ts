/**
 * What AWS would decide about the requests a deployed stack makes: each recorded SDK command
 * mapped to the IAM actions and resource ARNs AWS authorises it as ({@link COMMAND_ACTIONS}; a
 * command without an entry is refused, so a new SDK call cannot slip past), plus the requests
 * AWS services make for the stack (the schedule, SNS deliveries, alarms, the SQS event source,
 * async-invoke destinations, dead-letter queues, the Lambda runtime itself), each evaluated by
 * a real IAM policy evaluator (@cloud-copilot/iam-simulate, AGPL-3.0: a devDependency used by
 * tests only) against the template's identity policies and the resource policies that apply
 * (topic, queue, key and role trust policies, Lambda permissions).
 *
 * A denial says who, what, on which resource, why, and the statement that would allow it (the
 * suggestion is checked: evaluated again with it added, the request is allowed).
 */
import { getDenialReasons, isWildcardOnlyAction, runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { SdkCall } from './aws-fake.ts';
import type { DeployedTemplate } from './cfn.ts';

type Policy = { Version: string; Statement: Statement[] };
type Statement = Record<string, unknown>;
type Context = Record<string, string | string[]>;

/** Who makes a request: a function's (or the scheduler's) role session, or an AWS service principal. */
export type Principal =
  | { kind: 'role'; roleId: string; roleArn: string; session: string; label: string }
  /** A role outside the template (an operator's): only the template's resource policies can allow it. */
  | { kind: 'external'; roleArn: string; session: string; label: string }
  | { kind: 'service'; service: string; label: string };

/** A session of a role outside the template, such as `deployment.operatorRoleArns`. */
export function externalRole(roleArn: string, sessionName: string): Principal {
  const [, , , , account, resource] = roleArn.split(':');
  const roleName = (resource ?? '').split('/').at(-1);
  return {
    kind: 'external',
    roleArn,
    session: `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`,
    label: `role ${roleArn} (outside the stack)`,
  };
}

/** One request AWS authorises. */
export interface Access {
  principal: Principal;
  action: string;
  resource: string;
  context: Context;
  /** What makes the request, for the failure message. */
  why: string;
  /** For a service principal: the aws:SourceArn a suggested resource-policy statement should allow (a pattern). */
  sourceArnPattern?: string;
}

export interface Decision {
  access: Access;
  result: 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied' | 'Error';
  /** Why it was denied, and the statement to add. */
  explanation: string;
}

/** What a command needs, in IAM terms, given the template and the account. */
interface Need {
  action: string;
  resource: string;
  context?: Context;
}

type Mapper = (call: SdkCall, stack: DeployedTemplate) => Need[];

const TLS: Context = { 'aws:SecureTransport': 'true' };

/** A table (or a table's index) named by `TableName` (a name or an ARN) and `IndexName`. */
const tableArn = (stack: DeployedTemplate, region: string, table: unknown, index?: unknown): string => {
  const name = String(table);
  const arn = name.startsWith('arn:') ? name : `arn:aws:dynamodb:${region}:${stack.account}:table/${name}`;
  return index === undefined ? arn : `${arn}/index/${String(index)}`;
};
const onTable =
  (action: string): Mapper =>
  (call, stack) => [{ action, resource: tableArn(stack, call.region, call.input.TableName, call.input.IndexName) }];
const onEachTable =
  (action: string): Mapper =>
  (call, stack) =>
    Object.keys((call.input.RequestItems ?? {}) as Record<string, unknown>).map((table) => ({
      action,
      resource: tableArn(stack, call.region, table),
    }));

/** `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME` (or the legacy host) as the queue's ARN. */
export function queueArnOfUrl(url: string): string {
  const parsed = new URL(url);
  const [account, name] = parsed.pathname.split('/').filter((part) => part !== '');
  const region = parsed.hostname.match(/^sqs\.([a-z0-9-]+)\./)?.[1] ?? parsed.hostname.split('.')[0];
  if (account === undefined || name === undefined || region === undefined) throw new Error(`not a queue URL: ${url}`);
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

/** The key a template topic or queue is encrypted with (a KMS key ARN), if a customer managed one. */
function encryptionKeyOf(stack: DeployedTemplate, resourceArnOrUrl: string): string | undefined {
  const logicalId = stack.logicalIdOf(resourceArnOrUrl);
  if (logicalId === undefined) return undefined;
  const keyId = stack.resource(logicalId).Properties?.KmsMasterKeyId;
  if (keyId === undefined) return undefined;
  const key = stack.resolveString(keyId);
  if (key.startsWith('alias/aws/')) return undefined; // AWS managed: its key policy admits the account's callers
  if (key.startsWith('arn:')) return key;
  return stack.arn('kms', key.startsWith('alias/') ? key : `key/${key}`);
}

/** sqs:SendMessage and the like, plus the key of a queue encrypted with a customer managed key. */
const onQueue =
  (action: string, keyActions: readonly string[] = []): Mapper =>
  (call, stack) => {
    const url = String(call.input.QueueUrl);
    const key = encryptionKeyOf(stack, url);
    return [
      { action, resource: queueArnOfUrl(url) },
      ...(key === undefined
        ? []
        : keyActions.map((keyAction) => ({
            action: keyAction,
            resource: key,
            context: { 'kms:ViaService': `sqs.${call.region}.amazonaws.com` },
          }))),
    ];
  };

/** sns:Publish on the topic; to a topic encrypted with a customer managed key, the key's data-key actions too. */
const publish: Mapper = (call, stack) => {
  if (call.input.TopicArn === undefined) return []; // TargetArn or PhoneNumber: refused below as unmapped
  const topic = String(call.input.TopicArn);
  const key = encryptionKeyOf(stack, topic);
  return [
    { action: 'sns:Publish', resource: topic },
    ...(key === undefined
      ? []
      : ['kms:GenerateDataKey', 'kms:Decrypt'].map((action) => ({
          action,
          resource: key,
          context: { 'kms:ViaService': `sns.${call.region}.amazonaws.com`, 'aws:CalledVia': ['sns.amazonaws.com'] },
        }))),
  ];
};

/** A fixed six-character suffix, as Secrets Manager appends to a secret's name in its ARN. */
export const SECRET_SUFFIX = 'Xy12Ab';

/** The ARN AWS authorises `GetSecretValue` of `secretId` against: a full ARN as given, a name with its suffix. */
export function secretArnOf(stack: DeployedTemplate, region: string, secretId: string): string {
  if (secretId.startsWith('arn:')) return secretId;
  return `arn:aws:secretsmanager:${region}:${stack.account}:secret:${secretId}-${SECRET_SUFFIX}`;
}

/**
 * Every SDK command the functions may send, by `service:CommandClass`, to what IAM authorises.
 * A command missing here fails the test: add it with its action(s) when the code starts sending it.
 */
export const COMMAND_ACTIONS: Record<string, Mapper> = {
  // DynamoDB: the document client's commands and the plain client's.
  'dynamodb:GetCommand': onTable('dynamodb:GetItem'),
  'dynamodb:GetItemCommand': onTable('dynamodb:GetItem'),
  'dynamodb:PutCommand': onTable('dynamodb:PutItem'),
  'dynamodb:PutItemCommand': onTable('dynamodb:PutItem'),
  'dynamodb:UpdateCommand': onTable('dynamodb:UpdateItem'),
  'dynamodb:UpdateItemCommand': onTable('dynamodb:UpdateItem'),
  'dynamodb:DeleteCommand': onTable('dynamodb:DeleteItem'),
  'dynamodb:DeleteItemCommand': onTable('dynamodb:DeleteItem'),
  'dynamodb:QueryCommand': onTable('dynamodb:Query'),
  'dynamodb:ScanCommand': onTable('dynamodb:Scan'),
  'dynamodb:BatchGetCommand': onEachTable('dynamodb:BatchGetItem'),
  'dynamodb:BatchGetItemCommand': onEachTable('dynamodb:BatchGetItem'),
  'dynamodb:BatchWriteCommand': onEachTable('dynamodb:BatchWriteItem'),
  'dynamodb:BatchWriteItemCommand': onEachTable('dynamodb:BatchWriteItem'),
  // SNS
  'sns:PublishCommand': publish,
  'sns:PublishBatchCommand': publish,
  'sns:GetTopicAttributesCommand': (call) => [
    { action: 'sns:GetTopicAttributes', resource: String(call.input.TopicArn) },
  ],
  // SQS: a batch command is authorised as its single action.
  'sqs:SendMessageCommand': onQueue('sqs:SendMessage', ['kms:GenerateDataKey', 'kms:Decrypt']),
  'sqs:SendMessageBatchCommand': onQueue('sqs:SendMessage', ['kms:GenerateDataKey', 'kms:Decrypt']),
  'sqs:ChangeMessageVisibilityCommand': onQueue('sqs:ChangeMessageVisibility'),
  'sqs:ChangeMessageVisibilityBatchCommand': onQueue('sqs:ChangeMessageVisibility'),
  'sqs:DeleteMessageCommand': onQueue('sqs:DeleteMessage'),
  'sqs:DeleteMessageBatchCommand': onQueue('sqs:DeleteMessage'),
  'sqs:ReceiveMessageCommand': onQueue('sqs:ReceiveMessage', ['kms:Decrypt']),
  'sqs:GetQueueAttributesCommand': onQueue('sqs:GetQueueAttributes'),
  // Secrets Manager (a secret encrypted with a customer managed key also needs kms:Decrypt via
  // Secrets Manager: the stack grants it from deployment.secretsKmsKeyArns, which AWS, not the
  // command, names; not modelled here).
  'secretsmanager:GetSecretValueCommand': (call, stack) => [
    {
      action: 'secretsmanager:GetSecretValue',
      resource: secretArnOf(stack, call.region, String(call.input.SecretId)),
    },
  ],
};

/** The accesses a recorded command needs; undefined when the command has no entry in {@link COMMAND_ACTIONS}. */
export function needsOf(call: SdkCall, stack: DeployedTemplate): Need[] | undefined {
  const mapper = COMMAND_ACTIONS[`${call.service}:${call.command}`];
  if (mapper === undefined) return undefined;
  const needs = mapper(call, stack);
  return needs.length === 0 ? undefined : needs;
}

// ---------------------------------------------------------------------------------------------
// Principals and policies from the template

/** The role a template function runs as. */
export function functionRole(stack: DeployedTemplate, functionId: string): Principal {
  const fn = stack.resource(functionId);
  const roleArn = stack.resolveString(fn.Properties?.Role);
  const roleId = stack.logicalIdOf(roleArn);
  if (roleId === undefined) throw new Error(`${functionId} runs as ${roleArn}, which is not in the template`);
  return rolePrincipal(stack, roleId, stack.physicalName(functionId), `role ${roleId} (function ${functionId})`);
}

export function rolePrincipal(stack: DeployedTemplate, roleId: string, sessionName: string, label: string): Principal {
  const roleArn = stack.getAtt(roleId, 'Arn');
  const roleName = stack.physicalName(roleId);
  return {
    kind: 'role',
    roleId,
    roleArn,
    session: `arn:aws:sts::${stack.account}:assumed-role/${roleName}/${sessionName}`,
    label,
  };
}

const asPolicy = (document: unknown): Policy => document as Policy;
const namesOf = (stack: DeployedTemplate, value: unknown): string[] =>
  ((stack.resolve(value) ?? []) as unknown[]).map(String);

/** The policies attached to a template role: inline, AWS::IAM::Policy and template managed policies. */
export function identityPoliciesOf(
  stack: DeployedTemplate,
  roleId: string,
): { policies: { name: string; policy: Policy }[]; unresolved: string[] } {
  const role = stack.resource(roleId);
  const roleName = stack.physicalName(roleId);
  const policies: { name: string; policy: Policy }[] = [];
  for (const inline of (role.Properties?.Policies ?? []) as { PolicyName: unknown; PolicyDocument: unknown }[]) {
    policies.push({
      name: `${roleId}/${stack.resolveString(inline.PolicyName)}`,
      policy: asPolicy(stack.resolve(inline.PolicyDocument)),
    });
  }
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [policyId, policy] of stack.ofType(type)) {
      if (!namesOf(stack, policy.Properties?.Roles).includes(roleName)) continue;
      policies.push({ name: policyId, policy: asPolicy(stack.resolve(policy.Properties?.PolicyDocument)) });
    }
  }
  const unresolved: string[] = [];
  for (const arn of namesOf(stack, role.Properties?.ManagedPolicyArns)) {
    const managedId = stack.logicalIdOf(arn);
    if (managedId === undefined) unresolved.push(arn);
  }
  return { policies, unresolved };
}

/** The resource policy AWS evaluates with a request on `resource`, from the template (undefined: none there). */
export function resourcePolicyOf(stack: DeployedTemplate, action: string, resource: string): Policy | undefined {
  const service = action.split(':')[0];
  const statements: Statement[] = [];
  const collect = (
    type: string,
    listProperty: string,
    documentProperty: string,
    matches: (item: string) => boolean,
  ) => {
    for (const [, policy] of stack.ofType(type)) {
      if (!namesOf(stack, policy.Properties?.[listProperty]).some(matches)) continue;
      statements.push(...asPolicy(stack.resolve(policy.Properties?.[documentProperty])).Statement);
    }
  };
  switch (service) {
    case 'sns':
      collect('AWS::SNS::TopicPolicy', 'Topics', 'PolicyDocument', (topic) => topic === resource);
      break;
    case 'sqs':
      collect('AWS::SQS::QueuePolicy', 'Queues', 'PolicyDocument', (url) => queueArnOfUrl(url) === resource);
      break;
    case 'kms': {
      const keyId = stack.logicalIdOf(resource);
      if (keyId === undefined) return undefined;
      return asPolicy(stack.resolve(stack.resource(keyId).Properties?.KeyPolicy));
    }
    case 'sts': {
      const roleId = stack.logicalIdOf(resource);
      if (roleId === undefined) return undefined;
      return asPolicy(stack.resolve(stack.resource(roleId).Properties?.AssumeRolePolicyDocument));
    }
    case 'lambda':
      statements.push(...lambdaPermissions(stack, resource));
      break;
    case 'dynamodb': {
      const tableId = stack.logicalIdOf(resource.replace(/\/index\/.*$/, ''));
      const policy = tableId === undefined ? undefined : stack.resource(tableId).Properties?.ResourcePolicy;
      if (policy === undefined) return undefined;
      return asPolicy(stack.resolve((policy as { PolicyDocument: unknown }).PolicyDocument));
    }
    default:
      return undefined;
  }
  return statements.length === 0 ? undefined : { Version: '2012-10-17', Statement: statements };
}

/** The function policy of a template function: its AWS::Lambda::Permission resources as statements. */
function lambdaPermissions(stack: DeployedTemplate, functionArn: string): Statement[] {
  const statements: Statement[] = [];
  for (const [permissionId, permission] of stack.ofType('AWS::Lambda::Permission')) {
    const props = stack.resolve(permission.Properties) as Record<string, string>;
    const target = props.FunctionName ?? '';
    const arn = target.startsWith('arn:') ? target : stack.arn('lambda', `function:${target}`);
    if (arn !== functionArn) continue;
    const principal = props.Principal ?? '';
    const condition: Record<string, Record<string, string>> = {};
    if (props.SourceArn !== undefined) condition.ArnLike = { 'aws:SourceArn': props.SourceArn };
    if (props.SourceAccount !== undefined) condition.StringEquals = { 'aws:SourceAccount': props.SourceAccount };
    if (props.PrincipalOrgID !== undefined) {
      condition.StringEquals = { ...condition.StringEquals, 'aws:PrincipalOrgID': props.PrincipalOrgID };
    }
    if (props.FunctionUrlAuthType !== undefined) {
      condition.StringEquals = { ...condition.StringEquals, 'lambda:FunctionUrlAuthType': props.FunctionUrlAuthType };
    }
    if (String(props.InvokedViaFunctionUrl) === 'true') condition.Bool = { 'lambda:InvokedViaFunctionUrl': 'true' };
    statements.push({
      Sid: permissionId,
      Effect: 'Allow',
      Principal: principal.endsWith('.amazonaws.com') ? { Service: principal } : { AWS: principal },
      Action: props.Action,
      Resource: functionArn,
      ...(Object.keys(condition).length === 0 ? {} : { Condition: condition }),
    });
  }
  return statements;
}

// ---------------------------------------------------------------------------------------------
// Requests AWS services make for the stack

/**
 * The requests AWS makes on the stack's behalf: the scheduler's role invoking its target (and
 * assuming that role), SNS invoking subscribed functions and parking undeliverable messages in
 * their dead-letter queues, CloudWatch alarms publishing to their topics (and its key), the SQS
 * event source polling with the function's role, async-invoke destinations, the Lambda service
 * assuming each function's role, writing its logs and, in a VPC, managing its network interfaces.
 */
export async function serviceAccesses(stack: DeployedTemplate): Promise<Access[]> {
  const accesses: Access[] = [];
  const { account } = stack;
  const service = (name: string): Principal => ({ kind: 'service', service: name, label: `service ${name}` });
  const fromService = (sourceArn: string): Context => ({
    ...TLS,
    'aws:SourceAccount': account,
    'aws:SourceArn': sourceArn,
  });
  const functionIdOf = (value: unknown) => {
    const resolved = stack.resolveString(value);
    const arn = resolved.startsWith('arn:') ? resolved : stack.arn('lambda', `function:${resolved}`);
    return stack.logicalIdOf(arn);
  };

  for (const [scheduleId, schedule] of stack.ofType('AWS::Scheduler::Schedule')) {
    const target = stack.resolve(schedule.Properties?.Target) as { Arn: string; RoleArn: string };
    const roleId = stack.logicalIdOf(target.RoleArn);
    if (roleId === undefined) continue;
    const group = schedule.Properties?.GroupName;
    const groupArn = stack.arn('scheduler', `schedule-group/${group === undefined ? 'default' : String(group)}`);
    accesses.push({
      principal: service('scheduler.amazonaws.com'),
      action: 'sts:AssumeRole',
      resource: target.RoleArn,
      context: fromService(groupArn),
      why: `the schedule ${scheduleId} assumes its role`,
      sourceArnPattern: groupArn,
    });
    const principal = rolePrincipal(stack, roleId, scheduleId, `role ${roleId} (schedule ${scheduleId})`);
    if (target.Arn.startsWith('arn:aws:lambda:')) {
      accesses.push({
        principal,
        action: 'lambda:InvokeFunction',
        resource: target.Arn,
        context: TLS,
        why: `the schedule ${scheduleId} invokes its target`,
      });
    }
  }

  for (const [subscriptionId, subscription] of stack.ofType('AWS::SNS::Subscription')) {
    const props = stack.resolve(subscription.Properties) as {
      Protocol: string;
      Endpoint: string;
      TopicArn: string;
      RedrivePolicy?: { deadLetterTargetArn?: string };
    };
    if (props.Protocol === 'lambda') {
      accesses.push({
        principal: service('sns.amazonaws.com'),
        action: 'lambda:InvokeFunction',
        resource: props.Endpoint,
        context: fromService(props.TopicArn),
        why: `SNS delivers ${stack.logicalIdOf(props.TopicArn) ?? props.TopicArn} to its subscriber (${subscriptionId})`,
        sourceArnPattern: props.TopicArn,
      });
    }
    const deadLetters = props.RedrivePolicy?.deadLetterTargetArn;
    if (deadLetters !== undefined) {
      accesses.push({
        principal: service('sns.amazonaws.com'),
        action: 'sqs:SendMessage',
        resource: deadLetters,
        context: fromService(props.TopicArn),
        why: `SNS parks what it cannot deliver for ${subscriptionId} in its dead-letter queue`,
        sourceArnPattern: props.TopicArn,
      });
      const key = encryptionKeyOf(stack, deadLetters);
      for (const action of key === undefined ? [] : ['kms:GenerateDataKey', 'kms:Decrypt']) {
        accesses.push({
          principal: service('sns.amazonaws.com'),
          action,
          resource: key as string,
          context: fromService(props.TopicArn),
          why: `SNS writes to the encrypted dead-letter queue of ${subscriptionId}`,
        });
      }
    }
  }

  for (const [alarmId, alarm] of stack.ofType('AWS::CloudWatch::Alarm')) {
    const props = stack.resolve(alarm.Properties) as Record<string, unknown>;
    const alarmArn = stack.getAtt(alarmId, 'Arn');
    const actions = new Set(
      ['AlarmActions', 'OKActions', 'InsufficientDataActions'].flatMap((key) => (props[key] ?? []) as string[]),
    );
    for (const topic of actions) {
      if (!topic.startsWith('arn:aws:sns:')) continue;
      const context = fromService(alarmArn);
      const pattern = stack.arn('cloudwatch', 'alarm:*');
      accesses.push({
        principal: service('cloudwatch.amazonaws.com'),
        action: 'sns:Publish',
        resource: topic,
        context,
        why: `the alarm ${alarmId} notifies its topic`,
        sourceArnPattern: pattern,
      });
      const key = encryptionKeyOf(stack, topic);
      for (const action of key === undefined ? [] : ['kms:GenerateDataKey', 'kms:Decrypt']) {
        accesses.push({
          principal: service('cloudwatch.amazonaws.com'),
          action,
          resource: key as string,
          context,
          why: `the alarm ${alarmId} publishes to its encrypted topic`,
          sourceArnPattern: pattern,
        });
      }
    }
  }

  for (const [mappingId, mapping] of stack.ofType('AWS::Lambda::EventSourceMapping')) {
    const source = stack.resolveString(mapping.Properties?.EventSourceArn);
    const functionId = functionIdOf(mapping.Properties?.FunctionName);
    if (functionId === undefined || !source.startsWith('arn:aws:sqs:')) continue;
    const principal = functionRole(stack, functionId);
    const queueKey = encryptionKeyOf(stack, source);
    const actions = [
      'sqs:ReceiveMessage',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:ChangeMessageVisibility',
    ];
    for (const action of actions) {
      accesses.push({
        principal,
        action,
        resource: source,
        context: TLS,
        why: `the event source ${mappingId} polls its queue for ${functionId}`,
      });
    }
    if (queueKey !== undefined) {
      accesses.push({ principal, action: 'kms:Decrypt', resource: queueKey, context: TLS, why: `${mappingId}` });
    }
  }

  for (const [configId, config] of stack.ofType('AWS::Lambda::EventInvokeConfig')) {
    const functionId = functionIdOf(config.Properties?.FunctionName);
    if (functionId === undefined) continue;
    const destinations = (stack.resolve(config.Properties?.DestinationConfig) ?? {}) as Record<
      string,
      { Destination?: string }
    >;
    for (const [when, { Destination: destination }] of Object.entries(destinations)) {
      if (destination === undefined) continue;
      const action = destination.startsWith('arn:aws:sqs:')
        ? 'sqs:SendMessage'
        : destination.startsWith('arn:aws:sns:')
          ? 'sns:Publish'
          : destination.startsWith('arn:aws:lambda:')
            ? 'lambda:InvokeFunction'
            : 'events:PutEvents';
      accesses.push({
        principal: functionRole(stack, functionId),
        action,
        resource: destination,
        context: TLS,
        why: `Lambda sends ${functionId}'s ${when} events to their destination (${configId})`,
      });
    }
  }

  for (const [functionId, fn] of stack.ofType('AWS::Lambda::Function')) {
    const principal = functionRole(stack, functionId);
    accesses.push({
      principal: service('lambda.amazonaws.com'),
      action: 'sts:AssumeRole',
      resource: (principal as { roleArn: string }).roleArn,
      context: TLS,
      why: `Lambda runs ${functionId} as its role`,
    });
    const logging = stack.resolve(fn.Properties?.LoggingConfig) as { LogGroup?: string } | undefined;
    const logGroup = logging?.LogGroup ?? `/aws/lambda/${stack.physicalName(functionId)}`;
    const stream = stack.arn('logs', `log-group:${logGroup}:log-stream:2026/11/27/[$LATEST]0123456789abcdef`);
    for (const action of ['logs:CreateLogStream', 'logs:PutLogEvents']) {
      accesses.push({ principal, action, resource: stream, context: TLS, why: `Lambda writes ${functionId}'s logs` });
    }
    const vpc = stack.resolve(fn.Properties?.VpcConfig) as { SubnetIds?: string[] } | undefined;
    if (vpc?.SubnetIds !== undefined) {
      for (const action of [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ]) {
        accesses.push({
          principal,
          action,
          // Describe* authorise on "*" only.
          resource: (await isWildcardOnlyAction(...(action.split(':') as [string, string])))
            ? '*'
            : stack.arn('ec2', 'network-interface/eni-0123456789abcdef0'),
          context: TLS,
          why: `Lambda manages ${functionId}'s network interfaces in its VPC`,
        });
      }
    }
  }
  return accesses;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** The same request once: its principal, action and resource (and its context). */
export const accessKey = (access: Access, withContext = true): string =>
  [
    access.principal.kind === 'service' ? access.principal.service : access.principal.roleArn,
    access.action,
    access.resource,
    ...(withContext ? [JSON.stringify(access.context)] : []),
  ].join(' | ');

async function simulate(
  stack: DeployedTemplate,
  access: Access,
  extra: { identity?: Statement; resource?: Statement } = {},
): Promise<Awaited<ReturnType<typeof runSimulation>>> {
  const { principal } = access;
  const identity = principal.kind === 'role' ? identityPoliciesOf(stack, principal.roleId).policies : [];
  const resourcePolicy = resourcePolicyOf(stack, access.action, access.resource);
  const withResource =
    extra.resource === undefined
      ? resourcePolicy
      : { Version: '2012-10-17', Statement: [...(resourcePolicy?.Statement ?? []), extra.resource] };
  const simulation: Simulation = {
    request: {
      principal: principal.kind === 'service' ? principal.service : principal.session,
      action: access.action,
      resource: { resource: access.resource, accountId: stack.account },
      contextVariables: {
        ...(principal.kind === 'service'
          ? {}
          : { 'aws:PrincipalArn': principal.roleArn, 'aws:PrincipalAccount': principal.roleArn.split(':')[4] ?? '' }),
        ...access.context,
      },
    },
    identityPolicies: [
      ...identity,
      ...(extra.identity === undefined
        ? []
        : [{ name: 'suggested', policy: { Version: '2012-10-17', Statement: [extra.identity] } }]),
    ],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(withResource === undefined ? {} : { resourcePolicy: withResource }),
  };
  return runSimulation(simulation, {});
}

/** The resource in the template's terms: `{"Fn::GetAtt": [id, "Arn"]}`, `{"Ref": id}`, or the ARN. */
function inTemplateTerms(stack: DeployedTemplate, resource: string): unknown {
  const secret = resource.match(/^(arn:aws:secretsmanager:[^:]+:\d+:secret:.+)-[A-Za-z0-9]{6}$/);
  if (secret?.[1] !== undefined && resource.endsWith(`-${SECRET_SUFFIX}`)) return `${secret[1]}-??????`;
  for (const [logicalId] of Object.entries(stack.resources)) {
    if (stack.ref(logicalId) === resource) return { Ref: logicalId };
    try {
      const arn = stack.getAtt(logicalId, 'Arn');
      if (arn === resource) return { 'Fn::GetAtt': [logicalId, 'Arn'] };
      if (resource.startsWith(`${arn}/`)) {
        return { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId, 'Arn'] }, resource.slice(arn.length)]] };
      }
    } catch {
      // no Arn attribute for this type
    }
  }
  return resource;
}

/** The policy resource a role's missing statement belongs in (its default policy), for the message. */
function defaultPolicyOf(stack: DeployedTemplate, roleId: string): string {
  const roleName = stack.physicalName(roleId);
  const attached = stack
    .ofType('AWS::IAM::Policy')
    .find(([, policy]) => namesOf(stack, policy.Properties?.Roles).includes(roleName));
  return attached === undefined ? `a policy of ${roleId}` : `${roleId}'s policy ${attached[0]}`;
}

/** Where a resource policy for `resource` lives in the template, for the message. */
function resourcePolicyHome(stack: DeployedTemplate, action: string, resource: string): string {
  const service = action.split(':')[0];
  const owner = stack.logicalIdOf(resource);
  const find = (type: string, list: string, matches: (item: string) => boolean) =>
    stack.ofType(type).find(([, policy]) => namesOf(stack, policy.Properties?.[list]).some(matches))?.[0];
  switch (service) {
    case 'sns':
      return find('AWS::SNS::TopicPolicy', 'Topics', (t) => t === resource) ?? `a topic policy on ${owner ?? resource}`;
    case 'sqs':
      return (
        find('AWS::SQS::QueuePolicy', 'Queues', (q) => queueArnOfUrl(q) === resource) ??
        `a queue policy on ${owner ?? resource}`
      );
    case 'kms':
      return `the key policy of ${owner ?? resource}`;
    case 'sts':
      return `the trust policy of ${owner ?? resource}`;
    case 'lambda':
      return `an AWS::Lambda::Permission on ${owner ?? resource}`;
    default:
      return `the resource policy of ${owner ?? resource}`;
  }
}

interface Suggestion {
  policy: 'identity' | 'resource';
  where: string;
  statement: Statement;
}

function suggestions(stack: DeployedTemplate, access: Access): Suggestion[] {
  const { principal } = access;
  const resource = inTemplateTerms(stack, access.resource);
  const out: Suggestion[] = [];
  if (principal.kind === 'role') {
    out.push({
      policy: 'identity',
      where: `add to ${defaultPolicyOf(stack, principal.roleId)}`,
      statement: { Effect: 'Allow', Action: access.action, Resource: resource },
    });
  }
  const condition: Record<string, Record<string, string>> = {};
  if (principal.kind === 'service' && access.context['aws:SourceAccount'] !== undefined) {
    condition.StringEquals = { 'aws:SourceAccount': stack.account };
  }
  if (principal.kind === 'service' && access.sourceArnPattern !== undefined) {
    condition.ArnLike = { 'aws:SourceArn': access.sourceArnPattern };
  }
  out.push({
    policy: 'resource',
    where: `add to ${resourcePolicyHome(stack, access.action, access.resource)}`,
    statement: {
      Effect: 'Allow',
      Principal: principal.kind === 'service' ? { Service: principal.service } : { AWS: principal.roleArn },
      Action: access.action,
      Resource: access.action.startsWith('kms:') ? '*' : resource,
      ...(Object.keys(condition).length === 0 ? {} : { Condition: condition }),
    },
  });
  return out;
}

/** Resolves template terms in a suggested statement so it can be evaluated. */
const resolvedStatement = (stack: DeployedTemplate, statement: Statement): Statement =>
  stack.resolve(statement) as Statement;

/** Evaluates one access; a denial's explanation names the statement that would allow it. */
export async function evaluate(stack: DeployedTemplate, access: Access): Promise<Decision> {
  const response = await simulate(stack, access);
  if (response.resultType === 'error') {
    return {
      access,
      result: 'Error',
      explanation: `the evaluator refused the request: ${JSON.stringify(response.errors)}`,
    };
  }
  const result = response.overallResult;
  if (result === 'Allowed') return { access, result, explanation: 'allowed' };
  const lines: string[] = [];
  if (response.resultType === 'single') {
    for (const denial of getDenialReasons(response.result.analysis)) {
      if (denial.denialType === 'Explicit') {
        lines.push(
          `explicitly denied by statement ${denial.statementId ?? `#${denial.statementIndex}`} of the ${denial.policyType} policy${denial.policyIdentifier === undefined ? '' : ` ${denial.policyIdentifier}`}`,
        );
      }
    }
  }
  if (lines.length === 0) lines.push('implicitly denied: no statement allows it');
  let fixed = false;
  for (const { policy, where, statement } of suggestions(stack, access)) {
    const trial = await simulate(stack, access, { [policy]: resolvedStatement(stack, statement) });
    if (trial.resultType !== 'error' && trial.overallResult === 'Allowed') {
      lines.push(`${where}: ${JSON.stringify(statement)}`);
      fixed = true;
      break;
    }
  }
  if (!fixed) lines.push('no single Allow statement fixes it: an explicit Deny applies (see above)');
  if (access.principal.kind === 'role') {
    const { unresolved } = identityPoliciesOf(stack, access.principal.roleId);
    if (unresolved.length > 0)
      lines.push(`not evaluated: managed policies outside the template (${unresolved.join(', ')})`);
  }
  return { access, result, explanation: lines.join('\n    ') };
}

/** Evaluates each distinct access once (a request's principal, action, resource and context). */
export async function evaluateAll(stack: DeployedTemplate, accesses: readonly Access[]): Promise<Decision[]> {
  const seen = new Map<string, Access>();
  for (const access of accesses) if (!seen.has(accessKey(access))) seen.set(accessKey(access), access);
  const decisions: Decision[] = [];
  for (const access of seen.values()) decisions.push(await evaluate(stack, access));
  return decisions;
}

/**
 * Denials as the failure message shows them: one entry per (principal, action, resource), with
 * every request that needs it (e.g. each alarm publishing to one topic) and the statement to add.
 */
export function describeDenials(decisions: readonly Decision[]): string {
  const groups = new Map<string, Decision[]>();
  for (const decision of decisions) {
    const key = accessKey(decision.access, false);
    groups.set(key, [...(groups.get(key) ?? []), decision]);
  }
  return [...groups.values()]
    .map((group) => {
      const [first] = group as [Decision, ...Decision[]];
      const { access } = first;
      const whys = [...new Set(group.map((decision) => decision.access.why))];
      return [
        `${first.result}: ${access.principal.label} -> ${access.action} on ${access.resource}`,
        ...whys.slice(0, 5).map((why) => `    needed by: ${why}`),
        ...(whys.length > 5 ? [`    ... and ${whys.length - 5} more`] : []),
        `    ${first.explanation}`,
      ].join('\n');
    })
    .join('\n\n');
}
