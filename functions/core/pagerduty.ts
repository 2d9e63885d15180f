/**
 * An alert as a PagerDuty Events API v2 event (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/):
 * `firing` and `reminder` trigger, `resolved` resolves, and the dedup key is the incident's, so
 * reminders and escalations update one PagerDuty incident and the resolve closes it. Pure.
 */
import type { AlertBody } from './alert-message.ts';
import type { Tier } from './types.ts';

/** PagerDuty's limits: dedup_key 255 characters, summary 1024. */
const DEDUP_MAX = 255;
const SUMMARY_MAX = 1024;

export const PAGERDUTY_SEVERITY: Readonly<Record<Tier, 'critical' | 'error' | 'warning' | 'info'>> = {
  P0: 'critical',
  P1: 'error',
  P2: 'warning',
  P3: 'info',
};

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: (typeof PAGERDUTY_SEVERITY)[Tier];
    timestamp: string;
    component: string;
    group: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
  links?: { href: string; text: string }[];
}

/** Our dedup key, within PagerDuty's 255 characters (ours are `checkId:tenantId`, far shorter). */
export function pagerDutyDedupKey(dedupKey: string): string {
  return dedupKey.length <= DEDUP_MAX ? dedupKey : dedupKey.slice(0, DEDUP_MAX);
}

/** The event for one alert (its SNS subject and body); `routingKey` is revealed only here. */
export function pagerDutyEvent(body: AlertBody, subject: string, routingKey: string): PagerDutyEvent {
  const dedup_key = pagerDutyDedupKey(body.dedupKey);
  if (body.state === 'resolved') return { routing_key: routingKey, event_action: 'resolve', dedup_key };
  const event: PagerDutyEvent = {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key,
    payload: {
      summary: subject.slice(0, SUMMARY_MAX),
      source: body.tenantId ?? 'platform',
      severity: PAGERDUTY_SEVERITY[body.tier],
      timestamp: body.sentAt,
      component: body.checkId,
      group: body.tenantId === null ? 'platform' : 'tenant',
      class: body.checkId,
      custom_details: {
        summary: body.summary,
        state: body.state,
        tier: body.tier,
        firstFailedAt: body.firstFailedAt,
        firstStep: body.firstStep,
        runbook: body.runbook,
        ...(body.escalatedFrom === null ? {} : { escalatedFrom: body.escalatedFrom }),
        ...(body.note === null ? {} : { note: body.note }),
        evidence: body.evidence,
      },
    },
  };
  if (body.runbookUrl !== null) event.links = [{ href: body.runbookUrl, text: `Runbook: ${body.runbook}` }];
  return event;
}
