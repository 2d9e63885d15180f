/**
 * Faults: the one place that knows how to break the sandbox and how to undo it. Each entry says
 * what it breaks, which checks must catch it (for `tenant-canary drill`), and its effect, made
 * of any of:
 * - `receiver` / `worker`: overrides of their behaviour, recomputed from the active set;
 * - `sql`: statements run as the database superuser when switched on, and their undoing;
 * - `apply` / `revert`: anything else (like re-encrypting a tenant's stored secret).
 * To add a fault, add an entry to DEFINITIONS: {@link SandboxFaultName} follows.
 */
import type { CheckId } from '../functions/core/catalog.ts';
import type { Tier } from '../functions/core/types.ts';
import type { SandboxDatabase } from './db.ts';
import type { EnhancementJob, JobQueue } from './queue.ts';
import { HEALTHY_RECEIVER, type ReceiverBehaviour } from './receiver.ts';
import { CONTEXT_FUNCTION, contextFunctionSql, quoteIdent, type SchemaRoles, TENANT_SETTING } from './schema.ts';
import { newSecret, type TenantDirectory } from './tenants.ts';
import { HEALTHY_WORKER, type WorkerBehaviour } from './worker.ts';

/** Faults on one tenant hit this one. */
export const FAULT_TARGET_TENANT = 'acme-corp';

export interface FaultExpectation {
  checkId: string;
  status: 'fail' | 'degraded' | 'error';
  tier: Tier;
  /** `target`: only FAULT_TARGET_TENANT; `all`: every tenant; `platform`: the platform check. */
  tenants: 'target' | 'all' | 'platform';
  /** Expected only when the sandbox queues in Redis (without it queue.depth is skipped). */
  requires?: 'redis';
}

export interface SandboxFault {
  name: SandboxFaultName;
  description: string;
  target: 'platform' | 'one-tenant' | 'every-tenant';
  expect: readonly FaultExpectation[];
  /**
   * What the sandbox needs to cause the fault: a real PostgreSQL server (PGlite has one
   * backend), or HTTPS (openssl to make certificates).
   */
  requires?: 'postgres' | 'tls';
}

/** What a fault's `apply`/`revert` and `sql` can reach. */
export interface FaultContext {
  db: SandboxDatabase;
  roles: SchemaRoles;
  tenants: TenantDirectory;
  queue: JobQueue;
  /** Which certificate the HTTPS receiver shows (throws on a plain-HTTP sandbox). */
  useCertificate(which: 'healthy' | 'expiring-soon'): void;
  /** The secret the canary holds for a tenant (the one the receiver stores when healthy). */
  canarySecret(tenantId: string): string;
}

export interface FaultEffect {
  receiver?: Partial<ReceiverBehaviour>;
  worker?: Partial<WorkerBehaviour>;
  sql?: { apply: (roles: SchemaRoles) => string; revert: (roles: SchemaRoles) => string };
  apply?: (ctx: FaultContext) => Promise<void>;
  revert?: (ctx: FaultContext) => Promise<void>;
}

/** A fault and how to cause it. `name` is a plain string so tests can define their own. */
export interface FaultDefinition extends Omit<SandboxFault, 'name'> {
  name: string;
  effect: FaultEffect;
}

const expectation = (
  checkId: CheckId,
  tier: Tier,
  tenants: FaultExpectation['tenants'],
  status: FaultExpectation['status'] = 'fail',
): FaultExpectation => ({ checkId, status, tier, tenants });

/** A fault that changes a tenant table's flags, owner, policies or grants, or the app role: the pinned digest no longer matches. */
const SNAPSHOT_CHANGED = expectation('rls.isolation_snapshot', 'P2', 'platform');

/** The canary's threshold on connection use in the sandbox's config (thresholds.dbConnectionsMaxRatio). */
export const SANDBOX_CONNECTIONS_MAX_RATIO = 0.8;
/** The sandbox's round-trip thresholds: short, so drills of a slow or stopped worker are quick. */
export const SANDBOX_ROUND_TRIP = { degradedS: 3, timeoutS: 10 } as const;
/** What the slow-workers fault takes per job: past "degraded", well before the timeout. */
const SLOW_WORKER_MS = 4_500;
/** Jobs the workers-stopped fault leaves waiting (above the sandbox's queueDepthMax of 100). */
export const BACKLOG_JOBS = 150;

