/**
 * The paths around row-level security that reading the tenant tables' own policies misses:
 * views and materialized views that read them with an owner's rights, partitions and
 * inheritance children queried directly, SECURITY DEFINER functions, a tenant context that
 * outlives its transaction, and any change to the isolation configuration since it was pinned.
 *
 * The catalog facts are read once per run, in one rolled-back transaction as the canary's
 * effective role, with parameterised SQL on pg_class, pg_inherits, pg_rewrite/pg_depend,
 * pg_proc, pg_policy and role membership. Only the context-scope probe commits, and only a
 * READ ONLY transaction (PostgreSQL refuses any write in it).
 */
import { createHash } from 'node:crypto';
import type { Config } from '../core/config.ts';
import { errored, skipped } from '../core/results.ts';
import type { Outcome } from '../core/types.ts';
import { describeDbError, type PgPort, type SqlSession, sqlState } from '../ports.ts';
import { contextCall, databaseFacts, type HelperFunction, policyHelpersSql } from './database.ts';
import { type DiscoveryScope, discoverTenantTables, howFound, type TenantTableRef } from './discovery.ts';
import { policyReading } from './policy-reads.ts';
import type { PlatformProbe, ProbeContext } from './types.ts';

const fail = (summary: string, evidence: Record<string, unknown>): Outcome => ({ status: 'fail', summary, evidence });
const pass = (summary: string, evidence: Record<string, unknown> = {}): Outcome => ({
  status: 'pass',
  summary,
  evidence,
});

/** The tenant tables that exist ($1: their names), with what decides who bypasses RLS on them. */
const TENANT_ROOTS_CTE = `tenant AS (
  SELECT t.name, c.oid, c.relowner, c.relforcerowsecurity
  FROM unnest($1::text[]) AS t(name) JOIN pg_class c ON c.oid = to_regclass(t.name))`;

/**
 * The tenant tables and all their partitions and inheritance children (a view or function that
 * reads a child directly reads tenant rows too). Needs `WITH RECURSIVE`.
 */
const TENANT_CTE = `tenant AS (
  SELECT t.name, c.oid, c.relowner, c.relforcerowsecurity
  FROM unnest($1::text[]) AS t(name) JOIN pg_class c ON c.oid = to_regclass(t.name)
  UNION
  SELECT c.oid::regclass::text, c.oid, c.relowner, c.relforcerowsecurity
  FROM tenant p JOIN pg_inherits i ON i.inhparent = p.oid JOIN pg_class c ON c.oid = i.inhrelid)`;

/**
 * Whether role `role` (an oid column) bypasses RLS on tenant table `t`: a superuser, BYPASSRLS,
 * or (with the owner's privileges) the table's owner when FORCE ROW LEVEL SECURITY is off.
 */
const bypasses = (role: string, attributes: string) =>
  `(${attributes}.rolsuper OR ${attributes}.rolbypassrls OR (pg_has_role(${role}, t.relowner, 'USAGE') AND NOT t.relforcerowsecurity))`;

/**
 * Views and materialized views that read a tenant table, directly or through other views (a
 * view's rewrite rule depends on every relation it reads).
 */
