/**
 * What the database says about itself, read once per run in one rolled-back transaction as the
 * canary's effective role: the tenant tables (RLS flags, owner, policies), the platform's
 * application role, the canary's own role, and connection use. Five platform checks read it.
 */
import type { Config } from '../core/config.ts';
import { errored } from '../core/results.ts';
import type { Outcome } from '../core/types.ts';
import { describeDbError, type PgPort } from '../ports.ts';
import type { ProbeContext } from './types.ts';

export interface PolicyFacts {
  name: string;
  permissive: boolean;
  command: string;
  using: string | null;
  withCheck: string | null;
}

export interface TableFacts {
  name: string;
  exists: boolean;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  owner: string | null;
  /** The application role is the owner or a member of it. */
  appRoleOwns: boolean;
  /** The canary's effective role is the owner or a member of it. */
  probeRoleOwns: boolean;
  policies: PolicyFacts[];
}

export interface RoleFacts {
  name: string;
  exists: boolean;
  superuser: boolean;
  bypassRls: boolean;
}

export interface DatabaseSnapshot {
  tables: TableFacts[];
  appRole: RoleFacts;
  /** `current_user` inside the probe transaction (after `SET LOCAL ROLE probeAsRole`). */
  probeRole: RoleFacts;
  sessionUser: string;
  connections: { used: number; max: number };
}

export type SnapshotResult = { ok: true; snapshot: DatabaseSnapshot } | { ok: false; reason: string };

const TABLES_SQL = `
SELECT t.name,
       c.oid IS NOT NULL AS exists,
       COALESCE(c.relrowsecurity, false) AS row_security,
       COALESCE(c.relforcerowsecurity, false) AS force_row_security,
       pg_get_userbyid(c.relowner) AS owner,
       CASE WHEN c.oid IS NULL OR a.oid IS NULL THEN false ELSE pg_has_role(a.oid, c.relowner, 'MEMBER') END AS app_owns,
       CASE WHEN c.oid IS NULL THEN false ELSE pg_has_role(current_user, c.relowner, 'MEMBER') END AS probe_owns,
       COALESCE((
         SELECT json_agg(json_build_object(
                  'name', p.polname, 'permissive', p.polpermissive, 'command', p.polcmd,
                  'using', pg_get_expr(p.polqual, p.polrelid),
                  'withCheck', pg_get_expr(p.polwithcheck, p.polrelid)) ORDER BY p.polname)
         FROM pg_policy p WHERE p.polrelid = c.oid), '[]'::json) AS policies
FROM unnest($1::text[]) WITH ORDINALITY AS t(name, ord)
LEFT JOIN pg_class c ON c.oid = to_regclass(t.name)
LEFT JOIN pg_roles a ON a.rolname = $2
ORDER BY t.ord`;

const ROLES_SQL = `
SELECT current_user::text AS current_role, session_user::text AS session_role,
       (SELECT json_agg(json_build_object('name', r.rolname, 'superuser', r.rolsuper, 'bypassRls', r.rolbypassrls))
          FROM pg_roles r WHERE r.rolname IN ($1, current_user)) AS roles,
       (SELECT count(*) FROM pg_stat_activity WHERE datid IS NOT NULL AND (backend_type = 'client backend' OR backend_type IS NULL))::int AS used,
       current_setting('max_connections')::int AS max`;

interface TableRow {
  name: string;
  exists: boolean;
  row_security: boolean;
  force_row_security: boolean;
  owner: string | null;
  app_owns: boolean;
  probe_owns: boolean;
  policies: PolicyFacts[];
}

interface RolesRow {
  current_role: string;
  session_role: string;
  roles: { name: string; superuser: boolean; bypassRls: boolean }[] | null;
  used: number;
  max: number;
}

export async function readSnapshot(pg: PgPort, config: Config): Promise<DatabaseSnapshot> {
  const database = config.database!;
  return pg.inRolledBackTransaction({ role: database.probeAsRole }, async (session) => {
    const tables = await session.query<TableRow>(TABLES_SQL, [database.tenantTables, database.appRole]);
    const roles = await session.query<RolesRow>(ROLES_SQL, [database.appRole]);
    const row = roles.rows[0]!;
    const role = (name: string): RoleFacts => {
      const found = row.roles?.find((r) => r.name === name);
      return found ? { ...found, exists: true } : { name, exists: false, superuser: false, bypassRls: false };
    };
    return {
      tables: tables.rows.map((t) => ({
        name: t.name,
        exists: t.exists,
        rowSecurity: t.row_security,
        forceRowSecurity: t.force_row_security,
        owner: t.owner,
        appRoleOwns: t.app_owns,
        probeRoleOwns: t.probe_owns,
        policies: t.policies,
      })),
      appRole: role(database.appRole),
      probeRole: role(row.current_role),
      sessionUser: row.session_role,
      connections: { used: row.used, max: row.max },
    };
  });
}

/** The run's snapshot, read once however many checks ask. */
export function databaseSnapshot(ctx: ProbeContext): Promise<SnapshotResult> {
  return ctx.once('database-snapshot', async () => {
    const pg = ctx.ports.pg;
    if (!pg) return { ok: false, reason: 'no database connection configured' };
    try {
      return { ok: true, snapshot: await readSnapshot(pg, ctx.config) };
    } catch (error) {
      return { ok: false, reason: `the database could not be read: ${describeDbError(error)}` };
    }
  });
}

/** Runs `judge` on the snapshot, or reports why there is none. */
export async function withSnapshot(
  ctx: ProbeContext,
  judge: (snapshot: DatabaseSnapshot) => Outcome,
): Promise<Outcome> {
  const result = await databaseSnapshot(ctx);
  return result.ok ? judge(result.snapshot) : errored(result.reason);
}

/** Whether a policy expression reads `setting` (`current_setting('<setting>'...)`). */
export function readsSetting(expression: string | null, setting: string): boolean {
  if (expression === null) return false;
  const escaped = setting.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`current_setting\\(\\s*'${escaped}'`).test(expression);
}

/**
 * Why the canary's effective role could bypass RLS (so its data probes would prove nothing),
 * or null when it cannot.
 */
export function probeRoleBypass(snapshot: DatabaseSnapshot): string | null {
  const role = snapshot.probeRole;
  if (role.superuser) return `the canary's role ${role.name} is a superuser`;
  if (role.bypassRls) return `the canary's role ${role.name} has BYPASSRLS`;
  const owned = snapshot.tables.filter((t) => t.exists && t.probeRoleOwns).map((t) => t.name);
  if (owned.length > 0)
    return `the canary's role ${role.name} owns (or is a member of the owner of) ${owned.join(', ')}`;
  return null;
}

/**
 * For data probes: proceed only when the probe role is safe. Otherwise an `error` with the
 * reason: never a false pass nor a false P0.
 */
export async function whenProbeRoleSafe(ctx: ProbeContext, probe: () => Promise<Outcome>): Promise<Outcome> {
  const result = await databaseSnapshot(ctx);
  if (!result.ok) return errored(result.reason);
  const bypass = probeRoleBypass(result.snapshot);
  if (bypass !== null) {
    return errored(
      `${bypass}: row-level security does not apply to it, so this probe cannot decide (see canary.probe_role_safe)`,
      {
        probeRole: result.snapshot.probeRole.name,
      },
    );
  }
  return probe();
}
