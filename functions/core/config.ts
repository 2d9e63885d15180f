/**
 * The canary's configuration: one zod schema, validated once. Every problem is reported with
 * the path of the field it is about (`thresholds.queueDepthMax must be ...`).
 */
import * as z from 'zod';
import { DEFAULT_ALERT_POLICY } from './alert-defaults.ts';
import { CHECK_IDS, type CheckId, isCheckId } from './catalog.ts';
import { type ConnectionUrlKind, readConnectionUrl } from './connection-url.ts';
import { CanaryError } from './errors.ts';
import { TIERS, type Tier } from './types.ts';

export const TENANT_ID_PATTERN = /^[a-z0-9-]{1,100}$/;
const SQL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*$/;
const TICKET_PREFIX = /^[A-Z0-9-]{1,40}$/;
/** Minutes between a tenant's sampled acceptances in scheduled sweeps (synthetic.acceptEveryMinutes). */
export const DEFAULT_ACCEPT_EVERY_MINUTES = 60;
/** The fleet's requests a second to the platform's API (platform.requestBudgetRps). */
export const DEFAULT_REQUEST_BUDGET_RPS = 20;

/** A configuration problem; `issues` lists each one with its field path. */
export class ConfigError extends CanaryError {
  override name = 'ConfigError';
  readonly issues: readonly string[];
  constructor(issues: readonly string[], options?: { cause?: unknown }) {
    super(
      'config',
      issues.length === 1 ? (issues[0] ?? '') : `${issues.length} problems: ${issues.join('; ')}`,
      options,
    );
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

/** What `tenant-canary snapshot` prints as the digest of the isolation configuration. */
export const ISOLATION_DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * TLS to PostgreSQL. `verify-full`: encrypted, the server certificate must chain to the system
 * roots or `caFile` and name the host. `require`: encrypted, the certificate is not checked.
 * `disable`: plain TCP. Without a mode: `disable` for a loopback host, else `verify-full`.
 */
const caFile = z.string().min(1, { error: 'must be the path of a PEM bundle, or null' }).nullable().default(null);
export const PG_TLS_MODES = ['verify-full', 'require', 'disable'] as const;
export type PgTlsMode = (typeof PG_TLS_MODES)[number];
const pgTlsSchema = z
  .strictObject({
    mode: z.enum(PG_TLS_MODES, { error: 'must be one of verify-full, require, disable' }).optional(),
    caFile,
  })
  .default({ caFile: null });
export type PgTlsConfig = z.infer<typeof pgTlsSchema>;

/** The configured mode, or the default for the URL's host: disable on loopback, verify-full elsewhere. */
export function effectivePgTlsMode(tls: Pick<PgTlsConfig, 'mode'>, connectionString: string): PgTlsMode {
  if (tls.mode !== undefined) return tls.mode;
  let host = '';
  try {
    host = new URL(connectionString).hostname;
  } catch {
    // An unparsable URL gets the safe default; pg reports what is wrong with it.
  }
  return host !== '' && isLoopbackHost(host) ? 'disable' : 'verify-full';
}

/** localhost, 127.0.0.0/8 or ::1: where `database.tls` defaults to `disable` (the sandbox, a tunnel). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/**
 * A connection URL of `kind`, refused (never quoted: it may hold a password) when the drivers
 * would read it otherwise than it looks (see core/connection-url.ts).
 */
const connectionUrl = (kind: ConnectionUrlKind) =>
  z.string({ error: `must be a ${kind}:// URL (a string)` }).superRefine((url, ctx) => {
    const scheme = kind === 'postgres' ? /^postgres(ql)?:\/\// : /^rediss?:\/\//;
    const reading = scheme.test(url) ? readConnectionUrl(url, kind) : undefined;
    if (reading?.ok === true) return;
    const wrongScheme =
      kind === 'postgres' ? 'must be a postgres:// or postgresql:// URL' : 'must be a redis:// or rediss:// URL';
    ctx.addIssue({ code: 'custom', message: reading === undefined ? wrongScheme : reading.problem });
  });

const DEFAULT_TABLES = ['tenant_configs', 'enhancement_history', 'ticket_history', 'system_inventory'];

/** The placeholders a template body of an entry point may hold (platform.entryPoints[].body.template). */
export const ENTRY_POINT_PLACEHOLDERS = ['{tenantId}', '{ticketId}', '{createdAt}'] as const;
const PLACEHOLDER_LIKE = /\{[A-Za-z_][A-Za-z0-9_]*\}/g;

/** The `{word}` placeholders in `text` that are not ENTRY_POINT_PLACEHOLDERS. */
export function unknownPlaceholders(text: string): string[] {
  return [...new Set(text.match(PLACEHOLDER_LIKE) ?? [])].filter(
    (found) => !(ENTRY_POINT_PLACEHOLDERS as readonly string[]).includes(found),
  );
}

/**
 * One signed entry point of the platform besides the ticket webhook (CONTRACT.md, "Signed entry
 * points"): probed with forgeries only, unless `acceptProbe` is true.
 */
const entryPointSchema = z
  .strictObject({
    name: z
      .string({ error: 'must be a name (a string)' })
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'must match ^[a-z0-9][a-z0-9-]{0,62}$ (such as resolved-ticket)' }),
    /** May hold `{tenantId}` (the probed tenant's id). */
    path: urlPath,
    signatureHeader: z
      .string({ error: 'must be an HTTP header name (a string)' })
      .regex(/^[A-Za-z0-9-]{1,100}$/, { error: 'must be an HTTP header name such as X-Hub-Signature-256' }),
    signatureFormat: z
      .enum(['sha256-prefixed', 'hex'], { error: 'must be "sha256-prefixed" or "hex"' })
      .default('sha256-prefixed'),
    /** `"tenant"`: each tenant's own signing secret; a reference: one secret that verifies every tenant's requests. */
    secret: z
      .union([z.literal('tenant'), secretRef], {
        error:
          'must be "tenant" (each tenant\'s own signing secret) or one secret reference ({"value"}, {"env"} or {"secretId"})',
      })
      .default('tenant'),
    /** `ticket`: the synthetic ticket; `resolved-ticket`: PLATFORM.md's resolved-ticket payload; or a JSON template. */
    body: z.union(
      [
        z.enum(['ticket', 'resolved-ticket']),
        z.strictObject({
          template: z.record(z.string(), z.json(), { error: 'must be a JSON object' }),
        }),
      ],
      { error: 'must be "ticket", "resolved-ticket" or {"template": {...}}' },
    ),
    /** Whether the body carries a timestamp the platform checks (false: a captured request replays). */
    timestamped: z.boolean({ error: 'must be true or false' }).default(false),
    /** The user's word that a replayed request triggers work (an agent run): unreplayable matters (P2). */
    replayable: z.boolean({ error: 'must be true or false' }).default(false),
    /** Who holds the secret: the tenants' own systems, or the platform's own components (one secret by design). */
    sentBy: z.enum(['tenants', 'platform'], { error: 'must be "tenants" or "platform"' }).default('tenants'),
    /** Also send one correctly signed synthetic request (a write on the platform: off by default). */
    acceptProbe: z.boolean({ error: 'must be true or false' }).default(false),
    /** 4xx statuses answered before the signature is checked (an agent webhook's 403 inactive): not proven. */
    notProvenStatuses: z
      .array(
        z
          .number({ error: 'must be a 4xx status' })
          .int({ error: 'must be a 4xx status' })
          .min(400, { error: 'must be a 4xx status' })
          .max(499, { error: 'must be a 4xx status' }),
        {
          error: 'must be a list of 4xx statuses',
        },
      )
      .max(20, { error: 'must list at most 20 statuses' })
      .default([404, 405]),
  })
  .superRefine((entry, ctx) => {
    for (const found of new Set(entry.path.match(PLACEHOLDER_LIKE) ?? [])) {
      if (found !== '{tenantId}') {
        ctx.addIssue({
          code: 'custom',
          path: ['path'],
          message: `may hold only the placeholder {tenantId}, not ${found}`,
        });
      }
    }
    if (typeof entry.body !== 'object') return;
    const text = JSON.stringify(entry.body.template);
    for (const found of unknownPlaceholders(text)) {
      ctx.addIssue({
        code: 'custom',
        path: ['body', 'template'],
        message: `has an unknown placeholder ${found} (known: ${ENTRY_POINT_PLACEHOLDERS.join(', ')})`,
      });
    }
    if (entry.acceptProbe && !text.includes('{ticketId}')) {
      ctx.addIssue({
        code: 'custom',
        path: ['body', 'template'],
        message: 'must carry {ticketId} when acceptProbe is true (the accepted request must name a synthetic ticket)',
      });
    }
    if (entry.timestamped && !text.includes('{createdAt}')) {
      ctx.addIssue({
        code: 'custom',
        path: ['body', 'template'],
        message: 'must carry {createdAt} when timestamped is true',
      });
    }
  });