/** Rows a tenant-health fault adds to FAULT_TARGET_TENANT's real traffic; its revert deletes them. */
const FAULT_ROWS_PREFIX = 'FAULT-';

/** A fault's own enhancement rows for the target tenant: `count` of them, `status`, `latencyS` each. */
function faultEnhancements(tag: string, count: number, status: 'failed' | 'completed', latencyS: number): string {
  const text = status === 'completed' ? `'Enhancement text of a fault row, long enough to count as text.'` : 'NULL';
  const error = status === 'failed' ? `'LLM provider returned 503 Service Unavailable'` : 'NULL';
  return `INSERT INTO public.enhancement_history
  (tenant_id, ticket_id, status, llm_output, error_message, processing_time_ms, created_at, completed_at)
SELECT '${FAULT_TARGET_TENANT}', '${FAULT_ROWS_PREFIX}${tag}-' || n, '${status}', ${text}, ${error}, ${latencyS * 1000},
       now() - make_interval(mins => n * 20), now() - make_interval(mins => n * 20) + make_interval(secs => ${latencyS})
FROM generate_series(1, ${count}) AS n;`;
}

const deleteFaultEnhancements = (tag: string) =>
  `DELETE FROM public.enhancement_history WHERE tenant_id = '${FAULT_TARGET_TENANT}' AND ticket_id LIKE '${FAULT_ROWS_PREFIX}${tag}-%';`;

/** The platform's application role made a superuser (a fault of its own, and half of as-written). */
const APP_ROLE_SUPERUSER: NonNullable<FaultEffect['sql']> = {
  apply: (roles) => `ALTER ROLE ${quoteIdent(roles.app)} SUPERUSER;`,
  revert: (roles) => `ALTER ROLE ${quoteIdent(roles.app)} NOSUPERUSER;`,
};

/** The context function made session-scoped, as the platform's is (a fault of its own, and part of as-written). */
const CONTEXT_SESSION_SCOPED: NonNullable<FaultEffect['sql']> = {
  apply: () => contextFunctionSql('session'),
  revert: () => contextFunctionSql('transaction'),
};

/** The isolation policy of schema.ts on `table`, with a different USING / WITH CHECK. */
function replacePolicy(table: string, clauses: string): string {
  return `DROP POLICY ${table}_tenant_isolation_policy ON public.${table};
CREATE POLICY ${table}_tenant_isolation_policy ON public.${table} FOR ALL ${clauses};`;
}
const TENANT_MATCH = `tenant_id = COALESCE(current_setting('${TENANT_SETTING}', true), '')`;
const restorePolicy = (table: string) => replacePolicy(table, `USING (${TENANT_MATCH})`);

const backlogJobs = (): EnhancementJob[] =>
  Array.from({ length: BACKLOG_JOBS }, (_, i) => ({
    job_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    ticket_id: `REQ-BACKLOG-${i}`,
    tenant_id: FAULT_TARGET_TENANT,
    description: 'A real ticket waiting for a worker (sandbox backlog).',
    priority: 'medium',
    created_at: '2026-01-01T00:00:00Z',
    correlation_id: null,
  }));

/** Per sandbox database: closes what the leaking pool of `connections-near-limit` holds. */
const heldConnections = new WeakMap<SandboxDatabase, () => Promise<void>>();

const FORGERY_CHECKS = [
  'webhook.bad_signature_rejected',
  'webhook.missing_signature_rejected',
  'webhook.tampered_body_rejected',
  'webhook.cross_tenant_signature_rejected',
] as const satisfies readonly CheckId[];

