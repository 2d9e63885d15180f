/**
 * An alert as a PagerDuty Events API v2 event (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/):
 * `firing` and `reminder` trigger, `resolved` resolves, and the dedup key is the incident's, so
 * reminders and escalations update one PagerDuty incident and the resolve closes it. Every field
 * is within PagerDuty's limits (functions/core/limits.ts: summary 1024 characters, dedup key 255,
 * the event 512 KB) and free of control characters, whatever the alert body holds. Pure.
 */
import type { AlertBody } from './alert-message.ts';
import {
  ALERT_TEXT_MAX_CHARS,
  PAGERDUTY_DEDUP_KEY_MAX_CHARS,
  PAGERDUTY_FIELD_MAX_CHARS,
  PAGERDUTY_LINK_MAX_CHARS,
  PAGERDUTY_SUMMARY_MAX_CHARS,
  SUMMARY_MAX_CHARS,
} from './limits.ts';
import { cleanEvidence } from './sanitize.ts';
import { cutText, platformScrubber, stripControls } from './text.ts';
import type { Tier } from './types.ts';

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
  return dedupKey.length <= PAGERDUTY_DEDUP_KEY_MAX_CHARS ? dedupKey : dedupKey.slice(0, PAGERDUTY_DEDUP_KEY_MAX_CHARS);
}

/** One line of at most `maxChars`, without control characters (a field PagerDuty shows as text). */
const line = (text: string, maxChars: number) => cutText(stripControls(String(text)).trim(), maxChars);

/** The event for one alert (its SNS subject and body); `routingKey` is revealed only here. */
export function pagerDutyEvent(body: AlertBody, subject: string, routingKey: string): PagerDutyEvent {
  const dedup_key = pagerDutyDedupKey(body.dedupKey);
  if (body.state === 'resolved') return { routing_key: routingKey, event_action: 'resolve', dedup_key };
  const checkId = line(body.checkId, PAGERDUTY_FIELD_MAX_CHARS);
  // The evidence was bounded when its result was made; an alert body read back (the forwarder's
  // SNS message) is bounded again. With every field capped, the event stays far under
  // PAGERDUTY_EVENT_MAX_BYTES: evidence EVIDENCE_MAX_BYTES, each text field a few KB at most.
  const evidence = cleanEvidence(body.evidence, platformScrubber([routingKey]));
  const details: Record<string, unknown> = {
    summary: line(body.summary, SUMMARY_MAX_CHARS),
    state: body.state,
    tier: body.tier,
    firstFailedAt: line(body.firstFailedAt, PAGERDUTY_FIELD_MAX_CHARS),
    firstStep: line(body.firstStep, ALERT_TEXT_MAX_CHARS),
    runbook: line(body.runbook, PAGERDUTY_FIELD_MAX_CHARS),
    ...(body.escalatedFrom === null ? {} : { escalatedFrom: body.escalatedFrom }),
    ...(body.note === null ? {} : { note: line(body.note, ALERT_TEXT_MAX_CHARS) }),
    evidence,
  };
  const event: PagerDutyEvent = {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key,
    payload: {
      summary: line(subject, PAGERDUTY_SUMMARY_MAX_CHARS) || `[${body.tier}] ${checkId}`,
      source: line(body.tenantId ?? 'platform', PAGERDUTY_FIELD_MAX_CHARS) || 'platform',
      severity: PAGERDUTY_SEVERITY[body.tier],
      timestamp: line(body.sentAt, PAGERDUTY_FIELD_MAX_CHARS),
      component: checkId,
      group: body.tenantId === null ? 'platform' : 'tenant',
      class: checkId,
      custom_details: details,
    },
  };
  if (body.runbookUrl !== null && body.runbookUrl.length <= PAGERDUTY_LINK_MAX_CHARS) {
    event.links = [{ href: body.runbookUrl, text: line(`Runbook: ${body.runbook}`, PAGERDUTY_FIELD_MAX_CHARS) }];
  }
  return event;
}
