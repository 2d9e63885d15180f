/**
 * The canary's configuration: one zod schema, validated once. Every problem is reported with
 * the path of the field it is about (`thresholds.queueDepthMax must be ...`).
 */
import { z } from 'zod';
import { CHECK_IDS, type CheckId, isCheckId } from './catalog.ts';
import { TIERS, type Tier } from './types.ts';

export const TENANT_ID_PATTERN = /^[a-z0-9-]{1,100}$/;
const SQL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*$/;
const TICKET_PREFIX = /^[A-Z0-9-]{1,40}$/;

/** A configuration problem; `issues` lists each one with its field path. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly issues: readonly string[];
  constructor(issues: readonly string[], options?: { cause?: unknown }) {
    super(issues.length === 1 ? (issues[0] ?? '') : `${issues.length} problems: ${issues.join('; ')}`, options);
    this.issues = issues;
  }
}

const identifier = (what: string) =>
  z
    .string({ error: `must be ${what} (a string)` })
    .regex(SQL_IDENTIFIER, { error: `must be a plain SQL identifier (letters, digits, _), such as ${what}` });

const positiveInt = z
  .number({ error: 'must be a positive integer' })
  .int({ error: 'must be a positive integer' })
  .positive({ error: 'must be a positive integer' });
const positiveNumber = z
  .number({ error: 'must be a positive number' })
  .positive({ error: 'must be a positive number' });
const ratio = z
  .number({ error: 'must be a number between 0 and 1' })
  .gt(0, { error: 'must be a number greater than 0 and at most 1' })
  .lte(1, { error: 'must be a number greater than 0 and at most 1' });

const httpUrl = z.string({ error: 'must be an http(s) URL (a string)' }).refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: 'must be an absolute http:// or https:// URL' },
);

const urlPath = z
  .string({ error: 'must be a path starting with /' })
  .regex(/^\/[^\s?#]*$/, { error: 'must be a path starting with / (no query or fragment)' });

/** Where a tenant's webhook signing secret comes from. Values are never echoed in errors. */
const secretRef = z.union(
  [
    z.strictObject({ value: z.string().min(1, { error: 'must not be empty' }) }),
    z.strictObject({
      env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name' }),
    }),
    z.strictObject({
      secretId: z.string().min(1, { error: 'must be a Secrets Manager secret id or ARN' }),
      jsonKey: z.string().min(1).optional(),
    }),
  ],
  { error: 'must be one of {"value": ...}, {"env": "NAME"} or {"secretId": "...", "jsonKey"?: "..."}' },
);
export type SecretRef = z.infer<typeof secretRef>;

const tenantSchema = z.strictObject({
  tenantId: z
    .string({ error: 'must be a string' })
    .regex(TENANT_ID_PATTERN, { error: 'must match ^[a-z0-9-]{1,100}$ (lowercase letters, digits and -)' }),
  signingSecret: secretRef,
});

const DEFAULT_TABLES = ['tenant_configs', 'enhancement_history', 'ticket_history', 'system_inventory'];

const databaseSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// or postgresql:// URL' })
      .optional(),
    secretId: z.string().min(1, { error: 'must be a Secrets Manager secret id or ARN' }).optional(),
    appRole: identifier('aiagents').default('aiagents'),
    probeAsRole: identifier('app_user').nullable().default(null),
    tenantTables: z
      .array(identifier('enhancement_history'))
      .min(1, { error: 'must list at least one table' })
      .default(DEFAULT_TABLES),
    tenantSetting: z
      .string()
      .regex(SETTING_NAME, { error: 'must be a custom setting name such as app.current_tenant_id' })
      .default('app.current_tenant_id'),
    contextFunction: identifier('set_tenant_context').nullable().default('set_tenant_context'),
    enhancementTextColumn: identifier('llm_output').nullable().default('llm_output'),
    connectTimeoutMs: positiveInt.default(5000),
    statementTimeoutMs: positiveInt.default(5000),
  })
  .refine((db) => (db.url === undefined) !== (db.secretId === undefined), {
    error: 'needs exactly one of "url" or "secretId"',
  });

const redisSchema = z.strictObject({
  url: z.string().regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' }),
  queueKeys: z
    .array(z.string().min(1, { error: 'must not be empty' }))
    .min(1, { error: 'must list at least one key' })
    .default(['enhancement:queue', 'enhancement_queue']),
  connectTimeoutMs: positiveInt.default(3000),
  commandTimeoutMs: positiveInt.default(3000),
});