export type EntryPointConfig = z.infer<typeof entryPointSchema>;

const databaseSchema = z
  .strictObject({
    url: connectionUrl('postgres').optional(),
    secretId: z.string().min(1, { error: 'must be a Secrets Manager secret id or ARN' }).optional(),
    appRole: identifier('aiagents').default('aiagents'),
    probeAsRole: identifier('app_user').nullable().default(null),
    /** Always tenant tables; with discovery on (the default) the catalog adds the rest, so it may be empty. */
    tenantTables: z.array(identifier('enhancement_history')).default(DEFAULT_TABLES),
    tenantSetting: z
      .string()
      .regex(SETTING_NAME, { error: 'must be a custom setting name such as app.current_tenant_id' })
      .default('app.current_tenant_id'),
    contextFunction: identifier('set_tenant_context').nullable().default('set_tenant_context'),
    /** The column that names a row's tenant (its type is read from the catalog per table). */
    tenantColumn: identifier('tenant_id').default('tenant_id'),
    /**
     * Tenant tables found in the catalog besides `tenantTables`: every table or partitioned table
     * of `schemas` with `tenantColumn`, and every table reaching one through foreign keys.
     */
    discover: z
      .strictObject({
        enabled: z.boolean({ error: 'must be true or false' }).default(true),
        schemas: z.array(identifier('public')).min(1, { error: 'must list at least one schema' }).default(['public']),
        exclude: z.array(identifier('audit_log')).default([]),
      })
      .default({ enabled: true, schemas: ['public'], exclude: [] }),
    enhancementTextColumn: identifier('llm_output').nullable().default('llm_output'),
    connectTimeoutMs: positiveInt.default(5000),
    statementTimeoutMs: positiveInt.default(5000),
    /**
     * Connections the canary's pool may open (one pool per run or Lambda invocation). One keeps
     * the canary's footprint on the platform at one connection per invocation; queries are short.
     */
    maxConnections: positiveInt.max(20, { error: 'must be an integer from 1 to 20' }).default(1),
    tls: pgTlsSchema,
    /** The digest `tenant-canary snapshot` printed after the last reviewed migration (rls.isolation_snapshot). */
    isolationDigest: z
      .string({ error: 'must be a digest printed by `tenant-canary snapshot` (sha256:<64 hex>) or null' })
      .regex(ISOLATION_DIGEST, { error: 'must be a digest printed by `tenant-canary snapshot` (sha256:<64 hex>)' })
      .nullable()
      .default(null),
  })
  .refine((db) => (db.url === undefined) !== (db.secretId === undefined), {
    error: 'needs exactly one of "url" or "secretId"',
  })
  .refine((db) => db.tenantTables.length > 0 || db.discover.enabled, {
    error: 'must list at least one table when database.discover.enabled is false',
    path: ['tenantTables'],
  });

