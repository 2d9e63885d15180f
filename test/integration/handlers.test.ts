/**
 * The Lambda handlers as deployed: the production wiring (`createLambdaDeps`) reading the
 * embedded config file and the stack's environment, run against the embedded sandbox platform.
 * Alert state is a real DynamoDB implementation (dynalite); SNS, SQS and Secrets Manager are
 * mocked at the SDK.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishBatchCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AppDeps } from '../../functions/app/deps.ts';
import { ConfigError, parseConfig } from '../../functions/core/config.ts';
import { EMBEDDED_CONFIG_FILE, LAMBDA_ENV } from '../../functions/core/lambda-env.ts';
import type { Report } from '../../functions/core/types.ts';
import { createProbeHandler } from '../../functions/handlers/probe.ts';
import { createLambdaDeps } from '../../functions/handlers/runtime.ts';
import { createSweepDeps, createSweepHandler, type SweepSummary } from '../../functions/handlers/sweep.ts';
import { runChecks } from '../../functions/run.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { sqsRecord } from '../../sim/sqs-record.ts';
import { stateTableShape, sweepTableShape } from '../support/dynamo.ts';

type DynaliteFactory = (options: { createTableMs: number }) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

const TOPICS = {
  P0: 'arn:aws:sns:eu-west-1:123456789012:canary-p0',
  P1: 'arn:aws:sns:eu-west-1:123456789012:canary-p1',
  P2: 'arn:aws:sns:eu-west-1:123456789012:canary-p2',
  P3: 'arn:aws:sns:eu-west-1:123456789012:canary-p3',
};
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/canary-probe';
const MISSING_SECRET = 'tenant-canary/tenants/initech';

const sns = mockClient(SNSClient);
const sqs = mockClient(SQSClient);
const secretsManager = mockClient(SecretsManagerClient);

let sandbox: Sandbox;
let dynamo: Server;
let dir: string;
let env: Record<string, string>;
let tableCount = 0;

beforeAll(async () => {
  [sandbox, dir] = await Promise.all([
    startSandbox({ redis: 'memory', tenantCount: 12, workerLatencyMs: { min: 20, max: 60 } }),
    mkdtemp(join(tmpdir(), 'canary-handlers-')),
  ]);
  dynamo = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', resolve));
  // The embedded config, as the stack writes it: initech's secret is a Secrets Manager reference that is missing.
  const config = structuredClone(sandbox.config) as { tenants: { tenantId: string; signingSecret: unknown }[] };
  for (const tenant of config.tenants) {
    if (tenant.tenantId === 'initech') tenant.signingSecret = { secretId: MISSING_SECRET };
  }
  await writeFile(join(dir, EMBEDDED_CONFIG_FILE), JSON.stringify(config));
}, 120_000);

afterAll(async () => {
  await sandbox?.stop();
  await new Promise<void>((resolve) => dynamo?.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  sns.reset();
  sqs.reset();
  secretsManager.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  sns.on(PublishBatchCommand).callsFake((input: { PublishBatchRequestEntries: { Id: string }[] }) => ({
    Successful: input.PublishBatchRequestEntries.map((entry) => ({ Id: entry.Id, MessageId: `m-${entry.Id}` })),
    Failed: [],
  }));
  secretsManager.on(GetSecretValueCommand, { SecretId: MISSING_SECRET }).rejects(
    Object.assign(new Error('Secrets Manager can not find the specified secret.'), {
      name: 'ResourceNotFoundException',
    }),
  );
  tableCount += 1;
  const tableName = `canary-state-${tableCount}`;
  const endpoint = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`;
  env = {
    LAMBDA_TASK_ROOT: dir,
    [LAMBDA_ENV.configFile]: EMBEDDED_CONFIG_FILE,
    [LAMBDA_ENV.stateTable]: tableName,
    [LAMBDA_ENV.sweepTable]: `${tableName}-sweeps`,
    [LAMBDA_ENV.queueUrl]: QUEUE_URL,
    [LAMBDA_ENV.topic.P0]: TOPICS.P0,
    [LAMBDA_ENV.topic.P1]: TOPICS.P1,
    [LAMBDA_ENV.topic.P2]: TOPICS.P2,
    [LAMBDA_ENV.topic.P3]: TOPICS.P3,
  };
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDLOCAL');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local-only');
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', endpoint);
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'TenantCanary');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true'); // tests that read metrics switch them on
  const client = new DynamoDBClient({});
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      ...stateTableShape,
    }),
  );
  await client.send(
    new CreateTableCommand({
      TableName: `${tableName}-sweeps`,
      ...sweepTableShape,
    }),
  );
  client.destroy();
});

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await sandbox.setFaults([]);
});

/** Captures the EMF documents Powertools writes to stdout. */
function captureMetrics(): () => { metrics: string[]; dimensions: string[][]; values: Record<string, unknown> }[] {
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  const lines: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.includes('"_aws"')) {
      lines.push(text);
      return true;
    }
    return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write);
  return () =>
    lines
      .flatMap((line) => line.split('\n').filter((l) => l.trim() !== ''))
      .map((line) => {
        const doc = JSON.parse(line) as {
          _aws: { CloudWatchMetrics: { Metrics: { Name: string }[]; Dimensions: string[][] }[] };
        } & Record<string, unknown>;
        const [directive] = doc._aws.CloudWatchMetrics;
        return {
          metrics: directive?.Metrics.map((m) => m.Name) ?? [],
          dimensions: directive?.Dimensions ?? [],
          values: doc,
        };
      });
}

