/**
 * The six `webhook.*` checks: a correctly signed synthetic ticket is accepted, and five forged
 * ones (wrong secret, no signature, body changed after signing, another tenant's secret, a
 * stale timestamp) are rejected. Each body is serialized once and signed over those exact bytes.
 *
 * Nothing here puts a secret or a signature into an outcome; the response's `detail` is
 * scrubbed of both (in every escaped form) before it is cut, in case the platform echoes them,
 * and stripped of control characters: it is the platform's text.
 */
import { randomBytes } from 'node:crypto';
import { boundedStringify } from '../core/json.ts';
import { WEBHOOK_DETAIL_MAX_CHARS } from '../core/limits.ts';
import { redactWith } from '../core/redact.ts';
import { SIGNATURE_HEADER, signBody } from '../core/signing.ts';
import { type SyntheticTicket, syntheticTicket } from '../core/synthetic.ts';
import { bothScrubbers, cleanText, platformScrubber, sharedScrubber } from '../core/text.ts';
import type { Evidence, Outcome } from '../core/types.ts';
import { describeNoResponse, endpointUrl, type HttpResult } from '../ports.ts';
import type { TenantProbe, TenantProbeContext } from './types.ts';

/** How deep an object `detail` is printed (FastAPI's validation errors nest three levels). */
const DETAIL_DEPTH = 6;

/** What `webhook.signed_accepted` hands to `enhancement.round_trip` on a pass. */
export interface AcceptedTicket {
  ticketId: string;
  correlationId: string;
  /** When the ticket was sent (its `created_at`), ISO-8601. */
  sentAt: string;
  /** The receiver's `job_id`, when its answer had one. */
  jobId?: string;
}

interface Delivery {
  ticket: SyntheticTicket;
  result: HttpResult;
  evidence: Evidence;
}

/** One correctly signed synthetic ticket, sent: the exchange, and the ticket when it was accepted (2xx). */
export interface SignedTicketSent {
  result: HttpResult;
  evidence: Evidence;
  /** Set when the receiver accepted it (2xx). */
  accepted?: AcceptedTicket;
}

/**
 * Sends one correctly signed synthetic ticket to the ticket webhook: what `webhook.signed_accepted`
 * sends, and what `enhancement.round_trip` sends to confirm a failure within its run (one request).
 */
export async function sendSignedTicket(ctx: TenantProbeContext): Promise<SignedTicketSent> {
  const secret = ctx.tenant.signingSecret.reveal();
  const sentAt = ctx.ports.now();
  const ticket = newTicket(ctx, sentAt);
  const body = JSON.stringify(ticket);
  const { result, evidence } = await deliver(ctx, ticket, body, sign(ctx, body, secret), [secret]);
  if (result.kind !== 'response' || result.status < 200 || result.status >= 300) return { result, evidence };
  const jobId = isRecord(result.json) && typeof result.json.job_id === 'string' ? result.json.job_id : undefined;
  const accepted: AcceptedTicket = {
    ticketId: ticket.ticket_id,
    correlationId: ticket.correlation_id,
    sentAt: sentAt.toISOString(),
    ...(jobId === undefined ? {} : { jobId }),
  };
  return { result, evidence, accepted };
}