const redisSchema = z.strictObject({
  url: connectionUrl('redis'),
  queueKeys: z
    .array(z.string().min(1, { error: 'must not be empty' }))
    .min(1, { error: 'must list at least one key' })
    .default(['enhancement:queue', 'enhancement_queue']),
  connectTimeoutMs: positiveInt.default(3000),
  commandTimeoutMs: positiveInt.default(3000),
  /** For `rediss://`: a PEM bundle trusted besides the system roots. */
  tls: z.strictObject({ caFile }).default({ caFile: null }),
  /** An ElastiCache RBAC user (username and password) or an AUTH token (password alone). */
  auth: z
    .strictObject({
      username: z.string().min(1, { error: 'must not be empty (leave it out for an AUTH token)' }).optional(),
      password: secretRef,
    })
    .optional(),
});

const thresholdsSchema = z.strictObject({
  requestTimeoutMs: positiveInt.default(5000).describe('Deadline of each HTTP exchange, connect to last byte.'),
  maxResponseBytes: positiveInt
    .default(1024 * 1024)
    .describe('Response bodies are read up to this size, then the connection is dropped.'),
  roundTripDegradedS: positiveNumber
    .default(30)
    .describe('`enhancement.round_trip` is degraded when the ticket takes longer.'),
  roundTripTimeoutS: positiveNumber
    .default(120)
    .describe('`enhancement.round_trip` fails when the ticket is not completed by then.'),
  queueDepthMax: positiveInt
    .default(100)
    .describe('`queue.depth` fails when the summed `LLEN` of `redis.queueKeys` is above it.'),
  dbConnectionsMaxRatio: ratio
    .default(0.95)
    .describe('`db.connections` fails when at least this share of `max_connections` is in use.'),
  successRateMin: ratio
    .default(0.95)
    .describe('`tenant.success_rate` fails below this share of real requests completed in 24 h.'),
  avgLatencyDegradedS: positiveNumber
    .default(20)
    .describe('`tenant.latency` is degraded when the 24 h average is above it.'),
  p95LatencyDegradedS: positiveNumber
    .default(60)
    .describe('`tenant.latency` is degraded when the 24 h p95 is above it.'),
  historyMinTickets: positiveInt
    .default(50)
    .describe('`tenant.history_volume` fails with fewer `ticket_history` rows.'),
  enhancementMinChars: positiveInt
    .default(1)
    .describe('`enhancement.quality` fails when the enhancement text is shorter.'),
  staleTimestampAgeS: positiveInt
    .default(600)
    .describe('How old the ticket of `webhook.stale_timestamp_rejected` is dated.'),
  futureTimestampAgeS: positiveInt
    .default(120)
    .describe('How far ahead `webhook.future_timestamp_rejected` dates its ticket (the platform allows 30 s of skew).'),
  certMinDays: positiveInt.default(14).describe('`api.tls_certificate` fails (P2) with fewer days of validity left.'),
});