const thresholdsSchema = z.strictObject({
  requestTimeoutMs: positiveInt.default(5000),
  maxResponseBytes: positiveInt.default(1024 * 1024),
  roundTripDegradedS: positiveNumber.default(30),
  roundTripTimeoutS: positiveNumber.default(120),
  queueDepthMax: positiveInt.default(100),
  dbConnectionsMaxRatio: ratio.default(0.95),
  successRateMin: ratio.default(0.95),
  avgLatencyDegradedS: positiveNumber.default(20),
  p95LatencyDegradedS: positiveNumber.default(60),
  historyMinTickets: positiveInt.default(50),
  enhancementMinChars: positiveInt.default(1),
  staleTimestampAgeS: positiveInt.default(600),
  certMinDays: positiveInt.default(14),
});

const checkIdSchema = z.string().refine((value: string): boolean => isCheckId(value), {
  error: `must be a check id (${CHECK_IDS.length} known; see \`tenant-canary checks\`)`,
});

const checksSchema = z.strictObject({
  disabled: z.array(checkIdSchema).default([]),
  tiers: z.record(checkIdSchema, z.enum(TIERS, { error: 'must be one of P0, P1, P2, P3' })).default({}),
});

const runSchema = z.strictObject({
  /** Tenants probed at once within one run. */
  tenantConcurrency: positiveInt.max(1000, { error: 'must be at most 1000' }).default(10),
});

export const configSchema = z
  .strictObject({
    platform: z.strictObject({
      baseUrl: httpUrl,
      webhookPath: urlPath.default('/webhook/servicedesk'),
      healthPath: urlPath.default('/health'),
      signatureFormat: z
        .enum(['sha256-prefixed', 'hex'], { error: 'must be "sha256-prefixed" or "hex"' })
        .default('sha256-prefixed'),
      caFile: z.string().min(1).nullable().default(null),
    }),
    database: databaseSchema.optional(),
    redis: redisSchema.optional(),
    tenants: z.array(tenantSchema).min(1, { error: 'must list at least one tenant' }),
    synthetic: z
      .strictObject({
        ticketPrefix: z.string().regex(TICKET_PREFIX, { error: 'must match ^[A-Z0-9-]{1,40}$' }).default('SYNTH-'),
      })
      .default({ ticketPrefix: 'SYNTH-' }),
    thresholds: thresholdsSchema.default(thresholdsSchema.parse({})),
    checks: checksSchema.default({ disabled: [], tiers: {} }),
    run: runSchema.default({ tenantConcurrency: 10 }),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.tenants.forEach((tenant, index) => {
      if (seen.has(tenant.tenantId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['tenants', index, 'tenantId'],
          message: `duplicates tenant "${tenant.tenantId}"`,
        });
      }
      seen.add(tenant.tenantId);
    });
    if (config.thresholds.roundTripDegradedS > config.thresholds.roundTripTimeoutS) {
      ctx.addIssue({
        code: 'custom',
        path: ['thresholds', 'roundTripDegradedS'],
        message: 'must not exceed thresholds.roundTripTimeoutS',
      });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type TenantConfig = Config['tenants'][number];
export type Thresholds = Config['thresholds'];

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(config)' : out;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => `"${key}"`).join(', ');
    return `${path} has unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}`;
  }
  if (issue.code === 'invalid_type' && 'input' in issue && issue.input === undefined) return `${path} is required`;
  return `${path} ${issue.message}`;
}

/** Validate an already-parsed JSON value. Throws {@link ConfigError} naming every bad field. */
export function parseConfig(input: unknown): Config {
  const result = configSchema.safeParse(input, { reportInput: true });
  if (!result.success) throw new ConfigError(result.error.issues.map(formatIssue));
  return result.data;
}

/**
 * Parse config text. The JSON parser's own message is not used: it can quote the input,
 * and the input may hold secrets. Only the line and column are reported.
 */
export function parseConfigText(text: string, source: string): Config {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`${source} is not valid JSON${jsonErrorLocation(text, error)}`]);
  }
  return parseConfig(json);
}

function jsonErrorLocation(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  const match = /position (\d+)/.exec(message);
  let position = match?.[1] !== undefined ? Number(match[1]) : undefined;
  if (position === undefined && /end of (JSON )?input/i.test(message)) position = text.length;
  if (position === undefined) return '';
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return ` (line ${line}, column ${column})`;
}

/** The tier of a plain fail of this check: the config's override, else the catalog's. */
export function tierOverride(config: Config, checkId: CheckId): Tier | undefined {
  return (config.checks.tiers as Partial<Record<string, Tier>>)[checkId];
}
