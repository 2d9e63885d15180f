/**
 * Row-level-security probes. Catalog checks read the run's database snapshot; data probes run
 * as the canary's effective role in rolled-back transactions, each with a positive control
 * (the tenant's own rows are visible) so that "0 rows" means something.
 */
import type { Config } from '../core/config.ts';
import { errored, skipped } from '../core/results.ts';
import type { Outcome } from '../core/types.ts';
import { describeDbError, quoteIdent, type SqlSession, sqlState } from '../ports.ts';
import { probeRoleBypass, readsSetting, type TableFacts, whenProbeRoleSafe, withSnapshot } from './database.ts';
import type { PlatformProbe, ProbeContext, TenantProbe } from './types.ts';

const OTHER_TENANT_SETTING = 'tenant_canary.other_tenant';
/** Used as "another tenant" when the config lists only one. */
const PLACEHOLDER_OTHER_TENANT = 'tenant-canary-other';

const fail = (summary: string, evidence: Record<string, unknown>): Outcome => ({ status: 'fail', summary, evidence });
const pass = (summary: string, evidence: Record<string, unknown> = {}): Outcome => ({
  status: 'pass',
  summary,
  evidence,
});

function missingTables(tables: TableFacts[]): Outcome | undefined {
  const missing = tables.filter((t) => !t.exists).map((t) => t.name);
  if (missing.length === 0) return undefined;
  return errored(
    `tenant table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found: check database.tenantTables`,
    {
      missing,
    },
  );
}

export const probeTablesEnabled: PlatformProbe = (ctx) =>
  withSnapshot(ctx, ({ tables }) => {
    const missing = missingTables(tables);
    if (missing) return missing;
    const off = tables.filter((t) => !t.rowSecurity).map((t) => t.name);
    if (off.length > 0) {
      return fail(
        `row-level security is DISABLED on ${off.join(', ')}: every tenant's rows there are visible to everyone`,
        {
          disabled: off,
        },
      );
    }
    return pass(`row-level security is enabled on all ${tables.length} tenant tables`, {
      tables: tables.map((t) => ({ table: t.name, force: t.forceRowSecurity })),
    });
  });

export const probePoliciesPresent: PlatformProbe = (ctx) =>
  withSnapshot(ctx, ({ tables }) => {
    const missing = missingTables(tables);
    if (missing) return missing;
    const setting = ctx.config.database!.tenantSetting;
    const without = tables
      .filter((t) => !t.policies.some((p) => readsSetting(p.using, setting) || readsSetting(p.withCheck, setting)))
      .map((t) => t.name);
    const evidence = {
      policies: tables.map((t) => ({ table: t.name, policies: t.policies.map((p) => p.name) })),
    };
    if (without.length > 0) {
      return fail(`no policy reading ${setting} on ${without.join(', ')}: tenant isolation is not defined there`, {
        ...evidence,
        withoutTenantPolicy: without,
      });
    }
    return pass(`every tenant table has a policy on ${setting}`, evidence);
  });

export const probeAppRoleEnforced: PlatformProbe = (ctx) =>
  withSnapshot(ctx, ({ tables, appRole }) => {
    const missing = missingTables(tables);
    if (missing) return missing;
    if (!appRole.exists) {
      return errored(`the application role ${appRole.name} does not exist: check database.appRole`);
    }
    const reasons: string[] = [];
    if (appRole.superuser) reasons.push('is a superuser');
    if (appRole.bypassRls) reasons.push('has BYPASSRLS');
    const ownedUnforced = tables.filter((t) => t.appRoleOwns && !t.forceRowSecurity).map((t) => t.name);
    if (!appRole.superuser && ownedUnforced.length > 0) {
      reasons.push(`owns ${ownedUnforced.join(', ')} without FORCE ROW LEVEL SECURITY`);
    }
    const evidence = {
      appRole: appRole.name,
      superuser: appRole.superuser,
      bypassRls: appRole.bypassRls,
      ownedWithoutForce: ownedUnforced,
    };
    if (reasons.length > 0) {
      return fail(
        `the application role ${appRole.name} ${reasons.join(' and ')}: row-level security does not apply to the platform itself`,
        evidence,
      );
    }
    return pass(`the application role ${appRole.name} is subject to row-level security`, evidence);
  });

