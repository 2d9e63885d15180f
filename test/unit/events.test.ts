/**
 * The probe function's events (functions/core/events.ts) in their own right: which shape an event
 * has, an on-demand request, a Function URL body and a tenant message, each valid and malformed.
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  classifyEvent,
  EventError,
  parseOnDemandRequest,
  parseTenantMessage,
  parseUrlBody,
  scheduledTimeOf,
} from '../../functions/core/events.ts';
import { sqsRecord } from '../../sim/sqs-record.ts';

const urlEvent = (body: unknown, isBase64Encoded = false) =>
  ({ requestContext: { http: { method: 'POST' } }, body, isBase64Encoded }) as unknown as LambdaFunctionURLEvent;

describe('classifyEvent', () => {
  it('tells an SQS batch, a Function URL request and a direct invocation apart by their envelope', () => {
    const batch = { Records: [sqsRecord('m-1', '{}')] };
    expect(classifyEvent(batch)).toEqual({ kind: 'sqs', event: batch });
    const url = urlEvent('{}');
    expect(classifyEvent(url)).toEqual({ kind: 'url', event: url });
    expect(classifyEvent({ tenantId: 'acme' })).toEqual({ kind: 'direct', event: { tenantId: 'acme' } });
  });

  it('takes an empty or foreign Records list for a direct invocation (validated, and refused, later)', () => {
    expect(classifyEvent({ Records: [] }).kind).toBe('direct');
    expect(classifyEvent({ Records: [{ eventSource: 'aws:sns' }] }).kind).toBe('direct');
    expect(classifyEvent(null).kind).toBe('direct');
  });
});

describe('an on-demand request', () => {
  it('is a tenant id, and optionally whether to publish', () => {
    expect(parseOnDemandRequest({ tenantId: 'acme' })).toEqual({ tenantId: 'acme' });
    expect(parseOnDemandRequest({ tenantId: 'acme', publish: true })).toEqual({ tenantId: 'acme', publish: true });
  });

  it('refuses a bad tenant id, a missing one and unknown fields, as an EventError', () => {
    expect(() => parseOnDemandRequest({ tenantId: 'Not Valid' })).toThrow('tenantId must match ^[a-z0-9-]{1,100}$');
    expect(() => parseOnDemandRequest({ tenantId: 7 })).toThrow('tenantId must be a string');
    expect(() => parseOnDemandRequest({})).toThrow(EventError);
    expect(() => parseOnDemandRequest({ tenantId: 'acme', a: 1, b: 2, c: 3, d: 4 })).toThrow(
      'unknown field "a", "b", "c" and 1 more',
    );
  });

  it('comes from a Function URL body, plain or base64', () => {
    expect(parseUrlBody(urlEvent('{"tenantId":"acme"}'))).toEqual({ tenantId: 'acme' });
    const encoded = Buffer.from('{"tenantId":"globex","publish":false}').toString('base64');
    expect(parseUrlBody(urlEvent(encoded, true))).toEqual({ tenantId: 'globex', publish: false });
  });

  it('says what to send when the body is empty, not JSON or not text', () => {
    expect(() => parseUrlBody(urlEvent(undefined))).toThrow('the request body is empty: send {"tenantId": "..."}');
    expect(() => parseUrlBody(urlEvent('  '))).toThrow('the request body is empty');
    expect(() => parseUrlBody(urlEvent('{"tenantId":'))).toThrow('the request body is not JSON');
    expect(() => parseUrlBody(urlEvent({ tenantId: 'acme' }))).toThrow('the request body must be JSON text');
  });
});

describe('a tenant message', () => {
  it("carries the tenant, its sweep's id, deadline, peer and sampling", () => {
    const body = {
      tenantId: 'acme',
      runId: 'sweep-2026-11-27T10:05:00.000Z',
      deadline: '2026-11-27T10:10:00.000Z',
      peer: 'globex',
      sampling: {
        notDue: [{ checkId: 'webhook.signed_accepted', nextAt: '2026-11-27T11:00:00.000Z' }],
        failing: false,
      },
    };
    expect(parseTenantMessage(JSON.stringify(body))).toEqual(body);
    // Sent by hand: only the tenant.
    expect(parseTenantMessage('{"tenantId":"acme"}')).toEqual({ tenantId: 'acme' });
  });

  it('is refused, naming the field, when malformed', () => {
    expect(() => parseTenantMessage('{not json')).toThrow('the message body is not JSON');
    expect(() => parseTenantMessage('{"tenantId":"acme","deadline":"tomorrow"}')).toThrow(
      'deadline must be an ISO 8601 instant',
    );
    const unpaced = { tenantId: 'acme', sampling: { notDue: [{ checkId: 'api.health', nextAt: 'x' }], failing: true } };
    expect(() => parseTenantMessage(JSON.stringify(unpaced))).toThrow(
      'sampling.notDue[].checkId must be a sampled or rotated check',
    );
    expect(() => parseTenantMessage('{"tenantId":"DROP TABLE"}')).toThrow(
      /^the message body is not \{"tenantId": \.\.\.\}/,
    );
  });
});

describe('scheduledTimeOf', () => {
  it("reads the schedule's instant, and nothing from anything else", () => {
    expect(scheduledTimeOf({ scheduledTime: '2026-11-27T10:05:00Z' })?.toISOString()).toBe('2026-11-27T10:05:00.000Z');
    expect(scheduledTimeOf({ scheduledTime: 'soon' })).toBeUndefined();
    expect(scheduledTimeOf({ scheduledTime: 5 })).toBeUndefined();
    expect(scheduledTimeOf('2026-11-27T10:05:00Z')).toBeUndefined();
  });
});
