/**
 * The PagerDuty forwarder's use case: each SNS message of a tier topic (our alert JSON, as the
 * publisher rendered it) becomes one Events API v2 event (functions/core/pagerduty.ts), sent
 * with retries within the invocation's time. A message that cannot be delivered throws: Lambda
 * retries the invocation, then parks the event in the forwarder's dead-letter queue (alarmed).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod';
import type { AlertBody } from '../core/alert-message.ts';
import { errorClass } from '../core/errors.ts';
import { pagerDutyEvent } from '../core/pagerduty.ts';
import type { Secret } from '../core/secret.ts';
import { TIERS } from '../core/types.ts';
import type { PagerDutySender } from '../ports.ts';

export const ForwardError = errorClass('ForwardError', 'forward');

export interface ForwarderDeps {
  logger: Logger;
  routingKey(): Promise<Secret>;
  /** A sender whose retries end within `budgetMs`. */
  sender(budgetMs: number): PagerDutySender;
}

/** What the forwarder needs of an alert body; anything else is passed through as it is. */
const bodySchema = z.looseObject({
  state: z.enum(['firing', 'reminder', 'resolved']),
  tier: z.enum(TIERS),
  checkId: z.string().min(1),
  tenantId: z.string().nullable(),
  dedupKey: z.string().min(1),
  firstFailedAt: z.iso.datetime(),
  sentAt: z.iso.datetime(),
  summary: z.string(),
  runbook: z.string(),
  // Only a web link reaches the on-call's PagerDuty incident (never javascript: or data:).
  runbookUrl: z
    .url({ protocol: /^https?$/ })
    .nullable()
    .default(null),
  firstStep: z.string(),
  escalatedFrom: z.enum(TIERS).nullable(),
  note: z.string().nullable(),
  evidence: z.record(z.string(), z.unknown()),
});

/** The SNS envelope: records whose `Sns.Message` is text (the alert body is checked per record). */
const envelopeSchema = z.object({
  Records: z.array(
    z.object({
      Sns: z.looseObject({
        Message: z.string(),
        MessageId: z.string().max(100).optional(),
        TopicArn: z.string().max(300).optional(),
        Subject: z.string().max(100).nullable().optional(),
      }),
    }),
  ),
});

export async function forwardAlerts(deps: ForwarderDeps, event: unknown, remainingMs: () => number): Promise<void> {
  const envelope = envelopeSchema.safeParse(event);
  if (!envelope.success) {
    // Not from SNS: nothing to deliver, and a retry would not make it one.
    deps.logger.error('not an SNS event: ignored', { problem: envelope.error.issues[0]?.message ?? 'malformed' });
    return;
  }
  const key = (await deps.routingKey()).reveal();
  const failures: string[] = [];
  for (const record of envelope.data.Records) {
    const log = deps.logger.createChild({ persistentKeys: { snsMessageId: record.Sns.MessageId } });
    let body: AlertBody;
    try {
      body = bodySchema.parse(JSON.parse(record.Sns.Message)) as unknown as AlertBody;
    } catch {
      log.error('not an alert message: it cannot become a PagerDuty event', { topic: record.Sns.TopicArn });
      failures.push(`${record.Sns.MessageId ?? 'a message'}: not an alert message`);
      continue;
    }
    const subject =
      record.Sns.Subject ?? `[${body.tier}] ${body.tenantId ?? 'platform'}: ${body.checkId} ${body.state}`;
    const sent = await deps.sender(Math.max(1_000, remainingMs() - 5_000)).send(pagerDutyEvent(body, subject, key));
    const fields = { dedupKey: body.dedupKey, state: body.state, tier: body.tier, attempts: sent.attempts };
    if (sent.ok) {
      log.info('sent to PagerDuty', fields);
      continue;
    }
    log.error(sent.permanent ? 'PagerDuty refused the event' : 'PagerDuty could not be reached in time', {
      ...fields,
      reason: sent.reason,
    });
    failures.push(`${body.dedupKey} (${body.state}): ${sent.reason}`);
  }
  // Lambda retries the invocation, then sends it to the dead-letter queue.
  if (failures.length > 0) throw new ForwardError(`not delivered to PagerDuty: ${failures.join('; ')}`);
}
