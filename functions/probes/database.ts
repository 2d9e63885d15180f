/**
 * What the database says about itself, read once per run in one rolled-back transaction as the
 * canary's effective role: the tenant tables (RLS flags, owner, policies), the platform's
 * application role, the canary's own role, and connection use. Five platform checks read it.
 */
import type { Config } from '../core/config.ts';
import { errored } from '../core/results.ts';
import type { Outcome } from '../core/types.ts';
import { describeDbError, type PgPort, quoteIdent } from '../ports.ts';
import {
  discoveryCte,
  discoveryParams,
  discoveryScope,
  relationName,
  TENANT_TABLE_COLUMNS,
  TENANT_TABLE_ORDER,
  type TenantTableRef,
  type TenantTableRow,
  tenantTableRef,
} from './discovery.ts';
import { type HelperFunction, MAX_HELPER_DEPTH } from './policy-reads.ts';
import type { ProbeContext } from './types.ts';

export interface PolicyFacts {
  name: string;
  permissive: boolean;
  /** `polcmd`: `r` SELECT, `a` INSERT, `w` UPDATE, `d` DELETE, `*` ALL. */
  command: string;
  /** The roles it is for (`PUBLIC` for polroles 0). */
  roles: string[];
  /**
   * It applies to the application role or (when `probeAsRole` is set) the canary's role: it is for
   * PUBLIC or for a role whose privileges either has.
   */
  appliesToApp: boolean;
  using: string | null;
  withCheck: string | null;
  /** Oids (as text) of the functions its expressions call (pg_depend), for {@link HelperFunction}. */
  functions: string[];
  /** Other relations its expressions read (subqueries), as the catalog names them. */
  relations: string[];
}

export type { HelperFunction };

export interface TableFacts extends TenantTableRef {
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  owner: string | null;
  /** The application role is the owner or a member of it. */
  appRoleOwns: boolean;
  /** The canary's effective role is the owner or a member of it. */
  probeRoleOwns: boolean;
  policies: PolicyFacts[];
  /** The functions the policies call, and those they call in turn. */
  helpers: HelperFunction[];
  /** What the canary's effective role may do on the table (has_table_privilege). */
  probePrivileges: { select: boolean; insert: boolean; update: boolean };
  /** Columns whose value comes from a sequence: identity columns and `nextval` defaults (serial). */
  sequenceColumns: { column: string; type: string; identity: 'always' | 'by default' | null }[];
  /** `pg_get_partkeydef` of a partitioned table (e.g. `RANGE (created_at)`), else null. */
  partitionKey: string | null;
}

export interface RoleFacts {
  name: string;
  exists: boolean;
  superuser: boolean;
  bypassRls: boolean;
}

/** What a run reads of the database once, for every check that asks (not the isolation snapshot). */
export interface DatabaseFacts {
  /** Every tenant table: configured and discovered (see discovery.ts). */
  tables: TableFacts[];
  appRole: RoleFacts;
  /** `current_user` inside the probe transaction (after `SET LOCAL ROLE probeAsRole`). */
  probeRole: RoleFacts;
  sessionUser: string;
  connections: { used: number; max: number };
  /**
   * The context function (one argument, visible on the search_path): the declared type of its
   * argument (`character varying`, `text`, `uuid`, `integer`, `bigint`) and whether the canary's
   * role may execute it; null when contextFunction is null or there is none. Looked up once.
   */
  contextFunction: { argType: string; canExecute: boolean } | null;
}

export type DatabaseFactsResult = { ok: true; facts: DatabaseFacts } | { ok: false; reason: string };

/**
 * The functions the policies of relation `rel` call, and those these call (pg_depend, or the
 * function's name followed by `(` in the body), outside pg_catalog and information_schema.
 */
