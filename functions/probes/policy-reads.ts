/**
 * Whether a policy reads the tenant setting, judged by what it reads: `current_setting('<setting>'`
 * in its expression, or in the body of a function it calls (SQL and plpgsql, followed through the
 * catalog to MAX_HELPER_DEPTH), or, for a table tied to the tenant by foreign key only, a subquery
 * over a tenant table under row-level security. Where the text cannot decide (a function in
 * another language, a setting name built at run time), the verdict is `undecided` and the live
 * probes decide.
 */
import { type FoundBy, MAX_FK_DEPTH } from './discovery.ts';

/** A function the table's policies call, directly or through other functions (to {@link MAX_HELPER_DEPTH}). */
export interface HelperFunction {
  oid: string;
  /** As `regproc` prints it (schema-qualified when not on the search_path). */
  name: string;
  /** Bare name, as a body calls it. */
  proname: string;
  language: string;
  body: string;
  /** Oids of the functions it depends on per pg_depend (SQL-standard bodies). */
  dependsOn: string[];
}

/** What a policy's verdict rests on (database.ts PolicyFacts has these). */
interface PolicyText {
  name?: string;
  permissive?: boolean;
  /** `polcmd`: `r` SELECT, `*` ALL, ... */
  command?: string;
  /** Whether it applies to the application role (or the canary's probeAsRole); unknown counts as applying. */
  appliesToApp?: boolean;
  using: string | null;
  withCheck: string | null;
  /** Oids of the functions its expressions call. */
  functions?: string[];
  /** Other relations its expressions read. */
  relations?: string[];
}

/** What a table's verdict rests on (database.ts TableFacts has these). */
interface TableText {
  name: string;
  found: FoundBy;
  rowSecurity: boolean;
  policies: PolicyText[];
  helpers: HelperFunction[];
}

/** Deepest chain of functions followed from a policy (policy → f → g is 2). */
export const MAX_HELPER_DEPTH = 4;

export type Reading =
  | { reads: true; via: 'expression' }
  | { reads: true; via: 'function'; chain: string[] }
  | { reads: true; via: 'fk-subquery'; over: string }
  | { reads: false }
  | { reads: 'undecided'; why: string };

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether an expression or body names `setting` in `current_setting('<setting>'...)`. */
export function readsSetting(expression: string | null, setting: string): boolean {
  if (expression === null) return false;
  return new RegExp(`current_setting\\s*\\(\\s*\\(?\\s*'${escapeRegExp(setting)}'`).test(expression);
}