/** Captures the structured log lines Powertools writes to stdout (at INFO). */
function captureLogs(): () => Record<string, unknown>[] {
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
  const lines: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.includes('"level"')) {
      lines.push(text);
      return true;
    }
    return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write);
  return () =>
    lines
      .flatMap((line) => line.split('\n').filter((l) => l.trim() !== ''))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const context = (remainingMs = 120_000) =>
  ({ getRemainingTimeInMillis: () => remainingMs, functionName: 'probe', awsRequestId: 'req-1' }) as unknown as Context;

const tenantMessage = (tenantId: string) => JSON.stringify({ tenantId, runId: 'sweep-test' });

describe('the ports each function opens', () => {
  it('the probe opens no Redis and reads no Redis password; the sweep does both', async () => {
    const config = parseConfig({
      ...structuredClone(sandbox.config),
      redis: {
        url: 'redis://127.0.0.1:1/0',
        queueKeys: ['enhancement:queue'],
        auth: { username: 'canary', password: { secretId: 'tenant-canary/redis' } },
      },
    });
    secretsManager.on(GetSecretValueCommand, { SecretId: 'tenant-canary/redis' }).resolves({ SecretString: 'pw' });
    const probePorts = await createLambdaDeps(env).openPorts(config);
    const sweepPorts = await createSweepDeps(env).openPorts(config);
    try {
      expect(probePorts.redis).toBeUndefined();
      expect(sweepPorts.redis).toBeDefined();
      // One read of the password, by the sweep's wiring.
      expect(secretsManager.commandCalls(GetSecretValueCommand, { SecretId: 'tenant-canary/redis' })).toHaveLength(1);
    } finally {
      await Promise.all([probePorts.close(), sweepPorts.close()]);
    }
  });
});