export const policyHelpersSql = (rel: string) => `COALESCE((
  WITH RECURSIVE fr(oid, depth) AS (
    SELECT d.refobjid, 1 FROM pg_policy p
    JOIN pg_depend d ON d.classid = 'pg_policy'::regclass AND d.objid = p.oid AND d.refclassid = 'pg_proc'::regclass
    WHERE p.polrelid = ${rel}
    UNION
    SELECT g.oid, fr.depth + 1
    FROM fr JOIN pg_proc f ON f.oid = fr.oid
    JOIN pg_proc g ON g.oid <> f.oid
     AND g.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
     AND g.proname ~ '^[a-z_][a-z0-9_]*$'
     AND (f.prosrc ~ ('(^|[^a-zA-Z0-9_$])"?' || g.proname || '"?\\s*\\(')
          OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = f.oid
                       AND d.refclassid = 'pg_proc'::regclass AND d.refobjid = g.oid))
    WHERE fr.depth <= ${MAX_HELPER_DEPTH} -- one deeper than followed: a chain too long is "undecided", not "reads nothing"
  )
  SELECT json_agg(json_build_object(
           'oid', f.oid::text, 'name', f.oid::regproc::text, 'proname', f.proname::text, 'language', l.lanname::text,
           'body', CASE WHEN f.prosqlbody IS NOT NULL THEN pg_get_functiondef(f.oid) ELSE f.prosrc END,
           'dependsOn', ARRAY(SELECT d.refobjid::text FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                AND d.objid = f.oid AND d.refclassid = 'pg_proc'::regclass)) ORDER BY f.oid)
  FROM (SELECT DISTINCT oid FROM fr) r JOIN pg_proc f ON f.oid = r.oid JOIN pg_language l ON l.oid = f.prolang
), '[]'::json)`;

/**
 * A policy of `p` as {@link PolicyFacts} (json), in a statement with `a` (the application role's
 * pg_roles row, or nulls) and `$7` (probeAsRole, or null).
 */
export const policyJson = `json_build_object(
                  'name', p.polname, 'permissive', p.polpermissive, 'command', p.polcmd,
                  'roles', ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r.oid)::text END
                                 FROM unnest(p.polroles) WITH ORDINALITY AS r(oid, n) ORDER BY r.n),
                  'appliesToApp', EXISTS (SELECT 1 FROM unnest(p.polroles) AS r(oid)
                                          WHERE r.oid = 0 OR (a.oid IS NOT NULL AND pg_has_role(a.oid, r.oid, 'USAGE'))
                                             OR ($7::text IS NOT NULL AND pg_has_role(current_user, r.oid, 'USAGE'))),
                  'using', pg_get_expr(p.polqual, p.polrelid),
                  'withCheck', pg_get_expr(p.polwithcheck, p.polrelid),
                  'functions', ARRAY(SELECT DISTINCT d.refobjid::text FROM pg_depend d
                                     WHERE d.classid = 'pg_policy'::regclass AND d.objid = p.oid
                                       AND d.refclassid = 'pg_proc'::regclass),
                  'relations', ARRAY(SELECT DISTINCT ${relationName('d.refobjid')} FROM pg_depend d
                                     WHERE d.classid = 'pg_policy'::regclass AND d.objid = p.oid
                                       AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> p.polrelid))`;

/**
 * The run's one statement over the tenant tables: discovery ($2..$6, discovery.ts) and, per
 * table, RLS flags, owner, policies and the functions they call, the probe role's privileges,
 * sequence-fed columns and the partition key. $1: the application role; $7: probeAsRole.
 */