/** `webhook.signed_accepted`: a correctly signed synthetic ticket gets 2xx. */
export const probeSignedAccepted: TenantProbe = async (ctx) => {
  const { result, evidence, accepted } = await sendSignedTicket(ctx);
  const what = 'a correctly signed synthetic ticket';

  if (result.kind !== 'response') {
    const summary = `the webhook receiver ${describeNoResponse(result, ctx.config.thresholds.requestTimeoutMs)} for ${what}`;
    if (result.kind === 'timeout' && result.cancelled) return { status: 'error', tier: 'P2', summary, evidence };
    return { status: 'fail', summary: `${summary}: tickets for this tenant are not getting in`, evidence };
  }
  const { status } = result;
  const detail = typeof evidence.detail === 'string' ? `: ${evidence.detail}` : '';
  if (accepted !== undefined) {
    const { jobId } = accepted;
    return {
      status: 'pass',
      summary: `${what} was accepted (HTTP ${status} in ${result.elapsedMs} ms)`,
      evidence: { ...evidence, ...(jobId === undefined ? {} : { jobId }) },
      data: accepted,
    };
  }
  if (status === 429) {
    const retryAfter = result.headers['retry-after'];
    return {
      status: 'degraded',
      tier: 'P2',
      summary: `the receiver is rate-limiting this tenant (HTTP 429${retryAfter ? `, Retry-After ${retryAfter}` : ''}): its tickets are being turned away`,
      evidence: { ...evidence, ...(retryAfter ? { retryAfter } : {}) },
    };
  }
  let summary: string;
  if (status === 401) {
    summary = `${what} was rejected (HTTP 401${detail}): the platform's signing secret for this tenant differs from the canary's, the tenant is inactive, or platform.signatureFormat is wrong`;
  } else if (status === 403) {
    summary = `${what} was refused (HTTP 403${detail}): check the tenant is active and the ingress admits the canary`;
  } else if (status === 404) {
    summary = `the webhook endpoint was not found (HTTP 404): check platform.webhookPath and the ingress route`;
  } else if (status === 422) {
    summary = `the receiver rejected the synthetic ticket's payload (HTTP 422${detail}): its webhook schema may have changed`;
  } else if (status >= 500) {
    summary = `the webhook receiver failed (HTTP ${status}${detail}): tickets for this tenant are not being queued`;
  } else {
    summary = `the webhook receiver answered HTTP ${status}${detail} to ${what} instead of accepting it`;
  }
  return { status: 'fail', summary, evidence };
};

/** `webhook.bad_signature_rejected`: a signature made with a wrong secret gets 4xx. */
export const probeBadSignatureRejected: TenantProbe = async (ctx) => {
  const secret = ctx.tenant.signingSecret.reveal();
  const wrongSecret = wrongSecretFor(secret);
  const ticket = newTicket(ctx, ctx.ports.now());
  const body = JSON.stringify(ticket);
  const delivery = await deliver(ctx, ticket, body, sign(ctx, body, wrongSecret), [secret, wrongSecret]);
  return judgeRejection(ctx, delivery, {
    what: 'a ticket signed with a wrong secret',
    consequence: 'forged webhooks get through',
  });
};

/** A random secret that is not `secret`: what a forger without the key signs with. */
export function wrongSecretFor(secret: string): string {
  let wrong = randomBytes(32).toString('base64url');
  while (wrong === secret) wrong = randomBytes(32).toString('base64url');
  return wrong;
}

/** `webhook.missing_signature_rejected`: no signature header gets 4xx. */
export const probeMissingSignatureRejected: TenantProbe = async (ctx) => {
  const ticket = newTicket(ctx, ctx.ports.now());
  const delivery = await deliver(ctx, ticket, JSON.stringify(ticket), undefined, [ctx.tenant.signingSecret.reveal()]);
  return judgeRejection(ctx, delivery, {
    what: 'a ticket without a signature header',
    consequence: 'the receiver does not require signatures',
  });
};

/**
 * `webhook.tampered_body_rejected`: a body changed by one byte after signing gets 4xx. The
 * change keeps the body valid JSON that satisfies the schema, so a rejection proves the HMAC
 * covers the raw bytes rather than that the body was malformed.
 */
export const probeTamperedBodyRejected: TenantProbe = async (ctx) => {
  const secret = ctx.tenant.signingSecret.reveal();
  const ticket = newTicket(ctx, ctx.ports.now());
  const body = JSON.stringify(ticket);
  const signature = sign(ctx, body, secret);
  const tampered = flipOneLetterOfDescription(body);
  const delivery = await deliver(ctx, ticket, tampered, signature, [secret]);
  return judgeRejection(ctx, delivery, {
    what: 'a ticket whose body was changed by one byte after signing',
    consequence: 'the signature does not protect the body',
  });
};

