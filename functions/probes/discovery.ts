/**
 * Which tables hold tenant data (CONTRACT.md §7, "Isolation on the database as it is"): the
 * configured `tenantTables`, every table or partitioned table of `discover.schemas` with the
 * tenant column, and every table that reaches one of those through foreign keys (minus
 * `discover.exclude`). Partitions and inheritance children are not tenant tables of their own:
 * `rls.partitions_covered` judges them under their parent.
 *
 * The discovery is a CTE ({@link discoveryCte}) folded into the run's one catalog statement per
 * table set (database.ts), so it costs no statement of its own; `tenant-canary snapshot` runs it
 * alone ({@link DISCOVERY_SQL}).
 */
import type { Config } from '../core/config.ts';
import type { SqlSession } from '../ports.ts';

/** One foreign-key step from a table towards the one holding the tenant column. */
export interface ForeignKeyHop {
  from: string;
  columns: string[];
  to: string;
  refColumns: string[];
}

/** How a tenant table was found: it has the tenant column, it reaches one by foreign keys, or only configured. */
export type FoundBy = 'column' | 'fk' | 'configured';

/** A tenant table as discovery names it (in `TableFacts` with the rest of its facts). */
export interface TenantTableRef {
  /**
   * As configured, or the catalog's name (regclass text: schema-qualified when not on the
   * search_path, quoted where SQL needs it, so `to_regclass(name)` finds exactly this table).
   */
  name: string;
  /** The relation as SQL text (quoted where needed, from the catalog); null when it does not exist. */
  sqlName?: string | null;
  /** Listed in `database.tenantTables`. */
  configured: boolean;
  exists: boolean;
  found: FoundBy;
  /** For `fk`: the tables from this one to the one holding the tenant column. Empty otherwise. */
  path: string[];
  /** For `fk`: the foreign-key steps along `path` (their columns), for joins. */
  hops: ForeignKeyHop[];
  /**
   * The tenant column's type (`text`, `character varying`, `uuid`, `integer`, `bigint`, ...):
   * this table's own, or for `fk` that of the table at the end of `path`. Null without one.
   */
  tenantColumnType: string | null;
  /** A partitioned table (relkind `p`): rows are routed to its partitions by `partitionKey`. */
  partitioned: boolean;
}

/** What discovery needs from `database` (defaults as in config.ts). */
export interface DiscoveryScope {
  tenantTables: readonly string[];
  tenantColumn?: string;
  discover?: { enabled: boolean; schemas: readonly string[]; exclude: readonly string[] };
}

export const DEFAULT_DISCOVER = { enabled: true, schemas: ['public'], exclude: [] as string[] } as const;

/** The discovery parameters in the order {@link discoveryCte} numbers them from `first`. */
export function discoveryParams(scope: DiscoveryScope): unknown[] {
  const discover = scope.discover ?? DEFAULT_DISCOVER;
  return [
    [...scope.tenantTables],
    scope.tenantColumn ?? 'tenant_id',
    [...discover.schemas],
    [...discover.exclude],
    discover.enabled,
  ];
}

/**
 * How the catalog names a relation: bare when visible on the search_path, else schema-qualified,
 * each part quoted where SQL needs it (`regclass` output): the name is SQL text for exactly that
 * relation, and `to_regclass` finds exactly it again ("Invoice", not invoice; a dot in a name).
 */
export const relationName = (oid: string) => `(${oid})::regclass::text`;

const columnNames = (rel: string, keys: string) =>
  `ARRAY(SELECT a.attname::text FROM unnest(${keys}) WITH ORDINALITY AS u(n, o)
          JOIN pg_attribute a ON a.attrelid = ${rel} AND a.attnum = u.n ORDER BY u.o)`;

/** Deepest foreign-key path followed (agent_tools → agents is 1). */
export const MAX_FK_DEPTH = 4;

/**
 * CTEs (for a `WITH RECURSIVE`) ending in `tenant_table(name, oid, ord, configured, found, hops,
 * type_oid)`. Parameters `$first`..`$first+4`: configured names (text[]), tenant column,
 * schemas (text[]), exclude (text[]), enabled (boolean).
 */