export const probeProbeRoleSafe: PlatformProbe = (ctx) =>
  withSnapshot(ctx, (snapshot) => {
    const bypass = probeRoleBypass(snapshot);
    const evidence = { probeRole: snapshot.probeRole.name, sessionUser: snapshot.sessionUser };
    if (bypass !== null) {
      return fail(`${bypass}: the RLS data probes cannot prove isolation and report error until it is fixed`, evidence);
    }
    return pass(`the canary's role ${snapshot.probeRole.name} cannot bypass row-level security`, evidence);
  });

interface Visibility {
  table: string;
  own: boolean;
  other: string | null;
}

/**
 * One statement ($1 = the tenant): for each table, whether own rows and another tenant's rows
 * are visible. Both lookups lead with tenant_id, so each is an index probe under the policy.
 */
export function visibilitySql(tables: readonly string[]): string {
  const parts = tables.map(
    (table, i) =>
      `SELECT ${i} AS i, EXISTS (SELECT 1 FROM ${quoteIdent(table)} WHERE tenant_id = $1) AS own, ` +
      `(SELECT tenant_id::text FROM ${quoteIdent(table)} WHERE tenant_id IS DISTINCT FROM $1 LIMIT 1) AS other`,
  );
  return `${parts.join(' UNION ALL ')} ORDER BY i`;
}

async function visibility(session: SqlSession, config: Config, tenantId: string): Promise<Visibility[]> {
  const tables = config.database!.tenantTables;
  const result = await session.query<{ i: number; own: boolean; other: string | null }>(visibilitySql(tables), [
    tenantId,
  ]);
  return result.rows.map((row) => ({ table: tables[row.i]!, own: row.own, other: row.other }));
}

/** The tenant whose context positive controls use on platform checks: the first of the run. */
function controlTenant(ctx: ProbeContext): string | undefined {
  return ctx.tenants[0]?.tenantId ?? ctx.config.tenants[0]?.tenantId;
}

export const probeNoContextDenied: PlatformProbe = (ctx) =>
  whenProbeRoleSafe(ctx, async () => {
    const database = ctx.config.database!;
    const control = controlTenant(ctx);
    if (control === undefined) return skipped('no tenant to use as a positive control');
    try {
      return await ctx.ports.pg!.inRolledBackTransaction({ role: database.probeAsRole }, async (session) => {
        const seen: { table: string; rows: number | null; refused?: string }[] = [];
        let first = true;
        for (const table of database.tenantTables) {
          // Each table on its own savepoint: a policy that raises without context is a refusal.
          const prefix = first
            ? 'SAVEPOINT canary_probe'
            : 'ROLLBACK TO SAVEPOINT canary_probe; SAVEPOINT canary_probe';
          first = false;
          try {
            const results = await session.query(`${prefix}; SELECT count(*)::int AS n FROM ${quoteIdent(table)}`);
            const last = (Array.isArray(results) ? results.at(-1) : results) as { rows: { n: number }[] };
            seen.push({ table, rows: last.rows[0]?.n ?? 0 });
          } catch (error) {
            seen.push({ table, rows: null, refused: describeDbError(error) });
          }
        }
        await session.query('ROLLBACK TO SAVEPOINT canary_probe');
        const setting = await session.query('SELECT current_setting($1, true) AS value', [database.tenantSetting]);
        await session.query('SELECT set_config($1, $2, true)', [database.tenantSetting, control]);
        const own = await visibility(session, ctx.config, control);
        const evidence = {
          settingWithoutContext: (setting.rows[0] as { value: string | null } | undefined)?.value ?? null,
          withoutContext: seen,
          positiveControl: { tenantId: control, ownRowsVisibleIn: own.filter((v) => v.own).map((v) => v.table) },
        };
        if (!own.some((v) => v.own)) {
          return errored(
            `even in ${control}'s context no row is visible: the probe cannot tell isolation from missing grants or data`,
            evidence,
          );
        }
        const leaking = seen.filter((s) => (s.rows ?? 0) > 0);
        if (leaking.length > 0) {
          return fail(
            `with no tenant context, rows are visible in ${leaking.map((s) => `${s.table} (${s.rows})`).join(', ')}: the policies fail open`,
            evidence,
          );
        }
        return pass(`with no tenant context every tenant table shows 0 rows or refuses`, evidence);
      });
    } catch (error) {
      return errored(`the no-context probe could not run: ${describeDbError(error)}`);
    }
  });

