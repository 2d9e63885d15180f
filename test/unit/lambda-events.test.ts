/**
 * What the probe function accepts from outside: a Function URL request, a direct invocation or
 * an SQS batch, each malformed the ways a caller (or a bug) might, answered with one clear line,
 * never an exception or an echo of what was sent.
 */
import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../functions/app/deps.ts';
import { parseConfig } from '../../functions/core/config.ts';
import { classifyEvent, parseTenantMessage, scheduledTimeOf } from '../../functions/core/events.ts';
import { createProbeHandler } from '../../functions/handlers/probe.ts';
import { discardedMetrics, silentLogger } from '../support/telemetry.ts';

const deps = {
  logger: silentLogger,
  metrics: discardedMetrics,
  config: async () =>
    parseConfig({
      platform: { baseUrl: 'https://platform.invalid' },
      tenants: [{ tenantId: 'acme', signingSecret: { value: 's' } }],
    }),
} as unknown as AppDeps;
const handler = createProbeHandler(deps);
const urlEvent = (body: unknown) => ({
  requestContext: { http: { method: 'POST' } },
  body,
  isBase64Encoded: false,
});

describe('the probe function, given a malformed request', () => {
  it('answers 400 when the Function URL body is not text (an object, a number)', async () => {
    for (const body of [{ tenantId: 'acme' }, 42, ['x']]) {
      expect(await handler(urlEvent(body))).toEqual({
        statusCode: 400,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ error: 'the request body must be JSON text: send {"tenantId": "..."}' }),
      });
    }
  });

  it('names unknown fields briefly: the first three, each cut, without control characters', async () => {
    const huge = 'k'.repeat(100_000);
    const answer = (await handler({ tenantId: 'acme', [huge]: 1, 'b\u001b[2K': 2, c: 3, d: 4 })) as { error: string };
    expect(answer.error).toBe(`unknown field "${'k'.repeat(40)}…", "b?[2K", "c" and 1 more`);
    const url = (await handler(urlEvent(JSON.stringify({ tenantId: 'acme', [huge]: 1 })))) as { body: string };
    expect(url.body.length).toBeLessThan(200);
  });

  it('reads an SQS record without attributes (a stale one is dropped), and one whose body is no text as malformed', async () => {
    const stale = JSON.stringify({ tenantId: 'acme', runId: 's', deadline: '2026-11-27T10:05:00Z' });
    const event = { Records: [{ eventSource: 'aws:sqs', messageId: 'm', receiptHandle: 'r', body: stale }] };
    expect(classifyEvent(event).kind).toBe('sqs');
    const batch = createProbeHandler({
      ...deps,
      now: () => new Date('2026-11-27T10:06:00Z'),
      openPorts: async () => ({ close: async () => {} }),
      tenantSource: () => ({ kind: 'static' }),
    } as unknown as AppDeps);
    expect(await batch(event)).toEqual({ batchItemFailures: [] });
    expect(() => parseTenantMessage(5 as unknown as string)).toThrow('the message body is not {"tenantId": ...}');
  });
});

describe('the sweep event', () => {
  it("reads the schedule's scheduledTime, and nothing from an event without a valid one", () => {
    expect(scheduledTimeOf({ source: 'tenant-canary.schedule', scheduledTime: '2026-12-01T10:05:00Z' })).toEqual(
      new Date('2026-12-01T10:05:00Z'),
    );
    for (const event of [
      { source: 'tenant-canary.schedule' },
      { scheduledTime: '<aws.scheduler.scheduled-time>' },
      { scheduledTime: 1_764_583_500_000 },
      null,
      'sweep',
    ]) {
      expect(scheduledTimeOf(event)).toBeUndefined();
    }
  });
});
