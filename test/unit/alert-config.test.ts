import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../functions/core/config.ts';

const base = () => ({
  platform: { baseUrl: 'https://api.example.com' },
  tenants: [{ tenantId: 'acme-corp', signingSecret: { value: 'acme-secret-value' } }],
});

const TOPICS = {
  P0: 'arn:aws:sns:eu-west-1:123456789012:canary-p0',
  P1: 'arn:aws:sns:eu-west-1:123456789012:canary-p1',
  P2: 'arn:aws:sns:eu-west-1:123456789012:canary-p2',
  P3: 'arn:aws:sns:eu-west-1:123456789012:canary-p3',
};

function issuesOf(alerts: unknown): string[] {
  try {
    parseConfig({ ...base(), alerts });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).issues];
  }
  throw new Error('expected a ConfigError');
}

describe('config: alerts', () => {
  it('defaults to the guide: P0 at once, reminders 15/30/120/never, P2 escalates after 60 min', () => {
    expect(parseConfig(base()).alerts).toEqual({
      fireAfterRuns: { P0: 1, P1: 2, P2: 2, P3: 2 },
      resolveAfterRuns: 2,
      reminderMinutes: { P0: 15, P1: 30, P2: 120, P3: null },
      escalateAfterMinutes: { P0: null, P1: null, P2: 60, P3: null },
      breadth: { minTenants: 3, minRatio: 0.5 },
      maintenance: [],
      runbookBaseUrl: null,
    });
  });

  it('takes PagerDuty with a secret routing key, P0 and P1 by default, the US endpoint unless told', () => {
    const alerts = parseConfig({ ...base(), alerts: { pagerduty: { routingKey: { secretId: 'pd-key' } } } }).alerts;
    expect(alerts.pagerduty).toEqual({
      routingKey: { secretId: 'pd-key' },
      tiers: ['P0', 'P1'],
      url: 'https://events.pagerduty.com/v2/enqueue',
    });
    expect(() =>
      parseConfig({ ...base(), alerts: { pagerduty: { routingKey: { secretId: 'k' }, tiers: [] } } }),
    ).toThrow('alerts.pagerduty.tiers must name at least one tier');
    expect(() => parseConfig({ ...base(), alerts: { runbookBaseUrl: 'wiki/guide' } })).toThrow(
      'alerts.runbookBaseUrl must be an absolute http:// or https:// URL',
    );
  });

  it('accepts topics, partial overrides, no breadth and windows', () => {
    const alerts = parseConfig({
      ...base(),
      alerts: {
        topics: TOPICS,
        fireAfterRuns: { P2: 3 },
        reminderMinutes: { P0: 10, P2: null },
        breadth: null,
        maintenance: [
          { start: '2026-11-27T22:00:00Z', end: '2026-11-27T23:30:00+01:00', reason: 'database upgrade' },
          { start: '2026-11-28T01:00:00.000Z', end: '2026-11-28T02:00:00Z', tenants: ['acme-corp'] },
        ],
      },
    }).alerts;
    expect(alerts.topics).toEqual(TOPICS);
    expect(alerts.fireAfterRuns).toEqual({ P0: 1, P1: 2, P2: 3, P3: 2 });
    expect(alerts.reminderMinutes).toEqual({ P0: 10, P1: 30, P2: null, P3: null });
    expect(alerts.breadth).toBeNull();
    expect(alerts.maintenance).toHaveLength(2);
  });

  it.each([
    [
      { topics: { ...TOPICS, P1: 'canary-p1' } },
      'alerts.topics.P1 must be an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:canary-p0',
    ],
    [{ topics: { P0: TOPICS.P0, P1: TOPICS.P1, P2: TOPICS.P2 } }, 'alerts.topics.P3 is required'],
    [{ topics: { ...TOPICS, P4: TOPICS.P0 } }, 'alerts.topics has unknown field "P4"'],
    [{ fireAfterRuns: { P1: 0 } }, 'alerts.fireAfterRuns.P1 must be a positive integer'],
    [{ fireAfterRuns: { P1: 1000 } }, 'alerts.fireAfterRuns.P1 must be a positive integer of at most 100'],
    [{ resolveAfterRuns: 1.5 }, 'alerts.resolveAfterRuns must be a positive integer'],
    [{ reminderMinutes: { P0: -5 } }, 'alerts.reminderMinutes.P0 must be a positive integer (minutes) or null (never)'],
    [
      { escalateAfterMinutes: { P2: '60' } },
      'alerts.escalateAfterMinutes.P2 must be a positive integer (minutes) or null (never)',
    ],
    [{ breadth: { minRatio: 2 } }, 'alerts.breadth.minRatio must be a number greater than 0 and at most 1'],
    [
      { maintenance: [{ start: 'tonight', end: '2026-11-27T23:00:00Z' }] },
      'alerts.maintenance[0].start must be an ISO 8601 date-time with a time zone, such as 2026-11-27T22:00:00Z',
    ],
    [
      { maintenance: [{ start: '2026-11-27T22:00:00', end: '2026-11-27T23:00:00Z' }] },
      'alerts.maintenance[0].start must be an ISO 8601 date-time with a time zone, such as 2026-11-27T22:00:00Z',
    ],
    [
      { maintenance: [{ start: '2026-11-27T23:00:00Z', end: '2026-11-27T22:00:00Z' }] },
      'alerts.maintenance[0].end must be after start',
    ],
    [
      { maintenance: [{ start: '2026-11-27T22:00:00Z', end: '2026-11-27T23:00:00Z', tenants: ['Acme Corp'] }] },
      'alerts.maintenance[0].tenants[0] must match ^[a-z0-9-]{1,100}$ (lowercase letters, digits and -)',
    ],
    [
      { maintenance: [{ start: '2026-11-27T22:00:00Z', end: '2026-11-27T23:00:00Z', tenants: [] }] },
      'alerts.maintenance[0].tenants must list at least one tenant (omit it for a global window)',
    ],
    [{ reminders: {} }, 'alerts has unknown field "reminders"'],
  ])('rejects %j naming the field', (alerts, expected) => {
    expect(issuesOf(alerts)).toEqual([expected]);
  });

  it('names only the zoneless start, in every time zone (no "end must be after start" west of UTC)', () => {
    const zone = process.env.TZ;
    try {
      for (const tz of ['America/New_York', 'UTC', 'Pacific/Kiritimati']) {
        process.env.TZ = tz;
        expect(issuesOf({ maintenance: [{ start: '2026-11-27T22:00:00', end: '2026-11-27T23:00:00Z' }] }), tz).toEqual([
          'alerts.maintenance[0].start must be an ISO 8601 date-time with a time zone, such as 2026-11-27T22:00:00Z',
        ]);
      }
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});
