/**
 * Every AWS request the deployed canary makes is allowed by the synthesised template, as AWS
 * would decide it (issue 22). For each example config the stack is synthesised; the real
 * handlers (the sweep, the probe's SQS batch that completes and judges the sweep, its direct
 * and Function URL invocations, the PagerDuty forwarder) run with the production wiring and the
 * environment the template gives each function (names and ARNs resolved as deployed: account
 * 123456789012, the stack's region), against the embedded sandbox platform; every AWS SDK
 * command is caught at the client and recorded (test/support/aws-fake.ts). Each command is
 * mapped to the IAM actions and resources AWS authorises it as, and each (role, action,
 * resource) is evaluated by a real IAM policy evaluator against that role's policies and the
 * resource policies that apply; so are the requests AWS services make for the stack
 * (test/support/iam.ts). A denial names the principal, the action, the resource and the
 * statement to add. Each example prints how many distinct (principal, action, resource) pairs it
 * checked; IAM_ACCESS_DEBUG=1 also prints every command sent and the functions' logs.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context, SNSEvent, SQSRecord } from 'aws-lambda';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AppDeps } from '../../functions/app/deps.ts';
import type { ConfigInput } from '../../functions/core/config.ts';
import { fernetEncrypt, generateFernetKey } from '../../functions/core/fernet.ts';
import { EMBEDDED_CONFIG_FILE, LAMBDA_ENV } from '../../functions/core/lambda-env.ts';
import { createForwarderDeps, createForwarderHandler } from '../../functions/handlers/pagerduty.ts';
import { createProbeHandler } from '../../functions/handlers/probe.ts';
import { createLambdaDeps } from '../../functions/handlers/runtime.ts';
import { createSweepDeps, createSweepHandler } from '../../functions/handlers/sweep.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { sqsRecord } from '../../sim/sqs-record.ts';
import { type AwsFake, type SdkCall, startAwsFake } from '../support/aws-fake.ts';
import { type CfnTemplate, DeployedTemplate } from '../support/cfn.ts';
import {
  type Access,
  accessKey,
  type Decision,
  describeDenials,
  evaluate,
  evaluateAll,
  externalRole,
  functionRole,
  needsOf,
  serviceAccesses,
} from '../support/iam.ts';
import { type PagerDutyStandIn, startPagerDuty } from '../support/pagerduty.ts';
import { buildStack, EXAMPLE_PATH, PLATFORM_EXAMPLE_PATH } from './support.ts';

/** The account every example is evaluated in (the examples name it too). */
const ACCOUNT = '123456789012';
/** The clock of the deployed functions: the sweep at T0, its probes seconds later. */
const T0 = Date.parse('2026-11-27T10:05:00Z');
/** A routing key as PagerDuty issues them (32 characters). */
const ROUTING_KEY = 'R0ut1ngK3yR0ut1ngK3yR0ut1ngK3y01';
/** The schema in the sandbox database the database tenant source reads (the sandbox's own key is private). */
const SOURCE_SCHEMA = 'canary_iam_source';

let sandbox: Sandbox;
let pagerDuty: PagerDutyStandIn;
const sourceKey = generateFernetKey();

