import {
  PublishBatchCommand,
  type PublishBatchCommandInput,
  PublishCommand,
  type PublishCommandInput,
  SNSClient,
  SNSServiceException,
} from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createSnsPublisher, createSnsPublisherFromConfig } from '../../functions/adapters/sns.ts';
import { createMemoryStateStore } from '../../functions/adapters/state-memory.ts';
import { evaluateAlerts } from '../../functions/app/alerting.ts';
import { SNS_MAX_BYTES } from '../../functions/core/alert-message.ts';
import { type AlertMessage, DEFAULT_ALERT_POLICY } from '../../functions/core/alert-policy.ts';
import { ConfigError, parseConfig } from '../../functions/core/config.ts';
import type { CheckResult, Tier } from '../../functions/core/types.ts';

const TOPICS = {
  P0: 'arn:aws:sns:eu-west-1:123456789012:canary-p0',
  P1: 'arn:aws:sns:eu-west-1:123456789012:canary-p1',
  P2: 'arn:aws:sns:eu-west-1:123456789012:canary-p2',
  P3: 'arn:aws:sns:eu-west-1:123456789012:canary-p3',
} as const;
const FAKE_CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-key' };

// Only this client is mocked: the retry test below needs a real one.
const mockedClient = new SNSClient({ region: 'eu-west-1', credentials: FAKE_CREDENTIALS });
const snsMock = mockClient(mockedClient);
afterEach(() => snsMock.reset());

const message = (n: number, tier: Tier = 'P1', overrides: Partial<AlertMessage> = {}): AlertMessage => ({
  id: `webhook.signed_accepted:t${n}#1`,
  state: 'firing',
  tier,
  checkId: 'webhook.signed_accepted',
  tenantId: `t${n}`,
  dedupKey: `webhook.signed_accepted:t${n}`,
  kind: 'check',
  firstFailedAt: '2026-11-27T10:00:00.000Z',
  createdAt: '2026-11-27T10:05:00.000Z',
  summary: `The signed synthetic ticket of t${n} got 401.`,
  evidence: { status: 401 },
  runbook: 'Issue 1, Resolution B: Signature Validation Fails',
  firstStep: "Compare the tenant's signing secret in tenant_configs with the one the sender uses.",
  escalatedFrom: null,
  note: null,
  ...overrides,
});

const publisher = () => createSnsPublisher({ topics: TOPICS, client: mockedClient });

const batchInputs = () =>
  snsMock.commandCalls(PublishBatchCommand).map((call) => call.args[0].input as PublishBatchCommandInput);
const singleInputs = () =>
  snsMock.commandCalls(PublishCommand).map((call) => call.args[0].input as PublishCommandInput);

function acceptAllBatches() {
  snsMock.on(PublishBatchCommand).callsFake((input: PublishBatchCommandInput) => ({
    Successful: (input.PublishBatchRequestEntries ?? []).map((e) => ({ Id: e.Id, MessageId: `id-${e.Id}` })),
    Failed: [],
  }));
}