/** `current_setting(` whose first argument is not a string literal: the setting is chosen at run time. */
const OPAQUE_SETTING = /current_setting\s*\(\s*\(?\s*[^'\s(]/;

const calls = (body: string, fn: HelperFunction) =>
  new RegExp(`(^|[^a-zA-Z0-9_$])"?${escapeRegExp(fn.proname)}"?\\s*\\(`).test(body);

/** Whether `fn` reads `setting`, directly or through the helpers it calls; the chain of names when it does. */
function functionReading(
  fn: HelperFunction,
  helpers: readonly HelperFunction[],
  setting: string,
  depth: number,
  seen: ReadonlySet<string>,
): Reading {
  if (fn.language !== 'sql' && fn.language !== 'plpgsql') {
    return { reads: 'undecided', why: `${fn.name} is written in ${fn.language}, whose body the canary cannot read` };
  }
  if (readsSetting(fn.body, setting)) return { reads: true, via: 'function', chain: [fn.name] };
  let undecided: Reading | undefined;
  if (OPAQUE_SETTING.test(fn.body)) {
    undecided = { reads: 'undecided', why: `${fn.name} reads a setting whose name is computed` };
  }
  const next = new Set(seen).add(fn.oid);
  for (const callee of helpers) {
    if (next.has(callee.oid)) continue;
    if (!fn.dependsOn.includes(callee.oid) && !calls(fn.body, callee)) continue;
    if (depth >= MAX_HELPER_DEPTH) {
      undecided ??= { reads: 'undecided', why: `${fn.name} calls deeper than ${MAX_HELPER_DEPTH} functions` };
      continue;
    }
    const inner = functionReading(callee, helpers, setting, depth + 1, next);
    if (inner.reads === true && inner.via === 'function') return { ...inner, chain: [fn.name, ...inner.chain] };
    if (inner.reads === 'undecided') undecided ??= inner;
  }
  return undecided ?? { reads: false };
}

/** What one policy reads: its USING and WITH CHECK, and the functions they call. */
export function policyReading(
  policy: PolicyText,
  helpers: readonly HelperFunction[],
  setting: string,
  only: 'using' | 'both' = 'both',
): Reading {
  const expressions = only === 'using' ? [policy.using] : [policy.using, policy.withCheck];
  if (expressions.some((e) => readsSetting(e, setting))) return { reads: true, via: 'expression' };
  const text = expressions.filter((e) => e !== null).join('\n');
  let undecided: Reading | undefined;
  if (OPAQUE_SETTING.test(text))
    undecided = { reads: 'undecided', why: 'the policy reads a setting whose name is computed' };
  const called = helpers.filter((h) => (policy.functions ?? []).includes(h.oid) || calls(text, h));
  for (const fn of called) {
    const reading = functionReading(fn, helpers, setting, 1, new Set());
    if (reading.reads === true) return reading;
    if (reading.reads === 'undecided') undecided ??= reading;
  }
  return undecided ?? { reads: false };
}

/**
 * Whether `table` has a policy reading the tenant setting. A table found by foreign key only may
 * instead filter through a subquery over a tenant table that is under RLS with a policy that does.
 */
export function tableReading(
  table: TableText,
  tables: readonly TableText[],
  setting: string,
  depth = 1,
  seen: ReadonlySet<TableText> = new Set(),
): Reading {
  let undecided: Reading | undefined;
  for (const policy of table.policies) {
    const reading = policyReading(policy, table.helpers, setting);
    if (reading.reads === true) return reading;
    if (reading.reads === 'undecided') undecided ??= reading;
  }
  for (const policy of table.policies) {
    const reading = subqueryReading(policy, table, tables, setting, depth, seen);
    if (reading !== undefined) return reading;
  }
  return undecided ?? { reads: false };
}

/**
 * For a table tied by foreign key only: whether `policy` filters through a subquery over a tenant
 * table under RLS that reads the setting by any of these ways. The parent may itself be tied by
 * foreign key only (tool_calls → agent_tools → agents): followed to MAX_FK_DEPTH, each table once.
 */
function subqueryReading(
  policy: PolicyText,
  table: TableText,
  tables: readonly TableText[],
  setting: string,
  depth: number,
  seen: ReadonlySet<TableText>,
): Reading | undefined {
  if (table.found === 'column' || depth > MAX_FK_DEPTH) return undefined;
  const next = new Set(seen).add(table);
  for (const over of policy.relations ?? []) {
    const parent = tables.find((t) => t.name === over && t !== table);
    if (parent === undefined || !parent.rowSecurity || next.has(parent)) continue;
    if (tableReading(parent, tables, setting, depth + 1, next).reads === true) {
      return { reads: true, via: 'fk-subquery', over };
    }
  }
  return undefined;
}

const READS_OTHER_SETTING = /current_setting\s*\(/;

/**
 * The permissive policies that let the application role (or the canary's probeAsRole) read rows
 * without reading the tenant setting: permissive policies OR together, so one that applies to
 * SELECT (or ALL) and reads nothing opens every tenant's rows (`TO app USING (true)` beside a
 * tenant policy for PUBLIC). None when a restrictive read policy that applies reads the setting
 * (restrictive policies AND with the rest). A policy gated by another setting
 * (`current_setting('app.is_admin')`, directly or in the functions it calls) is the platform's
 * own switch, not open; one the text cannot decide is left to the live probes.
 */
export function openPolicies(table: TableText, tables: readonly TableText[], setting: string): string[] {
  const applying = table.policies.filter(
    (p) => p.appliesToApp !== false && (p.command === undefined || p.command === 'r' || p.command === '*'),
  );
  const reads = (p: PolicyText) => {
    const reading = policyReading(p, table.helpers, setting, 'using');
    return reading.reads === true ? reading : (subqueryReading(p, table, tables, setting, 1, new Set()) ?? reading);
  };
  if (applying.some((p) => p.permissive === false && reads(p).reads === true)) return [];
  return applying
    .filter((p) => p.permissive !== false && reads(p).reads === false && !gated(p, table.helpers))
    .map((p) => p.name ?? '(unnamed)');
}

function gated(policy: PolicyText, helpers: readonly HelperFunction[]): boolean {
  const text = policy.using ?? '';
  if (READS_OTHER_SETTING.test(text)) return true;
  return helpers.some(
    (h) => ((policy.functions ?? []).includes(h.oid) || calls(text, h)) && READS_OTHER_SETTING.test(h.body),
  );
}

/** How a reading is told in evidence. */
export function describeReading(reading: Reading): string {
  if (reading.reads === false) return 'no policy reads the tenant setting';
  if (reading.reads === 'undecided') return `undecided by the text: ${reading.why}`;
  if (reading.via === 'expression') return 'a policy reads it directly';
  if (reading.via === 'function') return `through ${reading.chain.join(' → ')}`;
  return `through a subquery over ${reading.over}, itself under RLS`;
}