beforeAll(async () => {
  [sandbox, pagerDuty] = await Promise.all([
    startSandbox({
      redis: 'memory',
      // Plain HTTP: TLS to the platform is not what this test is about (and no certificate cache is shared).
      tls: false,
      tenantCount: 3,
      workerLatencyMs: { min: 5, max: 20 },
      // Forgeries accepted: every tenant fails four P0 checks, so the judged sweep publishes.
      faults: ['forged-signatures-accepted'],
    }),
    startPagerDuty(),
  ]);
  const client = new pg.Client({ connectionString: sandbox.config.database?.url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${SOURCE_SCHEMA}`);
    await client.query(`CREATE TABLE ${SOURCE_SCHEMA}.tenant_configs (
      tenant_id text PRIMARY KEY, webhook_signing_secret_encrypted text, is_active boolean NOT NULL)`);
    for (const { tenantId, secret } of sandbox.tenants) {
      await client.query(`INSERT INTO ${SOURCE_SCHEMA}.tenant_configs VALUES ($1, $2, true)`, [
        tenantId,
        fernetEncrypt(sourceKey, secret),
      ]);
    }
  } finally {
    await client.end();
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([sandbox?.stop(), pagerDuty?.stop()]);
});

type SecretRef = { value?: string; env?: string; secretId?: string; jsonKey?: string };

/** Secret values by SecretId, as Secrets Manager would hold them (one JSON object per id with keys). */
class SecretStore {
  readonly values = new Map<string, string>();
  private readonly objects = new Map<string, Record<string, string>>();

  put(ref: SecretRef | undefined, value: string): void {
    if (ref?.secretId === undefined) return;
    if (ref.jsonKey === undefined) {
      this.values.set(ref.secretId, value);
      return;
    }
    const object = { ...this.objects.get(ref.secretId), [ref.jsonKey]: value };
    this.objects.set(ref.secretId, object);
    this.values.set(ref.secretId, JSON.stringify(object));
  }
}

/** An RDS-style JSON secret for a PostgreSQL URL. */
function rdsSecret(url: string): string {
  const parsed = new URL(url);
  return JSON.stringify({
    engine: 'postgres',
    username: decodeURIComponent(parsed.username) || 'postgres',
    password: decodeURIComponent(parsed.password) || 'unused',
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    dbname: parsed.pathname.slice(1) || 'postgres',
  });
}

/**
 * The config the stack embedded in the functions, pointed at the sandbox: its endpoints, CA and
 * thresholds are the sandbox's, every secret reference stays as deployed (the secret store
 * answers them with the sandbox's values), so the functions read exactly the secrets the
 * deployed ones would.
 */
function retarget(embedded: Record<string, unknown>, secrets: SecretStore): ConfigInput {
  const local = sandbox.config;
  const config = structuredClone(embedded) as Record<string, unknown> & {
    platform: Record<string, unknown>;
    tenants: { tenantId: string; signingSecret: SecretRef }[];
    database?: Record<string, unknown> & { secretId?: string };
    tenantSource: Record<string, unknown> & { type: string; secretId?: string; encryptionKey?: SecretRef };
    redis?: Record<string, unknown> & { auth?: { password: SecretRef } };
    alerts: { pagerduty?: { routingKey: SecretRef } };
  };
  config.platform = {
    ...config.platform,
    baseUrl: local.platform.baseUrl,
    caFile: local.platform.caFile ?? null,
    signatureFormat: local.platform.signatureFormat,
  };
  config.thresholds = local.thresholds;
  const localDb = local.database as Record<string, unknown> & { url: string };
  if (config.database !== undefined) {
    const { url: _url, tls: _tls, ...access } = localDb;
    config.database = { ...config.database, ...access, tls: { caFile: null } };
    if (config.database.secretId === undefined) config.database.url = localDb.url;
    else secrets.put({ secretId: config.database.secretId }, rdsSecret(localDb.url));
  }
  const secretOf = new Map(sandbox.tenants.map((tenant) => [tenant.tenantId, tenant.secret]));
  for (const tenant of config.tenants) {
    const secret = secretOf.get(tenant.tenantId);
    if (secret === undefined) throw new Error(`the sandbox has no tenant ${tenant.tenantId}`);
    if (tenant.signingSecret.secretId === undefined) tenant.signingSecret = { value: secret };
    else secrets.put(tenant.signingSecret, secret);
  }
  if (config.tenantSource.type === 'database') {
    config.tenantSource = {
      ...config.tenantSource,
      query: `SELECT tenant_id, webhook_signing_secret_encrypted FROM ${SOURCE_SCHEMA}.tenant_configs WHERE is_active ORDER BY tenant_id`,
      tls: { caFile: null },
    };
    if (config.tenantSource.secretId === undefined) config.tenantSource.url = localDb.url;
    else secrets.put({ secretId: config.tenantSource.secretId }, rdsSecret(localDb.url));
    if (config.tenantSource.encryptionKey?.secretId === undefined)
      config.tenantSource.encryptionKey = { value: sourceKey };
    else secrets.put(config.tenantSource.encryptionKey, sourceKey);
  }
  if (config.redis !== undefined) {
    // Nothing listens there: the queue-depth check fails after its password was read, as it would with a wrong one.
    config.redis = { ...config.redis, url: 'redis://127.0.0.1:9/0', tls: { caFile: null } };
    secrets.put(config.redis.auth?.password, 'not-the-redis-password');
  }
  secrets.put(config.alerts.pagerduty?.routingKey, ROUTING_KEY);
  return config as unknown as ConfigInput;
}

const lambdaContext = (functionName: string, remainingMs: number): Context =>
  ({
    functionName,
    awsRequestId: 'req-iam',
    getRemainingTimeInMillis: () => remainingMs,
  }) as unknown as Context;

/** What running one example produced. */
interface ExampleRun {
  stack: DeployedTemplate;
  fake: AwsFake;
  calls: SdkCall[];
  /** Commands with no entry in COMMAND_ACTIONS, or sent outside a function, or by a client nobody fakes. */
  unaccounted: string[];
  functionAccesses: Access[];
  functionDecisions: Decision[];
  serviceDecisions: Decision[];
  functions: { sweep: string; probe: string; forwarder: string | undefined };
  enqueued: number;
  forwarded: number;
}

async function runExample(path: string): Promise<ExampleRun> {
  const config = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  const built = buildStack(config);
  const region = built.stack.region;
  expect(built.stack.account, 'the examples deploy to the fixed account').toBe(ACCOUNT);
  const stack = new DeployedTemplate(built.template.toJSON() as CfnTemplate, {
    account: ACCOUNT,
    region,
    stackName: built.stack.stackName,
  });
  const idOf = (construct: { node: { defaultChild?: unknown } }) =>
    built.stack.getLogicalId(construct.node.defaultChild as never);
  const functions = {
    sweep: idOf(built.stack.sweep),
    probe: idOf(built.stack.probe),
    forwarder: built.stack.pagerDuty === undefined ? undefined : idOf(built.stack.pagerDuty.forwarder),
  };

  // The function bundle's files: the embedded config, pointed at the sandbox.
  const taskRoot = await mkdtemp(join(tmpdir(), 'canary-iam-task-'));
  const secrets = new SecretStore();
  const embedded = JSON.parse(await readFile(join(built.embedDir, EMBEDDED_CONFIG_FILE), 'utf8')) as Record<
    string,
    unknown
  >;
  await writeFile(join(taskRoot, EMBEDDED_CONFIG_FILE), JSON.stringify(retarget(embedded, secrets)));
  await rm(built.embedDir, { recursive: true, force: true });

  /** A function's environment: the template's variables, as deployed, and what the Lambda runtime sets. */
  const envOf = (functionId: string): Record<string, string> => {
    const variables = stack.resolve(
      (stack.resource(functionId).Properties?.Environment as { Variables?: unknown } | undefined)?.Variables ?? {},
    ) as Record<string, string>;
    const env: Record<string, string> = {
      ...variables,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_LAMBDA_FUNCTION_NAME: stack.physicalName(functionId),
      LAMBDA_TASK_ROOT: taskRoot,
    };
    // Outside AWS the functions talk to stand-ins, never to the real services.
    if (env[LAMBDA_ENV.pagerdutyUrl] !== undefined) env[LAMBDA_ENV.pagerdutyUrl] = pagerDuty.url;
    if (env[LAMBDA_ENV.heartbeatUrl] !== undefined) env[LAMBDA_ENV.heartbeatUrl] = 'http://127.0.0.1:9/heartbeat';
    if (env[LAMBDA_ENV.heartbeatSecretId] !== undefined) {
      secrets.put(
        {
          secretId: env[LAMBDA_ENV.heartbeatSecretId],
          ...(env[LAMBDA_ENV.heartbeatJsonKey] === undefined ? {} : { jsonKey: env[LAMBDA_ENV.heartbeatJsonKey] }),
        },
        'http://127.0.0.1:9/heartbeat',
      );
    }
    return env;
  };
  const env = {
    sweep: envOf(functions.sweep),
    probe: envOf(functions.probe),
    forwarder: functions.forwarder === undefined ? undefined : envOf(functions.forwarder),
  };

  vi.stubEnv('AWS_REGION', region);
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDLOCAL');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local-only');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', process.env.IAM_ACCESS_DEBUG ? 'INFO' : 'SILENT');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  const fake = await startAwsFake({ secrets: secrets.values, region });
  try {
    // The tables as the template creates them, under their deployed names.
    for (const [tableId, table] of stack.ofType('AWS::DynamoDB::Table')) {
      const props = stack.resolve(table.Properties) as Record<string, unknown>;
      const input: CreateTableCommandInput = {
        TableName: stack.physicalName(tableId),
        KeySchema: props.KeySchema as CreateTableCommandInput['KeySchema'],
        AttributeDefinitions: props.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
        BillingMode: 'PAY_PER_REQUEST',
        ...(props.GlobalSecondaryIndexes === undefined
          ? {}
          : {
              GlobalSecondaryIndexes: (props.GlobalSecondaryIndexes as Record<string, unknown>[]).map((index) => ({
                IndexName: index.IndexName as string,
                KeySchema: index.KeySchema as CreateTableCommandInput['KeySchema'],
                Projection: index.Projection as { ProjectionType: 'KEYS_ONLY' },
              })),
            }),
      };
      await fake.sendToDynamo(new CreateTableCommand(input));
    }

    const at = (seconds: number) => () => new Date(T0 + seconds * 1000);
    const withClock = (deps: AppDeps, seconds: number): AppDeps => ({ ...deps, now: at(seconds) });
    const probeName = stack.physicalName(functions.probe);

    // The schedule's sweep: platform checks (the API is down: it publishes), every tenant to the queue.
    const sweepHandler = createSweepHandler(withClock(createSweepDeps(env.sweep), 0));
    await sandbox.setFaults(['forged-signatures-accepted', 'health-down']);
    const summary = await fake
      .as(functions.sweep, () =>
        sweepHandler({ source: 'tenant-canary.schedule' }, lambdaContext(stack.physicalName(functions.sweep), 240_000)),
      )
      .finally(() => sandbox.setFaults(['forged-signatures-accepted']));

    // The event source delivers them to the probe (with one malformed record, which fails and is handed back).
    const mapping = stack.ofType('AWS::Lambda::EventSourceMapping')[0];
    const queueArn = stack.resolveString(mapping?.[1].Properties?.EventSourceArn);
    const records: SQSRecord[] = [...fake.sent.map((message) => message.body), '{not json'].map((body, i) => ({
      ...sqsRecord(`m-${i}`, body),
      eventSourceARN: queueArn,
      awsRegion: region,
    }));
    const probeHandler = createProbeHandler(withClock(createLambdaDeps(env.probe), 20));
    await fake.as(functions.probe, () => probeHandler({ Records: records }, lambdaContext(probeName, 240_000)));

    // On demand: a direct invocation that asks to publish, and a Function URL call.
    const tenantId = sandbox.tenants[0]?.tenantId ?? 'acme-corp';
    const onDemand = createProbeHandler(withClock(createLambdaDeps(env.probe), 40));
    await fake.as(functions.probe, () => onDemand({ tenantId, publish: true }, lambdaContext(probeName, 240_000)));
    await fake.as(functions.probe, () =>
      onDemand(
        {
          version: '2.0',
          rawPath: '/',
          headers: { 'content-type': 'application/json' },
          requestContext: { http: { method: 'POST', path: '/' } },
          body: JSON.stringify({ tenantId }),
          isBase64Encoded: false,
        },
        lambdaContext(probeName, 240_000),
      ),
    );

    // SNS delivers what was published on the forwarder's topics to it.
    let forwarded = 0;
    if (functions.forwarder !== undefined && env.forwarder !== undefined) {
      const forwarderArn = stack.getAtt(functions.forwarder, 'Arn');
      const topics = new Set(
        stack
          .ofType('AWS::SNS::Subscription')
          .map(([, s]) => stack.resolve(s.Properties) as { Endpoint: string; TopicArn: string })
          .filter((s) => s.Endpoint === forwarderArn)
          .map((s) => s.TopicArn),
      );
      const delivered = fake.published.filter((message) => topics.has(message.topicArn)).slice(0, 3);
      const event: SNSEvent = {
        Records: delivered.map((message, i) => ({
          EventSource: 'aws:sns',
          EventVersion: '1.0',
          EventSubscriptionArn: `${message.topicArn}:subscription-${i}`,
          Sns: {
            Type: 'Notification',
            MessageId: `sns-delivery-${i}`,
            TopicArn: message.topicArn,
            ...(message.subject === undefined ? {} : { Subject: message.subject }),
            Message: message.message,
            Timestamp: new Date(T0).toISOString(),
            SignatureVersion: '1',
            Signature: '',
            SigningCertUrl: '',
            UnsubscribeUrl: '',
            MessageAttributes: {},
          },
        })),
      };
      const before = pagerDuty.accepted.length;
      const forwarder = createForwarderHandler(createForwarderDeps(env.forwarder));
      await fake.as(functions.forwarder, () =>
        forwarder(event, lambdaContext(stack.physicalName(functions.forwarder as string), 60_000)),
      );
      forwarded = pagerDuty.accepted.length - before;
    }

    const unaccounted: string[] = [];
    const functionAccesses: Access[] = [];
    for (const call of fake.calls) {
      const sent = `${call.command} (${call.service}, via ${call.client}) by ${call.caller ?? 'no function'}`;
      if (call.caller === undefined) {
        unaccounted.push(`${sent}: sent outside of any function's invocation`);
        continue;
      }
      if (call.caughtBy === 'catch-all') {
        unaccounted.push(`${sent}: a client test/support/aws-fake.ts does not fake; fake it and map its commands`);
      }
      const needs = needsOf(call, stack);
      if (needs === undefined) {
        unaccounted.push(
          `${sent}: no entry "${call.service}:${call.command}" in COMMAND_ACTIONS (test/support/iam.ts); add its IAM action(s)`,
        );
        continue;
      }
      const principal = functionRole(stack, call.caller);
      for (const need of needs) {
        functionAccesses.push({
          principal,
          action: need.action,
          resource: need.resource,
          context: { 'aws:SecureTransport': 'true', ...need.context },
          why: `${call.command} sent by ${call.caller} (${JSON.stringify(resourceFields(call.input))})`,
        });
      }
    }
    return {
      stack,
      fake,
      calls: [...fake.calls],
      unaccounted,
      functionAccesses,
      functionDecisions: await evaluateAll(stack, functionAccesses),
      serviceDecisions: await evaluateAll(stack, await serviceAccesses(stack)),
      functions,
      enqueued: summary.enqueued,
      forwarded,
    };
  } finally {
    await fake.restore();
    vi.unstubAllEnvs();
    await rm(taskRoot, { recursive: true, force: true });
  }
}