const DEFINITIONS = [
  {
    name: 'health-down',
    description: 'GET /health answers 503 with the database dependency "unhealthy".',
    target: 'platform',
    expect: [expectation('api.health', 'P0', 'platform')],
    effect: { receiver: { health: 'down' } },
  },
  {
    name: 'health-hangs',
    description: 'GET /health never answers (the connection is held open).',
    target: 'platform',
    expect: [expectation('api.health', 'P0', 'platform')],
    effect: { receiver: { health: 'hangs' } },
  },
  {
    name: 'health-huge-body',
    description: 'GET /health answers 200 with a ~200 MB body of unknown length.',
    target: 'platform',
    expect: [expectation('api.health', 'P0', 'platform')],
    effect: { receiver: { health: 'huge-body' } },
  },
  {
    name: 'forged-signatures-accepted',
    description: "The receiver skips the signature check: missing, wrong, tampered and other tenants' all pass.",
    target: 'every-tenant',
    expect: FORGERY_CHECKS.map((checkId) => expectation(checkId, 'P0', 'all')),
    effect: { receiver: { verifySignatures: false } },
  },
  {
    name: 'secret-mismatch',
    description: `The secret stored for ${FAULT_TARGET_TENANT} in tenant_configs differs from the one the canary signs with.`,
    target: 'one-tenant',
    expect: [expectation('webhook.signed_accepted', 'P1', 'target')],
    effect: {
      apply: (ctx) => ctx.tenants.storeSecret(FAULT_TARGET_TENANT, newSecret()),
      revert: (ctx) => ctx.tenants.storeSecret(FAULT_TARGET_TENANT, ctx.canarySecret(FAULT_TARGET_TENANT)),
    },
  },
  {
    name: 'replay-window-off',
    description: 'The receiver accepts any created_at: replayed (stale) webhooks are queued.',
    target: 'every-tenant',
    expect: [
      expectation('webhook.stale_timestamp_rejected', 'P1', 'all'),
      expectation('webhook.future_timestamp_rejected', 'P1', 'all'),
    ],
    effect: { receiver: { checkReplayWindow: false } },
  },
  {
    name: 'future-timestamps-accepted',
    description:
      'The receiver checks only that created_at is not too old: a ticket dated hours ahead is queued, so a captured request replays until then.',
    target: 'every-tenant',
    expect: [expectation('webhook.future_timestamp_rejected', 'P1', 'all')],
    effect: { receiver: { checkFutureWindow: false } },
  },
  {
    name: 'resolved-ticket-forgeries-accepted',
    description:
      "POST /webhook/servicedesk/resolved-ticket skips its signature check: forged resolved tickets land in any tenant's history.",
    target: 'every-tenant',
    expect: [expectation('webhook.entry_points_reject_forgeries', 'P0', 'all')],
    effect: { receiver: { verifyResolvedTicket: false } },
  },
  {
    name: 'agent-webhook-forgeries-accepted',
    description: 'The agent webhook skips its X-Hub-Signature-256 check: anyone can trigger the agent.',
    target: 'every-tenant',
    expect: [expectation('webhook.entry_points_reject_forgeries', 'P0', 'all')],
    effect: { receiver: { verifyAgentWebhook: false } },
  },
  {
    name: 'shared-entry-point-secret',
    description:
      "Resolved tickets are verified with one platform-wide secret, whatever tenant the body names, as the platform's code does (the canary's config says so): any tenant's ServiceDesk Plus can write into another tenant's history.",
    target: 'platform',
    expect: [expectation('webhook.entry_points_tenant_bound', 'P0', 'platform')],
    effect: { receiver: { resolvedTicketSecret: 'platform' } },
  },
  {
    name: 'certificate-expiring',
    description: 'The HTTPS receiver presents a certificate with 3 days left (the canary wants 14).',
    target: 'platform',
    requires: 'tls',
    expect: [expectation('api.tls_certificate', 'P2', 'platform')],
    effect: {
      apply: async (ctx) => ctx.useCertificate('expiring-soon'),
      revert: async (ctx) => ctx.useCertificate('healthy'),
    },
  },
  {
    name: 'rls-disabled',
    description: 'Row-level security is switched off on system_inventory: every tenant sees every host.',
    target: 'platform',
    expect: [
      expectation('rls.tables_enabled', 'P0', 'platform'),
      expectation('rls.no_context_denied', 'P0', 'platform'),
      expectation('rls.cross_tenant_read', 'P0', 'all'),
      expectation('rls.cross_tenant_write', 'P0', 'all'),
      SNAPSHOT_CHANGED,
    ],
    effect: {
      sql: {
        apply: () => 'ALTER TABLE public.system_inventory DISABLE ROW LEVEL SECURITY;',
        revert: () => 'ALTER TABLE public.system_inventory ENABLE ROW LEVEL SECURITY;',
      },
    },
  },
  {
    name: 'policy-leaks-all-rows',
    description:
      'An extra permissive SELECT policy USING (true) on ticket_history: policies OR together, so it leaks every row.',
    target: 'platform',
    expect: [
      expectation('rls.policies_present', 'P0', 'platform'),
      expectation('rls.no_context_denied', 'P0', 'platform'),
      expectation('rls.cross_tenant_read', 'P0', 'all'),
      SNAPSHOT_CHANGED,
    ],
    effect: {
      sql: {
        apply: () => 'CREATE POLICY ticket_history_reporting ON public.ticket_history FOR SELECT USING (true);',
        revert: () => 'DROP POLICY ticket_history_reporting ON public.ticket_history;',
      },
    },
  },
  {
    name: 'update-policy-open-with-check',
    description:
      'An extra permissive FOR UPDATE policy on ticket_history, scoped USING but WITH CHECK (true): reads and inserts stay scoped, an own row can be moved to another tenant.',
    target: 'platform',
    expect: [expectation('rls.cross_tenant_write', 'P0', 'all'), SNAPSHOT_CHANGED],
    effect: {
      sql: {
        apply: () =>
          `CREATE POLICY ticket_history_reassign ON public.ticket_history FOR UPDATE USING (${TENANT_MATCH}) WITH CHECK (true);`,
        revert: () => 'DROP POLICY ticket_history_reassign ON public.ticket_history;',
      },
    },
  },
  {
    name: 'policy-open-with-check',
    description:
      "system_inventory's policy filters reads but has WITH CHECK (true): a tenant can write rows as another.",
    target: 'platform',
    expect: [expectation('rls.cross_tenant_write', 'P0', 'all'), SNAPSHOT_CHANGED],
    effect: {
      sql: {
        apply: () => replacePolicy('system_inventory', `USING (${TENANT_MATCH}) WITH CHECK (true)`),
        revert: () => restorePolicy('system_inventory'),
      },
    },
  },
  {
    name: 'definer-view',
    description:
      "A reporting view over ticket_history owned by the tables' owner, without security_invoker, readable by the application: it shows every tenant's tickets.",
    target: 'platform',
    expect: [expectation('rls.views_respect_rls', 'P0', 'platform')],
    effect: {
      sql: {
        apply: (roles) => `CREATE VIEW public.ticket_overview AS
  SELECT tenant_id, ticket_id, subject, resolution FROM public.ticket_history;
ALTER VIEW public.ticket_overview OWNER TO ${quoteIdent(roles.owner)};
GRANT SELECT ON public.ticket_overview TO ${quoteIdent(roles.appUser)};`,
        revert: () => 'DROP VIEW public.ticket_overview;',
      },
    },
  },
  {
    name: 'partition-uncovered',
    description:
      "An archive table inherits from system_inventory without row-level security: queried directly, the parent's policies do not apply.",
    target: 'platform',
    expect: [expectation('rls.partitions_covered', 'P0', 'platform')],
    effect: {
      sql: {
        apply: (roles) => `CREATE TABLE public.system_inventory_archive () INHERITS (public.system_inventory);
ALTER TABLE public.system_inventory_archive OWNER TO ${quoteIdent(roles.owner)};
GRANT SELECT ON public.system_inventory_archive TO ${quoteIdent(roles.appUser)};`,
        revert: () => 'DROP TABLE public.system_inventory_archive;',
      },
    },
  },
  {
    name: 'definer-function-open',
    description:
      "A SECURITY DEFINER search function owned by the tables' owner, executable by PUBLIC: any caller reads every tenant's tickets through it.",
    target: 'platform',
    expect: [expectation('rls.definer_functions', 'P2', 'platform')],
    effect: {
      sql: {
        apply: (
          roles,
        ) => `CREATE FUNCTION public.search_ticket_history(p_query text) RETURNS SETOF public.ticket_history
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $fn$ SELECT * FROM public.ticket_history WHERE description ILIKE '%' || p_query || '%' $fn$;
ALTER FUNCTION public.search_ticket_history(text) OWNER TO ${quoteIdent(roles.owner)};`,
        revert: () => 'DROP FUNCTION public.search_ticket_history(text);',
      },
    },
  },
  {
    name: 'context-function-search-path',
    description: `${CONTEXT_FUNCTION} (SECURITY DEFINER) runs with the caller's search_path: a caller's own objects can stand in for the ones it uses.`,
    target: 'platform',
    expect: [expectation('rls.definer_functions', 'P2', 'platform')],
    effect: {
      sql: {
        apply: () => `ALTER FUNCTION public.${CONTEXT_FUNCTION}(varchar) RESET search_path;`,
        revert: () => `ALTER FUNCTION public.${CONTEXT_FUNCTION}(varchar) SET search_path = public, pg_temp;`,
      },
    },
  },
  {
    name: 'context-session-scoped',
    description: `${CONTEXT_FUNCTION} sets the tenant for the whole session (set_config(..., false)), as the platform's does: a pooled connection keeps it for the next request.`,
    target: 'platform',
    expect: [expectation('rls.context_scope', 'P2', 'platform')],
    effect: { sql: CONTEXT_SESSION_SCOPED },
  },
  {
    name: 'policy-changed-since-pinned',
    description:
      "tenant_configs' policy was rewritten (same isolation, different expression) after the isolation digest was pinned.",
    target: 'platform',
    expect: [SNAPSHOT_CHANGED],
    effect: {
      sql: {
        apply: () => replacePolicy('tenant_configs', `USING (tenant_id = current_setting('${TENANT_SETTING}', true))`),
        revert: () => restorePolicy('tenant_configs'),
      },
    },
  },
  {
    name: 'no-context-fail-open',
    description: "enhancement_history's policy lets everything through when no tenant context is set.",
    target: 'platform',
    expect: [expectation('rls.no_context_denied', 'P0', 'platform'), SNAPSHOT_CHANGED],
    effect: {
      sql: {
        apply: () =>
          replacePolicy(
            'enhancement_history',
            `USING (COALESCE(current_setting('${TENANT_SETTING}', true), '') IN ('', tenant_id))`,
          ),
        revert: () => restorePolicy('enhancement_history'),
      },
    },
  },
  {
    name: 'app-role-owns-table',
    description: 'The application role owns system_inventory without FORCE ROW LEVEL SECURITY: RLS skips it there.',
    target: 'platform',
    expect: [expectation('rls.app_role_enforced', 'P0', 'platform'), SNAPSHOT_CHANGED],
    effect: {
      sql: {
        apply: (roles) => `ALTER TABLE public.system_inventory OWNER TO ${quoteIdent(roles.app)};`,
        revert: (roles) => `ALTER TABLE public.system_inventory OWNER TO ${quoteIdent(roles.owner)};`,
      },
    },
  },
  {
    name: 'app-role-superuser',
    description: 'The application role is a superuser: row-level security never applies to the platform.',
    target: 'platform',
    expect: [expectation('rls.app_role_enforced', 'P0', 'platform'), SNAPSHOT_CHANGED],
    effect: {
      sql: APP_ROLE_SUPERUSER,
    },
  },
  {
    name: 'canary-owner-credentials',
    description: "The canary's database role is a member of the tables' owner, so RLS does not apply to its probes.",
    target: 'platform',
    expect: [
      expectation('canary.probe_role_safe', 'P2', 'platform'),
      expectation('rls.no_context_denied', 'P2', 'platform', 'error'),
      expectation('rls.cross_tenant_read', 'P2', 'all', 'error'),
      expectation('rls.cross_tenant_write', 'P2', 'all', 'error'),
      SNAPSHOT_CHANGED,
    ],
    effect: {
      sql: {
        apply: (roles) => `GRANT ${quoteIdent(roles.owner)} TO ${quoteIdent(probeRole(roles))};`,
        revert: (roles) => `REVOKE ${quoteIdent(roles.owner)} FROM ${quoteIdent(probeRole(roles))};`,
      },
    },
  },
  {
    name: 'workers-stopped',
    description: `No worker consumes the queue and ${BACKLOG_JOBS} real jobs wait in it.`,
    target: 'every-tenant',
    expect: [
      { ...expectation('queue.depth', 'P2', 'platform'), requires: 'redis' },
      expectation('enhancement.round_trip', 'P1', 'all'),
    ],
    effect: {
      worker: { consuming: false },
      apply: async (ctx) => {
        for (const job of backlogJobs()) await ctx.queue.push(job);
      },
      revert: async (ctx) => {
        await ctx.queue.remove(backlogJobs());
      },
    },
  },
  {
    name: 'workers-slow',
    description: `Every enhancement takes ${SLOW_WORKER_MS / 1000} s: past the degraded threshold, inside the timeout.`,
    target: 'every-tenant',
    expect: [expectation('enhancement.round_trip', 'P2', 'all', 'degraded')],
    effect: { worker: { fixedLatencyMs: SLOW_WORKER_MS } },
  },
  {
    name: 'enhancements-failing',
    description: "Every enhancement ends 'failed' (the LLM provider answers 503).",
    target: 'every-tenant',
    expect: [expectation('enhancement.round_trip', 'P1', 'all')],
    effect: { worker: { outcome: 'failed' } },
  },
  {
    name: 'empty-enhancement-text',
    description: 'Enhancements complete with empty text.',
    target: 'every-tenant',
    expect: [expectation('enhancement.quality', 'P3', 'all')],
    effect: { worker: { outcome: 'empty-output' } },
  },
  {
    name: 'low-success-rate',
    description: `${FAULT_TARGET_TENANT} had 30 more real enhancements fail in the last 24 h (about 80% success).`,
    target: 'one-tenant',
    expect: [expectation('tenant.success_rate', 'P2', 'target')],
    effect: {
      sql: {
        apply: () => faultEnhancements('FAILED', 30, 'failed', 3),
        revert: () => deleteFaultEnhancements('FAILED'),
      },
    },
  },
  {
    name: 'slow-tenant',
    description: `${FAULT_TARGET_TENANT} had 40 real enhancements take 2 minutes each in the last 24 h.`,
    target: 'one-tenant',
    expect: [expectation('tenant.latency', 'P2', 'target', 'degraded')],
    effect: {
      sql: {
        apply: () => faultEnhancements('SLOW', 40, 'completed', 120),
        revert: () => deleteFaultEnhancements('SLOW'),
      },
    },
  },
  {
    name: 'thin-history',
    description: `${FAULT_TARGET_TENANT} keeps only 10 tickets of history (the rest moved aside until the fault is off).`,
    target: 'one-tenant',
    expect: [expectation('tenant.history_volume', 'P3', 'target')],
    effect: {
      sql: {
        // Aside in a schema of its own: a table with tenant_id in public would be a discovered tenant table.
        apply: () => `CREATE SCHEMA sandbox_fault;
CREATE TABLE sandbox_fault.ticket_history_aside (LIKE public.ticket_history INCLUDING DEFAULTS);
WITH moved AS (
  DELETE FROM public.ticket_history
  WHERE tenant_id = '${FAULT_TARGET_TENANT}'
    AND id NOT IN (SELECT id FROM public.ticket_history WHERE tenant_id = '${FAULT_TARGET_TENANT}' ORDER BY created_at DESC LIMIT 10)
  RETURNING *)
INSERT INTO sandbox_fault.ticket_history_aside SELECT * FROM moved;`,
        revert: () => `INSERT INTO public.ticket_history SELECT * FROM sandbox_fault.ticket_history_aside;
DROP SCHEMA sandbox_fault CASCADE;`,
      },
    },
  },
  {
    name: 'connections-near-limit',
    description: `A leaking pool holds idle connections until ${Math.round((SANDBOX_CONNECTIONS_MAX_RATIO + 0.02) * 100)}% of max_connections are in use.`,
    target: 'platform',
    requires: 'postgres',
    expect: [expectation('db.connections', 'P1', 'platform')],
    effect: {
      apply: async (ctx) => {
        const hold = ctx.db.holdConnections;
        if (hold === undefined) throw new Error('connections-near-limit needs a real PostgreSQL server');
        const result = await ctx.db.admin(
          `SELECT (SELECT count(*) FROM pg_stat_activity WHERE datid IS NOT NULL AND backend_type = 'client backend')::int AS used,
                  current_setting('max_connections')::int AS max`,
        );
        const { used, max } = result.rows[0] as { used: number; max: number };
        const wanted = Math.ceil((SANDBOX_CONNECTIONS_MAX_RATIO + 0.02) * max) - used;
        if (wanted > 0) heldConnections.set(ctx.db, await hold.call(ctx.db, wanted));
      },
      revert: async (ctx) => {
        const release = heldConnections.get(ctx.db);
        heldConnections.delete(ctx.db);
        await release?.();
      },
    },
  },
  {
    name: 'as-written',
    description:
      'The platform as its code stands: nothing consumes the queue, the application role is a superuser, the context function sets the tenant for the whole session, and resolved tickets are verified with one platform-wide secret.',
    target: 'every-tenant',
    expect: [
      expectation('rls.app_role_enforced', 'P0', 'platform'),
      expectation('rls.context_scope', 'P2', 'platform'),
      SNAPSHOT_CHANGED,
      expectation('webhook.entry_points_tenant_bound', 'P0', 'platform'),
      expectation('enhancement.round_trip', 'P1', 'all'),
    ],
    effect: {
      receiver: { resolvedTicketSecret: 'platform' },
      worker: { consuming: false },
      sql: {
        apply: (roles) => `${APP_ROLE_SUPERUSER.apply(roles)}\n${CONTEXT_SESSION_SCOPED.apply(roles)}`,
        revert: (roles) => `${CONTEXT_SESSION_SCOPED.revert(roles)}\n${APP_ROLE_SUPERUSER.revert(roles)}`,
      },
    },
  },
] as const satisfies readonly FaultDefinition[];