/** `webhook.cross_tenant_signature_rejected`: this tenant's body signed with another tenant's secret gets 4xx. */
export const probeCrossTenantSignatureRejected: TenantProbe = async (ctx) => {
  const secret = ctx.tenant.signingSecret.reveal();
  const others = ctx.tenants.filter((tenant) => tenant.tenantId !== ctx.tenant.tenantId);
  const other = others.find((tenant) => tenant.signingSecret.reveal() !== secret);
  if (!other) {
    return {
      status: 'skipped',
      summary:
        others.length === 0
          ? "only one tenant's secret is available, so there is no other tenant's secret to forge with"
          : `every other tenant (${others.map((tenant) => tenant.tenantId).join(', ')}) has the same signing secret as this one, so a cross-tenant signature cannot be told from a valid one`,
    };
  }
  const otherSecret = other.signingSecret.reveal();
  const ticket = newTicket(ctx, ctx.ports.now());
  const body = JSON.stringify(ticket);
  const delivery = await deliver(ctx, ticket, body, sign(ctx, body, otherSecret), [secret, otherSecret]);
  delivery.evidence.signedAsTenant = other.tenantId;
  return judgeRejection(ctx, delivery, {
    what: `a ticket for ${ctx.tenant.tenantId} signed with ${other.tenantId}'s secret`,
    consequence: "one tenant can forge another tenant's webhooks",
  });
};

/** `webhook.stale_timestamp_rejected`: correctly signed, `created_at` older than the window, gets 4xx. */
export const probeStaleTimestampRejected: TenantProbe = async (ctx) => {
  const secret = ctx.tenant.signingSecret.reveal();
  const ageS = ctx.config.thresholds.staleTimestampAgeS;
  const ticket = newTicket(ctx, new Date(ctx.ports.now().getTime() - ageS * 1000));
  const body = JSON.stringify(ticket);
  const delivery = await deliver(ctx, ticket, body, sign(ctx, body, secret), [secret]);
  delivery.evidence.createdAt = ticket.created_at;
  return judgeRejection(ctx, delivery, {
    what: `a correctly signed ticket created ${ageS} s ago`,
    consequence: 'replay protection is off, so a captured webhook can be sent again',
  });
};

/**
 * `webhook.future_timestamp_rejected`: correctly signed, `created_at` ahead of now by more than
 * the receiver's allowance for clock skew, gets 4xx. A receiver that takes it keeps a captured
 * request replayable for as long as its date lies ahead.
 */
export const probeFutureTimestampRejected: TenantProbe = async (ctx) => {
  const secret = ctx.tenant.signingSecret.reveal();
  const aheadS = ctx.config.thresholds.futureTimestampAgeS;
  const ticket = newTicket(ctx, new Date(ctx.ports.now().getTime() + aheadS * 1000));
  const body = JSON.stringify(ticket);
  const delivery = await deliver(ctx, ticket, body, sign(ctx, body, secret), [secret]);
  delivery.evidence.createdAt = ticket.created_at;
  return judgeRejection(ctx, delivery, {
    what: `a correctly signed ticket dated ${aheadS} s in the future`,
    consequence: 'the replay window is open to the future, so a captured webhook replays for longer',
  });
};

export interface Forgery {
  /** The request, as the subject of a sentence: "a ticket signed with a wrong secret". */
  what: string;
  /** Why acceptance matters. */
  consequence: string;
  /** Who answers, as the subject of a sentence. @default 'the webhook receiver' */
  receiver?: string;
  /** 4xx statuses that leave the question open (404: the target does not exist). @default none */
  notProven?: readonly number[];
}