describe('probe: SQS batch', () => {
  it("reports only the record whose tenant's secret is missing as failed", async () => {
    const metrics = captureMetrics();
    const handler = createProbeHandler(createLambdaDeps(env));
    const event: SQSEvent = {
      Records: [
        sqsRecord('m-acme', tenantMessage('acme-corp')),
        sqsRecord('m-initech', tenantMessage('initech')),
        sqsRecord('m-globex', tenantMessage('globex')),
      ],
    };

    const response = await handler(event, context());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-initech' }] });
    expect(secretsManager.commandCalls(GetSecretValueCommand, { SecretId: MISSING_SECRET }).length).toBeGreaterThan(0);
    const emitted = metrics();
    const checkResults = emitted.filter((doc) => doc.metrics.includes('CheckResults'));
    expect(checkResults.length).toBeGreaterThan(0);
    for (const doc of emitted) {
      expect(doc.dimensions.flat()).not.toContain('tenantId');
      expect(JSON.stringify(doc.values)).not.toMatch(/acme-corp|globex|initech/);
    }
    const passes = checkResults.find(
      (doc) => doc.values.check === 'webhook.signed_accepted' && doc.values.status === 'pass',
    );
    expect(passes?.values.CheckResults).toBe(2);
    const errors = checkResults.find(
      (doc) => doc.values.check === 'webhook.signed_accepted' && doc.values.status === 'error',
    );
    expect(errors?.values.CheckResults).toBe(1);
    expect(checkResults.some((doc) => doc.values.check === 'api.health')).toBe(false); // platform checks are the sweep's
  });

  it('fails a malformed record alone and drops a tenant that is gone', async () => {
    const handler = createProbeHandler(createLambdaDeps(env));
    const response = await handler(
      {
        Records: [
          sqsRecord('m-bad-json', '{not json'),
          sqsRecord('m-bad-id', JSON.stringify({ tenantId: 'DROP TABLE' })),
          sqsRecord('m-gone', tenantMessage('no-such-tenant')),
        ],
      },
      context(),
    );
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: 'm-bad-json' }, { itemIdentifier: 'm-bad-id' }],
    });
  });
});