/** The fields of a command's input that name what it acts on, for the failure message. */
function resourceFields(input: Record<string, unknown>): Record<string, unknown> {
  const names = ['TableName', 'IndexName', 'TopicArn', 'QueueUrl', 'SecretId'];
  const out: Record<string, unknown> = Object.fromEntries(
    names.filter((name) => input[name] !== undefined).map((name) => [name, input[name]]),
  );
  if (input.RequestItems !== undefined) out.RequestItems = Object.keys(input.RequestItems as object);
  return out;
}

const denied = (decisions: readonly Decision[]) => decisions.filter((decision) => decision.result !== 'Allowed');
const distinctPairs = (decisions: readonly Decision[]) =>
  new Set(decisions.map((decision) => accessKey(decision.access, false))).size;

function failWith(title: string, decisions: readonly Decision[]): void {
  if (decisions.length === 0) return;
  expect.fail(`${title} (${distinctPairs(decisions)}):\n\n${describeDenials(decisions)}\n`);
}

describe.each([
  ['platform', PLATFORM_EXAMPLE_PATH],
  ['static', EXAMPLE_PATH],
])('examples/%s.json deployed', (name, path) => {
  let run: ExampleRun;
  beforeAll(async () => {
    run = await runExample(path);
    const all = [...run.functionDecisions, ...run.serviceDecisions];
    const deniedPairs = new Map(denied(all).map((decision) => [accessKey(decision.access, false), decision.access]));
    const summary = [
      `examples/${name}.json: ${run.calls.length} SDK commands sent; ${distinctPairs(all)} distinct (principal, action, resource) pairs checked (${distinctPairs(run.functionDecisions)} from the functions' commands, ${distinctPairs(run.serviceDecisions)} from AWS services); ${deniedPairs.size} denied`,
      ...[...deniedPairs.values()].map(
        (access) => `  DENIED ${access.principal.label} -> ${access.action} on ${access.resource}`,
      ),
    ];
    console.log(summary.join('\n'));
    if (process.env.IAM_ACCESS_DEBUG) {
      console.log(
        run.calls
          .map((call) => `${call.caller} ${call.command} ${JSON.stringify(resourceFields(call.input))}`)
          .join('\n'),
      );
    }
  }, 120_000);

  it('ran the deployed flows: the sweep queued every tenant, the probe judged and published, the forwarder delivered', () => {
    expect(run.enqueued).toBe(sandbox.tenants.length);
    expect(run.fake.published.length).toBeGreaterThan(0);
    if (run.functions.forwarder !== undefined) expect(run.forwarded).toBeGreaterThan(0);
    // The lazily loaded SDK clients were caught at the client: every service the functions use was recorded.
    const services = new Set(run.calls.map((call) => `${call.caller}:${call.service}`));
    for (const fn of [run.functions.sweep, run.functions.probe]) {
      for (const service of ['dynamodb', 'sns', 'secretsmanager']) expect(services).toContain(`${fn}:${service}`);
    }
    expect(services).toContain(`${run.functions.sweep}:sqs`);
    if (run.functions.forwarder !== undefined) expect(services).toContain(`${run.functions.forwarder}:secretsmanager`);
  });

  it('maps every SDK command the functions sent to the IAM actions AWS authorises it as', () => {
    expect(run.unaccounted).toEqual([]);
    expect(run.functionAccesses.length).toBeGreaterThan(0);
  });

  it("allows every request the functions' roles make", () => {
    failWith(`requests of the functions denied by examples/${name}.json's template`, denied(run.functionDecisions));
  });

  it('allows every request AWS services make for the stack (schedule, SNS, alarms, event source, destinations)', () => {
    failWith(`requests of AWS services denied by examples/${name}.json's template`, denied(run.serviceDecisions));
  });
});

