/**
 * The events the probe function accepts, validated: an SQS batch from the sweep, a direct
 * invocation `{"tenantId": "...", "publish"?: boolean}`, or a Function URL request whose body
 * is that same object. A malformed event is an {@link EventError} with a message a caller can act on.
 */
import type { LambdaFunctionURLEvent, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { isIsoInstant, TENANT_ID_PATTERN } from './config.ts';
import { errorClass } from './errors.ts';
import { PACED_CHECKS } from './sampling.ts';

export const EventError = errorClass('EventError', 'event');
export type EventError = InstanceType<typeof EventError>;

const tenantId = z
  .string({ error: (issue) => (issue.input === undefined ? 'tenantId is required' : 'tenantId must be a string') })
  .regex(TENANT_ID_PATTERN, { error: 'tenantId must match ^[a-z0-9-]{1,100}$' });

/** An on-demand request: one tenant, optionally publishing its alerts. */
export const onDemandRequestSchema = z.strictObject(
  {
    tenantId,
    publish: z.boolean({ error: 'publish must be true or false' }).optional(),
  },
  { error: 'the request must be a JSON object {"tenantId": "...", "publish"?: boolean}' },
);
export type OnDemandRequest = z.infer<typeof onDemandRequestSchema>;

/** A tenant message's body as the probe receives it (what the sweep sends: `TenantMessage` in functions/ports.ts). */
export const tenantMessageSchema = z.object({
  tenantId,
  /** The sweep's id (the wire key is `runId`); absent in a message sent by hand, which no sweep judges. */
  runId: z.string().max(200).optional(),
  /** The sweep's drain deadline: delivered after it, the message is dropped. */
  deadline: z.iso.datetime({ error: 'deadline must be an ISO 8601 instant' }).optional(),
  peer: tenantId.optional(),
  /**
   * The sweep's sampling of this tenant (functions/core/sampling.ts): the sampled checks not due
   * this sweep, and whether the tenant is failing one. Absent (a message sent by hand): every check runs.
   */
  sampling: z
    .object({
      notDue: z
        .array(
          z.object({
            checkId: z.enum(PACED_CHECKS, { error: 'sampling.notDue[].checkId must be a sampled or rotated check' }),
            nextAt: z.iso.datetime({ error: 'sampling.notDue[].nextAt must be an ISO 8601 instant' }),
          }),
        )
        .max(PACED_CHECKS.length),
      failing: z.boolean(),
    })
    .optional(),
});
/** A tenant message as received: the sweep's, or one sent by hand (no sweep id, deadline or sampling). */
export type ReceivedTenantMessage = z.infer<typeof tenantMessageSchema>;

export type ProbeEvent =
  | { kind: 'sqs'; event: SQSEvent }
  | { kind: 'url'; event: LambdaFunctionURLEvent }
  | { kind: 'direct'; event: unknown };

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Which of the three shapes an event has (by its envelope; contents are validated later). */
export function classifyEvent(event: unknown): ProbeEvent {
  if (isObject(event) && Array.isArray(event.Records)) {
    const records = event.Records as unknown[];
    if (records.length > 0 && records.every((r) => isObject(r) && r.eventSource === 'aws:sqs')) {
      return { kind: 'sqs', event: event as unknown as SQSEvent };
    }
  }
  if (isObject(event) && isObject(event.requestContext) && isObject(event.requestContext.http)) {
    return { kind: 'url', event: event as unknown as LambdaFunctionURLEvent };
  }
  return { kind: 'direct', event };
}

export function parseOnDemandRequest(value: unknown): OnDemandRequest {
  const parsed = onDemandRequestSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new EventError(parsed.error.issues.map(describeIssue).join('; '));
}

/** The JSON body of a Function URL request. */
export function parseUrlBody(event: LambdaFunctionURLEvent): OnDemandRequest {
  const raw: unknown = event.body ?? '';
  if (typeof raw !== 'string') throw new EventError('the request body must be JSON text: send {"tenantId": "..."}');
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (text.trim() === '') throw new EventError('the request body is empty: send {"tenantId": "..."}');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EventError('the request body is not JSON: send {"tenantId": "..."}');
  }
  return parseOnDemandRequest(json);
}

export function parseTenantMessage(body: string): ReceivedTenantMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new EventError('the message body is not JSON');
  }
  const parsed = tenantMessageSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new EventError(
    `the message body is not {"tenantId": ...}: ${parsed.error.issues.map(describeIssue).join('; ')}`,
  );
}

/** Unknown fields named in an answer: the first few, each cut (a caller may send anything). */
const NAMED_KEYS = 3;
const KEY_CHARS = 40;

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const named = issue.keys.slice(0, NAMED_KEYS).map((key) => {
      const printable = key.replace(/[^\x20-\x7e]/g, '?');
      return JSON.stringify(printable.length > KEY_CHARS ? `${printable.slice(0, KEY_CHARS)}…` : printable);
    });
    const more = issue.keys.length > NAMED_KEYS ? ` and ${issue.keys.length - NAMED_KEYS} more` : '';
    return `unknown field ${named.join(', ')}${more}`;
  }
  return issue.message;
}

/**
 * The schedule's `scheduledTime` in a sweep event (EventBridge Scheduler's context attribute, ISO),
 * when there is a valid one: exact, unlike the time the sweep starts.
 */
export function scheduledTimeOf(event: unknown): Date | undefined {
  if (!isObject(event)) return undefined;
  const value = event.scheduledTime;
  if (typeof value !== 'string' || !isIsoInstant(value)) return undefined;
  return new Date(value);
}