const TABLES_SQL = `
WITH RECURSIVE ${discoveryCte(2)}
SELECT ${TENANT_TABLE_COLUMNS},
       COALESCE(c.relrowsecurity, false) AS row_security,
       COALESCE(c.relforcerowsecurity, false) AS force_row_security,
       pg_get_userbyid(c.relowner) AS owner,
       CASE WHEN c.oid IS NULL OR a.oid IS NULL THEN false ELSE pg_has_role(a.oid, c.relowner, 'MEMBER') END AS app_owns,
       CASE WHEN c.oid IS NULL THEN false ELSE pg_has_role(current_user, c.relowner, 'MEMBER') END AS probe_owns,
       COALESCE((SELECT json_agg(${policyJson} ORDER BY p.polname) FROM pg_policy p WHERE p.polrelid = c.oid), '[]'::json) AS policies,
       CASE WHEN c.oid IS NULL THEN '[]'::json ELSE ${policyHelpersSql('c.oid')} END AS helpers,
       json_build_object(
         'select', c.oid IS NOT NULL AND has_table_privilege(c.oid, 'SELECT'),
         'insert', c.oid IS NOT NULL AND has_table_privilege(c.oid, 'INSERT'),
         'update', c.oid IS NOT NULL AND has_table_privilege(c.oid, 'UPDATE')) AS probe_privileges,
       COALESCE((
         SELECT json_agg(json_build_object(
                  'column', sa.attname, 'type', format_type(sa.atttypid, sa.atttypmod),
                  'identity', CASE sa.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END) ORDER BY sa.attnum)
         FROM pg_attribute sa LEFT JOIN pg_attrdef ad ON ad.adrelid = sa.attrelid AND ad.adnum = sa.attnum
         WHERE sa.attrelid = c.oid AND sa.attnum > 0 AND NOT sa.attisdropped
           AND (sa.attidentity <> '' OR pg_get_expr(ad.adbin, ad.adrelid) ~ 'nextval\\(')), '[]'::json) AS sequence_columns,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key
FROM tenant_table t
LEFT JOIN pg_class c ON c.oid = t.oid
LEFT JOIN pg_roles a ON a.rolname = $1
ORDER BY ${TENANT_TABLE_ORDER}`;

/**
 * The context function by its configured name, split as the call quotes it (quoteIdent: each
 * dot-separated part as written): `schema.name` in that schema, a bare name as the search_path finds it.
 */
const ROLES_SQL = `
SELECT current_user::text AS current_role, session_user::text AS session_role,
       (SELECT json_agg(json_build_object('name', r.rolname, 'superuser', r.rolsuper, 'bypassRls', r.rolbypassrls))
          FROM pg_roles r WHERE r.rolname IN ($1, current_user)) AS roles,
       (SELECT count(*) FROM pg_stat_activity WHERE datid IS NOT NULL AND (backend_type = 'client backend' OR backend_type IS NULL))::int AS used,
       current_setting('max_connections')::int AS max,
       (SELECT json_build_object('argType', format_type(p.proargtypes[0], NULL),
                                 'canExecute', has_function_privilege(p.oid, 'EXECUTE'))
          FROM pg_proc p, LATERAL (SELECT string_to_array($2::text, '.') AS part) n
         WHERE p.proname = n.part[cardinality(n.part)] AND p.pronargs = 1
           AND CASE WHEN cardinality(n.part) = 2 THEN p.pronamespace = to_regnamespace(quote_ident(n.part[1]))
                    ELSE pg_function_is_visible(p.oid) END
         ORDER BY p.oid LIMIT 1) AS context_function`;

interface TableRow extends TenantTableRow {
  row_security: boolean;
  force_row_security: boolean;
  owner: string | null;
  app_owns: boolean;
  probe_owns: boolean;
  policies: PolicyFacts[];
  helpers: HelperFunction[];
  probe_privileges: TableFacts['probePrivileges'];
  sequence_columns: TableFacts['sequenceColumns'];
  partition_key: string | null;
}

interface RolesRow {
  current_role: string;
  session_role: string;
  roles: { name: string; superuser: boolean; bypassRls: boolean }[] | null;
  used: number;
  max: number;
  context_function: { argType: string; canExecute: boolean } | null;
}

export async function readDatabaseFacts(pg: PgPort, config: Config): Promise<DatabaseFacts> {
  const database = config.database!;
  return pg.inRolledBackTransaction({ role: database.probeAsRole }, async (session) => {
    const tables = await session.query<TableRow>(TABLES_SQL, [
      database.appRole,
      ...discoveryParams(discoveryScope(database)),
      database.probeAsRole,
    ]);
    const roles = await session.query<RolesRow>(ROLES_SQL, [database.appRole, database.contextFunction]);
    const row = roles.rows[0]!;
    const role = (name: string): RoleFacts => {
      const found = row.roles?.find((r) => r.name === name);
      return found ? { ...found, exists: true } : { name, exists: false, superuser: false, bypassRls: false };
    };
    return {
      tables: tables.rows.map((t) => ({
        ...tenantTableRef(t),
        rowSecurity: t.row_security,
        forceRowSecurity: t.force_row_security,
        owner: t.owner,
        appRoleOwns: t.app_owns,
        probeRoleOwns: t.probe_owns,
        policies: t.policies,
        helpers: t.helpers,
        probePrivileges: t.probe_privileges,
        sequenceColumns: t.sequence_columns,
        partitionKey: t.partition_key,
      })),
      appRole: role(database.appRole),
      probeRole: role(row.current_role),
      sessionUser: row.session_role,
      connections: { used: row.used, max: row.max },
      contextFunction: row.context_function,
    };
  });
}