describe('operators (deployment.operatorRoleArns)', () => {
  it('may call the Function URL, and invoke the function only through it; other roles may not', async () => {
    const config = JSON.parse(await readFile(EXAMPLE_PATH, 'utf8')) as { deployment: Record<string, unknown> };
    const oncall = 'arn:aws:iam::123456789012:role/oncall';
    const built = buildStack({ ...config, deployment: { ...config.deployment, operatorRoleArns: [oncall] } });
    const stack = new DeployedTemplate(built.template.toJSON() as CfnTemplate, {
      account: ACCOUNT,
      region: built.stack.region,
      stackName: built.stack.stackName,
    });
    const probeArn = stack.getAtt(built.stack.getLogicalId(built.stack.probe.node.defaultChild as never), 'Arn');
    const access = (roleArn: string, action: string, context: Record<string, string>): Access => ({
      principal: externalRole(roleArn, 'alice'),
      action,
      resource: probeArn,
      context: { 'aws:SecureTransport': 'true', ...context },
      why: 'tenant-canary invoke --url',
    });
    const viaUrl = { 'lambda:FunctionUrlAuthType': 'AWS_IAM' };
    const decide = async (a: Access) => (await evaluate(stack, a)).result;
    expect(await decide(access(oncall, 'lambda:InvokeFunctionUrl', viaUrl))).toBe('Allowed');
    expect(await decide(access(oncall, 'lambda:InvokeFunction', { 'lambda:InvokedViaFunctionUrl': 'true' }))).toBe(
      'Allowed',
    );
    // Not a direct invoke (which can skip the URL's checks), and not another role.
    expect(await decide(access(oncall, 'lambda:InvokeFunction', {}))).not.toBe('Allowed');
    const other = 'arn:aws:iam::123456789012:role/intern';
    expect(await decide(access(other, 'lambda:InvokeFunctionUrl', viaUrl))).not.toBe('Allowed');
  }, 120_000);
});