const checkIdSchema = z.string().refine((value: string): boolean => isCheckId(value), {
  error: `must be a check id (${CHECK_IDS.length} known; see \`tenant-canary checks\`)`,
});

const checksSchema = z.strictObject({
  disabled: z.array(checkIdSchema).default([]),
  tiers: z.record(checkIdSchema, z.enum(TIERS, { error: 'must be one of P0, P1, P2, P3' })).default({}),
});

/** An SNS topic ARN: `arn:aws:sns:REGION:ACCOUNT:NAME` (any partition). */
export const snsTopicArn = z
  .string({ error: 'must be an SNS topic ARN (a string)' })
  .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, {
    error: 'must be an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:canary-p0',
  });

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** ISO 8601 with a time and a zone: `2026-11-27T10:05:00Z`, `2026-11-27T11:05+01:00`. */
export function isIsoInstant(value: string): boolean {
  return ISO_INSTANT.test(value) && !Number.isNaN(Date.parse(value));
}

const isoInstant = z.string({ error: 'must be an ISO 8601 date-time (a string)' }).refine(isIsoInstant, {
  error: 'must be an ISO 8601 date-time with a time zone, such as 2026-11-27T22:00:00Z',
});

const runsCount = positiveInt.max(100, { error: 'must be a positive integer of at most 100' });
const minutesOrNever = z
  .number({ error: 'must be a positive integer (minutes) or null (never)' })
  .int({ error: 'must be a positive integer (minutes) or null (never)' })
  .positive({ error: 'must be a positive integer (minutes) or null (never)' })
  .nullable();