describe('probe: on demand', () => {
  it("returns one tenant's report on a direct invocation, without touching alert state", async () => {
    const logs = captureLogs();
    const handler = createProbeHandler(createLambdaDeps(env));

    const report = (await handler({ tenantId: 'globex' }, context())) as Report;

    expect(report.runId).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(new Set(report.results.map((r) => r.tenantId))).toEqual(new Set(['globex']));
    const signed = report.results.find((r) => r.checkId === 'webhook.signed_accepted');
    expect(signed?.status).toBe('pass');
    expect(report.results.find((r) => r.checkId === 'rls.cross_tenant_read')?.status).toBe('pass');
    expect(report.alerts).toEqual([]);
    expect(sns.calls()).toHaveLength(0);
    const probed = logs().find((line) => line.message === 'tenant probed');
    expect(probed).toMatchObject({ level: 'INFO', service: 'tenant-canary', tenantId: 'globex', onDemand: true });
    expect(JSON.stringify(logs())).not.toContain(sandbox.tenants.find((t) => t.tenantId === 'globex')?.secret);
    const scanned = await new DynamoDBClient({}).send(new ScanCommand({ TableName: env[LAMBDA_ENV.stateTable] }));
    expect(scanned.Count).toBe(0);
  });

  it('publishes to the tier topic when asked to (and allowed), and says so in the report', async () => {
    await sandbox.setFaults(['forged-signatures-accepted']);
    // A direct invoke is governed by the same switch as the URL: off, it pages nobody.
    const refusing = createProbeHandler(createLambdaDeps(env));
    expect(await refusing({ tenantId: 'globex', publish: true }, context())).toEqual({
      error: 'publishing from an on-demand call is off (deployment.onDemand.allowUrlPublish)',
    });
    expect(sns.calls()).toHaveLength(0);
    const handler = createProbeHandler(createLambdaDeps({ ...env, [LAMBDA_ENV.urlPublish]: 'true' }));

    const report = (await handler({ tenantId: 'globex', publish: true }, context())) as Report;

    expect(report.results.find((r) => r.checkId === 'webhook.bad_signature_rejected')).toMatchObject({
      status: 'fail',
      tier: 'P0',
    });
    expect(report.alerts).toContainEqual({
      state: 'firing',
      tier: 'P0',
      checkId: 'webhook.bad_signature_rejected',
      tenantId: 'globex',
      dedupKey: 'webhook.bad_signature_rejected:globex',
    });
    const published = [
      ...sns.commandCalls(PublishCommand).map((call) => call.args[0].input.TopicArn),
      ...sns.commandCalls(PublishBatchCommand).map((call) => call.args[0].input.TopicArn),
    ];
    expect(published).toContain(TOPICS.P0);
    const scanned = await new DynamoDBClient({}).send(new ScanCommand({ TableName: env[LAMBDA_ENV.stateTable] }));
    expect(scanned.Items?.map((item) => item.dedupKey?.S)).toContain('webhook.bad_signature_rejected:globex');
  });

  it('answers a malformed direct invocation with a clear error, never an exception', async () => {
    const handler = createProbeHandler(createLambdaDeps(env));
    await expect(handler({ tenant: 'globex' }, context())).resolves.toEqual({
      error: 'tenantId is required; unknown field "tenant"',
    });
    await expect(handler({ tenantId: 'globex', publish: 'yes' }, context())).resolves.toEqual({
      error: 'publish must be true or false',
    });
    await expect(handler('globex', context())).resolves.toEqual({
      error: 'the request must be a JSON object {"tenantId": "...", "publish"?: boolean}',
    });
    await expect(handler({ tenantId: 'nobody-here' }, context())).resolves.toEqual({
      error: 'tenant "nobody-here" is not among the canary\'s tenants',
    });
  });

  it('serves the Function URL: POST returns the report, anything malformed a 4xx', async () => {
    const handler = createProbeHandler(createLambdaDeps(env));
    const urlEvent = (method: string, body: string | undefined, isBase64Encoded = false) => ({
      version: '2.0',
      rawPath: '/',
      headers: { 'content-type': 'application/json' },
      requestContext: { http: { method, path: '/' } },
      ...(body === undefined ? {} : { body }),
      isBase64Encoded,
    });

    const ok = (await handler(
      urlEvent('POST', Buffer.from(JSON.stringify({ tenantId: 'acme-corp' })).toString('base64'), true),
      context(),
    )) as { statusCode: number; body: string; headers: Record<string, string> };
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toBe('application/json');
    const report = JSON.parse(ok.body) as Report;
    expect(report.results.length).toBeGreaterThan(10);
    expect(report.results.every((r) => r.tenantId === 'acme-corp')).toBe(true);

    expect(await handler(urlEvent('POST', '{"tenantId":'), context())).toMatchObject({
      statusCode: 400,
      body: JSON.stringify({ error: 'the request body is not JSON: send {"tenantId": "..."}' }),
    });
    expect(await handler(urlEvent('POST', undefined), context())).toMatchObject({ statusCode: 400 });
    expect(await handler(urlEvent('POST', '{"tenantId":"nope"}'), context())).toMatchObject({ statusCode: 404 });
    expect(await handler(urlEvent('GET', undefined), context())).toMatchObject({
      statusCode: 405,
      headers: { Allow: 'POST' },
    });

    // Paging is off from the URL unless the deployment allows it: any URL caller could page P0.
    const publish = urlEvent('POST', JSON.stringify({ tenantId: 'acme-corp', publish: true }));
    expect(await handler(publish, context())).toMatchObject({
      statusCode: 403,
      body: JSON.stringify({ error: 'publishing from an on-demand call is off (deployment.onDemand.allowUrlPublish)' }),
    });
    expect(sns.calls()).toHaveLength(0);
    const allowing = createProbeHandler(createLambdaDeps({ ...env, [LAMBDA_ENV.urlPublish]: 'true' }));
    expect(await allowing(publish, context())).toMatchObject({ statusCode: 200 });
  });

  it('answers 500 naming the problem when the embedded config cannot be read', async () => {
    const handler = createProbeHandler(createLambdaDeps({ ...env, [LAMBDA_ENV.configFile]: 'missing.json' }));
    const answer = (await handler({ tenantId: 'globex' }, context())) as { error: string };
    expect(answer.error).toMatch(
      /^the canary is misconfigured: the embedded config .*missing\.json cannot be read \(ENOENT\)$/,
    );
  });
});