/** The run's database facts, read once however many checks ask. */
export function databaseFacts(ctx: ProbeContext): Promise<DatabaseFactsResult> {
  return ctx.once('database-facts', async () => {
    const pg = ctx.ports.pg;
    if (!pg) return { ok: false, reason: 'no database connection configured' };
    try {
      return { ok: true, facts: await readDatabaseFacts(pg, ctx.config) };
    } catch (error) {
      return { ok: false, reason: `the database could not be read: ${describeDbError(error)}` };
    }
  });
}

/** Runs `judge` on the run's database facts, or reports why there are none. */
export async function withDatabaseFacts(
  ctx: ProbeContext,
  judge: (facts: DatabaseFacts) => Outcome | Promise<Outcome>,
): Promise<Outcome> {
  const result = await databaseFacts(ctx);
  return result.ok ? judge(result.facts) : errored(result.reason);
}

/** Whether a policy expression reads `setting` directly (helpers: see policy-reads.ts). */
export { readsSetting } from './policy-reads.ts';

/**
 * Why the canary's effective role could bypass RLS (so its data probes would prove nothing),
 * or null when it cannot.
 */
export function probeRoleBypass(facts: DatabaseFacts): string | null {
  const role = facts.probeRole;
  if (role.superuser) return `the canary's role ${role.name} is a superuser`;
  if (role.bypassRls) return `the canary's role ${role.name} has BYPASSRLS`;
  // An owner is subject to its table's policies under FORCE ROW LEVEL SECURITY.
  const owned = facts.tables.filter((t) => t.exists && t.probeRoleOwns && !t.forceRowSecurity).map((t) => t.name);
  if (owned.length > 0)
    return `the canary's role ${role.name} owns (or is a member of the owner of) ${owned.join(', ')} without FORCE ROW LEVEL SECURITY`;
  return null;
}

/**
 * For data probes: proceed only when the probe role is safe. Otherwise an `error` with the
 * reason: never a false pass nor a false P0.
 */
export async function whenProbeRoleSafe(
  ctx: ProbeContext,
  probe: (facts: DatabaseFacts) => Promise<Outcome>,
): Promise<Outcome> {
  const result = await databaseFacts(ctx);
  if (!result.ok) return errored(result.reason);
  const bypass = probeRoleBypass(result.facts);
  if (bypass !== null) {
    return errored(
      `${bypass}: row-level security does not apply to it, so this probe cannot decide (see canary.probe_role_safe)`,
      {
        probeRole: result.facts.probeRole.name,
      },
    );
  }
  return probe(result.facts);
}

/** SQL type names the context function's argument is cast to, by the catalog's `format_type`. */
const ARGUMENT_CASTS: Record<string, string> = {
  text: 'text',
  'character varying': 'varchar',
  uuid: 'uuid',
  integer: 'integer',
  bigint: 'bigint',
};

/**
 * `fn(<value>::<its declared argument type>)` (looked up once per run with the catalog), or
 * varchar as before when the catalog could not be read or the type is none of text, varchar,
 * uuid, integer, bigint.
 */
export async function contextCall(ctx: ProbeContext, fn: string, value: string): Promise<string> {
  const result = await databaseFacts(ctx);
  const declared = result.ok ? (result.facts.contextFunction?.argType ?? null) : null;
  const cast = ARGUMENT_CASTS[declared ?? 'character varying'] ?? 'varchar';
  return `SELECT ${quoteIdent(fn)}(${value}::${cast === 'varchar' || cast === 'text' ? cast : `text::${cast}`})`;
}