const maintenanceWindowSchema = z
  .strictObject({
    start: isoInstant,
    end: isoInstant,
    /** Only these tenants; omitted: every alert (global window). */
    tenants: z
      .array(
        z
          .string({ error: 'must be a string' })
          .regex(TENANT_ID_PATTERN, { error: 'must match ^[a-z0-9-]{1,100}$ (lowercase letters, digits and -)' }),
      )
      .min(1, { error: 'must list at least one tenant (omit it for a global window)' })
      .optional(),
    reason: z.string().max(200, { error: 'must be at most 200 characters' }).optional(),
  })
  // Judged only between two valid instants: a zoneless time would be read in the machine's zone.
  .refine((w) => !isIsoInstant(w.start) || !isIsoInstant(w.end) || Date.parse(w.end) > Date.parse(w.start), {
    error: 'must be after start',
    path: ['end'],
  });

/** One value per tier, each defaulted (and the whole object when absent). */
function perTier<T extends number | null>(value: z.ZodType<T>, defaults: Readonly<Record<Tier, T>>) {
  return z
    .strictObject({
      P0: value.default(defaults.P0),
      P1: value.default(defaults.P1),
      P2: value.default(defaults.P2),
      P3: value.default(defaults.P3),
    })
    .default({ ...defaults });
}

/** Alerting: SNS topics per tier and the policy's thresholds (defaults follow the guide). */
/** PagerDuty's Events API v2 endpoint (US service region). */
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

const alertsSchema = z.strictObject({
  /** One standard SNS topic per tier; required only to publish (`run --publish`, the Lambdas). */
  topics: z.strictObject({ P0: snsTopicArn, P1: snsTopicArn, P2: snsTopicArn, P3: snsTopicArn }).optional(),
  /** Consecutive failing runs before an incident fires, by tier. */
  fireAfterRuns: perTier(runsCount, DEFAULT_ALERT_POLICY.fireAfterRuns),
  /** Consecutive passing runs before a firing incident is resolved. */
  resolveAfterRuns: runsCount.default(DEFAULT_ALERT_POLICY.resolveAfterRuns),
  /** Minutes between reminders while an incident fires, by tier; null: no reminders. */
  reminderMinutes: perTier(minutesOrNever, DEFAULT_ALERT_POLICY.reminderMinutes),
  /** Minutes of failing after which an incident of this tier is re-sent one tier higher; null: never. */
  escalateAfterMinutes: perTier(minutesOrNever, DEFAULT_ALERT_POLICY.escalateAfterMinutes),
  /** One platform-wide incident when a tenant check fails for this many tenants (null: off). */
  breadth: z
    .strictObject({
      minTenants: positiveInt.default(DEFAULT_ALERT_POLICY.breadth.minTenants),
      minRatio: ratio.default(DEFAULT_ALERT_POLICY.breadth.minRatio),
    })
    .nullable()
    .default({ ...DEFAULT_ALERT_POLICY.breadth }),
  /** Windows in which alerts are held (checks still run and state is still kept). */
  maintenance: z.array(maintenanceWindowSchema).default([]),
  /**
   * The troubleshooting guide's page (a wiki, a rendered Markdown file): each alert links its
   * runbook section's anchor there. null: the section is named, not linked.
   */
  runbookBaseUrl: httpUrl.nullable().default(null),
  /** PagerDuty Events API v2: these tiers' alerts open, re-trigger and resolve incidents by dedup key. */
  pagerduty: z
    .strictObject({
      /** The integration key of an Events API v2 integration on the service (a secret). */
      routingKey: secretRef,
      tiers: z
        .array(z.enum(TIERS, { error: 'must be one of P0, P1, P2, P3' }))
        .min(1, { error: 'must name at least one tier' })
        .default(['P0', 'P1']),
      /** The EU service region uses https://events.eu.pagerduty.com/v2/enqueue. */
      url: httpUrl.default(PAGERDUTY_EVENTS_URL),
    })
    .optional(),
});
export type AlertsConfig = z.infer<typeof alertsSchema>;
export type MaintenanceWindowConfig = z.infer<typeof maintenanceWindowSchema>;

