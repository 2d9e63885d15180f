/**
 * A tenant that cannot be probed reaches the dead-letter queue while its sweep still matters: the
 * real sweep queues it, the real probe batch fails it and hands it back with
 * ChangeMessageVisibilityBatch (the real SQS adapter, its client mocked at the SDK), the sweep
 * ledger runs on dynalite, and an SQS model keeps the semantics that decide the timing (the
 * visibility timeout of six times the function's, maxReceiveCount, a redrive to the DLQ on the
 * receive after the last). The clock is simulated, one second a step.
 */
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityBatchCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantQueue } from '../../functions/adapters/sqs.ts';
import { createMemoryStateStore } from '../../functions/adapters/state-memory.ts';
import { createSweepLedger } from '../../functions/adapters/sweep-ledger.ts';
import type { AppDeps } from '../../functions/app/deps.ts';
import { probeBatch } from '../../functions/app/probe-batch.ts';
import { sweep } from '../../functions/app/sweep.ts';
import { parseConfig } from '../../functions/core/config.ts';
import { Secret } from '../../functions/core/secret.ts';
import type { Report } from '../../functions/core/types.ts';
import type { OpenPorts } from '../../functions/ports.ts';
import { sqsRecord } from '../../sim/sqs-record.ts';
import { startDynalite, sweepTableShape } from '../support/dynamo.ts';
import { discardedMetrics, silentLogger } from '../support/telemetry.ts';

const T0 = Date.parse('2026-11-27T10:00:00Z');
const INTERVAL_S = 300;
const PROBE_TIMEOUT_S = 240;
const VISIBILITY_S = PROBE_TIMEOUT_S * 6; // the stack's queue
const MAX_RECEIVE_COUNT = 3;
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/probe';

const logger = silentLogger;
const metrics = discardedMetrics;

let dynamo: DynamoDBClient;
let stopDynalite: () => Promise<void>;

beforeAll(async () => {
  const started = await startDynalite();
  ({ client: dynamo, stop: stopDynalite } = started);
  await dynamo.send(new CreateTableCommand({ TableName: 'sweeps', ...sweepTableShape }));
});
afterAll(() => stopDynalite());

interface Message {
  id: string;
  body: string;
  receiveCount: number;
  visibleAt: number;
  receipt: string;
}

