import { describe, expect, it } from 'vitest';
import { alertBody } from '../../functions/core/alert-message.ts';
import type { AlertMessage } from '../../functions/core/alert-policy.ts';
import { CATALOG } from '../../functions/core/catalog.ts';
import {
  PAGERDUTY_EVENT_MAX_BYTES,
  PAGERDUTY_FIELD_MAX_CHARS,
  PAGERDUTY_SUMMARY_MAX_CHARS,
} from '../../functions/core/limits.ts';
import { pagerDutyDedupKey, pagerDutyEvent } from '../../functions/core/pagerduty.ts';
import { headingSlug, runbookHeading, runbookUrl } from '../../functions/core/runbook.ts';
import { controlsIn } from '../support/hostile-text.ts';

const message: AlertMessage = {
  id: 'db.connections:*#3',
  state: 'resolved',
  tier: 'P1',
  checkId: 'db.connections',
  tenantId: null,
  dedupKey: 'db.connections:*',
  kind: 'check',
  firstFailedAt: '2026-12-01T10:00:00.000Z',
  createdAt: '2026-12-01T10:20:00.000Z',
  summary: 'connections back under the limit',
  evidence: {},
  runbook: 'Issue 1, Resolution C: Workers Not Processing (Queue Backup)',
  firstStep: 'Count connections.',
  escalatedFrom: null,
  note: null,
};

describe('runbook links', () => {
  it('slugs headings as GitHub does, and links the section a runbook names', () => {
    expect(headingSlug('Issue 4: Data Isolation Concern (Security)')).toBe('issue-4-data-isolation-concern-security');
    expect(headingSlug('Resolution C: Workers Not Processing (Queue Backup)')).toBe(
      'resolution-c-workers-not-processing-queue-backup',
    );
    expect(runbookHeading('Quick Diagnostics, Step 2: Check Tenant Health')).toBe('Step 2: Check Tenant Health');
    expect(runbookUrl('https://wiki.example.com/guide#old', message.runbook)).toBe(
      'https://wiki.example.com/guide#resolution-c-workers-not-processing-queue-backup',
    );
    expect(runbookUrl(null, message.runbook)).toBeNull();
    // The canary's own check is not a section of the platform's guide.
    expect(runbookUrl('https://wiki.example.com/guide', 'tenant-canary README: A sweep is judged once')).toBeNull();
    for (const entry of CATALOG) {
      if (entry.scope !== 'sweep') expect(runbookHeading(entry.runbook), entry.id).not.toBeNull();
    }
  });
});

describe('PagerDuty events', () => {
  it('resolves with the routing key and dedup key only', () => {
    expect(pagerDutyEvent(alertBody(message), 'subject', 'k'.repeat(32))).toEqual({
      routing_key: 'k'.repeat(32),
      event_action: 'resolve',
      dedup_key: 'db.connections:*',
    });
  });

  it('triggers a platform incident from source "platform", and keeps a dedup key within 255 characters', () => {
    const event = pagerDutyEvent(alertBody({ ...message, state: 'firing', tier: 'P3' }), 'x'.repeat(2000), 'key');
    expect(event.payload).toMatchObject({ source: 'platform', severity: 'info', group: 'platform' });
    expect(event.payload?.summary).toHaveLength(1024);
    expect(event.links).toBeUndefined();
    expect(pagerDutyDedupKey('a'.repeat(300))).toHaveLength(255);
  });
});

describe('PagerDuty events from a hostile alert body', () => {
  it('keep every field within its limit and the event within 512 KB, without control characters', () => {
    const huge = (what: string) => `\u001b[2K${what}${'x'.repeat(600_000)}`;
    const body = {
      ...alertBody({ ...message, state: 'firing', tenantId: 'acme-corp' }),
      // What a forged or corrupted SNS message could carry: the forwarder passes it through.
      checkId: huge('check'),
      tenantId: huge('tenant'),
      summary: huge('summary'),
      firstStep: huge('step'),
      note: huge('note'),
      runbook: huge('runbook'),
      runbookUrl: `https://wiki.example.com/${'p'.repeat(600_000)}`,
      evidence: { big: 'e'.repeat(600_000), many: Array.from({ length: 10_000 }, (_, i) => `item ${i}`) },
    };

    const event = pagerDutyEvent(body, huge('subject'), 'k'.repeat(32));
    const json = JSON.stringify(event);

    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(PAGERDUTY_EVENT_MAX_BYTES);
    expect(Buffer.byteLength(json)).toBeLessThan(100_000);
    expect(controlsIn(json)).toEqual([]);
    expect(json).not.toContain('\\u001b');
    const payload = event.payload;
    expect(payload?.summary.length).toBeLessThanOrEqual(PAGERDUTY_SUMMARY_MAX_CHARS);
    for (const field of [payload?.source, payload?.component, payload?.group, payload?.class, payload?.timestamp]) {
      expect(field?.length).toBeLessThanOrEqual(PAGERDUTY_FIELD_MAX_CHARS);
    }
    expect(event.links).toBeUndefined(); // a link too long to be a link is left out
  });
});