const VIEWS_SQL = `
WITH RECURSIVE ${TENANT_CTE},
reads(view_oid, table_oid) AS (
  SELECT r.ev_class, d.refobjid
  FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
  WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
    AND d.refobjid IN (SELECT oid FROM tenant) AND r.ev_class <> d.refobjid
  UNION
  SELECT r.ev_class, reads.table_oid
  FROM reads
  JOIN pg_depend d ON d.refobjid = reads.view_oid AND d.refclassid = 'pg_class'::regclass
   AND d.classid = 'pg_rewrite'::regclass
  JOIN pg_rewrite r ON r.oid = d.objid
  WHERE r.ev_class <> reads.view_oid
)
SELECT v.oid::regclass::text AS view,
       v.relkind = 'm' AS materialized,
       pg_get_userbyid(v.relowner) AS owner,
       COALESCE(lower(o.option_value) IN ('true', 'on', 'yes', '1'), false) AS "securityInvoker",
       CASE WHEN a.oid IS NULL THEN false ELSE has_table_privilege(a.oid, v.oid, 'SELECT') END AS "appCanRead",
       array_agg(DISTINCT t.name ORDER BY t.name) AS reads,
       COALESCE(array_agg(DISTINCT t.name ORDER BY t.name) FILTER (WHERE ${bypasses('v.relowner', 'vo')}), '{}') AS "ownerBypassesOn"
FROM reads
JOIN pg_class v ON v.oid = reads.view_oid AND v.relkind IN ('v', 'm')
JOIN tenant t ON t.oid = reads.table_oid
JOIN pg_roles vo ON vo.oid = v.relowner
LEFT JOIN LATERAL (
  SELECT option_value FROM pg_options_to_table(v.reloptions) WHERE option_name = 'security_invoker'
) o ON true
LEFT JOIN pg_roles a ON a.rolname = $2
GROUP BY v.oid, v.relkind, v.relowner, o.option_value, a.oid
ORDER BY 1`;

/** Partitions and inheritance children of the tenant tables, at any depth, with their own RLS. */
const CHILDREN_SQL = `
WITH RECURSIVE ${TENANT_ROOTS_CTE},
children(oid, parent) AS (
  SELECT i.inhrelid, t.name FROM pg_inherits i JOIN tenant t ON i.inhparent = t.oid
  UNION
  SELECT i.inhrelid, c.parent FROM pg_inherits i JOIN children c ON i.inhparent = c.oid
)
SELECT c.oid::regclass::text AS child, ch.parent, c.relispartition AS partition, c.relrowsecurity AS "rowSecurity",
       COALESCE((
         SELECT json_agg(json_build_object(
                  'name', p.polname,
                  'permissive', p.polpermissive,
                  'readsRows', p.polcmd IN ('r', '*'),
                  'using', pg_get_expr(p.polqual, p.polrelid),
                  'withCheck', pg_get_expr(p.polwithcheck, p.polrelid),
                  'functions', ARRAY(SELECT DISTINCT d.refobjid::text FROM pg_depend d
                                     WHERE d.classid = 'pg_policy'::regclass AND d.objid = p.oid
                                       AND d.refclassid = 'pg_proc'::regclass)) ORDER BY p.polname)
         FROM pg_policy p WHERE p.polrelid = c.oid), '[]'::json) AS policies,
       ${policyHelpersSql('c.oid')} AS helpers
FROM children ch JOIN pg_class c ON c.oid = ch.oid
ORDER BY 1, 2`;

/**
 * SECURITY DEFINER functions outside the system schemas and extensions, and the context
 * function ($3) whatever its kind: who owns them, on which tenant tables the owner bypasses
 * RLS, who may execute them, and whether search_path is pinned.
 */
/** `p` is `database.contextFunction` ($3): `name` on the search path, or `schema.name` in that schema. */
const IS_CONTEXT_FUNCTION = `(p.proname = (string_to_array($3::text, '.'))[cardinality(string_to_array($3::text, '.'))]
    AND CASE WHEN cardinality(string_to_array($3::text, '.')) = 2 THEN n.nspname = (string_to_array($3::text, '.'))[1]
             ELSE pg_function_is_visible(p.oid) END)`;