/** The default query of the database tenant source; it must return these two columns. */
export const DEFAULT_TENANT_QUERY =
  'SELECT tenant_id, webhook_signing_secret_encrypted FROM tenant_configs WHERE is_active ORDER BY tenant_id';

/** Where the tenant list comes from: the config's `tenants` (static) or the platform's `tenant_configs`. */
const tenantSourceSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('static') }),
    z
      .strictObject({
        type: z.literal('database'),
        url: connectionUrl('postgres').optional(),
        secretId: z.string().min(1, { error: 'must be a Secrets Manager secret id or ARN' }).optional(),
        /** Read-only SQL returning tenant_id and webhook_signing_secret_encrypted (no `;`). */
        query: z
          .string({ error: 'must be a SELECT statement (a string)' })
          .regex(/^\s*(select|with)\s/i, { error: 'must be a single SELECT (or WITH ... SELECT) statement' })
          .refine((sql) => !sql.includes(';'), { error: 'must be a single statement without ";"' })
          .default(DEFAULT_TENANT_QUERY),
        /** The Fernet key (the platform's TENANT_ENCRYPTION_KEY). */
        encryptionKey: secretRef,
        connectTimeoutMs: positiveInt.default(5000),
        statementTimeoutMs: positiveInt.default(3000),
        maxTenants: positiveInt.max(100_000, { error: 'must be at most 100000' }).default(10_000),
        tls: pgTlsSchema,
      })
      .refine((source) => (source.url === undefined) !== (source.secretId === undefined), {
        error: 'needs exactly one of "url" or "secretId"',
      }),
  ],
  { error: 'must be "static" or "database"' },
);
export type TenantSourceConfig = z.infer<typeof tenantSourceSchema>;