describe('the recorder and the evaluator', () => {
  it('catches a lazily constructed SDK client at the client, and one of a client nobody fakes at the base', async () => {
    const fake = await startAwsFake({ secrets: new Map(), region: 'eu-west-1' });
    try {
      vi.stubEnv('AWS_REGION', 'eu-west-1');
      // Built after the mocks, as functions/adapters/aws-client.ts `loadOnce` builds them.
      const sdk = await import('@aws-sdk/client-sns');
      const client = new sdk.SNSClient({});
      await fake.as('test', () =>
        client.send(new sdk.PublishCommand({ TopicArn: 'arn:aws:sns:eu-west-1:1:t', Message: 'm' })),
      );
      // A client of a service nobody fakes: caught by the stub of the SDK's base client.
      const Base = Object.getPrototypeOf(SNSClient) as new (
        config: unknown,
      ) => { send(command: unknown): Promise<unknown> };
      class OtherServiceClient extends Base {}
      class DescribeThingCommand {
        readonly input = { ThingName: 'thing' };
      }
      const other = new OtherServiceClient({ serviceId: 'Other Service', region: async () => 'eu-west-1' });
      await fake.as('test', () => other.send(new DescribeThingCommand()));
      expect(fake.calls).toMatchObject([
        { service: 'sns', command: 'PublishCommand', caughtBy: 'client', region: 'eu-west-1', caller: 'test' },
        {
          service: 'otherservice',
          command: 'DescribeThingCommand',
          caughtBy: 'catch-all',
          client: 'OtherServiceClient',
        },
      ]);
      expect(SNSClient.prototype.send).not.toBe(Object.getPrototypeOf(SNSClient).prototype.send);
    } finally {
      await fake.restore();
      vi.unstubAllEnvs();
    }
  });

  it('decides as AWS would: secret suffixes, TLS-only topics, key policies, service principals', async () => {
    const stack = new DeployedTemplate(EVALUATOR_FIXTURE, {
      account: ACCOUNT,
      region: 'eu-west-1',
      stackName: 'Fixture',
    });
    const role = functionRole(stack, 'Fn');
    const topic = stack.ref('Topic');
    const key = stack.getAtt('Key', 'Arn');
    const secret = (suffix: string) => `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:app/db-${suffix}`;
    const cases: [Access, Decision['result']][] = [
      [
        { principal: role, action: 'secretsmanager:GetSecretValue', resource: secret('Ab12Cd'), context: {}, why: '' },
        'Allowed',
      ],
      [
        { principal: role, action: 'secretsmanager:GetSecretValue', resource: secret('xAb12Cd'), context: {}, why: '' },
        'ImplicitlyDenied',
      ],
      [
        {
          principal: role,
          action: 'sns:Publish',
          resource: topic,
          context: { 'aws:SecureTransport': 'true' },
          why: '',
        },
        'Allowed',
      ],
      [
        {
          principal: role,
          action: 'sns:Publish',
          resource: topic,
          context: { 'aws:SecureTransport': 'false' },
          why: '',
        },
        'ExplicitlyDenied',
      ],
      [{ principal: role, action: 'kms:GenerateDataKey', resource: key, context: {}, why: '' }, 'Allowed'],
      [{ principal: role, action: 'kms:Encrypt', resource: key, context: {}, why: '' }, 'ImplicitlyDenied'],
      [
        {
          principal: { kind: 'service', service: 'cloudwatch.amazonaws.com', label: 'cloudwatch' },
          action: 'sns:Publish',
          resource: topic,
          context: { 'aws:SecureTransport': 'true', 'aws:SourceAccount': ACCOUNT },
          why: '',
        },
        'ImplicitlyDenied',
      ],
    ];
    for (const [access, expected] of cases) {
      const decision = await evaluate(stack, access);
      expect(decision.result, `${access.action} on ${access.resource} ${JSON.stringify(access.context)}`).toBe(
        expected,
      );
    }
    const missing = await evaluate(stack, cases[5]![0]);
    expect(missing.explanation).toContain('"Action":"kms:Encrypt","Resource":{"Fn::GetAtt":["Key","Arn"]}');
    const cloudwatch = await evaluate(stack, cases[6]![0]);
    expect(cloudwatch.explanation).toContain(
      'add to TopicPolicy: {"Effect":"Allow","Principal":{"Service":"cloudwatch.amazonaws.com"}',
    );
  });
});

