/**
 * How an alert looks on the wire (CONTRACT.md §5): a subject under 100 characters, a JSON body
 * with the report entry, and message attributes for subscription filter policies. Pure.
 */
import { type AlertMessage, toAlertSummary } from './alert-policy.ts';
import { ALERT_SUBJECT_MAX_CHARS, ALERT_TEXT_MAX_CHARS, SNS_MAX_BYTES, SUMMARY_MAX_CHARS } from './limits.ts';
import { runbookUrl } from './runbook.ts';
import { cutText, stripControls } from './text.ts';
import type { Evidence } from './types.ts';

export { SNS_MAX_BYTES };

/** Room left for the request's own overhead and the attribute type names. */
const SAFETY_BYTES = 1024;
/** At most this many evidence fields are replaced by a size note before falling back to a preview. */
const TRIM_FIELDS = 20;

export interface AlertAttributes {
  tier: string;
  checkId: string;
  /** The tenant; `*` for platform-wide and canary incidents, `platform` for platform checks. */
  tenantId: string;
  state: string;
}

export interface RenderedAlert {
  subject: string;
  /** JSON, at most the byte budget. */
  body: string;
  attributes: AlertAttributes;
  /** Evidence (or, as a last resort, the summary) had to be cut to fit. */
  trimmed: boolean;
  /** Bytes SNS counts for this message: body, subject and attributes. */
  bytes: number;
}

/** The body's JSON shape (what subscribers parse). */
export interface AlertBody {
  state: AlertMessage['state'];
  tier: AlertMessage['tier'];
  checkId: string;
  tenantId: string | null;
  dedupKey: string;
  firstFailedAt: string;
  sentAt: string;
  summary: string;
  runbook: string;
  /** The runbook section's link (`alerts.runbookBaseUrl`), or null. */
  runbookUrl: string | null;
  firstStep: string;
  escalatedFrom: AlertMessage['escalatedFrom'];
  note: string | null;
  evidence: Evidence;
  evidenceTrimmed: boolean;
}

export interface RenderOptions {
  /** @default SNS_MAX_BYTES */
  maxBytes?: number;
  /** `alerts.runbookBaseUrl`. @default null */
  runbookBaseUrl?: string | null;
}

function target(message: AlertMessage): string {
  if (message.tenantId !== null) return message.tenantId;
  if (message.kind === 'breadth') return 'all tenants';
  if (message.kind === 'canary') return 'canary';
  return 'platform';
}

export function attributeTenant(message: AlertMessage): string {
  if (message.tenantId !== null) return message.tenantId;
  return message.kind === 'check' ? 'platform' : '*';
}

/** `[P0] acme-corp: rls.cross_tenant_read failing`, `… still failing (reminder)`, `… resolved`. */
export function alertSubject(message: AlertMessage): string {
  const what = message.kind === 'canary' ? 'could not be checked' : 'failing';
  let tail: string;
  switch (message.state) {
    case 'firing':
      tail = message.escalatedFrom === null ? what : `${what} (escalated from ${message.escalatedFrom})`;
      break;
    case 'reminder':
      tail = message.kind === 'canary' ? `${what} (reminder)` : `still ${what} (reminder)`;
      break;
    case 'resolved':
      tail = 'resolved';
      break;
  }
  if (message.kind === 'breadth' && message.state !== 'resolved') {
    const failing = message.evidence.failingTenants;
    const total = message.evidence.tenantsInRun;
    if (typeof failing === 'number' && typeof total === 'number') tail += ` (${failing} of ${total})`;
  }
  return fitSubject(`[${message.tier}] ${target(message)}: ${message.checkId} ${tail}`);
}

/** SNS subjects: printable ASCII, no line breaks, under 100 characters. */
function fitSubject(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= ALERT_SUBJECT_MAX_CHARS ? ascii : `${ascii.slice(0, ALERT_SUBJECT_MAX_CHARS - 3)}...`;
}

/** An alert's text field: one line (messages are read back from the state store), at most `maxChars`. */
const alertText = (text: string, maxChars: number) => cutText(stripControls(text), maxChars);

export function alertBody(
  message: AlertMessage,
  evidence: Evidence = message.evidence,
  trimmed = false,
  runbookBaseUrl: string | null = null,
): AlertBody {
  return {
    ...toAlertSummary(message),
    firstFailedAt: message.firstFailedAt,
    sentAt: message.createdAt,
    summary: alertText(message.summary, SUMMARY_MAX_CHARS),
    runbook: message.runbook,
    runbookUrl: runbookUrl(runbookBaseUrl, message.runbook),
    firstStep: alertText(message.firstStep, ALERT_TEXT_MAX_CHARS),
    escalatedFrom: message.escalatedFrom,
    note: message.note === null ? null : alertText(message.note, ALERT_TEXT_MAX_CHARS),
    evidence,
    evidenceTrimmed: trimmed,
  };
}