const FUNCTIONS_SQL = `
WITH RECURSIVE ${TENANT_CTE}
SELECT p.oid::regprocedure::text AS signature,
       COALESCE(${IS_CONTEXT_FUNCTION}, false) AS "isContext",
       p.prosecdef AS "securityDefiner",
       pg_get_userbyid(p.proowner) AS owner,
       EXISTS (SELECT 1 FROM unnest(p.proconfig) AS s(setting) WHERE left(s.setting, 12) = 'search_path=') AS "fixedSearchPath",
       CASE WHEN a.oid IS NULL THEN false ELSE has_function_privilege(a.oid, p.oid, 'EXECUTE') END AS "appCanExecute",
       (p.proacl IS NULL OR EXISTS (
          SELECT 1 FROM aclexplode(p.proacl) x WHERE x.grantee = 0 AND x.privilege_type = 'EXECUTE')) AS "publicCanExecute",
       ARRAY(SELECT t.name FROM tenant t WHERE ${bypasses('p.proowner', 'o')} ORDER BY t.name) AS "bypassesOn"
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_roles o ON o.oid = p.proowner
LEFT JOIN pg_roles a ON a.rolname = $2
WHERE (p.prosecdef OR COALESCE(${IS_CONTEXT_FUNCTION}, false))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
  AND NOT EXISTS (
    SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1`;

const PRIVILEGES = `ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']`;
const grantsOf = (role: string) =>
  `COALESCE((SELECT json_agg(x.priv ORDER BY x.ord) FROM unnest(${PRIVILEGES}) WITH ORDINALITY AS x(priv, ord)
             WHERE has_table_privilege(${role}, c.oid, x.priv)), '[]'::json)`;

/** Per tenant table ($1, in name order): flags, owner, policies, and the app's ($2) and the probe's privileges. */
const SNAPSHOT_TABLES_SQL = `
SELECT t.name AS table,
       c.oid IS NOT NULL AS exists,
       COALESCE(c.relrowsecurity, false) AS row_security,
       COALESCE(c.relforcerowsecurity, false) AS force_row_security,
       pg_get_userbyid(c.relowner) AS owner,
       COALESCE((
         SELECT json_agg(json_build_object(
                  'name', p.polname,
                  'permissive', p.polpermissive,
                  'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                                           WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                  'roles', (SELECT json_agg(CASE WHEN r.oid = 0 THEN 'public' ELSE pg_get_userbyid(r.oid)::text END
                                            ORDER BY CASE WHEN r.oid = 0 THEN 'public' ELSE pg_get_userbyid(r.oid)::text END)
                            FROM unnest(p.polroles) AS r(oid)),
                  'using', pg_get_expr(p.polqual, p.polrelid),
                  'withCheck', pg_get_expr(p.polwithcheck, p.polrelid)) ORDER BY p.polname)
         FROM pg_policy p WHERE p.polrelid = c.oid), '[]'::json) AS policies,
       CASE WHEN c.oid IS NULL OR a.oid IS NULL THEN '[]'::json ELSE ${grantsOf('a.oid')} END AS app_grants,
       CASE WHEN c.oid IS NULL THEN '[]'::json ELSE ${grantsOf('current_user')} END AS probe_grants
FROM unnest($1::text[]) AS t(name)
LEFT JOIN pg_class c ON c.oid = to_regclass(t.name)
LEFT JOIN pg_roles a ON a.rolname = $2
ORDER BY t.name`;

/** The app role's ($1) attributes and every role it belongs to, directly or through others. */
const SNAPSHOT_ROLE_SQL = `
WITH RECURSIVE app AS (SELECT * FROM pg_roles WHERE rolname = $1),
member_of(oid) AS (
  SELECT m.roleid FROM pg_auth_members m JOIN app ON m.member = app.oid
  UNION
  SELECT m.roleid FROM pg_auth_members m JOIN member_of mo ON m.member = mo.oid
)
SELECT current_user::text AS probe_role,
       (SELECT json_build_object(
                 'superuser', app.rolsuper, 'bypassRls', app.rolbypassrls, 'inherit', app.rolinherit,
                 'createRole', app.rolcreaterole, 'createDb', app.rolcreatedb, 'login', app.rolcanlogin,
                 'memberOf', COALESCE((SELECT json_agg(pg_get_userbyid(oid)::text ORDER BY pg_get_userbyid(oid)::text)
                                       FROM member_of), '[]'::json))
        FROM app) AS app_role`;