/**
 * 4xx (other than 429) passes; 2xx fails with the check's tier; anything that leaves the
 * question open (5xx, 429, 3xx, no answer, a status in `notProven`) is an `error` (P2).
 */
export function judgeRejection(
  ctx: Pick<TenantProbeContext, 'config'>,
  { result, evidence }: Pick<Delivery, 'result' | 'evidence'>,
  forgery: Forgery,
): Outcome {
  const receiver = forgery.receiver ?? 'the webhook receiver';
  const undecided = (summary: string, extra: Evidence = {}): Outcome => ({
    status: 'error',
    tier: 'P2',
    summary,
    evidence: { ...evidence, ...extra },
  });
  if (result.kind !== 'response') {
    return undecided(
      `${receiver} ${describeNoResponse(result, ctx.config.thresholds.requestTimeoutMs)} for ${forgery.what}, so whether it is rejected is unknown`,
    );
  }
  const { status } = result;
  const detail = typeof evidence.detail === 'string' ? `: ${evidence.detail}` : '';
  if (status >= 200 && status < 300) {
    return {
      status: 'fail',
      summary: `${forgery.what} was accepted (HTTP ${status}): ${forgery.consequence}`,
      evidence,
    };
  }
  if (status === 429) {
    const retryAfter = result.headers['retry-after'];
    // A rate limit answers before the signature is looked at: it proves nothing either way.
    return undecided(`${forgery.what} was rate-limited (HTTP 429), so whether it is rejected is unknown`, {
      ...(retryAfter ? { retryAfter } : {}),
    });
  }
  if (forgery.notProven?.includes(status)) {
    return undecided(
      `${receiver} answered HTTP ${status}${detail} to ${forgery.what}: ${notProvenReason(status)}, so whether a forgery is rejected is not proven`,
    );
  }
  if (status >= 400 && status < 500) {
    return { status: 'pass', summary: `${forgery.what} was rejected (HTTP ${status}${detail})`, evidence };
  }
  if (status >= 500) {
    return undecided(
      `${receiver} failed (HTTP ${status}${detail}) on ${forgery.what}, so whether it is rejected is unknown`,
    );
  }
  return undecided(
    `${receiver} answered HTTP ${status} to ${forgery.what} (neither accepted nor rejected): check platform.baseUrl and ${forgery.receiver === undefined ? 'webhookPath' : "the entry point's path"}`,
  );
}

/** Why a `notProven` status says nothing about the signature check. */
function notProvenReason(status: number): string {
  if (status === 404) return 'the target was not found';
  if (status === 405) return "no POST route at the entry point's path";
  if (status === 403) return 'it refuses before checking the signature (an inactive target)';
  return 'it answers so before checking the signature';
}

function newTicket(ctx: TenantProbeContext, createdAt: Date): SyntheticTicket {
  return syntheticTicket({
    tenantId: ctx.tenant.tenantId,
    ticketPrefix: ctx.config.synthetic.ticketPrefix,
    createdAt,
    uuid: ctx.ports.uuid(),
  });
}

function sign(ctx: TenantProbeContext, body: string, secret: string): string {
  return signBody(body, secret, ctx.config.platform.signatureFormat);
}

/** A POST of the webhook checks and the entry-point checks: one body, signed (or not) over its exact bytes. */
export interface SignedPost {
  url: string;
  body: string;
  /** The signature header; absent: none is sent. */
  signature?: { header: string; value: string };
  /** The synthetic ticket id the body carries (evidence). */
  ticketId: string;
  /** Secrets the request used: scrubbed from anything taken from the response. */
  secrets: readonly string[];
}

/**
 * POSTs a body and gathers the evidence every signed-request check reports. The request's
 * secrets, its signature and every tenant's secret are scrubbed from anything taken from the response.
 */
