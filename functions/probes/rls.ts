/**
 * Row-level-security probes. Catalog checks read the run's database facts; data probes run
 * as the canary's effective role in rolled-back transactions, each with a positive control
 * (the tenant's own rows are visible) so that "0 rows" means something.
 */
import { errored, skipped } from '../core/results.ts';
import type { Outcome } from '../core/types.ts';
import { describeDbError, quoteIdent, type SqlSession, sqlState } from '../ports.ts';
import {
  contextCall,
  type DatabaseFacts,
  probeRoleBypass,
  type TableFacts,
  whenProbeRoleSafe,
  withDatabaseFacts,
} from './database.ts';
import { asTenantType, fitsTenantType, howFound, type TenantTableRef } from './discovery.ts';
import { describeReading, openPolicies, tableReading } from './policy-reads.ts';
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

/** How each table was found, for the evidence of every isolation check. */
const found = (t: TableFacts) => ({ table: t.name, ...howFound(t) });

export const probeTablesEnabled: PlatformProbe = (ctx) =>
  withDatabaseFacts(ctx, ({ tables }) => {
    const missing = missingTables(tables);
    if (missing) return missing;
    const off = tables.filter((t) => !t.rowSecurity);
    const evidence = {
      tables: tables.map((t) => ({ ...found(t), rowSecurity: t.rowSecurity, force: t.forceRowSecurity })),
    };
    if (off.length > 0) {
      return fail(
        `row-level security is DISABLED on ${off.map((t) => t.name).join(', ')}: every tenant's rows there are visible to everyone`,
        { ...evidence, disabled: off.map((t) => t.name), disabledFound: off.map(found) },
      );
    }
    return pass(`row-level security is enabled on all ${tables.length} tenant tables`, evidence);
  });

interface TablePolicyVerdict {
  table: string;
  found: string;
  path?: string[];
  policies: string[];
  /** How the verdict was reached: by the policies' text, or by the live probe where the text cannot decide. */
  decidedBy: 'text' | 'live probe';
  readsSetting: boolean | 'undecided';
  how: string;
  /** Permissive read policies for the application role that read no tenant setting (policy-reads.ts openPolicies). */
  openPolicies?: string[];
}

export const probePoliciesPresent: PlatformProbe = (ctx) =>
  withDatabaseFacts(ctx, async (facts) => {
    const { tables } = facts;
    const missing = missingTables(tables);
    if (missing) return missing;
    const setting = ctx.config.database!.tenantSetting;
    const verdicts: TablePolicyVerdict[] = tables.map((t) => {
      const reading = tableReading(t, tables, setting);
      const open = openPolicies(t, tables, setting);
      return {
        ...found(t),
        policies: t.policies.map((p) => p.name),
        decidedBy: 'text',
        readsSetting: reading.reads,
        how: describeReading(reading),
        ...(open.length > 0 ? { openPolicies: open } : {}),
      };
    });
    const undecided = verdicts.filter((v) => v.readsSetting === 'undecided');
    if (undecided.length > 0) {
      // Only tables the canary may read (with their foreign-key paths): a refused read decides
      // nothing; and only as a role subject to RLS, or what it sees is not what the policies allow.
      const { readable } = readableTables(facts);
      const live =
        probeRoleBypass(facts) === null
          ? await liveDecision(
              ctx,
              readable.filter((t) => undecided.some((u) => u.table === t.name)),
            )
          : new Map<string, Visibility>();
      for (const verdict of undecided) {
        const seen = live.get(verdict.table);
        verdict.decidedBy = 'live probe';
        if (seen === undefined) verdict.how += '; the live probe could not run';
        else if (seen.other !== null) {
          verdict.readsSetting = false;
          verdict.how += `; the live probe saw tenant ${seen.other}'s rows in another tenant's context`;
        } else if (seen.own === true) {
          verdict.readsSetting = true;
          verdict.how += "; the live probe saw only the control tenant's own rows";
        } else verdict.how += '; the live probe saw no own row, so it cannot decide';
      }
    }
    const evidence = { tables: verdicts };
    const opened = verdicts.filter((v) => v.openPolicies !== undefined);
    if (opened.length > 0) {
      return fail(
        `${opened
          .map((v) => `polic${v.openPolicies!.length > 1 ? 'ies' : 'y'} ${v.openPolicies!.join(', ')} on ${v.table}`)
          .join(
            '; ',
          )} let the application role read rows without reading ${setting}: permissive policies OR together, so every tenant's rows are visible to it`,
        {
          ...evidence,
          openPolicies: opened.map((v) => ({ table: v.table, policies: v.openPolicies })),
          withoutTenantPolicy: verdicts.filter((v) => v.readsSetting === false).map((v) => v.table),
        },
      );
    }
    const without = verdicts.filter((v) => v.readsSetting === false).map((v) => v.table);
    if (without.length > 0) {
      return fail(`no policy reading ${setting} on ${without.join(', ')}: tenant isolation is not defined there`, {
        ...evidence,
        withoutTenantPolicy: without,
      });
    }
    const open = verdicts.filter((v) => v.readsSetting === 'undecided');
    if (open.length > 0) {
      return errored(
        `whether the policies on ${open.map((v) => v.table).join(', ')} read ${setting} could not be decided, by their text or by the live probe`,
        evidence,
      );
    }
    return pass(`every tenant table has a policy on ${setting}`, evidence);
  });

/** Where the policies' text cannot decide: what the control tenant sees in those tables, in its context. */
async function liveDecision(ctx: ProbeContext, tables: TableFacts[]): Promise<Map<string, Visibility>> {
  const database = ctx.config.database!;
  const control = controlTenant(ctx);
  const out = new Map<string, Visibility>();
  if (control === undefined || ctx.ports.pg === undefined) return out;
  try {
    const seen = await ctx.ports.pg.inRolledBackTransaction(
      { role: database.probeAsRole, settings: { [database.tenantSetting]: control } },
      (session) => visibility(session, tables, database.tenantColumn, control),
    );
    for (const v of seen) out.set(v.table, v);
  } catch {
    // Undecided stays undecided: the check says the live probe could not run.
  }
  return out;
}