describe('sweep', () => {
  it('runs the platform checks, queues every tenant in batches of 10 and beats', async () => {
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      Successful: input.Entries.map((entry) => ({ Id: entry.Id, MessageId: `q-${entry.Id}` })),
      Failed: [],
    }));
    const metrics = captureMetrics();
    const handler = createSweepHandler(createSweepDeps(env));

    const summary = await handler({ source: 'tenant-canary.schedule' }, context());

    expect(summary).toMatchObject({ tenants: 12, enqueued: 12, notEnqueued: 0 });
    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((call) => call.args[0].input.Entries?.length).sort()).toEqual([10, 2]);
    const bodies = calls
      .flatMap((call) => call.args[0].input.Entries ?? [])
      .map((e) => JSON.parse(e.MessageBody ?? ''));
    expect(new Set(bodies.map((b: { tenantId: string }) => b.tenantId)).size).toBe(12);
    expect(calls[0]?.args[0].input.QueueUrl).toBe(QUEUE_URL);
    expect(summary.platform.pass).toBeGreaterThan(0);
    const main = metrics().find((doc) => doc.metrics.includes('SweepHeartbeat'));
    expect(main?.values).toMatchObject({ SweepHeartbeat: 1, TenantsEnqueued: 12, TenantsNotEnqueued: 0 });
    expect(main?.metrics).toContain('SweepDuration');
  });

  it('queues nothing and opens no sweep when its ports cannot be opened', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const metrics = captureMetrics();
    const deps = createSweepDeps(env);
    const handler = createSweepHandler({
      ...deps,
      openPorts: async () => {
        throw new ConfigError(['platform.caFile could not be read (ENOENT): /var/task/ca.pem']);
      },
    });

    await expect(handler({ source: 'tenant-canary.schedule' }, context())).rejects.toThrow(
      'platform.caFile could not be read (ENOENT)',
    );
    // Anything a fan-out had started would have landed by now.
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    expect(await (await deps.sweepLedger()).pending()).toEqual([]);
    expect(metrics().some((doc) => doc.metrics.includes('SweepHeartbeat'))).toBe(false);
  });

  it('counts the tenants SQS refused to queue', async () => {
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      Successful: input.Entries.slice(1).map((entry) => ({ Id: entry.Id, MessageId: `q-${entry.Id}` })),
      Failed: input.Entries.slice(0, 1).map((entry) => ({
        Id: entry.Id,
        Code: 'InvalidParameterValue',
        SenderFault: true,
      })),
    }));
    const handler = createSweepHandler(createSweepDeps(env));
    const summary = await handler({}, context());
    expect(summary).toMatchObject({ tenants: 12, enqueued: 10, notEnqueued: 2 });
  });

  it('still runs and alerts the platform checks when the tenant list cannot be read, then fails without a heartbeat', async () => {
    const config = structuredClone(sandbox.config) as Record<string, unknown>;
    config.tenants = [];
    config.tenantSource = {
      type: 'database',
      url: 'postgres://canary@127.0.0.1:1/ai_agents',
      encryptionKey: { value: `${'a'.repeat(43)}=` },
      connectTimeoutMs: 1000,
    };
    await writeFile(join(dir, 'database-source.json'), JSON.stringify(config));
    const metrics = captureMetrics();
    const handler = createSweepHandler(createSweepDeps({ ...env, [LAMBDA_ENV.configFile]: 'database-source.json' }));

    await expect(handler({}, context())).rejects.toThrow(/tenantSource query failed: ECONNREFUSED/);

    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    const emitted = metrics();
    expect(emitted.some((doc) => doc.values.check === 'api.health' && doc.values.status === 'pass')).toBe(true);
    expect(emitted.some((doc) => doc.metrics.includes('SweepHeartbeat'))).toBe(false);
  });
});

/** Every SNS message published, as (topic, dedupKey). */
function publishedAlerts(): { topic: string | undefined; dedupKey: string }[] {
  const out: { topic: string | undefined; dedupKey: string }[] = [];
  for (const call of sns.commandCalls(PublishCommand)) {
    const input = call.args[0].input;
    out.push({ topic: input.TopicArn, dedupKey: (JSON.parse(input.Message ?? '{}') as { dedupKey: string }).dedupKey });
  }
  for (const call of sns.commandCalls(PublishBatchCommand)) {
    const input = call.args[0].input;
    for (const entry of input.PublishBatchRequestEntries ?? []) {
      out.push({
        topic: input.TopicArn,
        dedupKey: (JSON.parse(entry.Message ?? '{}') as { dedupKey: string }).dedupKey,
      });
    }
  }
  return out;
}