const runSchema = z.strictObject({
  /** Tenants probed at once within one run. */
  tenantConcurrency: positiveInt.max(1000, { error: 'must be at most 1000' }).default(10),
  /**
   * `wait`: enhancement.round_trip polls until this run's synthetic ticket is enhanced (or
   * roundTripTimeoutS). `deferred`: it sends this run's ticket and judges the tickets of the
   * previous `sweepIntervalS` instead, with one query and no waiting (scheduled sweeps; a fault is
   * then reported one interval later, within two).
   */
  roundTrip: z.enum(['wait', 'deferred'], { error: 'must be "wait" or "deferred"' }).default('wait'),
  /** Seconds between scheduled sweeps (the window `deferred` looks back over). */
  sweepIntervalS: positiveInt.max(86_400, { error: 'must be at most 86400' }).default(300),
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
      /**
       * The platform's in-VPC address (an internal load balancer): per-tenant webhooks go there (no
       * NAT, no ingress hop); `api.health` and `api.tls_certificate` still go to `baseUrl`. null: `baseUrl`.
       */
      internalBaseUrl: httpUrl.nullable().default(null),
      /**
       * The most requests a second the whole canary (every probe invocation at once, or one local
       * `run`) sends the platform's API: the sweep spreads its tenants over the interval and rotates
       * the rejection probes to stay under it (functions/core/budget.ts).
       */
      requestBudgetRps: positiveNumber
        .max(10_000, { error: 'must be a positive number of at most 10000 (requests a second)' })
        .default(DEFAULT_REQUEST_BUDGET_RPS),
      /** Signed entry points besides the ticket webhook (webhook.entry_points_*): forgeries must be refused. */
      entryPoints: z.array(entryPointSchema).max(20, { error: 'must list at most 20 entry points' }).default([]),
    }),
    database: databaseSchema.optional(),
    redis: redisSchema.optional(),
    /** Must list at least one tenant unless `tenantSource` is a database. */
    tenants: z.array(tenantSchema),
    synthetic: z
      .strictObject({
        ticketPrefix: z.string().regex(TICKET_PREFIX, { error: 'must match ^[A-Z0-9-]{1,40}$' }).default('SYNTH-'),
        /**
         * Scheduled sweeps send each tenant's accepted ticket (an LLM job on the platform), and run
         * its round trip and quality, once per this many minutes in a stable slot, and every sweep
         * while one of them failed (functions/core/sampling.ts). `run` and on-demand run every check.
         */
        acceptEveryMinutes: positiveInt
          .max(1440, { error: 'must be a positive integer of at most 1440 (minutes)' })
          .default(DEFAULT_ACCEPT_EVERY_MINUTES),
      })
      .default({ ticketPrefix: 'SYNTH-', acceptEveryMinutes: DEFAULT_ACCEPT_EVERY_MINUTES }),
    /** Inputs of the bill (bench/bill.ts): what one synthetic job (an accepted ticket's LLM run) costs the platform, USD. */
    costs: z
      .strictObject({
        syntheticJobUsd: z
          .number({ error: 'must be a number of USD' })
          .min(0, { error: 'must be at least 0 (USD a job)' })
          .max(100, { error: 'must be at most 100 (USD a job)' })
          .default(0.001),
      })
      .default({ syntheticJobUsd: 0.001 }),
    thresholds: thresholdsSchema.default(thresholdsSchema.parse({})),
    checks: checksSchema.default({ disabled: [], tiers: {} }),
    run: runSchema.default({ tenantConcurrency: 10, roundTrip: 'wait', sweepIntervalS: 300 }),
    alerts: alertsSchema.default(alertsSchema.parse({})),
    tenantSource: tenantSourceSchema.default({ type: 'static' }),
  })
  .superRefine((config, ctx) => {
    if (config.tenants.length === 0 && config.tenantSource.type === 'static') {
      ctx.addIssue({ code: 'custom', path: ['tenants'], message: 'must list at least one tenant' });
    }
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
    const entryPointNames = new Set<string>();
    config.platform.entryPoints.forEach((entry, index) => {
      if (entryPointNames.has(entry.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['platform', 'entryPoints', index, 'name'],
          message: `duplicates entry point "${entry.name}"`,
        });
      }
      entryPointNames.add(entry.name);
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

/** A field path as config errors name it: `tenants[2].signingSecret`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(config)' : out;
}

/** One zod issue as a config error line, named by its path (`path` when it is nested elsewhere). */
export function formatIssue(issue: z.core.$ZodIssue, path = formatPath(issue.path)): string {
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
  if (!result.success) throw new ConfigError(result.error.issues.map((issue) => formatIssue(issue)));
  return result.data;
}

/**
 * Parse config text. The JSON parser's own message is not used: it can quote the input,
 * and the input may hold secrets. Only the line and column are reported.
 */
export function parseConfigText(text: string, source: string): Config {
  return parseConfig(parseJsonText(text, source));
}

/** JSON text of a config file. Throws {@link ConfigError} with the line and column, never the text. */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`${source} is not valid JSON${jsonErrorLocation(text, error)}`]);
  }
}

/** JSON text that must hold an object (a config file). */
export function parseJsonObjectText(text: string, source: string): Record<string, unknown> {
  const json = parseJsonText(text, source);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError([`${source} must be a JSON object`]);
  }
  return json as Record<string, unknown>;
}

/**
 * The {@link ConfigError} of a file the config names (or is) that cannot be read:
 * `platform.caFile could not be read (ENOENT): certs/ca.pem`. Callers do the reading.
 */
export function unreadableFileError(
  what: string,
  error: unknown,
  { path, phrase = 'could not be read' }: { path?: string; phrase?: string } = {},
): ConfigError {
  const code = (error as NodeJS.ErrnoException | null)?.code ?? 'unreadable';
  return new ConfigError([`${what} ${phrase} (${code})${path === undefined ? '' : `: ${path}`}`], { cause: error });
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

/** The config's tier for a plain fail of this check (`checks.tiers`), if it sets one. */
export function tierOverride(config: Pick<Config, 'checks'>, checkId: CheckId): Tier | undefined {
  return (config.checks.tiers as Partial<Record<string, Tier>>)[checkId];
}