describe('a tenant that cannot be probed', () => {
  it('is retried after the short delay and lands in the dead-letter queue before its drain deadline', async () => {
    let now = T0;
    const queue: Message[] = [];
    const deadLetters: { message: Message; at: number }[] = [];
    const sqs = mockClient(SQSClient);
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string; MessageBody: string }[] }) => {
      for (const entry of input.Entries) {
        queue.push({ id: `m-${queue.length}`, body: entry.MessageBody, receiveCount: 0, visibleAt: now, receipt: '' });
      }
      return { Successful: input.Entries.map((entry) => ({ Id: entry.Id })), Failed: [] };
    });
    const visibilityChanges: number[] = [];
    sqs
      .on(ChangeMessageVisibilityBatchCommand)
      .callsFake(
        (input: { QueueUrl: string; Entries: { Id: string; ReceiptHandle: string; VisibilityTimeout: number }[] }) => {
          expect(input.QueueUrl).toBe(QUEUE_URL);
          for (const entry of input.Entries) {
            const message = queue.find((m) => m.receipt === entry.ReceiptHandle);
            if (message) message.visibleAt = now + entry.VisibilityTimeout * 1000;
            visibilityChanges.push(entry.VisibilityTimeout);
          }
          return { Successful: input.Entries.map((entry) => ({ Id: entry.Id })), Failed: [] };
        },
      );

    const config = parseConfig({
      platform: { baseUrl: 'https://platform.invalid' },
      tenants: [
        { tenantId: 'acme', signingSecret: { secretId: 'tenants/acme' } },
        { tenantId: 'globex', signingSecret: { secretId: 'tenants/globex' } },
      ],
      run: { sweepIntervalS: INTERVAL_S },
    });
    const ledger = createSweepLedger({ tableName: 'sweeps', client: dynamo });
    const store = createMemoryStateStore();
    const tenantQueue = createTenantQueue({ queueUrl: QUEUE_URL, client: new SQSClient({ region: 'eu-west-1' }) });
    const deps: AppDeps = {
      logger,
      metrics,
      config: async () => config,
      secrets: {
        async resolve(ref) {
          // globex's secret was deleted: every delivery of globex fails, acme's succeed.
          if ('secretId' in ref && ref.secretId === 'tenants/globex') throw new Error('ResourceNotFoundException');
          return new Secret('s3cret');
        },
        resolveDatabaseUrl: async () => new Secret(''),
      },
      openPorts: async () => ({ close: async () => {} }) as unknown as OpenPorts,
      tenantSource: () => ({
        kind: 'static',
        list: async () => ({ tenants: config.tenants, skipped: [] }),
        lookup: async (ids) => ({ tenants: config.tenants.filter((t) => ids.includes(t.tenantId)), skipped: [] }),
      }),
      stateStore: async () => store,
      sweepLedger: async () => ledger,
      publisher: () => ({ publish: async (messages) => ({ delivered: messages.map((m) => m.id), failed: [] }) }),
      tenantQueue: async () => tenantQueue,
      now: () => new Date(now),
      checks: async (input): Promise<Report> => {
        // As runChecks does: the tenants' signing secrets are read (an unreadable one fails its record).
        const tenantIds = input.filters?.tenantIds ?? [];
        const probed = input.config.tenants.filter((tenant) => tenantIds.includes(tenant.tenantId));
        await Promise.all(probed.map((tenant) => input.secrets.resolve(tenant.signingSecret).catch(() => undefined)));
        const at = new Date(now).toISOString();
        return { runId: 'r', startedAt: at, finishedAt: at, tenants: [], results: [], alerts: [] };
      },
    };

    await sweep(deps);
    expect(queue.map((m) => JSON.parse(m.body).tenantId)).toEqual(['acme', 'globex']);
    const deadline = JSON.parse(queue[0]?.body ?? '{}').deadline as string;
    expect(Date.parse(deadline)).toBe(T0 + INTERVAL_S * 1000);

    // The event source polls every second; a batch takes two seconds.
    for (now = T0 + 1000; now < T0 + 2 * VISIBILITY_S * 1000 && queue.length > 0; now += 1000) {
      const visible = queue.filter((m) => m.visibleAt <= now);
      const records = [];
      for (const message of visible) {
        if (message.receiveCount >= MAX_RECEIVE_COUNT) {
          queue.splice(queue.indexOf(message), 1);
          deadLetters.push({ message, at: now });
          continue;
        }
        message.receiveCount += 1;
        message.receipt = `rh-${message.id}-${message.receiveCount}`;
        message.visibleAt = now + VISIBILITY_S * 1000;
        records.push({
          ...sqsRecord(message.id, message.body, { receiveCount: message.receiveCount }),
          receiptHandle: message.receipt,
        });
      }
      if (records.length === 0) continue;
      now += 2000;
      const response = await probeBatch(deps, { Records: records }, undefined, undefined);
      const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
      for (const record of records) {
        if (!failed.has(record.messageId))
          queue.splice(
            queue.findIndex((m) => m.id === record.messageId),
            1,
          );
      }
    }

    expect(deadLetters).toHaveLength(1);
    const [parked] = deadLetters;
    expect(JSON.parse(parked?.message.body ?? '{}').tenantId).toBe('globex');
    expect(parked?.message.receiveCount).toBe(MAX_RECEIVE_COUNT);
    // Three failed deliveries, each handed back with the 30 s retry delay, not the 1,440 s timeout.
    expect(visibilityChanges).toEqual([30, 30, 30]);
    expect(parked?.at).toBeLessThan(Date.parse(deadline));
    sqs.restore();
  });
});
