/**
 * PagerDuty Events API v2, against a loopback stand-in that implements the contract as PagerDuty
 * documents it (test/support/pagerduty.ts): the real alert path (policy, memory state, the
 * PagerDuty publisher the CLI's `run --publish` uses) over scripted runs, and the forwarder
 * function fed the SNS messages the tier topics carry.
 */

import { createServer } from 'node:http';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SNSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../functions/adapters/http.ts';
import { createPagerDutyPublisher, createPagerDutySender } from '../../functions/adapters/pagerduty.ts';
import { createMemoryStateStore } from '../../functions/adapters/state-memory.ts';
import { evaluateAlerts } from '../../functions/app/alerting.ts';
import { forwardAlerts } from '../../functions/app/forward-alert.ts';
import { renderAlert } from '../../functions/core/alert-message.ts';
import { type AlertMessage, DEFAULT_ALERT_POLICY } from '../../functions/core/alert-policy.ts';
import { catalogEntry } from '../../functions/core/catalog.ts';
import { Secret } from '../../functions/core/secret.ts';
import type { CheckResult, CheckStatus, Tier } from '../../functions/core/types.ts';
import type { AlertPublisher } from '../../functions/ports.ts';
import { alertMessage } from '../support/alerts.ts';
import { controlsIn, secretPieces } from '../support/hostile-text.ts';
import { type PagerDutyStandIn, startPagerDuty } from '../support/pagerduty.ts';

const ROUTING_KEY = 'R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12'; // 32 characters, as PagerDuty issues them
const GUIDE = 'https://wiki.example.com/ops/tenant-troubleshooting-guide';
const T0 = Date.parse('2026-12-01T10:00:00Z');
const at = (minute: number) => new Date(T0 + minute * 60_000);

let pd: PagerDutyStandIn;
beforeAll(async () => {
  pd = await startPagerDuty();
});
afterAll(() => pd?.stop());
beforeEach(() => {
  pd.requests.length = 0;
  pd.accepted.length = 0;
  pd.incidents.clear();
});

const publisher = (routingKey = ROUTING_KEY): AlertPublisher =>
  createPagerDutyPublisher({
    url: pd.url,
    routingKey: async () => new Secret(routingKey),
    tiers: ['P0', 'P1', 'P2'],
    runbookBaseUrl: GUIDE,
    retry: { baseDelayMs: 10, budgetMs: 20_000, timeoutMs: 2_000 },
  });

function result(
  checkId: 'webhook.signed_accepted' | 'tenant.success_rate',
  status: CheckStatus,
  tier: Tier | null = null,
): CheckResult {
  const entry = catalogEntry(checkId);
  return {
    checkId,
    tenantId: 'acme-corp',
    status,
    tier: status === 'fail' ? (tier ?? entry.defaultTier) : null,
    summary: `${checkId} ${status} for acme-corp`,
    durationMs: 5,
    evidence: status === 'fail' ? { status: 503 } : {},
    runbook: entry.runbook,
  };
}

/** Runs the alert path once per step, on one store, publishing to PagerDuty. */
async function series(steps: { minute: number; results: CheckResult[] }[], routingKey?: string) {
  const store = createMemoryStateStore();
  const events: unknown[] = [];
  const sent = [];
  for (const step of steps) {
    sent.push(
      ...(await evaluateAlerts({
        report: { results: step.results },
        tenants: ['acme-corp'],
        store,
        publisher: publisher(routingKey),
        now: at(step.minute),
        options: DEFAULT_ALERT_POLICY,
        onEvent: (event) => events.push(event),
      })),
    );
  }
  return { sent, events, store };
}