/**
 * What the snapshot depends on in `database`: the tables (configured and discovered: the
 * discovery settings default as in config.ts), the app role and the role probes run as.
 */
export type SnapshotScope = Pick<NonNullable<Config['database']>, 'tenantTables' | 'appRole' | 'probeAsRole'> &
  DiscoveryScope;

export interface ViewFacts {
  view: string;
  materialized: boolean;
  owner: string;
  securityInvoker: boolean;
  appCanRead: boolean;
  /** The tenant tables it reads, directly or through other views. */
  reads: string[];
  /** Those the owner's rights bypass RLS on. */
  ownerBypassesOn: string[];
}

export interface ChildFacts {
  child: string;
  parent: string;
  partition: boolean;
  rowSecurity: boolean;
  policies: {
    name: string;
    permissive: boolean;
    /** A SELECT or ALL policy: its USING decides which rows a read sees. */
    readsRows: boolean;
    using: string | null;
    withCheck: string | null;
    /** Oids of the functions it calls (pg_depend). */
    functions: string[];
  }[];
  /** The functions its policies call, and those they call in turn. */
  helpers: HelperFunction[];
}

export interface FunctionFacts {
  signature: string;
  isContext: boolean;
  securityDefiner: boolean;
  owner: string;
  fixedSearchPath: boolean;
  appCanExecute: boolean;
  publicCanExecute: boolean;
  bypassesOn: string[];
}

/** What `tenant-canary snapshot` prints and `rls.isolation_snapshot` digests. No oids: stable across restarts. */
export interface IsolationSnapshot {
  version: 2;
  tables: {
    table: string;
    /** How the table is a tenant table (discovery): `column`, `fk` (with `path`) or `configured`. */
    found: TenantTableRef['found'];
    path?: string[];
    exists: boolean;
    rowSecurity: boolean;
    forceRowSecurity: boolean;
    owner: string | null;
    policies: {
      name: string;
      permissive: boolean;
      command: string;
      roles: string[];
      using: string | null;
      withCheck: string | null;
    }[];
    grants: { app: string[]; probe: string[] };
  }[];
  appRole: {
    name: string;
    exists: boolean;
    superuser: boolean;
    bypassRls: boolean;
    inherit: boolean;
    createRole: boolean;
    createDb: boolean;
    login: boolean;
    memberOf: string[];
  };
  /** The role the probes run as (probeAsRole, or the login): its grants are in `tables`. */
  probeRole: string;
}

export interface IsolationCatalog {
  views: ViewFacts[];
  children: ChildFacts[];
  functions: FunctionFacts[];
  snapshot: IsolationSnapshot;
}

interface SnapshotTableRow {
  table: string;
  exists: boolean;
  row_security: boolean;
  force_row_security: boolean;
  owner: string | null;
  policies: IsolationSnapshot['tables'][number]['policies'];
  app_grants: string[];
  probe_grants: string[];
}

interface SnapshotRoleRow {
  probe_role: string;
  app_role: Omit<IsolationSnapshot['appRole'], 'name' | 'exists'> | null;
}

/**
 * Reads the normalised isolation snapshot on an open session (inside the caller's transaction),
 * over `discovered` (the run's tenant tables), or discovering them first.
 */