export function discoveryCte(first: number): string {
  const [tables, column, schemas, exclude, enabled] = [0, 1, 2, 3, 4].map((i) => `$${first + i}`);
  return `cfg AS (
  SELECT t.name, t.ord, to_regclass(t.name) AS oid FROM unnest(${tables}::text[]) WITH ORDINALITY AS t(name, ord)
),
rel AS (
  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${enabled}::boolean AND c.relkind IN ('r', 'p') AND n.nspname = ANY (${schemas}::text[])
    AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)
    AND NOT (c.relname = ANY (${exclude}::text[]) OR n.nspname || '.' || c.relname = ANY (${exclude}::text[]))
  UNION
  SELECT oid FROM cfg WHERE oid IS NOT NULL
),
holder AS (
  -- The column's type, or its base type when it is a domain (values are cast to it).
  SELECT r.oid, CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE a.atttypid END AS type_oid
  FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attname = ${column}::text AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type ty ON ty.oid = a.atttypid
),
registry AS (
  -- The tables the tenant columns reference (the tenant registry): not tenant tables by foreign
  -- key (tenants.created_by -> users does not make tenants one), only by their own tenant column.
  SELECT k.confrelid AS oid
  FROM pg_constraint k JOIN holder h ON h.oid = k.conrelid
  JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attname = ${column}::text AND a.attnum = ANY (k.conkey)
  WHERE k.contype = 'f'
),
edge AS (
  SELECT k.conrelid AS child, k.confrelid AS parent,
         jsonb_build_object('from', ${relationName('k.conrelid')}, 'columns', ${columnNames('k.conrelid', 'k.conkey')},
                            'to', ${relationName('k.confrelid')}, 'refColumns', ${columnNames('k.confrelid', 'k.confkey')}) AS hop
  FROM pg_constraint k
  WHERE k.contype = 'f' AND k.conparentid = 0 AND k.conrelid <> k.confrelid
    AND k.conrelid IN (SELECT oid FROM rel) AND k.conrelid NOT IN (SELECT oid FROM holder)
    AND k.conrelid NOT IN (SELECT oid FROM registry)
),
reach(oid, root, hops, seen, depth) AS (
  SELECT e.child, e.parent, jsonb_build_array(e.hop), ARRAY[e.child, e.parent], 1
  FROM edge e WHERE e.parent IN (SELECT oid FROM holder)
  UNION ALL
  SELECT e.child, r.root, jsonb_build_array(e.hop) || r.hops, ARRAY[e.child] || r.seen, r.depth + 1
  FROM reach r JOIN edge e ON e.parent = r.oid
  WHERE r.depth < ${MAX_FK_DEPTH} AND NOT e.child = ANY (r.seen)
),
fk AS (SELECT DISTINCT ON (oid) oid, root, hops FROM reach ORDER BY oid, depth, hops::text),
found AS (
  SELECT oid, 'column' AS found, '[]'::jsonb AS hops, type_oid FROM holder
  UNION ALL
  SELECT fk.oid, 'fk', fk.hops, h.type_oid FROM fk JOIN holder h ON h.oid = fk.root
),
tenant_table AS (
  SELECT COALESCE(cfg.name, ${relationName('f.oid')}) AS name, COALESCE(f.oid, cfg.oid) AS oid, cfg.ord,
         cfg.name IS NOT NULL AS configured, COALESCE(f.found, 'configured') AS found,
         COALESCE(f.hops, '[]'::jsonb) AS hops, f.type_oid
  FROM found f FULL JOIN cfg ON cfg.oid = f.oid
)`;
}

/** The columns every statement over `tenant_table t` (joined to `pg_class c`) selects for a {@link TenantTableRef}. */
export const TENANT_TABLE_COLUMNS = `t.name, CASE WHEN c.oid IS NULL THEN NULL ELSE c.oid::regclass::text END AS sql_name, t.configured, c.oid IS NOT NULL AS exists, t.found, t.hops,
       CASE WHEN t.type_oid IS NULL THEN NULL ELSE format_type(t.type_oid, NULL) END AS tenant_column_type,
       COALESCE(c.relkind = 'p', false) AS partitioned`;

/** Configured tables first, in their order; then the discovered ones by name. */
export const TENANT_TABLE_ORDER = 't.ord NULLS LAST, t.name';

/** Discovery alone: the tenant tables, as the run's catalog statement finds them. */
export const DISCOVERY_SQL = `
WITH RECURSIVE ${discoveryCte(1)}
SELECT ${TENANT_TABLE_COLUMNS}
FROM tenant_table t LEFT JOIN pg_class c ON c.oid = t.oid
ORDER BY ${TENANT_TABLE_ORDER}`;

export interface TenantTableRow {
  name: string;
  sql_name: string | null;
  configured: boolean;
  exists: boolean;
  found: FoundBy;
  hops: ForeignKeyHop[];
  tenant_column_type: string | null;
  partitioned: boolean;
}

export function tenantTableRef(row: TenantTableRow): TenantTableRef {
  return {
    name: row.name,
    sqlName: row.sql_name,
    configured: row.configured,
    exists: row.exists,
    found: row.found,
    path: row.hops.length === 0 ? [] : [row.hops[0]!.from, ...row.hops.map((h) => h.to)],
    hops: row.hops,
    tenantColumnType: row.tenant_column_type,
    partitioned: row.partitioned,
  };
}

/** Runs discovery on an open session (inside the caller's transaction). */
export async function discoverTenantTables(session: SqlSession, scope: DiscoveryScope): Promise<TenantTableRef[]> {
  const result = await session.query<TenantTableRow>(DISCOVERY_SQL, discoveryParams(scope));
  return result.rows.map(tenantTableRef);
}

/** How a table was found, for evidence: `column`, `fk via agent_tools → agents`, or `configured`. */
export function howFound(table: Pick<TenantTableRef, 'found' | 'path'>): { found: FoundBy; path?: string[] } {
  return table.found === 'fk' ? { found: 'fk', path: table.path } : { found: table.found };
}

/** SQL type names a tenant value is cast to, by the catalog's `format_type`. */
const CASTS: Record<string, string> = {
  text: 'text',
  'character varying': 'varchar',
  character: 'text',
  uuid: 'uuid',
  integer: 'integer',
  bigint: 'bigint',
  smallint: 'smallint',
};

/** `expression` (text) cast to the tenant column's type, or null for a type the probes do not know. */
export function asTenantType(expression: string, type: string | null): string | null {
  const cast = CASTS[type ?? 'text'];
  if (cast === undefined) return null;
  return cast === 'text' || cast === 'varchar' ? `${expression}::text` : `${expression}::text::${cast}`;
}

/** Whether `tenantId` is a value of the tenant column's type (a tenant id cast to uuid must be one). */
export function fitsTenantType(tenantId: string, type: string | null): boolean {
  switch (type) {
    case 'uuid':
      return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(tenantId);
    case 'integer':
    case 'smallint':
      return /^[0-9]{1,9}$/.test(tenantId);
    case 'bigint':
      return /^[0-9]{1,18}$/.test(tenantId);
    default:
      return true;
  }
}

/** The discovery scope of a config's `database`. */
export function discoveryScope(database: NonNullable<Config['database']>): DiscoveryScope {
  return { tenantTables: database.tenantTables, tenantColumn: database.tenantColumn, discover: database.discover };
}