export async function postSigned(
  ctx: Pick<TenantProbeContext, 'config' | 'ports' | 'signal' | 'tenants'>,
  post: SignedPost,
): Promise<{ result: HttpResult; evidence: Evidence }> {
  const { thresholds } = ctx.config;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (post.signature !== undefined) headers[post.signature.header] = post.signature.value;
  const result = await ctx.ports.http.request({
    method: 'POST',
    url: post.url,
    headers,
    body: post.body,
    timeoutMs: thresholds.requestTimeoutMs,
    maxBytes: thresholds.maxResponseBytes,
    signal: ctx.signal,
  });
  const hidden = [...post.secrets];
  const signature = post.signature?.value;
  if (signature !== undefined) hidden.push(signature, signature.replace(/^sha256=/, ''));
  // Every secret the run holds, not only the ones sent: the detail is cut below.
  const scrub = bothScrubbers(
    platformScrubber(hidden),
    sharedScrubber(ctx.tenants, () => ctx.tenants.map((tenant) => tenant.signingSecret.reveal())),
  );
  const evidence: Evidence = {
    status: result.kind === 'response' ? result.status : null,
    elapsedMs: result.elapsedMs,
    ticketId: post.ticketId,
  };
  if (result.kind === 'response') {
    const detail = responseDetail(result.json, scrub);
    if (detail !== undefined) evidence.detail = detail;
    if (result.jsonSkipped !== undefined) evidence.bodyNotRead = result.jsonSkipped;
  } else {
    evidence.error = result.kind === 'network' ? result.code : `timeout (${result.phase})`;
  }
  return { result, evidence };
}

/** POSTs `body` (with `signature`, when given) to the ticket webhook. */
async function deliver(
  ctx: TenantProbeContext,
  ticket: SyntheticTicket,
  body: string,
  signature: string | undefined,
  secrets: readonly string[],
): Promise<Delivery> {
  const { platform } = ctx.config;
  const { result, evidence } = await postSigned(ctx, {
    // The in-VPC address when configured (no NAT, no ingress hop); health and TLS stay on baseUrl.
    url: endpointUrl(platform.internalBaseUrl ?? platform.baseUrl, platform.webhookPath),
    body,
    ...(signature === undefined ? {} : { signature: { header: SIGNATURE_HEADER, value: signature } }),
    ticketId: ticket.ticket_id,
    secrets,
  });
  return { ticket, result, evidence };
}

/**
 * The response's `detail` (FastAPI's error field) as one line of at most WEBHOOK_DETAIL_MAX_CHARS:
 * an object's strings are scrubbed before it is printed (printing escapes them), and the text
 * scrubbed again, stripped of control characters, and only then cut.
 */
function responseDetail(json: unknown, scrub: (text: string) => string): string | undefined {
  if (!isRecord(json) || json.detail === undefined || json.detail === null) return undefined;
  const text =
    typeof json.detail === 'string'
      ? json.detail
      : boundedStringify(redactWith(json.detail, scrub), {
          maxDepth: DETAIL_DEPTH,
          maxChars: WEBHOOK_DETAIL_MAX_CHARS * 4,
        });
  return cleanText(text, { scrub, maxChars: WEBHOOK_DETAIL_MAX_CHARS });
}

/**
 * Swaps the case of the first letter of the description's value: one byte changes and the body
 * stays valid JSON that satisfies the schema.
 */
export function flipOneLetterOfDescription(body: string): string {
  const marker = '"description":"';
  const start = body.indexOf(marker);
  if (start >= 0) {
    for (let index = start + marker.length; index < body.length; index += 1) {
      const char = body.charAt(index);
      if (char === '"' || char === '\\') break;
      if (/[A-Za-z]/.test(char)) {
        const flipped = char === char.toLowerCase() ? char.toUpperCase() : char.toLowerCase();
        return `${body.slice(0, index)}${flipped}${body.slice(index + 1)}`;
      }
    }
  }
  // The synthetic description always starts with a letter; reaching this is a canary bug.
  throw new Error('cannot tamper: the synthetic ticket has no letter to change in its description');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