describe('SNS publisher', () => {
  it('publishes a lone message with Publish: subject, JSON body and filter attributes on its tier topic', async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const outcome = await publisher().publish([message(1, 'P0')]);
    expect(outcome).toEqual({ delivered: ['webhook.signed_accepted:t1#1'], failed: [] });
    const [input] = singleInputs();
    expect(input).toMatchObject({
      TopicArn: TOPICS.P0,
      Subject: '[P0] t1: webhook.signed_accepted failing',
      MessageAttributes: {
        tier: { DataType: 'String', StringValue: 'P0' },
        checkId: { DataType: 'String', StringValue: 'webhook.signed_accepted' },
        tenantId: { DataType: 'String', StringValue: 't1' },
        state: { DataType: 'String', StringValue: 'firing' },
      },
    });
    expect(JSON.parse(input?.Message ?? '')).toMatchObject({ dedupKey: 'webhook.signed_accepted:t1', state: 'firing' });
    expect(batchInputs()).toEqual([]);
  });

  it('batches several messages for one topic, at most 10 per PublishBatch call', async () => {
    acceptAllBatches();
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const messages = [...Array.from({ length: 23 }, (_, i) => message(i, 'P1')), message(99, 'P3')];
    const outcome = await publisher().publish(messages);
    expect(outcome.failed).toEqual([]);
    expect(outcome.delivered.sort()).toEqual(messages.map((m) => m.id).sort());
    expect(batchInputs().map((input) => [input.TopicArn, input.PublishBatchRequestEntries?.length])).toEqual([
      [TOPICS.P1, 10],
      [TOPICS.P1, 10],
      [TOPICS.P1, 3],
    ]);
    expect(singleInputs().map((input) => input.TopicArn)).toEqual([TOPICS.P3]);
  });

  it('reports failed batch entries and keeps the delivered ones', async () => {
    snsMock.on(PublishBatchCommand).resolves({
      Successful: [{ Id: 'm0', MessageId: 'x' }],
      Failed: [{ Id: 'm1', Code: 'InternalError', SenderFault: false }],
    });
    const outcome = await publisher().publish([message(1), message(2)]);
    expect(outcome).toEqual({
      delivered: ['webhook.signed_accepted:t1#1'],
      failed: [{ id: 'webhook.signed_accepted:t2#1', reason: 'InternalError' }],
    });
  });

  it('reports every message of a call that throws, by the error name only', async () => {
    snsMock.on(PublishBatchCommand).rejects(
      new SNSServiceException({
        name: 'AuthorizationErrorException',
        $fault: 'client',
        $metadata: {},
        message: 'no',
      }),
    );
    const outcome = await publisher().publish([message(1), message(2)]);
    expect(outcome.delivered).toEqual([]);
    expect(outcome.failed.map((f) => f.reason)).toEqual(['AuthorizationErrorException', 'AuthorizationErrorException']);
  });

  it('trims oversized evidence under 256 KiB per message and per batch call', async () => {
    acceptAllBatches();
    const big = (n: number) => message(n, 'P1', { evidence: { body: 'x'.repeat(400_000), status: 502 } });
    const mid = (n: number) => message(n, 'P1', { evidence: { body: 'y'.repeat(100_000) } });
    const outcome = await publisher().publish([big(1), mid(2), mid(3), mid(4)]);
    expect(outcome.failed).toEqual([]);
    const calls = batchInputs();
    for (const input of calls) {
      const entries = input.PublishBatchRequestEntries ?? [];
      const bytes = entries.reduce((sum, e) => sum + Buffer.byteLength(e.Message ?? ''), 0);
      expect(bytes).toBeLessThanOrEqual(SNS_MAX_BYTES);
      for (const entry of entries)
        expect(entry.Subject).toBe(`[P1] ${JSON.parse(entry.Message ?? '').tenantId}: webhook.signed_accepted failing`);
    }
    expect(singleInputs().every((input) => Buffer.byteLength(input.Message ?? '') < SNS_MAX_BYTES)).toBe(true);
    const bodies = [...calls, ...singleInputs().map((input) => ({ PublishBatchRequestEntries: [input] }))].flatMap(
      (input) => (input.PublishBatchRequestEntries ?? []).map((e) => JSON.parse(e.Message ?? '')),
    );
    const first = bodies.find((body) => body.tenantId === 't1');
    expect(first.evidence).toEqual({ body: '[trimmed: 400002 bytes]', status: 502 });
    expect(first.summary).toBe('The signed synthetic ticket of t1 got 401.');
    expect(bodies).toHaveLength(4);
    expect(bodies.filter((body) => body.evidenceTrimmed === false)).toHaveLength(3);
  });

  it('refuses to publish without alerts.topics in the config', () => {
    const config = parseConfig({
      platform: { baseUrl: 'https://api.example.com' },
      tenants: [{ tenantId: 'acme', signingSecret: { value: 'x' } }],
    });
    expect(() => createSnsPublisherFromConfig(config)).toThrow(ConfigError);
    expect(() => createSnsPublisherFromConfig(config)).toThrow(/^alerts\.topics is required to publish/);
    expect(() => createSnsPublisherFromConfig({ alerts: { ...config.alerts, topics: TOPICS } })).not.toThrow();
  });
});

