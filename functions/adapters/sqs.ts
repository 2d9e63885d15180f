/**
 * The probe queue. The sweep's fan-out: one SQS message per tenant, sent with `SendMessageBatch`
 * (at most 10 entries a call), each with its own `DelaySeconds` (the sweep's pacing). Entries SQS refuses for a transient reason are sent once more;
 * what still fails is reported back by tenant, never thrown, so the sweep can count and log it.
 * The probe's retries: records it could not probe are made visible again after `retryDelaySeconds`
 * with `ChangeMessageVisibilityBatch`, so they are retried (and dead-lettered) inside their sweep.
 */
import type { SendMessageBatchRequestEntry, SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs';
import { MAX_DELAY_S } from '../core/budget.ts';
import { mapWithConcurrency } from '../core/concurrency.ts';
import type { EnqueueOutcome, TenantMessage, TenantQueue } from '../ports.ts';
import { awsClientDefaults, loadOnce } from './aws-client.ts';

export interface TenantQueueOptions {
  queueUrl: string;
  /** A prepared client (tests). @default a client in standard retry mode */
  client?: SQSClient;
  clientConfig?: SQSClientConfig;
  /** Batch calls in flight at once. @default 8 */
  concurrency?: number;
  /** Seconds before a record the probe hands back is delivered again. @default 30 */
  retryDelaySeconds?: number;
}

/** Seconds before a record the probe could not probe is delivered again (deployment.probe.retryDelaySeconds). */
export const DEFAULT_RETRY_DELAY_S = 30;

export const SQS_BATCH_ENTRIES = 10;

export function createTenantQueue(options: TenantQueueOptions): TenantQueue {
  // Loaded on the first send: a static import of the SDK (external to the bundle) would load it
  // at INIT in the probe function too, which shares these adapters and never sends.
  const sdk = loadOnce<SqsSdk>(async () => {
    const { SQSClient, SendMessageBatchCommand, ChangeMessageVisibilityBatchCommand } = await import(
      '@aws-sdk/client-sqs'
    );
    return {
      client: options.client ?? new SQSClient({ ...awsClientDefaults(), ...options.clientConfig }),
      SendMessageBatchCommand,
      ChangeMessageVisibilityBatchCommand,
    };
  });
  const retryDelaySeconds = options.retryDelaySeconds ?? DEFAULT_RETRY_DELAY_S;
  return {
    async send(messages) {
      let client: SqsSdk;
      try {
        client = await sdk();
      } catch (error) {
        // Never thrown: the sweep counts every tenant as not queued, and the next sweep tries again.
        const reason = `the SQS client could not be loaded (${error instanceof Error ? error.name : 'error'})`;
        return { sent: 0, failed: messages.map((message) => ({ tenantId: message.tenantId, reason })) };
      }
      const batches: TenantMessage[][] = [];
      for (let i = 0; i < messages.length; i += SQS_BATCH_ENTRIES) {
        batches.push(messages.slice(i, i + SQS_BATCH_ENTRIES));
      }
      const outcomes = await mapWithConcurrency(batches, options.concurrency ?? 8, (batch) =>
        sendBatch(client, options.queueUrl, batch),
      );
      return {
        sent: outcomes.reduce((sum, outcome) => sum + outcome.sent, 0),
        failed: outcomes.flatMap((outcome) => outcome.failed),
      };
    },
    async retryLater(records) {
      let client: SqsSdk;
      try {
        client = await sdk();
      } catch {
        return { unchanged: records.map((record) => record.messageId) };
      }
      const unchanged: string[] = [];
      for (let i = 0; i < records.length; i += SQS_BATCH_ENTRIES) {
        const batch = records.slice(i, i + SQS_BATCH_ENTRIES);
        try {
          const response = await client.client.send(
            new client.ChangeMessageVisibilityBatchCommand({
              QueueUrl: options.queueUrl,
              Entries: batch.map((record, index) => ({
                Id: `r${index}`,
                ReceiptHandle: record.receiptHandle,
                VisibilityTimeout: retryDelaySeconds,
              })),
            }),
          );
          for (const refused of response.Failed ?? []) {
            const record = batch[Number((refused.Id ?? '').slice(1))];
            if (record !== undefined) unchanged.push(record.messageId);
          }
        } catch {
          // The SDK already retried: these come back after the queue's visibility timeout instead.
          unchanged.push(...batch.map((record) => record.messageId));
        }
      }
      return { unchanged };
    },
  };
}

async function sendBatch(client: SqsSdk, queueUrl: string, batch: TenantMessage[]): Promise<EnqueueOutcome> {
  let pending = batch.map((message, index) => ({ id: `t${index}`, message }));
  const failed: EnqueueOutcome['failed'] = [];
  let sent = 0;
  for (let attempt = 1; attempt <= 2 && pending.length > 0; attempt++) {
    const entries: SendMessageBatchRequestEntry[] = pending.map(({ id, message }) => {
      const { delaySeconds, ...body } = message;
      return {
        Id: id,
        MessageBody: JSON.stringify(body),
        ...(delaySeconds === undefined || delaySeconds <= 0
          ? {}
          : { DelaySeconds: Math.min(MAX_DELAY_S, Math.round(delaySeconds)) }),
      };
    });
    let response: Awaited<ReturnType<typeof sendCommand>>;
    try {
      response = await sendCommand(client, queueUrl, entries);
    } catch (error) {
      // The SDK already retried the call: the whole batch failed.
      const reason = error instanceof Error ? error.name : 'error';
      for (const { message } of pending) failed.push({ tenantId: message.tenantId, reason });
      return { sent, failed };
    }
    const byId = new Map(pending.map((entry) => [entry.id, entry]));
    sent += response.Successful?.length ?? 0;
    for (const ok of response.Successful ?? []) byId.delete(ok.Id ?? '');
    const retry: typeof pending = [];
    for (const refused of response.Failed ?? []) {
      const entry = byId.get(refused.Id ?? '');
      if (entry === undefined) continue;
      byId.delete(refused.Id ?? '');
      // A sender fault (a malformed entry) fails again: only the service's own faults are retried.
      if (refused.SenderFault || attempt === 2) {
        failed.push({ tenantId: entry.message.tenantId, reason: refused.Code ?? 'unknown' });
      } else {
        retry.push(entry);
      }
    }
    // An entry SQS neither accepted nor refused is not known to be queued.
    for (const entry of byId.values()) failed.push({ tenantId: entry.message.tenantId, reason: 'no answer' });
    pending = retry;
  }
  return { sent, failed };
}

interface SqsSdk {
  client: SQSClient;
  SendMessageBatchCommand: typeof import('@aws-sdk/client-sqs').SendMessageBatchCommand;
  ChangeMessageVisibilityBatchCommand: typeof import('@aws-sdk/client-sqs').ChangeMessageVisibilityBatchCommand;
}

function sendCommand(sdk: SqsSdk, queueUrl: string, entries: SendMessageBatchRequestEntry[]) {
  return sdk.client.send(new sdk.SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
}