async function snapshotIn(
  session: SqlSession,
  database: SnapshotScope,
  discovered?: readonly TenantTableRef[],
): Promise<IsolationSnapshot> {
  const refs = discovered ?? (await discoverTenantTables(session, database));
  const byName = new Map(refs.map((t) => [t.name, t]));
  const tables = await session.query<SnapshotTableRow>(SNAPSHOT_TABLES_SQL, [
    refs.map((t) => t.name),
    database.appRole,
  ]);
  const role = (await session.query<SnapshotRoleRow>(SNAPSHOT_ROLE_SQL, [database.appRole])).rows[0]!;
  const app = role.app_role;
  return {
    version: 2,
    tables: tables.rows.map((t) => ({
      table: t.table,
      ...howFound(byName.get(t.table) ?? { found: 'configured', path: [] }),
      exists: t.exists,
      rowSecurity: t.row_security,
      forceRowSecurity: t.force_row_security,
      owner: t.owner,
      policies: t.policies.map((p) => ({ ...p, roles: p.roles ?? [] })),
      grants: { app: t.app_grants, probe: t.probe_grants },
    })),
    appRole: {
      name: database.appRole,
      exists: app !== null,
      superuser: app?.superuser ?? false,
      bypassRls: app?.bypassRls ?? false,
      inherit: app?.inherit ?? false,
      createRole: app?.createRole ?? false,
      createDb: app?.createDb ?? false,
      login: app?.login ?? false,
      memberOf: app?.memberOf ?? [],
    },
    probeRole: role.probe_role,
  };
}

/** The isolation snapshot alone (`tenant-canary snapshot`): one rolled-back transaction as the probe role. */
export function readIsolationSnapshot(pg: PgPort, database: SnapshotScope): Promise<IsolationSnapshot> {
  return pg.inRolledBackTransaction({ role: database.probeAsRole }, (session) => snapshotIn(session, database));
}

/** JSON with object keys sorted at every level: the same snapshot always serialises to the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `sha256:` and the hex SHA-256 of the snapshot's canonical JSON (what database.isolationDigest pins). */
export function isolationDigest(snapshot: IsolationSnapshot): string {
  return `sha256:${createHash('sha256').update(canonicalJson(snapshot)).digest('hex')}`;
}

/** The catalog facts over `tables`: the run's tenant tables, as the run's database facts discovered them. */
export async function readIsolationCatalog(
  pg: PgPort,
  config: Config,
  tables: readonly TenantTableRef[],
): Promise<IsolationCatalog> {
  const database = config.database!;
  const names = tables.filter((t) => t.exists).map((t) => t.name);
  return pg.inRolledBackTransaction({ role: database.probeAsRole }, async (session) => {
    // The statements name their columns as the facts' fields: rows are the facts.
    const views = await session.query<ViewFacts>(VIEWS_SQL, [names, database.appRole]);
    const children = await session.query<ChildFacts>(CHILDREN_SQL, [names]);
    const functions = await session.query<FunctionFacts>(FUNCTIONS_SQL, [
      names,
      database.appRole,
      database.contextFunction,
    ]);
    return {
      views: views.rows,
      children: children.rows,
      functions: functions.rows,
      snapshot: await snapshotIn(session, database, tables),
    };
  });
}

type CatalogResult = { ok: true; catalog: IsolationCatalog } | { ok: false; reason: string };

function isolationCatalog(ctx: ProbeContext): Promise<CatalogResult> {
  return ctx.once('isolation-catalog', async () => {
    const pg = ctx.ports.pg;
    if (!pg) return { ok: false, reason: 'no database connection configured' };
    // The tenant tables as the run's one discovery found them.
    const discovered = await databaseFacts(ctx);
    if (!discovered.ok) return { ok: false, reason: discovered.reason };
    try {
      return { ok: true, catalog: await readIsolationCatalog(pg, ctx.config, discovered.facts.tables) };
    } catch (error) {
      return { ok: false, reason: `the database catalog could not be read: ${describeDbError(error)}` };
    }
  });
}

async function withCatalog(ctx: ProbeContext, judge: (catalog: IsolationCatalog) => Outcome): Promise<Outcome> {
  const result = await isolationCatalog(ctx);
  return result.ok ? judge(result.catalog) : errored(result.reason);
}

/** The tenant tables a catalog check covered, with how each was found (discovery). */
const tenantTablesFound = (snapshot: IsolationSnapshot) =>
  snapshot.tables
    .filter((t) => t.exists)
    .map((t) => ({ table: t.table, found: t.found, ...(t.path ? { path: t.path } : {}) }));

