/**
 * Publishes alerts to one standard SNS topic per tier. Several messages for one topic go out in
 * `PublishBatch` calls (at most 10 entries and 256 KiB per call). The SDK retries throttling and
 * transient errors (standard retry mode); what still fails is reported back, never thrown, so
 * the caller keeps it pending for the next run.
 */
import type * as Sns from '@aws-sdk/client-sns';
import type { MessageAttributeValue, PublishBatchRequestEntry, SNSClient, SNSClientConfig } from '@aws-sdk/client-sns';
import { type RenderedAlert, renderAlert, SNS_MAX_BYTES } from '../core/alert-message.ts';
import type { AlertMessage } from '../core/alert-policy.ts';
import { type Config, ConfigError } from '../core/config.ts';
import { TIERS, type Tier } from '../core/types.ts';
import type { AlertPublisher, AlertTopicCheck, PublishOutcome } from '../ports.ts';
import { awsClientDefaults, loadOnce } from './aws-client.ts';

export interface SnsPublisherOptions {
  /** One topic ARN per tier. */
  topics: Readonly<Record<Tier, string>>;
  /** A prepared client (tests, or a handler's shared one). @default a client in standard retry mode */
  client?: SNSClient;
  /** Extra settings for the default client (region, credentials). */
  clientConfig?: SNSClientConfig;
  /** Attempts per call, including the first. @default 3 */
  maxAttempts?: number;
  /** `alerts.runbookBaseUrl`: each message links its runbook section. @default null */
  runbookBaseUrl?: string | null;
}

const BATCH_ENTRIES = 10;

interface SnsOps {
  Publish: [Sns.PublishCommandInput, Sns.PublishCommandOutput];
  PublishBatch: [Sns.PublishBatchCommandInput, Sns.PublishBatchCommandOutput];
  GetTopicAttributes: [Sns.GetTopicAttributesCommandInput, Sns.GetTopicAttributesCommandOutput];
}

interface LazySnsClient {
  send<O extends keyof SnsOps>(op: O, input: SnsOps[O][0]): Promise<SnsOps[O][1]>;
}

/**
 * The SNS client, loaded on the first call: the SDK is external to the bundles, and a static
 * import would load it at every INIT, whether or not the invocation publishes.
 */
function lazySnsClient(options: { client?: SNSClient; clientConfig?: SNSClientConfig; maxAttempts?: number }) {
  const loaded = loadOnce(async () => {
    const sdk = await import('@aws-sdk/client-sns');
    const client =
      options.client ?? new sdk.SNSClient({ ...awsClientDefaults(options.maxAttempts ?? 3), ...options.clientConfig });
    return { client, sdk };
  });
  const lazy: LazySnsClient = {
    async send(op, input) {
      const { client, sdk } = await loaded();
      const Command = sdk[`${op}Command`] as unknown as new (input: unknown) => Parameters<typeof client.send>[0];
      return (await client.send(new Command(input))) as never;
    },
  };
  return lazy;
}

export function createSnsPublisher(options: SnsPublisherOptions): AlertPublisher {
  const client = lazySnsClient(options);
  return {
    async publish(messages) {
      const outcome: PublishOutcome = { delivered: [], failed: [] };
      const byTier = new Map<Tier, AlertMessage[]>();
      for (const message of messages) {
        const list = byTier.get(message.tier) ?? [];
        list.push(message);
        byTier.set(message.tier, list);
      }
      await Promise.all(
        [...byTier].map(async ([tier, list]) => {
          const topicArn = options.topics[tier];
          const render = (message: AlertMessage) =>
            renderAlert(message, { runbookBaseUrl: options.runbookBaseUrl ?? null });
          for (const batch of batches(list.map((message) => ({ message, rendered: render(message) })))) {
            await sendBatch(client, topicArn, batch, outcome);
          }
        }),
      );
      return outcome;
    },
  };
}