describe('PagerDuty Events API v2', () => {
  it('opens one incident and closes it: fail, fail, pass, pass is one trigger and one resolve on one dedup key', async () => {
    await series([
      { minute: 0, results: [result('webhook.signed_accepted', 'pass')] },
      { minute: 5, results: [result('webhook.signed_accepted', 'fail')] },
      { minute: 10, results: [result('webhook.signed_accepted', 'fail')] },
      { minute: 15, results: [result('webhook.signed_accepted', 'pass')] },
      { minute: 20, results: [result('webhook.signed_accepted', 'pass')] },
    ]);
    expect(pd.accepted.map((e) => `${e.event_action} ${e.dedup_key}`)).toEqual([
      'trigger webhook.signed_accepted:acme-corp',
      'resolve webhook.signed_accepted:acme-corp',
    ]);
    const [trigger] = pd.accepted;
    expect(trigger?.payload).toMatchObject({
      summary: '[P1] acme-corp: webhook.signed_accepted failing',
      source: 'acme-corp',
      severity: 'error',
      custom_details: { firstStep: catalogEntry('webhook.signed_accepted').firstStep, evidence: { status: 503 } },
    });
    expect(trigger?.links).toEqual([
      {
        href: `${GUIDE}#resolution-b-signature-validation-fails`,
        text: 'Runbook: Issue 1, Resolution B: Signature Validation Fails',
      },
    ]);
    expect(pd.incidents.get('webhook.signed_accepted:acme-corp')?.status).toBe('resolved');
  });

  it('re-triggers a reminder on the same key, and raises the severity of an escalation P2 -> P1 on the same key', async () => {
    await series([
      { minute: 0, results: [result('webhook.signed_accepted', 'fail')] },
      { minute: 5, results: [result('webhook.signed_accepted', 'fail')] },
      // P1 reminders every 30 minutes.
      { minute: 36, results: [result('webhook.signed_accepted', 'fail')] },
    ]);
    expect(pd.accepted.map((e) => `${e.event_action} ${e.dedup_key} ${e.payload?.severity}`)).toEqual([
      'trigger webhook.signed_accepted:acme-corp error',
      'trigger webhook.signed_accepted:acme-corp error',
    ]);
    expect(pd.incidents.get('webhook.signed_accepted:acme-corp')?.triggers).toBe(2);

    pd.accepted.length = 0;
    const steps = [0, 5, 10, 30, 50, 66].map((minute) => ({
      minute,
      results: [result('tenant.success_rate', 'fail')],
    }));
    await series(steps);
    const actions = pd.accepted.map((e) => `${e.event_action} ${e.dedup_key} ${e.payload?.severity}`);
    expect(actions[0]).toBe('trigger tenant.success_rate:acme-corp warning');
    expect(actions.at(-1)).toBe('trigger tenant.success_rate:acme-corp error');
    expect(pd.accepted.at(-1)?.payload?.summary).toContain('escalated from P2');
    expect(pd.incidents.get('tenant.success_rate:acme-corp')?.severity).toBe('error');
  });

  it('delivers once through a 429, and keeps an alert PagerDuty refused (400) pending without leaking the key', async () => {
    pd.throttleNext(1);
    const { sent } = await series([{ minute: 0, results: [result('webhook.signed_accepted', 'fail', 'P0')] }]);
    expect(pd.requests).toHaveLength(2);
    expect(pd.accepted).toHaveLength(1);
    expect(sent).toHaveLength(1);

    const wrongKey = 'not-a-routing-key';
    pd.requests.length = 0;
    pd.accepted.length = 0;
    const refused = await series([{ minute: 0, results: [result('webhook.signed_accepted', 'fail', 'P0')] }], wrongKey);
    expect(pd.requests).toHaveLength(1); // a 400 is not retried
    expect(refused.sent).toEqual([]);
    expect(refused.events).toEqual([
      expect.objectContaining({
        type: 'undelivered',
        reason: expect.stringContaining('HTTP 400 (Event object is invalid: Invalid routing key)'),
      }),
    ]);
    const stored = await refused.store.load(['webhook.signed_accepted:acme-corp']);
    expect(stored.get('webhook.signed_accepted:acme-corp')?.record.pending).toHaveLength(1);
    expect(JSON.stringify(refused.events)).not.toContain(wrongKey);
  });
});