/** Why a view lets rows around RLS, or null when it does not. */
function viewHole(view: ViewFacts): string | null {
  if (view.materialized) {
    if (view.appCanRead) return `materialized view readable by the application (it has no row-level security)`;
    if (view.ownerBypassesOn.length > 0) {
      return `materialized with the rights of ${view.owner}, which bypasses RLS on ${view.ownerBypassesOn.join(', ')}`;
    }
    return null;
  }
  if (view.securityInvoker || view.ownerBypassesOn.length === 0) return null;
  return `runs with the rights of its owner ${view.owner}, which bypasses RLS on ${view.ownerBypassesOn.join(', ')} (no security_invoker)`;
}

export const probeViewsRespectRls: PlatformProbe = (ctx) =>
  withCatalog(ctx, ({ views, snapshot }) => {
    const holes = views.flatMap((view) => {
      const reason = viewHole(view);
      return reason === null ? [] : [{ view: view.view, reads: view.reads, reason, appCanRead: view.appCanRead }];
    });
    const evidence = { views, holes, tenantTables: tenantTablesFound(snapshot) };
    if (holes.length > 0) {
      return fail(
        `${holes.length} view${holes.length > 1 ? 's read' : ' reads'} tenant rows around row-level security: ${holes
          .map((h) => `${h.view} (${h.reason})`)
          .join('; ')}`,
        evidence,
      );
    }
    return pass(
      views.length === 0
        ? 'no view or materialized view reads a tenant table'
        : `all ${views.length} views over tenant tables apply row-level security as the reader`,
      evidence,
    );
  });

export const probePartitionsCovered: PlatformProbe = (ctx) =>
  withCatalog(ctx, ({ children, snapshot }) => {
    const setting = ctx.config.database!.tenantSetting;
    const uncovered = children.flatMap((child) => {
      const reasons: string[] = [];
      if (!child.rowSecurity) reasons.push('row-level security is disabled');
      // Permissive policies OR together: every one that applies to reads must scope them.
      const readPolicies = child.policies.filter((p) => p.permissive && p.readsRows);
      const reads = (p: ChildFacts['policies'][number]) =>
        policyReading(p, child.helpers, setting, 'using').reads === true;
      const open = readPolicies.filter((p) => !reads(p)).map((p) => p.name);
      if (!readPolicies.some(reads)) {
        reasons.push(`no policy reads ${setting}`);
      } else if (open.length > 0) {
        reasons.push(
          `permissive polic${open.length > 1 ? 'ies' : 'y'} ${open.join(', ')} let rows through without reading ${setting}`,
        );
      }
      return reasons.length === 0
        ? []
        : [{ child: child.child, parent: child.parent, kind: child.partition ? 'partition' : 'child', reasons }];
    });
    const evidence = { children, uncovered, tenantTables: tenantTablesFound(snapshot) };
    if (uncovered.length > 0) {
      return fail(
        `queried directly, ${uncovered
          .map((u) => `${u.kind} ${u.child} of ${u.parent} (${u.reasons.join(', ')})`)
          .join('; ')} shows every tenant's rows: the parent's policies do not apply there`,
        evidence,
      );
    }
    return pass(
      children.length === 0
        ? 'no tenant table has partitions or inheritance children'
        : `all ${children.length} partitions and inheritance children of tenant tables have RLS and a tenant policy`,
      evidence,
    );
  });