/** The names in DEFINITIONS: 'health-down' | 'health-hangs' | ... */
export type SandboxFaultName = (typeof DEFINITIONS)[number]['name'];

/** The sandbox's faults with their effects. */
export const FAULT_DEFINITIONS: readonly FaultDefinition[] = DEFINITIONS;

/** Every fault, what it breaks and which checks must report it. */
export const SANDBOX_FAULTS: readonly SandboxFault[] = DEFINITIONS.map((fault) => ({
  name: fault.name,
  description: fault.description,
  target: fault.target,
  expect: fault.expect,
  ...('requires' in fault ? { requires: fault.requires } : {}),
}));

const NAMES = new Set<string>(DEFINITIONS.map((fault) => fault.name));

/** What the sandbox is running on, as far as faults care. */
export interface SandboxKind {
  database: 'pglite' | 'postgres';
  redis: 'redis-server' | 'url' | 'memory';
  tls: boolean;
}

/** One result a fault must cause: a check of a tenant (null: the platform) at a status and tier. */
export interface ExpectedResult {
  checkId: string;
  status: FaultExpectation['status'];
  tier: Tier;
  tenantId: string | null;
}

function faultNamed(name: SandboxFaultName): SandboxFault {
  const fault = SANDBOX_FAULTS.find((f) => f.name === name);
  if (fault === undefined) throw new Error(`unknown sandbox fault ${name}`);
  return fault;
}

