/**
 * A stand-in for PagerDuty's Events API v2 on loopback, as PagerDuty documents it
 * (https://developer.pagerduty.com/docs/events-api-v2/overview/): POST /v2/enqueue with a JSON
 * event; 202 `{"status":"success","message":"Event processed","dedup_key":...}`; 400
 * `{"status":"invalid event","message":"Event object is invalid","errors":[...]}` for an invalid
 * one (a routing key that is not 32 characters, an unknown action, a trigger without summary,
 * source or a known severity, a dedup key over 255); 429 when told to throttle. It keeps the
 * incidents it would open, by dedup key.
 */
import { createServer, type Server } from 'node:http';

export interface ReceivedEvent {
  routing_key: string;
  event_action: string;
  dedup_key?: string;
  payload?: { summary: string; source: string; severity: string; custom_details?: Record<string, unknown> };
  links?: { href: string; text: string }[];
}

export interface PagerDutyStandIn {
  url: string;
  /** Every request body, parsed, including refused ones. */
  requests: ReceivedEvent[];
  /** Events accepted (202), in order. */
  accepted: ReceivedEvent[];
  incidents: Map<string, { status: 'triggered' | 'resolved'; severity: string; triggers: number }>;
  /** The next `n` requests get 429. */
  throttleNext(n: number): void;
  stop(): Promise<void>;
}

const SEVERITIES = new Set(['critical', 'error', 'warning', 'info']);

function problems(event: ReceivedEvent): string[] {
  const errors: string[] = [];
  if (typeof event.routing_key !== 'string' || event.routing_key.length !== 32) errors.push('Invalid routing key');
  if (!['trigger', 'acknowledge', 'resolve'].includes(event.event_action)) errors.push('Invalid event_action');
  if (event.dedup_key !== undefined && event.dedup_key.length > 255) errors.push('dedup_key is too long');
  if (event.event_action !== 'trigger' && !event.dedup_key) errors.push('dedup_key is required');
  if (event.event_action === 'trigger') {
    const p = event.payload;
    if (!p?.summary) errors.push("'payload.summary' is missing or blank");
    if (!p?.source) errors.push("'payload.source' is missing or blank");
    if (!p || !SEVERITIES.has(p.severity)) errors.push("'payload.severity' is invalid");
  }
  return errors;
}

export async function startPagerDuty(): Promise<PagerDutyStandIn> {
  let throttle = 0;
  const requests: ReceivedEvent[] = [];
  const accepted: ReceivedEvent[] = [];
  const incidents: PagerDutyStandIn['incidents'] = new Map();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || req.url !== '/v2/enqueue') return answer(404, { status: 'not found' });
      let event: ReceivedEvent;
      try {
        event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedEvent;
      } catch {
        return answer(400, { status: 'invalid event', message: 'Event object is invalid', errors: ['Malformed JSON'] });
      }
      requests.push(event);
      if (throttle > 0) {
        throttle -= 1;
        return answer(429, {
          status: 'throttle event',
          message: 'Requests for this service are arriving too quickly.',
        });
      }
      const errors = problems(event);
      if (errors.length > 0)
        return answer(400, { status: 'invalid event', message: 'Event object is invalid', errors });
      const dedup = event.dedup_key ?? `pd-${requests.length}`;
      accepted.push(event);
      const incident = incidents.get(dedup);
      if (event.event_action === 'trigger') {
        incidents.set(dedup, {
          status: 'triggered',
          severity: event.payload?.severity ?? 'error',
          triggers: (incident?.status === 'triggered' ? incident.triggers : 0) + 1,
        });
      } else if (event.event_action === 'resolve' && incident) {
        incident.status = 'resolved';
      }
      return answer(202, { status: 'success', message: 'Event processed', dedup_key: dedup });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/v2/enqueue`,
    requests,
    accepted,
    incidents,
    throttleNext(n) {
      throttle = n;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