describe('fan-in: a sweep is judged whole, once', () => {
  const T0 = Date.parse('2026-11-27T10:05:00Z');
  /** Production deps on a clock the test moves (seconds after T0). */
  const at = (seconds: number, overrides: Partial<AppDeps> = {}): AppDeps => ({
    ...createSweepDeps(env),
    now: () => new Date(T0 + seconds * 1000),
    ...overrides,
  });
  /** Runs the sweep with SQS mocked; returns the messages it queued, as SQS records. */
  async function sweepAt(
    seconds: number,
    refuse: (tenantId: string) => boolean = () => false,
  ): Promise<{ sweepId: string; records: SQSRecord[]; summary: SweepSummary }> {
    const bodies: string[] = [];
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string; MessageBody: string }[] }) => {
      const refused = input.Entries.filter((e) => refuse((JSON.parse(e.MessageBody) as { tenantId: string }).tenantId));
      const accepted = input.Entries.filter((e) => !refused.includes(e));
      bodies.push(...accepted.map((entry) => entry.MessageBody));
      return {
        Successful: accepted.map((entry) => ({ Id: entry.Id, MessageId: `q-${entry.Id}` })),
        Failed: refused.map((entry) => ({ Id: entry.Id, Code: 'InvalidParameterValue', SenderFault: true })),
      };
    });
    const summary = await createSweepHandler(at(seconds))({}, context());
    return {
      sweepId: summary.sweepId,
      summary,
      records: bodies.map((body, i) => sqsRecord(`${summary.sweepId}-${i}`, body)),
    };
  }
  const probeAt = (seconds: number, records: SQSRecord[], overrides: Partial<AppDeps> = {}) =>
    createProbeHandler(at(seconds, overrides))({ Records: records }, context()) as Promise<SQSBatchResponse>;
  const tenantOf = (record: SQSRecord) => (JSON.parse(record.body) as { tenantId: string }).tenantId;
  const withoutInitech = (records: SQSRecord[]) => records.filter((r) => tenantOf(r) !== 'initech');
  const pendingSweeps = async () => (await (await at(0).sweepLedger()).pending()).map((s) => s.sweepId);
  const publishedKeys = () =>
    publishedAlerts()
      .map((a) => a.dedupKey)
      .sort();
  const WEBHOOK_BREADTH = [
    'webhook.bad_signature_rejected:*',
    'webhook.cross_tenant_signature_rejected:*',
    'webhook.missing_signature_rejected:*',
    'webhook.tampered_body_rejected:*',
  ];

  it('sends one platform-wide alert per check, not one per tenant, across probe invocations', async () => {
    await sandbox.setFaults(['forged-signatures-accepted']);
    const { sweepId, records } = await sweepAt(0);
    expect(records).toHaveLength(12);
    expect(JSON.parse(records[0]?.body ?? '{}')).toMatchObject({
      runId: sweepId,
      deadline: '2026-11-27T10:10:00.000Z',
    });

    // Two invocations, as SQS would deliver them: nothing is judged until the last tenant reports.
    const first = await probeAt(10, records.slice(0, 7));
    expect(publishedAlerts()).toEqual([]);
    const second = await probeAt(20, records.slice(7));

    const failedIds = [...first.batchItemFailures, ...second.batchItemFailures].map((f) => f.itemIdentifier);
    expect(failedIds).toEqual([records.find((r) => tenantOf(r) === 'initech')?.messageId]);
    const alerts = publishedAlerts();
    expect(alerts.map((a) => a.dedupKey).sort()).toEqual(WEBHOOK_BREADTH);
    expect(new Set(alerts.map((a) => a.topic))).toEqual(new Set([TOPICS.P0]));

    // A redelivered record of a judged sweep changes nothing.
    await probeAt(30, withoutInitech(records).slice(0, 1));
    expect(publishedAlerts()).toHaveLength(4);
    expect(await pendingSweeps()).toEqual([]);
    const meta = (await (await at(0).sweepLedger()).status(sweepId))!;
    expect(meta).toMatchObject({ complete: true, judgedAt: '2026-11-27T10:05:20.000Z' });
  });

  it('does not judge a sweep still draining when the next one starts: its last batch lands in the judgement', async () => {
    await sandbox.setFaults(['forged-signatures-accepted']);
    const earlier = await sweepAt(0);
    await probeAt(30, earlier.records.slice(0, 10));
    // The next sweep starts before the earlier one's deadline: it leaves it alone.
    const later = await sweepAt(290);
    expect(later.summary.judged).toEqual({});
    expect(publishedAlerts()).toEqual([]);
    // The last batch lands: the whole sweep is judged, so the breadth incident is one alert per check.
    await probeAt(295, earlier.records.slice(10));
    expect(publishedKeys()).toEqual(WEBHOOK_BREADTH);
    expect(await pendingSweeps()).toEqual([later.sweepId]);
  });

  it('judges a sweep at its drain deadline with the tenants it has, naming the missing ones, and drops their late messages', async () => {
    await sandbox.setFaults(['forged-signatures-accepted']);
    const earlier = await sweepAt(0);
    const reporting = withoutInitech(earlier.records).slice(0, 2);
    await probeAt(30, reporting);
    expect(publishedAlerts()).toEqual([]);

    const metrics = captureMetrics();
    const later = await sweepAt(301);
    expect(later.summary.judged).toEqual({ 'judged-incomplete': 1 });
    const keys = publishedAlerts().map((a) => a.dedupKey);
    // Two tenants are too few for a platform-wide incident: each tenant's own incidents fire.
    expect(keys.filter((k) => k.startsWith('webhook.'))).toHaveLength(8);
    for (const record of reporting) expect(keys).toContain(`webhook.bad_signature_rejected:${tenantOf(record)}`);
    const judged = metrics().find((doc) => doc.metrics.includes('SweepsJudged'));
    expect(judged?.values).toMatchObject({ SweepsJudged: 1, SweepsIncomplete: 1 });

    // A message of the judged sweep delivered now is dropped, not probed.
    const stale = captureMetrics();
    const answer = await probeAt(302, earlier.records.slice(5, 6));
    expect(answer.batchItemFailures).toEqual([]);
    expect(stale().find((doc) => doc.metrics.includes('StaleMessagesDropped'))?.values).toMatchObject({
      StaleMessagesDropped: 1,
    });
    expect(stale().some((doc) => doc.metrics.includes('CheckResults'))).toBe(false);
  });

  it('reports the incomplete sweep as the canary incident canary.sweep_complete, naming the missing tenants', async () => {
    // P2 fires on the second consecutive incomplete sweep: initech is missing from two.
    const first = await sweepAt(0);
    await probeAt(30, withoutInitech(first.records));
    const second = await sweepAt(301);
    await probeAt(330, withoutInitech(second.records));
    expect(publishedAlerts().map((a) => a.dedupKey)).not.toContain('canary.sweep_complete:*');
    await sweepAt(602);
    const message = sns
      .commandCalls(PublishCommand)
      .map((call) => JSON.parse(call.args[0].input.Message ?? '{}') as Record<string, unknown>)
      .find((body) => body.dedupKey === 'canary.sweep_complete:*');
    expect(message).toMatchObject({ state: 'firing', tier: 'P2' });
    expect(JSON.stringify(message)).toContain('initech');
    expect(message?.evidence).toMatchObject({ missing: 1, missingTenants: ['initech'] });
  });

  it('does not wait for tenants SQS refused: the others complete the sweep', async () => {
    await sandbox.setFaults(['forged-signatures-accepted']);
    const { records, summary } = await sweepAt(0, (tenantId) => tenantId === 'initech');
    expect(summary).toMatchObject({ enqueued: 11, notEnqueued: 1 });
    await probeAt(20, records);
    expect(publishedKeys()).toEqual(WEBHOOK_BREADTH);
    expect(await pendingSweeps()).toEqual([]);
  });

  it('leaves a sweep judgeable when its judgement fails, and the next sweep judges it once', async () => {
    await sandbox.setFaults(['forged-signatures-accepted']);
    const earlier = await sweepAt(0);
    const broken = async () => {
      throw new Error('the state table is throttled');
    };
    await probeAt(20, withoutInitech(earlier.records), { stateStore: broken });
    await probeAt(
      25,
      earlier.records.filter((r) => tenantOf(r) === 'initech'),
      { stateStore: broken },
    );
    expect(publishedAlerts()).toEqual([]);
    expect(await pendingSweeps()).toEqual([earlier.sweepId]);

    const later = await sweepAt(60);
    expect(later.summary.judged).toEqual({ judged: 1 });
    expect(publishedKeys()).toEqual(WEBHOOK_BREADTH);
    expect(await pendingSweeps()).toEqual([later.sweepId]);
  });

  it('takes a sweep over from a judge that died holding it, once its lease has expired', async () => {
    await sandbox.setFaults(['forged-signatures-accepted']);
    const earlier = await sweepAt(0);
    // A judge claims the sweep and dies (the function timed out mid-judgement).
    const ledger = await at(0).sweepLedger();
    expect(await ledger.claim(earlier.sweepId, new Date(T0 + 5_000), 90_000)).not.toBeNull();
    await probeAt(20, earlier.records);
    expect(publishedAlerts()).toEqual([]);
    // Complete but held: a sweep inside the lease leaves it, one after the lease takes it over.
    expect((await sweepAt(60)).summary.judged).toEqual({ taken: 1 });
    expect((await sweepAt(120)).summary.judged).toEqual({ judged: 1 });
    expect(publishedKeys()).toEqual(WEBHOOK_BREADTH);
  });

  it('pings the external heartbeat after each judged sweep; a failing ping is counted, the judgement stands', async () => {
    const pings: string[] = [];
    let answer = 200;
    const server = createServer((req, res) => {
      pings.push(`${req.method} ${req.url}`);
      res.writeHead(answer).end('OK');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping/abc`;
    try {
      const withHeartbeat = (seconds: number) => ({
        ...createLambdaDeps({ ...env, [LAMBDA_ENV.heartbeatUrl]: url }),
        now: () => new Date(T0 + seconds * 1000),
      });
      const { records } = await sweepAt(0);
      await createProbeHandler(withHeartbeat(20))({ Records: records }, context());
      expect(pings).toEqual(['GET /ping/abc']);

      answer = 503;
      const metrics = captureMetrics();
      const next = await sweepAt(300);
      await createProbeHandler(withHeartbeat(320))({ Records: next.records }, context());
      expect(pings).toHaveLength(2);
      expect(await pendingSweeps()).toEqual([]);
      expect(metrics().find((doc) => doc.metrics.includes('HeartbeatPingFailures'))?.values).toMatchObject({
        HeartbeatPingFailures: 1,
      });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('probes scheduled messages with deferred round trips: a stopped worker does not hold the batch', async () => {
    await sandbox.setFaults(['workers-stopped']);
    const { records } = await sweepAt(0);
    const reports: Report[] = [];
    const recording: typeof runChecks = async (input) => {
      const report = await runChecks(input);
      reports.push(report);
      return report;
    };
    // The sweep samples acceptances (synthetic.acceptEveryMinutes): this tenant's round trip is made due.
    const [first] = records;
    const body = JSON.parse(first?.body ?? '{}') as { tenantId: string; sampling?: unknown };
    expect(body.sampling).toMatchObject({ failing: false });
    const due = sqsRecord('due-0', JSON.stringify({ ...body, sampling: { notDue: [], failing: false } }));
    await probeAt(10, [due], { checks: recording });
    const roundTrips = reports.flatMap((r) => r.results).filter((r) => r.checkId === 'enhancement.round_trip');
    // Judged from earlier sweeps' tickets with one query (`wait` would have polled this one's ticket to its timeout).
    expect(roundTrips).toHaveLength(1);
    expect(roundTrips[0]?.evidence).toMatchObject({ mode: 'deferred' });
  });
});