/** Why a sandbox of this kind cannot cause `name`, or null when it can. */
export function cannotCause(name: SandboxFaultName, kind: SandboxKind): string | null {
  const { requires } = faultNamed(name);
  if (requires === 'postgres' && kind.database !== 'postgres') {
    return 'needs a real PostgreSQL server (PGlite has one backend): drill with --sandbox-database URL';
  }
  if (requires === 'tls' && !kind.tls) {
    return 'needs the sandbox on HTTPS, and there is no openssl on PATH to make its certificates';
  }
  return null;
}

/** The results `name` must cause in a sandbox of this kind with these tenants. */
export function expectedResults(
  name: SandboxFaultName,
  kind: SandboxKind,
  tenantIds: readonly string[],
): ExpectedResult[] {
  return faultNamed(name).expect.flatMap((e) => {
    if (e.requires === 'redis' && kind.redis === 'memory') return [];
    const tenants = e.tenants === 'platform' ? [null] : e.tenants === 'target' ? [FAULT_TARGET_TENANT] : tenantIds;
    return tenants.map((tenantId) => ({ checkId: e.checkId, status: e.status, tier: e.tier, tenantId }));
  });
}

function probeRole(roles: SchemaRoles): string {
  if (roles.probe === null) throw new Error('the sandbox has no probe role');
  return roles.probe;
}