export const probeAppRoleEnforced: PlatformProbe = (ctx) =>
  withDatabaseFacts(ctx, ({ tables, appRole }) => {
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
      tables: tables.map(found),
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
  withDatabaseFacts(ctx, (facts) => {
    const bypass = probeRoleBypass(facts);
    const evidence = { probeRole: facts.probeRole.name, sessionUser: facts.sessionUser };
    if (bypass !== null) {
      return fail(`${bypass}: the RLS data probes cannot prove isolation and report error until it is fixed`, evidence);
    }
    return pass(`the canary's role ${facts.probeRole.name} cannot bypass row-level security`, evidence);
  });

interface Visibility {
  table: string;
  /** Own rows visible; null when the table was not probed (see `note`). */
  own: boolean | null;
  other: string | null;
  note?: string;
}

/** What the read probes need of a table: its name, how it was found, and its tenant column's type. */
export type VisibilityTarget = Pick<TenantTableRef, 'name' | 'sqlName' | 'found' | 'hops' | 'tenantColumnType'>;

/**
 * A tenant table as SQL text: the catalog's own (quoted where needed, so "Invoice" is not invoice
 * and a dot in a name is not a schema), else the configured name quoted part by part.
 */
export const relationSql = (table: Pick<TenantTableRef, 'name' | 'sqlName'>): string =>
  table.sqlName == null ? quoteIdent(table.name) : catalogRelation(table.sqlName);

/**
 * A catalog name (regclass text) as SQL, every part quoted: one without quotes is plain lowercase
 * identifiers (at most schema.table), so quoting each part names the same relation.
 */
const catalogRelation = (name: string): string => (name.includes('"') ? name : quoteIdent(name));

/** What `other` holds for a child row whose parent row is not visible in the tenant's context. */
export const PARENT_NOT_VISIBLE = '(a row whose parent row is not visible)';

/** Why a table's rows cannot be attributed to this tenant, or null when they can. */
function notProbed(table: VisibilityTarget, tenantId: string): string | null {
  if (table.found === 'configured') return 'no tenant column and no foreign key to a tenant table: not read-probed';
  if (asTenantType('$1', table.tenantColumnType) === null) {
    return `the tenant column's type ${table.tenantColumnType} is not one the probes compare: not read-probed`;
  }
  if (!fitsTenantType(tenantId, table.tenantColumnType)) {
    return `the tenant id is not a value of the tenant column's type ${table.tenantColumnType}: not read-probed`;
  }
  return null;
}

/** Own and other rows of one table, as two scalar subqueries over `$1` (the tenant). */
function visibilityParts(table: VisibilityTarget, column: string): { own: string; other: string } {
  const value = asTenantType('$1', table.tenantColumnType)!;
  const col = quoteIdent(column);
  const t = relationSql(table);
  if (table.found !== 'fk') {
    return {
      own: `EXISTS (SELECT 1 FROM ${t} WHERE ${col} = ${value})`,
      // NOT NULL first: a visible row with no tenant value is not another tenant's, and must not
      // be the one row LIMIT 1 picks while another tenant's rows are visible too.
      other: `(SELECT ${col}::text FROM ${t} WHERE ${col} IS NOT NULL AND ${col} <> ${value} LIMIT 1)`,
    };
  }
  // A child row belongs to the tenant its foreign keys lead to; a parent it cannot see is another tenant's.
  const joins = (kind: 'JOIN' | 'LEFT JOIN') =>
    table.hops
      .map((hop, i) => {
        const on = hop.columns
          .map((c, k) => `h${i + 1}.${quoteIdent(hop.refColumns[k]!)} = h${i}.${quoteIdent(c)}`)
          .join(' AND ');
        // Hop names are the catalog's (regclass text): already SQL for exactly that relation.
        return `${kind} ${catalogRelation(hop.to)} h${i + 1} ON ${on}`;
      })
      .join(' ');
  const last = `h${table.hops.length}.${col}`;
  // A parent is not visible where a hop's foreign key is set (every column NOT NULL, which also
  // means that row was reached) and its join missed. A NULL foreign key at any hop leads nowhere,
  // and a visible parent whose tenant value is NULL is nobody's: neither is another tenant's row.
  const missed = table.hops
    .map((hop, i) => {
      const set = hop.columns.map((c) => `h${i}.${quoteIdent(c)} IS NOT NULL`).join(' AND ');
      return `(${set} AND h${i + 1}.${quoteIdent(hop.refColumns[0]!)} IS NULL)`;
    })
    .join(' OR ');
  return {
    own: `EXISTS (SELECT 1 FROM ${t} h0 ${joins('JOIN')} WHERE ${last} = ${value})`,
    other:
      `(SELECT COALESCE(${last}::text, '${PARENT_NOT_VISIBLE}') FROM ${t} h0 ${joins('LEFT JOIN')} ` +
      `WHERE ${missed} OR (${last} IS NOT NULL AND ${last} <> ${value}) LIMIT 1)`,
  };
}

/**
 * One statement ($1 = the tenant): for each table, whether own rows and another tenant's rows
 * are visible. Both lookups lead with the tenant column (in its own type), so each is an index
 * probe under the policy. A table found by foreign key is read through its path: a visible child
 * row whose parent is not visible, or leads to another tenant, is another tenant's.
 */
export function visibilitySql(tables: readonly VisibilityTarget[], column: string, tenantId?: string): string {
  const parts = tables.map((table, i) => {
    const skip = tenantId === undefined ? null : notProbed(table, tenantId);
    if (skip !== null || (table.found === 'configured' && tenantId === undefined)) {
      return `SELECT ${i} AS i, NULL::boolean AS own, NULL::text AS other`;
    }
    const { own, other } = visibilityParts(table, column);
    return `SELECT ${i} AS i, ${own} AS own, ${other} AS other`;
  });
  return `${parts.join(' UNION ALL ')} ORDER BY i`;
}

async function visibility(
  session: SqlSession,
  tables: readonly VisibilityTarget[],
  column: string,
  tenantId: string,
): Promise<Visibility[]> {
  if (tables.length === 0) return [];
  const result = await session.query<{ i: number; own: boolean | null; other: string | null }>(
    visibilitySql(tables, column, tenantId),
    [tenantId],
  );
  return result.rows.map((row) => {
    const table = tables[row.i]!;
    const note = notProbed(table, tenantId);
    return { table: table.name, own: row.own, other: row.other, ...(note === null ? {} : { note }) };
  });
}

/** A table the read probes cannot judge: the canary's role may not SELECT it (or a table on its path). */
interface NotReadable {
  table: string;
  lacks: string[];
  grant: string;
}

/**
 * Splits the tables into those the canary's role may read (with every table on a foreign-key
 * path) and those it may not: a read refused for want of SELECT proves nothing about RLS.
 */
function readableTables(facts: DatabaseFacts): { readable: TableFacts[]; notReadable: NotReadable[] } {
  const existing = facts.tables.filter((t) => t.exists);
  const canRead = (name: string) => facts.tables.find((t) => t.name === name)?.probePrivileges.select ?? true;
  const readable: TableFacts[] = [];
  const notReadable: NotReadable[] = [];
  for (const table of existing) {
    const lacks = [table.name, ...table.path.slice(1)].filter((name) => !canRead(name));
    if (lacks.length === 0) readable.push(table);
    else {
      const role = quoteIdent(facts.probeRole.name);
      notReadable.push({
        table: table.name,
        lacks,
        grant: lacks
          .map(
            (name) => `GRANT SELECT ON ${name === table.name ? relationSql(table) : catalogRelation(name)} TO ${role};`,
          )
          .join(' '),
      });
    }
  }
  return { readable, notReadable };
}

/** The `error` for reads not proven for want of SELECT (when nothing failed). */
function notProvenReads(what: string, notReadable: NotReadable[], evidence: Record<string, unknown>): Outcome {
  return errored(
    `${what} is not proven on ${notReadable.map((n) => n.table).join(', ')}: the canary's role may not SELECT ${[
      ...new Set(notReadable.flatMap((n) => n.lacks)),
    ].join(', ')} (${[...new Set(notReadable.map((n) => n.grant))].join(' ')})`,
    { ...evidence, notProven: notReadable },
  );
}

/** The tenant whose context positive controls use on platform checks: the first of the run. */
function controlTenant(ctx: ProbeContext): string | undefined {
  return ctx.tenants[0]?.tenantId ?? ctx.config.tenants[0]?.tenantId;
}

/** Rows the no-context probe counts at most per table (it only needs to know whether any is visible). */
const NO_CONTEXT_COUNT_CAP = 1000;

export const probeNoContextDenied: PlatformProbe = (ctx) =>
  whenProbeRoleSafe(ctx, async (facts) => {
    const database = ctx.config.database!;
    const { readable: tables, notReadable } = readableTables(facts);
    const control = controlTenant(ctx);
    if (control === undefined) return skipped('no tenant to use as a positive control');
    try {
      return await ctx.ports.pg!.inRolledBackTransaction({ role: database.probeAsRole }, async (session) => {
        const seen: { table: string; found: string; path?: string[]; rows: number | null; refused?: string }[] = [];
        let first = true;
        for (const table of tables) {
          // Each table on its own savepoint: a policy that raises without context is a refusal.
          const prefix = first
            ? 'SAVEPOINT canary_probe'
            : 'ROLLBACK TO SAVEPOINT canary_probe; SAVEPOINT canary_probe';
          first = false;
          try {
            // Counted up to NO_CONTEXT_COUNT_CAP: a table without RLS is not scanned whole.
            const results = await session.query(
              `${prefix}; SELECT count(*)::int AS n FROM (SELECT FROM ${relationSql(table)} LIMIT ${NO_CONTEXT_COUNT_CAP}) AS seen`,
            );
            const last = (Array.isArray(results) ? results.at(-1) : results) as { rows: { n: number }[] };
            seen.push({ ...found(table), rows: last.rows[0]?.n ?? 0 });
          } catch (error) {
            seen.push({ ...found(table), rows: null, refused: describeDbError(error) });
          }
        }
        await session.query('ROLLBACK TO SAVEPOINT canary_probe');
        const setting = await session.query('SELECT current_setting($1, true) AS value', [database.tenantSetting]);
        await session.query('SELECT set_config($1, $2, true)', [database.tenantSetting, control]);
        const own = await visibility(session, tables, database.tenantColumn, control);
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
            `with no tenant context, rows are visible in ${leaking.map((s) => `${s.table} (${s.rows}${s.rows === NO_CONTEXT_COUNT_CAP ? '+' : ''})`).join(', ')}: the policies fail open`,
            { ...evidence, ...(notReadable.length > 0 ? { notProven: notReadable } : {}) },
          );
        }
        if (notReadable.length > 0) return notProvenReads('isolation without a tenant context', notReadable, evidence);
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
  const call = await contextCall(ctx, fn, '$1');
  try {
    // The platform's function may leave session state (an advisory lock) that a ROLLBACK keeps: reset.
    const transaction = { role: database.probeAsRole, resetSession: true };
    return await ctx.ports.pg!.inRolledBackTransaction(transaction, async (session) => {
      try {
        await session.query(call, [tenantId]);
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
  whenProbeRoleSafe(ctx, async (facts) => {
    const database = ctx.config.database!;
    const tenantId = ctx.tenant.tenantId;
    const { readable: tables, notReadable } = readableTables(facts);
    try {
      return await ctx.ports.pg!.inRolledBackTransaction(
        { role: database.probeAsRole, settings: { [database.tenantSetting]: tenantId } },
        async (session) => {
          const seen = await visibility(session, tables, database.tenantColumn, tenantId);
          const evidence = {
            tables: seen.map((v, i) => ({
              ...found(tables[i]!),
              ownRowsVisible: v.own,
              otherTenantSeen: v.other,
              ...(v.note === undefined ? {} : { note: v.note }),
            })),
          };
          const leaks = seen.filter((v) => v.other !== null);
          if (leaks.length > 0) {
            return fail(
              `in ${tenantId}'s context, rows of other tenants are visible in ${leaks.map((v) => `${v.table} (e.g. ${v.other === PARENT_NOT_VISIBLE ? v.other : `tenant ${v.other}`})`).join(', ')}`,
              { ...evidence, ...(notReadable.length > 0 ? { notProven: notReadable } : {}) },
            );
          }
          if (notReadable.length > 0) {
            return notProvenReads(`${tenantId}'s isolation from other tenants`, notReadable, evidence);
          }
          // A table with a tenant value the probe could not compare (its type, or this tenant's id
          // not being a value of it) was not looked at: not proven, never "only its own rows".
          const unprobed = seen.filter((v, i) => v.note !== undefined && tables[i]!.found !== 'configured');
          if (unprobed.length > 0) {
            return errored(
              `${tenantId}'s isolation from other tenants is not proven on ${unprobed.map((v) => `${v.table} (${v.note})`).join(', ')}`,
              { ...evidence, notProven: unprobed.map((v) => ({ table: v.table, note: v.note })) },
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
 * What the write probe must know about each table before it writes, read in one statement at the
 * start of its transaction ($1 = the tables, $2 = the tenant column), as the role it writes as:
 * the tenant column's type; whether that role may SELECT/UPDATE the tenant column and INSERT
 * every column the insert supplies (privileges are checked before policies, so a write it may
 * not make proves nothing); the partition key columns up and down the partition tree (rows
 * route to a partition before any policy is consulted); the columns whose defaults call
 * `nextval` (serial, identity: a default is evaluated before the policy, and `nextval` is not
 * rolled back); and, for the evidence, what else runs before the policy: BEFORE ROW triggers and
 * defaults calling the platform's own functions.
 */
export const CROSS_TENANT_WRITE_FACTS_SQL = `SELECT t.i::int AS i, c.oid IS NOT NULL AS found, c.relkind::text AS kind,
  coalesce(c.relispartition, false) AS is_partition, current_user::text AS role,
  a.attnum IS NOT NULL AS has_column,
  quote_ident(bn.nspname) || '.' || quote_ident(bt.typname) AS cast_type, bt.typname::text AS base_type,
  coalesce(has_column_privilege(c.oid, a.attnum, 'SELECT'), false) AS can_select,
  coalesce(has_column_privilege(c.oid, a.attnum, 'UPDATE'), false) AS can_update,
  coalesce(has_column_privilege(c.oid, a.attnum, 'INSERT') AND (SELECT coalesce(bool_and(has_column_privilege(c.oid, col, 'INSERT')), true)
    FROM unnest(seq.cols || keys.cols || fdef.cols) AS col), false) AS can_insert,
  keys.cols AS partition_keys, keys.expr AS partition_key_expression,
  seq.cols AS sequence_columns, seq.always AS identity_always,
  trg.names AS before_triggers, trg.sources AS before_trigger_sources, fdef.cols AS function_defaults
FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)
LEFT JOIN pg_class c ON c.oid = to_regclass(t.name)
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type ty ON ty.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END
LEFT JOIN pg_namespace bn ON bn.oid = bt.typnamespace
LEFT JOIN LATERAL (
  SELECT coalesce(array_agg(DISTINCT ka.attname::text) FILTER (WHERE k.attnum <> 0 AND ka.attname <> $2), '{}') AS cols,
    coalesce(bool_or(k.attnum = 0), false) AS expr
  FROM (SELECT relid FROM pg_partition_ancestors(c.oid) UNION SELECT relid FROM pg_partition_tree(c.oid)) AS pt
  JOIN pg_partitioned_table p ON p.partrelid = pt.relid
  CROSS JOIN LATERAL unnest(p.partattrs::int2[]) AS k(attnum)
  LEFT JOIN pg_attribute ka ON ka.attrelid = pt.relid AND ka.attnum = k.attnum
) AS keys ON true
LEFT JOIN LATERAL (
  SELECT coalesce(array_agg(sa.attname::text ORDER BY sa.attnum), '{}') AS cols, coalesce(bool_or(sa.attidentity = 'a'), false) AS always
  FROM pg_attribute sa LEFT JOIN pg_attrdef sd ON sd.adrelid = sa.attrelid AND sd.adnum = sa.attnum
  WHERE sa.attrelid = c.oid AND sa.attnum > 0 AND NOT sa.attisdropped AND sa.attname <> $2
    AND (sa.attidentity <> '' OR pg_get_expr(sd.adbin, sd.adrelid) ~* 'nextval\\s*\\(')
) AS seq ON true
LEFT JOIN LATERAL (
  SELECT coalesce(array_agg(tg.tgname::text ORDER BY tg.tgname), '{}') AS names,
    coalesce(array_agg(coalesce(tp.prosrc, '') ORDER BY tg.tgname), '{}') AS sources
  FROM pg_trigger tg LEFT JOIN pg_proc tp ON tp.oid = tg.tgfoid
  WHERE tg.tgrelid = c.oid AND NOT tg.tgisinternal AND tg.tgenabled <> 'D'
    AND tg.tgtype & 3 = 3 AND tg.tgtype & 20 <> 0
) AS trg ON true
LEFT JOIN LATERAL (
  SELECT coalesce(array_agg(DISTINCT fa.attname::text), '{}') AS cols
  FROM pg_attrdef fd JOIN pg_attribute fa ON fa.attrelid = fd.adrelid AND fa.attnum = fd.adnum
  JOIN pg_depend dp ON dp.classid = 'pg_attrdef'::regclass AND dp.objid = fd.oid
    AND dp.refclassid = 'pg_proc'::regclass AND dp.refobjid >= 16384
  WHERE fd.adrelid = c.oid AND NOT fa.attisdropped AND NOT EXISTS (SELECT 1 FROM pg_depend e
    WHERE e.classid = 'pg_proc'::regclass AND e.objid = dp.refobjid AND e.deptype = 'e')
) AS fdef ON true
ORDER BY t.i`;

interface WriteFactsRow {
  i: number;
  found: boolean;
  kind: string | null;
  is_partition: boolean;
  role: string;
  has_column: boolean;
  cast_type: string | null;
  base_type: string | null;
  can_select: boolean;
  can_update: boolean;
  can_insert: boolean;
  partition_keys: string[] | null;
  partition_key_expression: boolean | null;
  sequence_columns: string[] | null;
  identity_always: boolean | null;
  before_triggers: string[] | null;
  /** The bodies of `before_triggers`' functions, in the same order. */
  before_trigger_sources: string[] | null;
  function_defaults: string[] | null;
}

/** How the write statements of one table are shaped (from {@link CROSS_TENANT_WRITE_FACTS_SQL}). */
export interface WriteShape {
  /** The tenant column (default tenant_id). */
  column?: string;
  /** The tenant column's (base) type, schema-qualified, to cast the settings to; none: compared as text. */
  castType?: string | null;
  /** The other tenant as a literal of the column's type, when the setting's value does not fit it. */
  otherLiteral?: string;
  /**
   * Columns whose defaults call nextval, or a platform function that may: given an explicit NULL
   * instead (NOT NULL is checked after the policy).
   */
  sequenceColumns?: readonly string[];
  /** One of them is GENERATED ALWAYS AS IDENTITY: the insert says OVERRIDING SYSTEM VALUE. */
  identityAlways?: boolean;
  /** Partitioned (or a partition): the insert copies these key columns from an own row, so the row routes. */
  partitionKeys?: readonly string[] | null;
}

/**
 * The two write attempts on `relation` (the table as SQL text, see {@link relationSql}),
 * parameter-free: the tenant and the other tenant travel in transaction settings, cast to the
 * tenant column's own type.
 *
 * Neither statement reads a column of the table it writes. An UPDATE or INSERT that reads one (in
 * its WHERE, SET or RETURNING) needs SELECT rights, and PostgreSQL then also checks the new row
 * against the SELECT policies: a tenant-scoped SELECT policy would refuse the move even when
 * the UPDATE policy's WITH CHECK is open, hiding the hole. So the move takes one own row through
 * a cursor (`ownRow`: the tenant_id index, `FOR UPDATE` so only a row the UPDATE policies let
 * this tenant touch) and updates it `WHERE CURRENT OF` that cursor, which reads nothing: the
 * new row meets only the UPDATE policies' WITH CHECK, as the platform's own UPDATE would. The
 * move keeps every partition key column but the tenant's.
 *
 * The insert gives an explicit NULL to every column whose default calls `nextval`, or calls one
 * of the platform's own functions (which may call it): defaults are evaluated before the policy,
 * and a sequence never rolls back; NOT NULL is checked after the policy. On a partitioned table it takes the partition key columns from one own row
 * (`INSERT ... SELECT` from the table as a separate source: the target still needs only INSERT
 * rights, so still only the INSERT policies' WITH CHECK applies), so the row routes to a
 * partition instead of failing before any policy is consulted.
 */
export function crossTenantWriteSql(
  relation: string,
  tenantSetting: string,
  shape: WriteShape = {},
): { ownRow: string; move: string; insert: string; moveReturning: string; insertReturning: string } {
  const t = relation;
  const column = quoteIdent(shape.column ?? 'tenant_id');
  const cast = shape.castType ? `::${shape.castType}` : '';
  const current = `current_setting('${tenantSetting}')${cast}`;
  const target = shape.otherLiteral ?? `current_setting('${OTHER_TENANT_SETTING}')${cast}`;
  const ownRow = `SELECT 1 FROM ${t} WHERE ${column} = ${current} LIMIT 1 FOR UPDATE`;
  const keys = shape.partitionKeys ?? null;
  const nulls = (shape.sequenceColumns ?? []).filter((c) => !keys?.includes(c));
  const columns = [column, ...(keys ?? []).map(quoteIdent), ...nulls.map(quoteIdent)].join(', ');
  const overriding = shape.identityAlways ? ' OVERRIDING SYSTEM VALUE' : '';
  const values = [target, ...(keys ?? []).map(quoteIdent), ...nulls.map(() => 'NULL')].join(', ');
  const insert =
    keys === null
      ? `INSERT INTO ${t} (${columns})${overriding} VALUES (${values})`
      : `INSERT INTO ${t} (${columns})${overriding} SELECT ${values} FROM ${t} WHERE ${column} = ${current} LIMIT 1`;
  const move =
    `DECLARE ${OWN_ROW_CURSOR} CURSOR FOR ${ownRow}; FETCH 1 FROM ${OWN_ROW_CURSOR}; ` +
    `UPDATE ${t} SET ${column} = ${target} WHERE CURRENT OF ${OWN_ROW_CURSOR}`;
  // Only to verify a write that went through on a table with BEFORE ROW triggers: which tenant the
  // row written really has (a trigger may have set it to the caller's). Never the first attempt:
  // RETURNING also meets the SELECT policies (see above).
  const returning = ` RETURNING ${column}::text AS tenant`;
  return { ownRow, move, insert, moveReturning: move + returning, insertReturning: insert + returning };
}

/** `WHERE CURRENT OF` a cursor that found no row: the tenant has no own row here to move. */
const NO_CURSOR_ROW = '24000';

/** SQLSTATEs raised after RLS let a row through (constraints are checked after policies). */
const AFTER_POLICY_STATES = new Set(['23502', '23503', '23505', '23514', '23P01']);

/** The one 42501 that is a policy's answer; every other one (permission denied) is a privilege's. */
const RLS_REFUSAL = /^new row violates row-level security policy/;

/**
 * A 23514 raised while coercing the value to the tenant column's domain, before any policy: the
 * domain's CHECK refused the other tenant's value, so the policy was never asked.
 */
const DOMAIN_CHECK = /^value for domain /;

/**
 * A 23514 that partitioning raised before any policy was consulted: no partition for the row, or
 * (an UPDATE of a partition named directly) a row that would leave it.
 */
function beforePolicyPartitionError(message: string, kind: 'move' | 'insert'): boolean {
  return (
    /^no partition of relation .* found for row/.test(message) ||
    (kind === 'move' && /violates partition constraint/.test(message))
  );
}

/** Tenant ids are `^[a-z0-9-]{1,100}$`; whether one is a value of the tenant column's type. */
function fitsType(value: string, baseType: string | null): boolean {
  switch (baseType) {
    case 'uuid':
      return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value);
    case 'int2':
      return /^-?[0-9]{1,5}$/.test(value) && Math.abs(Number(value)) <= 32_767;
    case 'int4':
      return /^-?[0-9]{1,10}$/.test(value) && Math.abs(Number(value)) <= 2_147_483_647;
    case 'int8':
      return (
        /^-?[0-9]{1,19}$/.test(value) &&
        BigInt(value) <= 9_223_372_036_854_775_807n &&
        BigInt(value) >= -9_223_372_036_854_775_807n
      );
    default:
      return true;
  }
}

/** "Another tenant" of the column's type when the configured one does not fit it (or there is none). */
function placeholderOf(baseType: string | null, own: string): string {
  if (baseType === 'uuid') {
    const nil = '00000000-0000-0000-0000-000000000000';
    return own === nil ? '00000000-0000-0000-0000-000000000001' : nil;
  }
  if (baseType === 'int2' || baseType === 'int4' || baseType === 'int8') return own === '-1' ? '-2' : '-1';
  return own === PLACEHOLDER_OTHER_TENANT ? `${PLACEHOLDER_OTHER_TENANT}-2` : PLACEHOLDER_OTHER_TENANT;
}

/** A table's BEFORE ROW triggers, which run before the policy and may rewrite the tenant column. */
interface TriggerCheck {
  names: string[];
  /** Those whose function bodies assign the tenant column (`NEW.tenant_id := ...`). */
  rewriting: string[];
  /** The write again with `RETURNING` the tenant column; null when the role may not SELECT it. */
  verify: string | null;
  /** The other tenant's value, as text. */
  other: string;
}

/**
 * Whether a trigger function's body assigns `NEW.<column>`: plpgsql `:=`, or `=` where a statement
 * starts (not a comparison in an IF). Comments are ignored.
 */
export function assignsColumn(source: string, column: string): boolean {
  const name = column.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const target = `new\\s*\\.\\s*"?${name}"?\\s*`;
  const body = source.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
  return (
    new RegExp(`${target}:=`, 'i').test(body) ||
    new RegExp(`(^|;|\\bthen\\b|\\belse\\b|\\bbegin\\b|\\bloop\\b)\\s*${target}=(?!=)`, 'im').test(body)
  );
}

/**
 * After a write went through on a table with BEFORE ROW triggers: the same write again (on a fresh
 * savepoint) returning the tenant value the row was really written with. Null when it is the other
 * tenant's, or when the row is not one the caller may see (the SELECT policy refused the returned
 * row: not the caller's own); else the tenant the triggers wrote it as. Without SELECT on the
 * column, a trigger that assigns it leaves the write unverified (reported as the caller's).
 */
async function rewrittenTenant(session: SqlSession, triggers: TriggerCheck): Promise<string | null> {
  if (triggers.verify === null) return triggers.rewriting.length > 0 ? '(unknown: no SELECT to verify)' : null;
  try {
    const results = await session.query(
      `ROLLBACK TO SAVEPOINT canary_probe; SAVEPOINT canary_probe; ${triggers.verify}`,
    );
    const last = (Array.isArray(results) ? results.at(-1) : results) as { rows: { tenant: string | null }[] };
    const written = last.rows[0]?.tenant ?? null;
    return written === triggers.other ? null : String(written);
  } catch {
    // Typically the SELECT policy refusing the returned row: then it is not the caller's own, so it
    // went to another tenant as written. Any other failure leaves the first write's verdict.
    return null;
  }
}

type WriteVerdict = 'refused' | 'permitted' | 'no-own-row' | 'not-proven' | 'error';
type WriteKind = 'move own row to another tenant' | 'insert a row for another tenant';
const MOVE = 'move own row to another tenant' satisfies WriteKind;
const INSERT = 'insert a row for another tenant' satisfies WriteKind;

interface WriteAttempt {
  table: string;
  attempt: WriteKind;
  verdict: WriteVerdict;
  detail: string;
}

/** Names the privilege a table lacks for a write, and the GRANT that gives it. */
interface MissingGrant {
  table: string;
  privileges: string[];
  grant: string;
}

/** What one cross-tenant write probe is about: the tenant, the other tenant and the tenant column. */
interface WriteProbe {
  tenantId: string;
  /** Another tenant of the config, if it lists one. */
  configuredOther: string | undefined;
  /** The other tenant written as: the configured one, else a placeholder. */
  other: string;
  column: string;
  tenantSetting: string;
}

/** Its verdict on one write attempt, and why. */
interface Judged {
  verdict: WriteVerdict;
  detail: string;
}

/**
 * The write attempts of one probe and their verdicts. Values travel in transaction settings, so
 * each attempt is one parameter-free statement on its own savepoint; a refused attempt does not
 * end the transaction.
 */
class WriteAttempts {
  readonly all: WriteAttempt[] = [];
  /** Attempts not made for want of a privilege: the summary names the GRANT instead of their detail. */
  readonly lackingPrivilege = new Set<WriteAttempt>();
  private first = true;

  constructor(
    private readonly session: SqlSession,
    private readonly column: string,
  ) {}

  /** Records `kinds` on `table` as not attempted, with the verdict and why. */
  skip(table: string, verdict: WriteVerdict, detail: string, kinds: readonly WriteKind[]): void {
    for (const kind of kinds) this.all.push({ table, attempt: kind, verdict, detail });
  }

  /** Records `kind` on `table` as not attempted for want of `privileges` (not proven). */
  skipLacking(table: string, kind: WriteKind, role: string, privileges: string[]): void {
    this.skip(
      table,
      'not-proven',
      `not attempted: ${role} holds no ${privileges.join('/')} privilege on ${table}, so a refusal would prove nothing`,
      [kind],
    );
    this.lackingPrivilege.add(this.all.at(-1)!);
  }

  /** Tries the write `sql` on its own savepoint and records what PostgreSQL made of it. */
  async attempt(table: string, kind: WriteKind, sql: string, triggers?: TriggerCheck): Promise<void> {
    const move = kind === MOVE;
    const prefix = this.first ? 'SAVEPOINT canary_probe' : 'ROLLBACK TO SAVEPOINT canary_probe; SAVEPOINT canary_probe';
    this.first = false;
    let judged: Judged;
    try {
      const results = await this.session.query(`${prefix}; ${sql}`);
      const last = (Array.isArray(results) ? results.at(-1) : results) as { rowCount: number | null };
      judged = await this.judgeWritten(last.rowCount ?? 0, move, triggers);
    } catch (error) {
      judged = judgeWriteError(error, move, this.column, triggers);
    }
    this.all.push({ table, attempt: kind, ...judged });
  }

  /** A write that raised nothing: `rows` written as the other tenant (unless a trigger rewrote them), or none. */
  private async judgeWritten(rows: number, move: boolean, triggers: TriggerCheck | undefined): Promise<Judged> {
    if (rows > 0 && triggers !== undefined) {
      const rewrote = await rewrittenTenant(this.session, triggers);
      if (rewrote === null) return { verdict: 'permitted', detail: `${rows} row(s) written` };
      return {
        verdict: 'not-proven',
        detail: `BEFORE ROW trigger(s) ${triggers.names.join(', ')} wrote the row as tenant ${rewrote}, not ${triggers.other}: no policy was asked about another tenant's row`,
      };
    }
    if (rows > 0) return { verdict: 'permitted', detail: `${rows} row(s) written` };
    if (move) return { verdict: 'no-own-row', detail: '0 rows touched' };
    // INSERT policies raise, they never drop a row silently: 0 rows is a BEFORE trigger, a
    // rule or (partitioned) no own row to take a partition key from. Nothing was decided.
    return { verdict: 'not-proven', detail: '0 rows inserted without an error: no policy answered' };
  }
}

/** A write that raised: refused by a policy, stopped before any policy was asked, or let through by it. */
function judgeWriteError(error: unknown, move: boolean, column: string, triggers: TriggerCheck | undefined): Judged {
  const state = sqlState(error);
  const message = error instanceof Error ? error.message : String(error);
  const notProven = (detail: string): Judged => ({ verdict: 'not-proven', detail });
  if (state === NO_CURSOR_ROW && move) return { verdict: 'no-own-row', detail: 'no own row to move' };
  if (state === '42501' && RLS_REFUSAL.test(message)) return { verdict: 'refused', detail: describeDbError(error) };
  if (state === '42501') return notProven(`refused by a privilege, before any policy: ${describeDbError(error)}`);
  if (state === '23514' && DOMAIN_CHECK.test(message))
    return notProven(
      `the tenant column's domain refused the other tenant's value, before any policy: ${describeDbError(error)}`,
    );
  if (state === '23514' && beforePolicyPartitionError(message, move ? 'move' : 'insert'))
    return notProven(`the row could not be routed to a partition, before any policy: ${describeDbError(error)}`);
  if (state !== undefined && AFTER_POLICY_STATES.has(state) && (triggers?.rewriting ?? []).length > 0)
    return notProven(
      `BEFORE ROW trigger(s) ${triggers!.rewriting.join(', ')} set ${column} before the policy, and a constraint stopped the row, so which tenant it was written as is unknown: ${describeDbError(error)}`,
    );
  if (state !== undefined && AFTER_POLICY_STATES.has(state))
    return {
      verdict: 'permitted',
      detail: `the policy let the row through; only a constraint stopped it: ${describeDbError(error)}`,
    };
  return { verdict: 'error', detail: describeDbError(error) };
}

/** How the writes of one table are shaped, writing as `otherLiteral` when the other tenant's id is not of the column's type. */
function writeShapeOf(fact: WriteFactsRow, column: string, otherLiteral: string | undefined): WriteShape {
  const partitioned = fact.kind === 'p' || fact.is_partition;
  return {
    column,
    castType: fact.cast_type,
    ...(otherLiteral === undefined ? {} : { otherLiteral }),
    // Defaults calling the platform's functions may call nextval too: NULL for them as well.
    sequenceColumns: [...new Set([...(fact.sequence_columns ?? []), ...(fact.function_defaults ?? [])])].filter(
      (c) => c !== column,
    ),
    identityAlways: fact.identity_always === true,
    partitionKeys: partitioned ? (fact.partition_keys ?? []) : null,
  };
}

/** What the evidence says of one table: how its writes were shaped and what runs before the policy. */
function tableNote(table: string, fact: WriteFactsRow, otherValue: string, shape: WriteShape): Record<string, unknown> {
  return {
    table,
    tenantColumnType: fact.base_type,
    otherTenant: otherValue,
    ...(shape.partitionKeys === null ? {} : { partitionKeyCopiedFromOwnRow: fact.partition_keys ?? [] }),
    ...(shape.sequenceColumns!.length > 0 ? { explicitNullInsteadOfDefault: shape.sequenceColumns } : {}),
    ...((fact.before_triggers ?? []).length > 0 ? { beforeTriggersRunBeforePolicy: fact.before_triggers } : {}),
    ...((fact.function_defaults ?? []).length > 0 ? { defaultsCallingPlatformFunctions: fact.function_defaults } : {}),
  };
}

/** The table's BEFORE ROW triggers to verify a write through `verify` (none: nothing to verify). */
function triggerCheckOf(fact: WriteFactsRow, column: string, other: string, verify: string): TriggerCheck | undefined {
  const names = fact.before_triggers ?? [];
  if (names.length === 0) return undefined;
  return {
    names,
    rewriting: names.filter((_, k) => assignsColumn(fact.before_trigger_sources?.[k] ?? '', column)),
    verify: fact.can_select ? verify : null,
    other,
  };
}

/**
 * Both writes as another tenant on one table, each tried only where the role holds the
 * privileges it needs (else not proven, and the missing GRANT named), with the table's note.
 */
async function probeTableWrites(
  writes: WriteAttempts,
  probe: WriteProbe,
  ref: TableFacts,
  fact: WriteFactsRow | undefined,
  findings: { notes: Record<string, unknown>[]; missingGrants: MissingGrant[] },
): Promise<void> {
  const { column, tenantId, configuredOther } = probe;
  const table = ref.name;
  if (!fact?.found)
    return writes.skip(table, 'error', `table ${table} not found: check database.tenantTables`, [MOVE, INSERT]);
  if (!fact.has_column)
    return writes.skip(table, 'error', `${table} has no column ${column}: check database.tenantColumn`, [MOVE, INSERT]);
  if (!fitsType(tenantId, fact.base_type)) {
    const why = `tenant id ${tenantId} is not a value of ${table}.${column}'s type ${fact.base_type}, so its rows cannot be addressed`;
    return writes.skip(table, 'error', why, [MOVE, INSERT]);
  }
  const otherFits = configuredOther !== undefined && fitsType(configuredOther, fact.base_type);
  const otherValue = otherFits ? probe.other : placeholderOf(fact.base_type, tenantId);
  const shape = writeShapeOf(fact, column, otherFits ? undefined : `'${otherValue}'::${fact.cast_type}`);
  const partitioned = shape.partitionKeys !== null;
  const relation = relationSql(ref);
  const sql = crossTenantWriteSql(relation, probe.tenantSetting, shape);
  findings.notes.push(tableNote(table, fact, otherValue, shape));
  const missing = [
    ...(fact.can_select ? [] : ['SELECT']),
    ...(fact.can_insert ? [] : ['INSERT']),
    ...(fact.can_update ? [] : ['UPDATE']),
  ];
  if (missing.length > 0) {
    const grant = `GRANT ${missing.join(', ')} ON ${relation} TO ${quoteIdent(fact.role)};`;
    findings.missingGrants.push({ table, privileges: missing, grant });
  }
  const lacking = (privileges: string[]) => privileges.filter((p) => missing.includes(p));
  if (fact.can_select && fact.can_update)
    await writes.attempt(table, MOVE, sql.move, triggerCheckOf(fact, column, otherValue, sql.moveReturning));
  else writes.skipLacking(table, MOVE, fact.role, lacking(['SELECT', 'UPDATE']));
  if (partitioned && fact.partition_key_expression) {
    const why = `not attempted: ${table} is partitioned by an expression, so the probe cannot route a row`;
    writes.skip(table, 'not-proven', why, [INSERT]);
  } else if (fact.can_insert && (!partitioned || fact.can_select))
    await writes.attempt(table, INSERT, sql.insert, triggerCheckOf(fact, column, otherValue, sql.insertReturning));
  else writes.skipLacking(table, INSERT, fact.role, lacking(['INSERT', ...(partitioned ? ['SELECT'] : [])]));
}

/** The verdict on every write attempt: fail on any permitted, error on any not proven or not judged, else pass. */
function judgeWrites(
  probe: WriteProbe,
  writes: WriteAttempts,
  missingGrants: MissingGrant[],
  evidence: Record<string, unknown>,
): Outcome {
  const { tenantId, other } = probe;
  const attempts = writes.all;
  const permitted = attempts.filter((a) => a.verdict === 'permitted');
  const errors = attempts.filter((a) => a.verdict === 'error');
  const notProven = attempts.filter((a) => a.verdict === 'not-proven');
  if (permitted.length > 0) {
    const unproven = [...new Set(notProven.map((a) => a.table))];
    return fail(
      `in ${tenantId}'s context, writing as tenant ${other} was allowed: ${permitted.map((a) => `${a.attempt} in ${a.table}`).join('; ')} (rolled back)` +
        (unproven.length > 0 ? `; not proven either way in ${unproven.join(', ')}` : ''),
      evidence,
    );
  }
  if (errors.length > 0 || notProven.length > 0) {
    const parts: string[] = [];
    if (notProven.length > 0) {
      const byTable = [...new Set(notProven.map((a) => a.table))].map((table) => {
        const kinds = notProven.filter((a) => a.table === table).map((a) => (a.attempt === MOVE ? 'update' : 'insert'));
        return `${table} (${kinds.join(', ')})`;
      });
      parts.push(`writes as another tenant are not proven refused in ${byTable.join(', ')}`);
      if (missingGrants.length > 0) parts.push(`grant the probe role: ${missingGrants.map((g) => g.grant).join(' ')}`);
      const reasons = notProven.filter((a) => !writes.lackingPrivilege.has(a));
      if (reasons.length > 0) parts.push(reasons.map((a) => `${a.table}: ${a.detail}`).join('; '));
    }
    if (errors.length > 0)
      parts.push(`some write attempts could not be judged: ${errors.map((a) => `${a.table}: ${a.detail}`).join('; ')}`);
    return errored(parts.join('; '), evidence);
  }
  if (!attempts.some((a) => a.attempt === MOVE && a.verdict === 'refused')) {
    // Inserts were refused, but no own row was there to try moving: say so, still a pass on inserts.
    return pass(`in ${tenantId}'s context inserts as another tenant are refused (no own row to try moving)`, evidence);
  }
  return pass(`in ${tenantId}'s context every write as another tenant is refused or touches 0 rows`, evidence);
}

export const probeCrossTenantWrite: TenantProbe = (ctx) =>
  whenProbeRoleSafe(ctx, async (dbFacts) => {
    const database = ctx.config.database!;
    const tenantId = ctx.tenant.tenantId;
    // Every tenant table with the tenant column (configured or discovered); a table tied to one by
    // foreign keys only has no tenant value of its own to write, so it is read probed only.
    const refs = dbFacts.tables.filter((t) => t.found !== 'fk');
    const foreignKeyOnly = dbFacts.tables.filter((t) => t.found === 'fk').map((t) => t.name);
    const configuredOther = ctx.config.tenants.find((t) => t.tenantId !== tenantId)?.tenantId;
    const probe: WriteProbe = {
      tenantId,
      configuredOther,
      other: configuredOther ?? PLACEHOLDER_OTHER_TENANT,
      column: database.tenantColumn,
      tenantSetting: database.tenantSetting,
    };
    try {
      return await ctx.ports.pg!.inRolledBackTransaction(
        {
          role: database.probeAsRole,
          settings: { [database.tenantSetting]: tenantId, [OTHER_TENANT_SETTING]: probe.other },
        },
        async (session) => {
          const tables = refs.map((t) => t.name);
          const facts = (
            await session.query<WriteFactsRow>(CROSS_TENANT_WRITE_FACTS_SQL, [tables.map(String), probe.column])
          ).rows.sort((a, b) => a.i - b.i);
          const writes = new WriteAttempts(session, probe.column);
          const findings = { notes: [] as Record<string, unknown>[], missingGrants: [] as MissingGrant[] };
          for (const [index, ref] of refs.entries()) {
            await probeTableWrites(
              writes,
              probe,
              ref,
              facts.find((f) => f.i === index + 1),
              findings,
            );
          }
          const evidence = {
            otherTenant: probe.other,
            attempts: writes.all,
            tables: findings.notes,
            ...(foreignKeyOnly.length > 0 ? { notWriteProbed: { foreignKeyOnly } } : {}),
            ...(findings.missingGrants.length > 0 ? { missingGrants: findings.missingGrants } : {}),
          };
          return judgeWrites(probe, writes, findings.missingGrants, evidence);
        },
      );
    } catch (error) {
      return errored(`the cross-tenant write probe could not run: ${describeDbError(error)}`);
    }
  });