export const probeContextFunction: TenantProbe = async (ctx) => {
  const database = ctx.config.database!;
  const fn = database.contextFunction;
  if (fn === null) return skipped('database.contextFunction is null');
  const tenantId = ctx.tenant.tenantId;
  try {
    return await ctx.ports.pg!.inRolledBackTransaction({ role: database.probeAsRole }, async (session) => {
      try {
        await session.query(`SELECT ${quoteIdent(fn)}($1::varchar)`, [tenantId]);
      } catch (error) {
        const state = sqlState(error);
        if (state === '42501') {
          return errored(`the canary's role may not execute ${fn}: grant EXECUTE to it`, { sqlState: state });
        }
        return fail(
          `${fn}('${tenantId}') raised: ${describeDbError(error)}; workers cannot set this tenant's context`,
          {
            sqlState: state ?? null,
          },
        );
      }
      const value = await session.query<{ value: string | null }>('SELECT current_setting($1, true) AS value', [
        database.tenantSetting,
      ]);
      const got = value.rows[0]?.value ?? null;
      if (got !== tenantId) {
        return fail(`${fn}('${tenantId}') left ${database.tenantSetting} = ${JSON.stringify(got)}, not the tenant`, {
          setting: got,
        });
      }
      return pass(`${fn} sets ${database.tenantSetting} to the tenant`);
    });
  } catch (error) {
    return errored(`the context-function probe could not run: ${describeDbError(error)}`);
  }
};

export const probeCrossTenantRead: TenantProbe = (ctx) =>
  whenProbeRoleSafe(ctx, async () => {
    const database = ctx.config.database!;
    const tenantId = ctx.tenant.tenantId;
    try {
      return await ctx.ports.pg!.inRolledBackTransaction(
        { role: database.probeAsRole, settings: { [database.tenantSetting]: tenantId } },
        async (session) => {
          const seen = await visibility(session, ctx.config, tenantId);
          const evidence = {
            tables: seen.map((v) => ({ table: v.table, ownRowsVisible: v.own, otherTenantSeen: v.other })),
          };
          const leaks = seen.filter((v) => v.other !== null);
          if (leaks.length > 0) {
            return fail(
              `in ${tenantId}'s context, rows of other tenants are visible in ${leaks.map((v) => `${v.table} (e.g. tenant ${v.other})`).join(', ')}`,
              evidence,
            );
          }
          if (!seen.some((v) => v.own)) {
            return errored(
              `in ${tenantId}'s context none of its own rows is visible, so seeing no other tenant proves nothing`,
              evidence,
            );
          }
          return pass(`in ${tenantId}'s context only its own rows are visible`, evidence);
        },
      );
    } catch (error) {
      return errored(`the cross-tenant read probe could not run: ${describeDbError(error)}`);
    }
  });

/** The cursor over one own row that the move updates. */
const OWN_ROW_CURSOR = 'tenant_canary_own_row';

/**
 * The two write attempts on `table`, parameter-free: the tenant and the other tenant travel in
 * transaction settings.
 *
 * Neither statement reads a column of the table. An UPDATE or INSERT that reads one (in its
 * WHERE, SET or RETURNING) needs SELECT rights, and PostgreSQL then also checks the new row
 * against the SELECT policies: a tenant-scoped SELECT policy would refuse the move even when
 * the UPDATE policy's WITH CHECK is open, hiding the hole. So the move takes one own row through
 * a cursor (`ownRow`: the tenant_id index, `FOR UPDATE` so only a row the UPDATE policies let
 * this tenant touch) and updates it `WHERE CURRENT OF` that cursor, which reads nothing: the
 * new row meets only the UPDATE policies' WITH CHECK, as the platform's own UPDATE would.
 */
export function crossTenantWriteSql(
  table: string,
  tenantSetting: string,
): { ownRow: string; move: string; insert: string } {
  const t = quoteIdent(table);
  const current = `current_setting('${tenantSetting}')`;
  const target = `current_setting('${OTHER_TENANT_SETTING}')`;
  const ownRow = `SELECT 1 FROM ${t} WHERE tenant_id = ${current} LIMIT 1 FOR UPDATE`;
  return {
    ownRow,
    move:
      `DECLARE ${OWN_ROW_CURSOR} CURSOR FOR ${ownRow}; FETCH 1 FROM ${OWN_ROW_CURSOR}; ` +
      `UPDATE ${t} SET tenant_id = ${target} WHERE CURRENT OF ${OWN_ROW_CURSOR}`,
    insert: `INSERT INTO ${t} (tenant_id) VALUES (${target})`,
  };
}