export function isSandboxFaultName(value: string): value is SandboxFaultName {
  return NAMES.has(value);
}

export interface Behaviour {
  receiver: Readonly<ReceiverBehaviour>;
  worker: Readonly<WorkerBehaviour>;
}

/** The behaviour for a set of faults: healthy defaults overridden in definition order. */
export function behaviourFor(
  faults: Iterable<string>,
  definitions: readonly FaultDefinition[] = FAULT_DEFINITIONS,
): Behaviour {
  const active = new Set(faults);
  let receiver: ReceiverBehaviour = { ...HEALTHY_RECEIVER };
  let worker: WorkerBehaviour = { ...HEALTHY_WORKER };
  for (const fault of definitions) {
    if (!active.has(fault.name)) continue;
    receiver = { ...receiver, ...fault.effect.receiver };
    worker = { ...worker, ...fault.effect.worker };
  }
  return { receiver, worker };
}

/**
 * Holds the active set and moves between sets: reverts what is switched off (newest first),
 * applies what is switched on, then publishes the new behaviour. Calls are serialized.
 */
export class FaultSwitchboard<Name extends string = SandboxFaultName> {
  readonly #ctx: FaultContext;
  readonly #onChange: (behaviour: Behaviour) => void;
  readonly #definitions: ReadonlyMap<string, FaultDefinition>;
  #active: Name[] = [];
  #queue: Promise<void> = Promise.resolve();
  #behaviour: Behaviour;

