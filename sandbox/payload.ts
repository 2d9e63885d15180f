/**
 * The webhook body model, validated as the platform's FastAPI/pydantic model does: unknown
 * fields rejected, every broken rule reported as `{"type", "loc": ["body", field], "msg", "input"}`.
 */

export const PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;

export interface WebhookPayload {
  event: string;
  ticket_id: string;
  tenant_id: string;
  description: string;
  priority: (typeof PRIORITIES)[number];
  created_at: string;
  correlation_id: string | null;
  /** `created_at` as epoch milliseconds. */
  createdAtMs: number;
}

export interface ValidationIssue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input?: unknown;
}

export type PayloadResult = { ok: true; payload: WebhookPayload } | { ok: false; errors: ValidationIssue[] };

const FIELDS = ['event', 'ticket_id', 'tenant_id', 'description', 'priority', 'created_at', 'correlation_id'] as const;
type Field = (typeof FIELDS)[number];

interface StringRule {
  min?: number;
  max?: number;
  pattern?: RegExp;
}

const STRING_RULES: Record<Exclude<Field, 'priority' | 'created_at' | 'correlation_id'>, StringRule> = {
  event: { min: 1 },
  ticket_id: { max: 100, pattern: /^[A-Z0-9-]+$/ },
  tenant_id: { max: 100, pattern: /^[a-z0-9-]+$/ },
  description: { min: 1, max: 10_000 },
};

const ISO_DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;
const UUID =
  /^(?:urn:uuid:)?\{?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})\}?$/;

function characters(count: number): string {
  return count === 1 ? '1 character' : `${count} characters`;
}

function checkString(field: Field, value: unknown, rule: StringRule): ValidationIssue | undefined {
  const loc = ['body', field];
  if (typeof value !== 'string')
    return { type: 'string_type', loc, msg: 'Input should be a valid string', input: value };
  const length = [...value].length;
  if (rule.min !== undefined && length < rule.min) {
    return { type: 'string_too_short', loc, msg: `String should have at least ${characters(rule.min)}`, input: value };
  }
  if (rule.max !== undefined && length > rule.max) {
    return { type: 'string_too_long', loc, msg: `String should have at most ${characters(rule.max)}`, input: value };
  }
  if (rule.pattern !== undefined && !rule.pattern.test(value)) {
    return {
      type: 'string_pattern_mismatch',
      loc,
      msg: `String should match pattern '${rule.pattern.source}'`,
      input: value,
    };
  }
  return undefined;
}

/** Epoch ms of an ISO-8601 date-time with a timezone; a string naming the problem otherwise. */
export function parseAwareDatetime(value: string): number | 'invalid' | 'naive' {
  const match = ISO_DATETIME.exec(value);
  if (match === null) return 'invalid';
  const [, year, month, day, hour, minute, second, fraction, zone] = match;
  const numbers = [year, month, day, hour, minute, second ?? '0'].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [y, mo, d, h, mi, s] = numbers;
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59) return 'invalid';
  if (zone === undefined) return 'naive';
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const hours = Number(digits.slice(0, 2));
    const minutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (hours > 23 || minutes > 59) return 'invalid';
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
  }
  const ms = Number((fraction ?? '0').padEnd(3, '0').slice(0, 3));
  const utc = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  return utc - offsetMinutes * 60_000;
}

/** Parses and validates the raw body. */
export function parseWebhookPayload(raw: Uint8Array): PayloadResult {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch (error) {
    return {
      ok: false,
      errors: [{ type: 'json_invalid', loc: ['body', 0], msg: `JSON decode error: ${(error as Error).name}` }],
    };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return {
      ok: false,
      errors: [
        {
          type: 'model_attributes_type',
          loc: ['body'],
          msg: 'Input should be a valid dictionary or object to extract fields from',
          input: json,
        },
      ],
    };
  }
  const body = json as Record<string, unknown>;
  const errors: ValidationIssue[] = [];
  for (const field of FIELDS) {
    if (field !== 'correlation_id' && !Object.hasOwn(body, field)) {
      errors.push({ type: 'missing', loc: ['body', field], msg: 'Field required', input: body });
    }
  }
  for (const [field, rule] of Object.entries(STRING_RULES) as [Field, StringRule][]) {
    if (!Object.hasOwn(body, field)) continue;
    const issue = checkString(field, body[field], rule);
    if (issue !== undefined) errors.push(issue);
  }
  if (Object.hasOwn(body, 'priority') && !(PRIORITIES as readonly unknown[]).includes(body.priority)) {
    errors.push({
      type: 'enum',
      loc: ['body', 'priority'],
      msg: "Input should be 'low', 'medium', 'high' or 'critical'",
      input: body.priority,
    });
  }
  let createdAtMs = Number.NaN;
  if (Object.hasOwn(body, 'created_at')) {
    const value = body.created_at;
    const loc = ['body', 'created_at'];
    if (typeof value !== 'string') {
      errors.push({ type: 'datetime_type', loc, msg: 'Input should be a valid datetime', input: value });
    } else {
      const parsed = parseAwareDatetime(value);
      if (parsed === 'invalid') {
        errors.push({ type: 'datetime_parsing', loc, msg: 'Input should be a valid datetime', input: value });
      } else if (parsed === 'naive') {
        errors.push({ type: 'timezone_aware', loc, msg: 'Input should have timezone info', input: value });
      } else {
        createdAtMs = parsed;
      }
    }
  }
  const rawCorrelationId = body.correlation_id ?? null;
  let correlationId: string | null = null;
  if (rawCorrelationId !== null) {
    const loc = ['body', 'correlation_id'];
    const match = typeof rawCorrelationId === 'string' ? UUID.exec(rawCorrelationId) : null;
    if (match === null) {
      errors.push({ type: 'uuid_parsing', loc, msg: 'Input should be a valid UUID', input: rawCorrelationId });
    } else if (match[3]?.[0] !== '4') {
      errors.push({ type: 'uuid_version', loc, msg: 'UUID version 4 expected', input: rawCorrelationId });
    } else {
      correlationId = match.slice(1, 6).join('-').toLowerCase(); // canonical form, as pydantic serializes it
    }
  }
  for (const key of Object.keys(body)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      errors.push({
        type: 'extra_forbidden',
        loc: ['body', key],
        msg: 'Extra inputs are not permitted',
        input: body[key],
      });
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    payload: {
      event: body.event as string,
      ticket_id: body.ticket_id as string,
      tenant_id: body.tenant_id as string,
      description: body.description as string,
      priority: body.priority as WebhookPayload['priority'],
      created_at: body.created_at as string,
      correlation_id: correlationId,
      createdAtMs,
    },
  };
}