/** `WHERE CURRENT OF` a cursor that found no row: the tenant has no own row here to move. */
const NO_CURSOR_ROW = '24000';

/** SQLSTATEs raised after RLS let a row through (constraints are checked after policies). */
const AFTER_POLICY_STATES = new Set(['23502', '23503', '23505', '23514', '23P01']);

type WriteVerdict = 'refused' | 'permitted' | 'no-own-row' | 'error';

interface WriteAttempt {
  table: string;
  attempt: 'move own row to another tenant' | 'insert a row for another tenant';
  verdict: WriteVerdict;
  detail: string;
}

export const probeCrossTenantWrite: TenantProbe = (ctx) =>
  whenProbeRoleSafe(ctx, async () => {
    const database = ctx.config.database!;
    const tenantId = ctx.tenant.tenantId;
    const other = ctx.config.tenants.find((t) => t.tenantId !== tenantId)?.tenantId ?? PLACEHOLDER_OTHER_TENANT;
    try {
      return await ctx.ports.pg!.inRolledBackTransaction(
        { role: database.probeAsRole, settings: { [database.tenantSetting]: tenantId, [OTHER_TENANT_SETTING]: other } },
        async (session) => {
          const attempts: WriteAttempt[] = [];
          let first = true;
          // Values travel in transaction settings, so each attempt is one parameter-free statement
          // on its own savepoint; a refused attempt does not end the transaction.
          const attempt = async (table: string, kind: WriteAttempt['attempt'], sql: string) => {
            const prefix = first
              ? 'SAVEPOINT canary_probe'
              : 'ROLLBACK TO SAVEPOINT canary_probe; SAVEPOINT canary_probe';
            first = false;
            try {
              const results = await session.query(`${prefix}; ${sql}`);
              const last = (Array.isArray(results) ? results.at(-1) : results) as { rowCount: number | null };
              const rows = last.rowCount ?? 0;
              if (rows === 0) {
                const verdict: WriteVerdict = kind.startsWith('move') ? 'no-own-row' : 'refused';
                attempts.push({ table, attempt: kind, verdict, detail: '0 rows touched' });
              } else {
                attempts.push({ table, attempt: kind, verdict: 'permitted', detail: `${rows} row(s) written` });
              }
            } catch (error) {
              const state = sqlState(error);
              if (state === NO_CURSOR_ROW && kind.startsWith('move'))
                attempts.push({ table, attempt: kind, verdict: 'no-own-row', detail: 'no own row to move' });
              else if (state === '42501')
                attempts.push({ table, attempt: kind, verdict: 'refused', detail: describeDbError(error) });
              else if (state !== undefined && AFTER_POLICY_STATES.has(state)) {
                attempts.push({
                  table,
                  attempt: kind,
                  verdict: 'permitted',
                  detail: `the policy let the row through; only a constraint stopped it: ${describeDbError(error)}`,
                });
              } else attempts.push({ table, attempt: kind, verdict: 'error', detail: describeDbError(error) });
            }
          };
          for (const table of database.tenantTables) {
            const sql = crossTenantWriteSql(table, database.tenantSetting);
            await attempt(table, 'move own row to another tenant', sql.move);
            await attempt(table, 'insert a row for another tenant', sql.insert);
          }
          const evidence = { otherTenant: other, attempts };
          const permitted = attempts.filter((a) => a.verdict === 'permitted');
          if (permitted.length > 0) {
            return fail(
              `in ${tenantId}'s context, writing as tenant ${other} was allowed: ${permitted.map((a) => `${a.attempt} in ${a.table}`).join('; ')} (rolled back)`,
              evidence,
            );
          }
          const errors = attempts.filter((a) => a.verdict === 'error');
          if (errors.length > 0) {
            return errored(
              `some write attempts could not be judged: ${errors.map((a) => `${a.table}: ${a.detail}`).join('; ')}`,
              evidence,
            );
          }
          if (!attempts.some((a) => a.attempt.startsWith('move') && a.verdict === 'refused')) {
            // Inserts were refused, but no own row was there to try moving: say so, still a pass on inserts.
            return pass(
              `in ${tenantId}'s context inserts as another tenant are refused (no own row to try moving)`,
              evidence,
            );
          }
          return pass(`in ${tenantId}'s context every write as another tenant is refused or touches 0 rows`, evidence);
        },
      );
    } catch (error) {
      return errored(`the cross-tenant write probe could not run: ${describeDbError(error)}`);
    }
  });