  constructor(
    ctx: FaultContext,
    onChange: (behaviour: Behaviour) => void,
    definitions: readonly FaultDefinition[] = FAULT_DEFINITIONS,
  ) {
    this.#ctx = ctx;
    this.#onChange = onChange;
    this.#definitions = new Map(definitions.map((fault) => [fault.name, fault]));
    this.#behaviour = behaviourFor([], definitions);
  }

  get behaviour(): Behaviour {
    return this.#behaviour;
  }

  active(): readonly Name[] {
    return [...this.#active];
  }

  /** Switches to exactly `faults`. Unknown names reject before anything changes. */
  set(faults: readonly Name[]): Promise<void> {
    const unknown = faults.filter((name) => !this.#definitions.has(name));
    if (unknown.length > 0) {
      const known = [...this.#definitions.keys()].join(', ');
      return Promise.reject(new Error(`unknown sandbox fault ${unknown.join(', ')} (known: ${known})`));
    }
    const run = this.#queue.then(() => this.#switch([...new Set(faults)]));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #switch(target: Name[]): Promise<void> {
    try {
      for (const name of [...this.#active].reverse()) {
        if (target.includes(name)) continue;
        await this.#revert(this.#definition(name));
        this.#active = this.#active.filter((active) => active !== name);
      }
      for (const name of target) {
        if (this.#active.includes(name)) continue;
        await this.#apply(this.#definition(name));
        this.#active.push(name);
      }
    } finally {
      // Whatever got applied is reflected, even when a later step failed.
      this.#ctx.tenants.invalidate();
      this.#behaviour = behaviourFor(this.#active, [...this.#definitions.values()]);
      this.#onChange(this.#behaviour);
    }
  }

  #definition(name: string): FaultDefinition {
    const found = this.#definitions.get(name);
    if (found === undefined) throw new Error(`unknown sandbox fault ${name}`);
    return found;
  }

  async #apply(fault: FaultDefinition): Promise<void> {
    if (fault.effect.sql !== undefined) await this.#ctx.db.admin(fault.effect.sql.apply(this.#ctx.roles));
    await fault.effect.apply?.(this.#ctx);
  }

  async #revert(fault: FaultDefinition): Promise<void> {
    await fault.effect.revert?.(this.#ctx);
    if (fault.effect.sql !== undefined) await this.#ctx.db.admin(fault.effect.sql.revert(this.#ctx.roles));
  }
}