export const probeDefinerFunctions: PlatformProbe = (ctx) =>
  withCatalog(ctx, ({ functions }) => {
    const contextFunction = ctx.config.database!.contextFunction;
    const open = functions.filter(
      (f) => f.securityDefiner && !f.isContext && f.bypassesOn.length > 0 && (f.appCanExecute || f.publicCanExecute),
    );
    const context = functions.filter((f) => f.isContext);
    const unpinned = context.filter((f) => !f.fixedSearchPath);
    const review = [
      ...open.map((f) => ({
        function: f.signature,
        owner: f.owner,
        bypassesRlsOn: f.bypassesOn,
        executableBy: [...(f.publicCanExecute ? ['PUBLIC'] : []), ...(f.appCanExecute ? ['the application role'] : [])],
        problem: 'SECURITY DEFINER, runs with rights that bypass row-level security',
      })),
      ...unpinned.map((f) => ({
        function: f.signature,
        owner: f.owner,
        problem: 'the context function has no fixed search_path: objects earlier on the caller’s path can hijack it',
      })),
    ];
    const evidence = {
      contextFunction: contextFunction === null ? null : { name: contextFunction, found: context.length > 0 },
      securityDefinerFunctions: functions.filter((f) => f.securityDefiner).length,
      review,
    };
    if (review.length > 0) {
      return fail(`review ${review.map((r) => `${r.function}: ${r.problem}`).join('; ')}`, evidence);
    }
    return pass(
      'no SECURITY DEFINER function that bypasses row-level security is executable by the application, and the context function pins its search_path',
      evidence,
    );
  });

export const probeIsolationSnapshot: PlatformProbe = (ctx) =>
  withCatalog(ctx, ({ snapshot }) => {
    const pinned = ctx.config.database!.isolationDigest;
    const current = isolationDigest(snapshot);
    if (pinned === null) {
      return {
        status: 'skipped',
        summary: `database.isolationDigest is not pinned (the current digest is ${current}; pin it after review)`,
        evidence: { current },
      };
    }
    if (pinned !== current) {
      return fail(
        `the isolation configuration changed since ${pinned} was pinned (now ${current}): review the change, then pin the new digest`,
        { pinned, current, snapshot },
      );
    }
    return pass(`the isolation configuration matches the pinned digest ${pinned}`, { current });
  });

/** A tenant id inlined into SQL: config validation allows only [a-z0-9-]; checked again here. */
function tenantLiteral(tenantId: string): string {
  if (!/^[a-z0-9-]{1,100}$/.test(tenantId)) throw new Error(`not a valid tenant id: ${JSON.stringify(tenantId)}`);
  return `'${tenantId}'`;
}

export const probeContextScope: PlatformProbe = async (ctx) => {
  const database = ctx.config.database!;
  const fn = database.contextFunction;
  if (fn === null) return skipped('database.contextFunction is null');
  const tenantId = ctx.tenants[0]?.tenantId ?? ctx.config.tenants[0]?.tenantId;
  if (tenantId === undefined) return skipped('no tenant to set the context for');
  const setting = database.tenantSetting;
  const call = await contextCall(ctx, fn, tenantLiteral(tenantId));
  let called: unknown;
  try {
    const { afterCommit, afterReset } = await ctx.ports.pg!.inCommittedReadOnlyTransaction(
      { role: database.probeAsRole, watch: [setting] },
      async (session) => {
        try {
          await session.query(call);
        } catch (error) {
          called = error;
          throw error;
        }
      },
    );
    const after = afterCommit[setting] ?? null;
    const evidence = {
      contextFunction: fn,
      tenantId,
      settingAfterCommit: after,
      settingAfterReset: afterReset[setting] ?? null,
    };
    if (after === tenantId) {
      return fail(
        `${fn} sets ${setting} for the whole connection: after the transaction committed it still held ${tenantId}, so a pooled connection carries one tenant's context into the next request (reset by the canary)`,
        evidence,
      );
    }
    return pass(`${fn} sets ${setting} for the transaction only: after COMMIT the connection holds none`, evidence);
  } catch (error) {
    if (called !== undefined) {
      const state = sqlState(called);
      const why =
        state === '25006'
          ? `it writes, and the probe runs it READ ONLY`
          : state === '42501'
            ? `the canary's role may not execute it`
            : describeDbError(called);
      return errored(`${fn}('${tenantId}') could not run in the probe transaction (${why}), so its scope is unknown`, {
        sqlState: state ?? null,
      });
    }
    return errored(`the context-scope probe could not run: ${describeDbError(error)}`);
  }
};