describe('the PagerDuty forwarder', () => {
  const message = (overrides: Partial<AlertMessage> = {}): AlertMessage =>
    alertMessage({
      firstFailedAt: at(0).toISOString(),
      createdAt: at(0).toISOString(),
      summary: 'globex rows visible in acme-corp context',
      evidence: { table: 'tickets' },
      runbook: catalogEntry('rls.cross_tenant_read').runbook,
      firstStep: catalogEntry('rls.cross_tenant_read').firstStep,
      ...overrides,
    });

  /** The SNS event a tier topic delivers to the forwarder, as the SNS publisher renders the alert. */
  const snsEvent = (alerts: AlertMessage[]): SNSEvent => ({
    Records: alerts.map((alert, i) => {
      const rendered = renderAlert(alert, { runbookBaseUrl: GUIDE });
      return {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: 'arn:aws:sns:eu-west-1:123456789012:p0:sub',
        Sns: {
          Type: 'Notification',
          MessageId: `sns-${i}`,
          TopicArn: 'arn:aws:sns:eu-west-1:123456789012:p0',
          Subject: rendered.subject,
          Message: rendered.body,
          Timestamp: at(0).toISOString(),
          SignatureVersion: '1',
          Signature: '',
          SigningCertUrl: '',
          UnsubscribeUrl: '',
          MessageAttributes: {},
        },
      };
    }),
  });
  const logs: string[] = [];
  const log = (line: string, fields?: unknown) => logs.push(`${line} ${JSON.stringify(fields ?? {})}`);
  const logger = {
    info: log,
    warn: log,
    error: log,
    debug: log,
    addContext: () => {},
    createChild: () => logger,
  } as unknown as Logger;
  const deps = (routingKey: string) => {
    const http = createHttpClient({ connectTimeoutMs: 2_000 });
    return {
      logger,
      routingKey: async () => new Secret(routingKey),
      sender: (budgetMs: number) => createPagerDutySender({ url: pd.url, http, budgetMs, baseDelayMs: 10 }),
    };
  };

  it('turns a firing and its resolve into a trigger and a resolve, with the runbook link', async () => {
    await forwardAlerts(
      deps(ROUTING_KEY),
      snsEvent([message(), message({ id: 'x#2', state: 'resolved' })]),
      () => 30_000,
    );
    expect(pd.accepted.map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
    expect(pd.accepted[0]).toMatchObject({
      dedup_key: 'rls.cross_tenant_read:acme-corp',
      payload: { severity: 'critical', source: 'acme-corp', summary: '[P0] acme-corp: rls.cross_tenant_read failing' },
      links: [{ href: `${GUIDE}#issue-4-data-isolation-concern-security` }],
    });
  });

  it('throws when PagerDuty refuses (Lambda retries, then the dead-letter queue), and never logs the routing key', async () => {
    logs.length = 0;
    const bad = 'short-and-wrong-routing-key';
    await expect(forwardAlerts(deps(bad), snsEvent([message()]), () => 30_000)).rejects.toThrow(
      /^not delivered to PagerDuty: rls\.cross_tenant_read:acme-corp \(firing\): HTTP 400/,
    );
    expect(logs.some((line) => line.startsWith('PagerDuty refused the event'))).toBe(true);
    expect(logs.join('\n')).not.toContain(bad);
    await expect(
      forwardAlerts(
        deps(ROUTING_KEY),
        { Records: [{ Sns: { Message: 'not json', MessageId: 'm' } }] } as unknown as SNSEvent,
        () => 30_000,
      ),
    ).rejects.toThrow('not an alert message');
  });

  it('ignores, with one line, an event that is not from SNS, and refuses a forged alert body', async () => {
    logs.length = 0;
    const before = pd.accepted.length;
    for (const event of [{ Records: 5 }, { Records: [{ Sns: { Message: 5 } }] }, null, 'x']) {
      await expect(forwardAlerts(deps(ROUTING_KEY), event, () => 30_000)).resolves.toBeUndefined();
    }
    expect(logs.filter((line) => line.startsWith('not an SNS event: ignored'))).toHaveLength(4);
    // Forged into the topic: a javascript: link, or a timestamp that is none, never reaches an incident.
    const forged = (patch: Record<string, unknown>) => {
      const event = snsEvent([message()]);
      const record = event.Records[0] as SNSEvent['Records'][number];
      record.Sns.Message = JSON.stringify({ ...JSON.parse(record.Sns.Message), ...patch });
      return event;
    };
    for (const patch of [{ runbookUrl: 'javascript:alert(1)' }, { sentAt: 'yesterday' }, { firstFailedAt: 5 }]) {
      await expect(forwardAlerts(deps(ROUTING_KEY), forged(patch), () => 30_000)).rejects.toThrow(
        'not an alert message',
      );
    }
    expect(pd.accepted.length).toBe(before);
  });
});

describe("PagerDuty's answer, as quoted in a delivery failure", () => {
  it('is scrubbed of the routing key before it is cut, and stripped of control characters', async () => {
    // A refusal that echoes the key where a cut at 300 characters would split it.
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            status: 'invalid event',
            message: `\u001b[2K\u001b[1G${'m'.repeat(285)}${ROUTING_KEY}`,
            errors: ['\u001b]0;pwned\u0007bad'],
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const http = createHttpClient({ connectTimeoutMs: 1_000 });
    try {
      const { port } = server.address() as { port: number };
      const sender = createPagerDutySender({ url: `http://127.0.0.1:${port}/v2/enqueue`, http, baseDelayMs: 10 });
      const sent = await sender.send({ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: 'k' });
      expect(sent.ok).toBe(false);
      const reason = sent.ok ? '' : sent.reason;
      expect(reason).toMatch(/^HTTP 400 \(m+/);
      expect(reason.length).toBeLessThan(320);
      expect(controlsIn(reason)).toEqual([]);
      expect(reason).not.toContain('pwned');
      for (const piece of secretPieces(ROUTING_KEY)) expect(reason).not.toContain(piece);
    } finally {
      await http.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