const bytesOf = (text: string) => Buffer.byteLength(text, 'utf8');

/**
 * Subject, body and attributes of one message within `maxBytes`. Evidence is cut first (largest
 * fields first, then to a preview); the subject and the other fields are kept; only a summary
 * larger than the whole budget would be shortened.
 */
export function renderAlert(message: AlertMessage, options: RenderOptions = {}): RenderedAlert {
  const maxBytes = options.maxBytes ?? SNS_MAX_BYTES;
  const link = options.runbookBaseUrl ?? null;
  const bodyOf = (evidence: Evidence, trimmed: boolean) => alertBody(message, evidence, trimmed, link);
  const subject = alertSubject(message);
  const attributes: AlertAttributes = {
    tier: message.tier,
    checkId: message.checkId,
    tenantId: attributeTenant(message),
    state: message.state,
  };
  const overhead =
    bytesOf(subject) + Object.entries(attributes).reduce((sum, [k, v]) => sum + bytesOf(k) + bytesOf(v) + 6, 0);
  const budget = maxBytes - overhead - SAFETY_BYTES;
  const done = (body: string, trimmed: boolean): RenderedAlert => ({
    subject,
    body,
    attributes,
    trimmed,
    bytes: bytesOf(body) + overhead,
  });

  const full = JSON.stringify(bodyOf(message.evidence, false));
  if (bytesOf(full) <= budget) return done(full, false);

  const rest = bytesOf(JSON.stringify(bodyOf({}, true)));
  const evidence = trimEvidence(message.evidence, budget - rest);
  const body = JSON.stringify(bodyOf(evidence, true));
  if (bytesOf(body) <= budget) return done(body, true);

  // The summary alone is larger than the budget: keep its beginning.
  const withoutSummary = bytesOf(JSON.stringify({ ...bodyOf({}, true), summary: '' }));
  const summary = cutToBytes(bodyOf({}, true).summary, Math.max(0, budget - withoutSummary - 64), ' [trimmed]');
  return done(JSON.stringify({ ...bodyOf({}, true), summary }), true);
}

/**
 * Evidence whose JSON fits in `maxBytes`: the largest top-level values are replaced by a note
 * of their size until it fits; failing that, a preview of the JSON.
 */
export function trimEvidence(evidence: Evidence, maxBytes: number): Evidence {
  const original = JSON.stringify(evidence);
  if (bytesOf(original) <= maxBytes) return evidence;
  const out: Evidence = { ...evidence };
  const sizes = Object.entries(out)
    .map(([key, value]) => [key, bytesOf(JSON.stringify(value) ?? 'null')] as const)
    .sort((a, b) => b[1] - a[1]);
  // Replacing a value changes the total by the difference of their JSON sizes: no re-serialising.
  let total = bytesOf(original);
  for (const [key, size] of sizes.slice(0, TRIM_FIELDS)) {
    const note = `[trimmed: ${size} bytes]`;
    out[key] = note;
    total += bytesOf(JSON.stringify(note)) - size;
    if (total <= maxBytes && bytesOf(JSON.stringify(out)) <= maxBytes) return out;
  }
  const skeleton = { trimmed: true, originalBytes: bytesOf(original), preview: '' };
  const room = maxBytes - bytesOf(JSON.stringify(skeleton)) - 16;
  if (room <= 0) return { trimmed: true };
  // JSON-escaping can grow the preview: cut, measure, and cut again if needed.
  let preview = cutToBytes(original, room, '');
  while (preview.length > 0 && bytesOf(JSON.stringify({ ...skeleton, preview })) > maxBytes) {
    preview = preview.slice(0, Math.floor(preview.length * 0.9));
  }
  return { ...skeleton, preview };
}

/** The longest prefix of `text` (whole characters) that with `suffix` fits in `maxBytes`. */
function cutToBytes(text: string, maxBytes: number, suffix: string): string {
  if (bytesOf(text) <= maxBytes) return text;
  const room = Math.max(0, maxBytes - bytesOf(suffix));
  let cut = Buffer.from(text, 'utf8').subarray(0, room).toString('utf8');
  // A split multi-byte character decodes to U+FFFD: drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut + suffix;
}