/** The publisher for a validated config; publishing needs `alerts.topics`. */
export function createSnsPublisherFromConfig(
  config: Pick<Config, 'alerts'>,
  options: Omit<SnsPublisherOptions, 'topics'> = {},
): AlertPublisher {
  const topics = config.alerts.topics;
  if (topics === undefined) {
    throw new ConfigError([`alerts.topics is required to publish (one SNS topic ARN for each of ${TIERS.join(', ')})`]);
  }
  return createSnsPublisher({ runbookBaseUrl: config.alerts.runbookBaseUrl, ...options, topics });
}

/** Reads a topic's attributes (sns:GetTopicAttributes): it exists, and how many subscriptions are confirmed. */
export function createSnsTopicCheck(
  options: { client?: SNSClient; clientConfig?: SNSClientConfig } = {},
): AlertTopicCheck {
  const client = lazySnsClient(options);
  return {
    async check(topicArn) {
      const { Attributes: attributes = {} } = await client.send('GetTopicAttributes', { TopicArn: topicArn });
      const confirmed = Number(attributes.SubscriptionsConfirmed ?? 0);
      const pending = Number(attributes.SubscriptionsPending ?? 0);
      return `${confirmed} confirmed subscription${confirmed === 1 ? '' : 's'}${pending > 0 ? `, ${pending} pending confirmation` : ''}`;
    },
  };
}

interface Prepared {
  message: AlertMessage;
  rendered: RenderedAlert;
}

/** At most 10 entries and 256 KiB of messages per call. */
function batches(items: readonly Prepared[]): Prepared[][] {
  const out: Prepared[][] = [];
  let current: Prepared[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length === BATCH_ENTRIES || (current.length > 0 && bytes + item.rendered.bytes > SNS_MAX_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.rendered.bytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function attributesOf(rendered: RenderedAlert): Record<string, MessageAttributeValue> {
  return Object.fromEntries(
    Object.entries(rendered.attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
  );
}

async function sendBatch(client: LazySnsClient, topicArn: string, batch: Prepared[], outcome: PublishOutcome) {
  try {
    if (batch.length === 1) {
      const [only] = batch as [Prepared];
      await client.send('Publish', {
        TopicArn: topicArn,
        Subject: only.rendered.subject,
        Message: only.rendered.body,
        MessageAttributes: attributesOf(only.rendered),
      });
      outcome.delivered.push(only.message.id);
      return;
    }
    const entries: PublishBatchRequestEntry[] = batch.map((item, index) => ({
      Id: `m${index}`,
      Subject: item.rendered.subject,
      Message: item.rendered.body,
      MessageAttributes: attributesOf(item.rendered),
    }));
    const response = await client.send('PublishBatch', { TopicArn: topicArn, PublishBatchRequestEntries: entries });
    const byEntry = new Map(batch.map((item, index) => [`m${index}`, item.message.id]));
    const answered = new Set<string>();
    for (const ok of response.Successful ?? []) {
      const id = ok.Id === undefined ? undefined : byEntry.get(ok.Id);
      if (id === undefined) continue;
      answered.add(ok.Id as string);
      outcome.delivered.push(id);
    }
    for (const failed of response.Failed ?? []) {
      const id = failed.Id === undefined ? undefined : byEntry.get(failed.Id);
      if (id === undefined) continue;
      answered.add(failed.Id as string);
      outcome.failed.push({ id, reason: `${failed.Code ?? 'unknown'}${failed.SenderFault ? ' (sender fault)' : ''}` });
    }
    // An entry SNS neither accepted nor refused is not known to be delivered: keep it pending.
    for (const [entryId, id] of byEntry) {
      if (!answered.has(entryId)) outcome.failed.push({ id, reason: 'no answer for this entry' });
    }
  } catch (error) {
    const reason = error instanceof Error ? error.name : 'unknown error';
    for (const item of batch) outcome.failed.push({ id: item.message.id, reason });
  }
}