/** A role with a policy, a TLS-only topic and a key whose policy delegates to the account. */
const EVALUATOR_FIXTURE: CfnTemplate = {
  Resources: {
    Role: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        },
      },
    },
    Fn: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['Role', 'Arn'] } } },
    Key: {
      Type: 'AWS::KMS::Key',
      Properties: {
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: {
                AWS: {
                  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']],
                },
              },
              Action: 'kms:*',
              Resource: '*',
            },
          ],
        },
      },
    },
    Topic: { Type: 'AWS::SNS::Topic', Properties: { KmsMasterKeyId: { 'Fn::GetAtt': ['Key', 'Arn'] } } },
    TopicPolicy: {
      Type: 'AWS::SNS::TopicPolicy',
      Properties: {
        Topics: [{ Ref: 'Topic' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'TlsOnly',
              Effect: 'Deny',
              Principal: '*',
              Action: 'sns:Publish',
              Resource: { Ref: 'Topic' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        },
      },
    },
    Policy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        Roles: [{ Ref: 'Role' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 'secretsmanager:GetSecretValue',
              Resource: {
                // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub, not a template string
                'Fn::Sub': 'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:app/db-??????',
              },
            },
            { Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: 'Topic' } },
            {
              Effect: 'Allow',
              Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
              Resource: { 'Fn::GetAtt': ['Key', 'Arn'] },
            },
          ],
        },
      },
    },
  },
};
