/**
 * PagerDuty Events API v2: sends events (functions/core/pagerduty.ts) through the HTTP adapter.
 * 202 is delivered; 429, 5xx and no answer are retried with backoff while the time budget lasts;
 * 400 (an invalid event) and other 4xx are permanent and not retried. The routing key is in the
 * request body only: never in a reason, a log line or an error.
 */

import type { SNSClientConfig } from '@aws-sdk/client-sns';
import { alertBody, alertSubject } from '../core/alert-message.ts';
import type { AlertMessage } from '../core/alert-policy.ts';
import { type Config, ConfigError } from '../core/config.ts';
import { PAGERDUTY_REASON_MAX_CHARS } from '../core/limits.ts';
import { type PagerDutyEvent, pagerDutyEvent } from '../core/pagerduty.ts';
import type { Secret } from '../core/secret.ts';
import { cleanText, platformScrubber } from '../core/text.ts';
import type { Tier } from '../core/types.ts';
import type { AlertPublisher, HttpClient, PagerDutySender, PublishOutcome, SecretResolver } from '../ports.ts';
import { createHttpClient } from './http.ts';
import { createSnsPublisherFromConfig } from './sns.ts';

export interface PagerDutySenderOptions {
  url: string;
  http: HttpClient;
  /** Each attempt's deadline. @default 10000 */
  timeoutMs?: number;
  /** All attempts of one event. @default 60000 */
  budgetMs?: number;
  /** The first retry's delay, doubled each time (up to 8 s). @default 500 */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const MAX_DELAY_MS = 8_000;
const RESPONSE_BYTES = 16 * 1024;

export function createPagerDutySender(options: PagerDutySenderOptions): PagerDutySender {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const budgetMs = options.budgetMs ?? 60_000;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  return {
    async send(event) {
      const started = now();
      // PagerDuty's answer is quoted in logs and on the terminal: the routing key (in any form) is
      // scrubbed from it before it is cut, and its control characters are stripped.
      const scrub = platformScrubber([event.routing_key]);
      for (let attempt = 1; ; attempt++) {
        const result = await options.http.request({
          method: 'POST',
          url: options.url,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(event),
          timeoutMs,
          maxBytes: RESPONSE_BYTES,
        });
        let reason: string;
        let retry: boolean;
        if (result.kind === 'response') {
          if (result.status === 202 || result.status === 200)
            return { ok: true, attempts: attempt, status: result.status };
          reason = `HTTP ${result.status}${describeBody(result.json, scrub)}`;
          retry = result.status === 429 || result.status >= 500;
        } else {
          reason = result.kind === 'timeout' ? `no answer within ${timeoutMs} ms` : `unreachable (${result.kind})`;
          retry = true;
        }
        const delay = Math.min(MAX_DELAY_MS, baseDelayMs * 2 ** (attempt - 1));
        if (!retry) return { ok: false, attempts: attempt, permanent: true, reason };
        if (now() - started + delay + timeoutMs > budgetMs) {
          return {
            ok: false,
            attempts: attempt,
            permanent: false,
            reason: `${reason}, still after ${attempt} attempts`,
          };
        }
        await sleep(delay);
      }
    },
  };
}

/** PagerDuty's error body: `{"status": "invalid event", "message": ..., "errors": [...]}`, scrubbed, then cut. */
function describeBody(json: unknown, scrub: (text: string) => string): string {
  if (json === null || typeof json !== 'object') return '';
  const body = json as { message?: unknown; errors?: unknown };
  const parts = [typeof body.message === 'string' ? body.message : undefined];
  if (Array.isArray(body.errors)) parts.push(body.errors.filter((e) => typeof e === 'string').join('; '));
  const text = cleanText(parts.filter((p) => p !== undefined && p !== '').join(': '), {
    scrub,
    maxChars: PAGERDUTY_REASON_MAX_CHARS,
  });
  return text === '' ? '' : ` (${text})`;
}

export interface PagerDutyPublisherOptions {
  url: string;
  /** Retry settings of the sender (tests shorten them). */
  retry?: Pick<PagerDutySenderOptions, 'baseDelayMs' | 'budgetMs' | 'timeoutMs'>;
  /** Read when the first event goes out. */
  routingKey: () => Promise<Secret>;
  tiers: readonly Tier[];
  runbookBaseUrl: string | null;
}

/**
 * A publisher that sends the configured tiers' alerts to PagerDuty (the CLI's `run --publish`;
 * deployed, the forwarder function does it from the topics). Other tiers count as delivered.
 */
export function createPagerDutyPublisher(options: PagerDutyPublisherOptions): AlertPublisher {
  return {
    async publish(messages) {
      const outcome: PublishOutcome = { delivered: [], failed: [] };
      const mine = messages.filter((m) => options.tiers.includes(m.tier));
      for (const message of messages) if (!mine.includes(message)) outcome.delivered.push(message.id);
      if (mine.length === 0) return outcome;
      let key: string;
      try {
        key = (await options.routingKey()).reveal();
      } catch (error) {
        const reason = `alerts.pagerduty.routingKey cannot be read (${error instanceof Error ? error.name : 'error'})`;
        for (const message of mine) outcome.failed.push({ id: message.id, reason });
        return outcome;
      }
      const http = createHttpClient({ connectTimeoutMs: 5_000 });
      const sender = createPagerDutySender({ url: options.url, http, ...options.retry });
      try {
        // In order: a resolve never overtakes the trigger it closes.
        for (const message of mine) {
          const sent = await sender.send(eventOf(message, key, options.runbookBaseUrl));
          if (sent.ok) outcome.delivered.push(message.id);
          else outcome.failed.push({ id: message.id, reason: `PagerDuty: ${sent.reason}` });
        }
      } finally {
        await http.close();
      }
      return outcome;
    },
  };
}

/** The event of one alert: the same subject and body the SNS message carries, within PagerDuty's limits (functions/core/pagerduty.ts). */
function eventOf(message: AlertMessage, routingKey: string, runbookBaseUrl: string | null): PagerDutyEvent {
  return pagerDutyEvent(alertBody(message, message.evidence, false, runbookBaseUrl), alertSubject(message), routingKey);
}

/** Every publisher gets every message; a message is delivered when none of them failed it. */
export function allPublishers(publishers: readonly AlertPublisher[]): AlertPublisher {
  return {
    async publish(messages) {
      const outcomes = await Promise.all(publishers.map((p) => p.publish(messages)));
      const failed = new Map<string, string>();
      for (const outcome of outcomes) {
        for (const failure of outcome.failed) failed.set(failure.id, failed.get(failure.id) ?? failure.reason);
        for (const message of messages) {
          if (!outcome.delivered.includes(message.id) && !failed.has(message.id))
            failed.set(message.id, 'not reported');
        }
      }
      return {
        delivered: messages.filter((m) => !failed.has(m.id)).map((m) => m.id),
        failed: [...failed].map(([id, reason]) => ({ id, reason })),
      };
    },
  };
}

/**
 * The publisher of a config run from the CLI (`run --publish`): the SNS topics of `alerts.topics`
 * and PagerDuty of `alerts.pagerduty`, whichever are configured (at least one).
 */
export function createConfiguredPublisher(
  config: Pick<Config, 'alerts'>,
  deps: { secrets: SecretResolver; snsClientConfig?: SNSClientConfig },
): AlertPublisher {
  const publishers: AlertPublisher[] = [];
  if (config.alerts.topics !== undefined) {
    publishers.push(
      createSnsPublisherFromConfig(config, deps.snsClientConfig ? { clientConfig: deps.snsClientConfig } : {}),
    );
  }
  const pagerduty = config.alerts.pagerduty;
  if (pagerduty !== undefined) {
    publishers.push(
      createPagerDutyPublisher({
        url: pagerduty.url,
        routingKey: () => deps.secrets.resolve(pagerduty.routingKey),
        tiers: pagerduty.tiers,
        runbookBaseUrl: config.alerts.runbookBaseUrl,
      }),
    );
  }
  if (publishers.length === 0) {
    throw new ConfigError([
      'alerts.topics or alerts.pagerduty is required to publish (SNS topic ARNs per tier, or a PagerDuty routing key)',
    ]);
  }
  return publishers.length === 1 ? (publishers[0] as AlertPublisher) : allPublishers(publishers);
}