describe('SNS publisher: retries (the SDK in standard mode, below the mock)', () => {
  const ok = (body: string) => ({
    statusCode: 200,
    headers: { 'content-type': 'text/xml' },
    body: new TextEncoder().encode(body),
  });
  const throttled = {
    statusCode: 400,
    headers: { 'content-type': 'text/xml' },
    body: new TextEncoder().encode(
      '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r0</RequestId></ErrorResponse>',
    ),
  };
  const published =
    '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></PublishResponse>';

  it('delivers once when the first attempt is throttled', async () => {
    {
      const requests: string[] = [];
      const responses = [throttled, ok(published)];
      const clientConfig = {
        region: 'eu-west-1',
        credentials: FAKE_CREDENTIALS,
        requestHandler: {
          handle: async (request: { body?: unknown }) => {
            requests.push(String(request.body));
            const response = responses.shift();
            if (!response) throw new Error('more requests than expected');
            return { response };
          },
        },
      };
      const outcome = await createSnsPublisher({ topics: TOPICS, clientConfig }).publish([message(1)]);
      expect(outcome).toEqual({ delivered: ['webhook.signed_accepted:t1#1'], failed: [] });
      expect(requests).toHaveLength(2);
      expect(requests[0]).toContain('Action=Publish');
      expect(requests[1]).toBe(requests[0]);
    }
  });
});

describe('alert delivery across runs (at-least-once)', () => {
  const T0 = Date.parse('2026-11-27T10:00:00Z');
  const at = (minute: number) => new Date(T0 + minute * 60_000);
  const failing: CheckResult = {
    checkId: 'rls.cross_tenant_read',
    tenantId: 'acme',
    status: 'fail',
    tier: 'P0',
    summary: 'globex rows are visible to acme',
    durationMs: 4,
    evidence: { table: 'ticket_history' },
    runbook: 'Issue 4: Data Isolation Concern (Security)',
  };
  const run = (store: ReturnType<typeof createMemoryStateStore>, minute: number) =>
    evaluateAlerts({
      report: { results: [failing] },
      tenants: ['acme'],
      store,
      publisher: publisher(),
      now: at(minute),
      options: DEFAULT_ALERT_POLICY,
    });

  it('keeps a message SNS throttled past the retries pending, and delivers it once next run', async () => {
    const store = createMemoryStateStore();
    snsMock
      .on(PublishCommand)
      .rejectsOnce(
        new SNSServiceException({ name: 'Throttling', $fault: 'client', $metadata: {}, message: 'Rate exceeded' }),
      )
      .resolves({ MessageId: 'm-1' });
    expect(await run(store, 0)).toEqual([]);
    expect(store.snapshot().get('rls.cross_tenant_read:acme')?.record.pending).toHaveLength(1);
    expect(await run(store, 5)).toEqual([
      {
        state: 'firing',
        tier: 'P0',
        checkId: 'rls.cross_tenant_read',
        tenantId: 'acme',
        dedupKey: 'rls.cross_tenant_read:acme',
      },
    ]);
    expect(await run(store, 10)).toEqual([]);
    expect(singleInputs()).toHaveLength(2);
    expect(store.snapshot().get('rls.cross_tenant_read:acme')?.record.pending).toEqual([]);
  });

  it('keeps retrying a permanently failing message run after run, and delivers it when the topic works again', async () => {
    const store = createMemoryStateStore();
    snsMock.on(PublishCommand).rejects(
      new SNSServiceException({
        name: 'NotFoundException',
        $fault: 'client',
        $metadata: {},
        message: 'Topic does not exist',
      }),
    );
    const events: unknown[] = [];
    for (const minute of [0, 5, 10]) {
      const sent = await evaluateAlerts({
        report: { results: [failing] },
        tenants: ['acme'],
        store,
        publisher: publisher(),
        now: at(minute),
        options: DEFAULT_ALERT_POLICY,
        onEvent: (event) => events.push(event),
      });
      expect(sent).toEqual([]);
    }
    expect(events).toEqual(
      Array.from({ length: 3 }, () => ({
        type: 'undelivered',
        id: 'rls.cross_tenant_read:acme#1',
        dedupKey: 'rls.cross_tenant_read:acme',
        reason: 'NotFoundException',
      })),
    );
    snsMock.reset();
    acceptAllBatches();
    // The firing and the reminder now due go to the P0 topic together: one PublishBatch.
    expect((await run(store, 15)).map((a) => a.state)).toEqual(['firing', 'reminder']);
    expect(batchInputs().map((input) => input.PublishBatchRequestEntries?.length)).toEqual([2]);
    expect(await run(store, 20)).toEqual([]);
  });
});
