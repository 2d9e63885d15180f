/**
 * `npm run docs`: writes the reference lists that must not drift from the code between their
 * markers in the docs: every config field (from the zod schemas, functions/core/config.ts and the
 * `deployment` section's lib/config.ts) and every check (functions/core/catalog.ts).
 * `npm run docs -- --check` changes nothing and exits 1 when a file is out of date;
 * test/unit/docs-generated.test.ts does the same in the suite.
 *
 * Lists, not tables: Biome pads a Markdown table to its widest cell, and a default such as the
 * tenant-source query would widen every row.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { CATALOG, type CheckScope } from '../functions/core/catalog.ts';
import { configSchema } from '../functions/core/config.ts';
import { deploymentSchema } from '../lib/config.ts';

type JsonSchema = {
  type?: string | string[];
  $ref?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  $defs?: Record<string, JsonSchema>;
};

/** One config field as the docs list it. */
export interface FieldDoc {
  path: string;
  type: string;
  required: boolean;
  default?: unknown;
  description?: string;
}

const ROOT = join(import.meta.dirname, '..');

/** The files the generator writes, and the blocks each holds. */
export const TARGETS: Readonly<Record<string, readonly BlockName[]>> = {
  'README.md': ['check-ids'],
  'docs/checks.md': ['checks'],
  'docs/configuration.md': ['config-fields'],
  'docs/operations.md': ['deployment-fields'],
};

export type BlockName = 'check-ids' | 'checks' | 'config-fields' | 'deployment-fields';

const begin = (name: BlockName) => `<!-- BEGIN GENERATED ${name}: npm run docs writes this list, do not edit it -->`;
const end = (name: BlockName) => `<!-- END GENERATED ${name} -->`;

/** Every field of a zod object schema, depth first, in declaration order. */
export function fieldsOf(schema: z.ZodType): FieldDoc[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: FieldDoc[] = [];
  walk(json, json, '', true, out);
  return out;
}

function deref(root: JsonSchema, node: JsonSchema): JsonSchema {
  if (node.$ref === undefined) return node;
  const name = node.$ref.replace('#/$defs/', '');
  return root.$defs?.[name] ?? {};
}

const isNull = (node: JsonSchema) => node.type === 'null';
const isObject = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value);
const variantsOf = (node: JsonSchema) => node.anyOf ?? node.oneOf;

/** `{"value"}`, `{"env"}` or `{"secretId", "jsonKey"?}`: listed once as a secret reference. */
function isSecretRef(node: JsonSchema): boolean {
  const keys = (variantsOf(node) ?? []).map((variant) => Object.keys(variant.properties ?? {}).join(','));
  return keys.includes('value') && keys.includes('env') && keys.includes('secretId,jsonKey');
}

function walk(root: JsonSchema, raw: JsonSchema, path: string, required: boolean, out: FieldDoc[]): void {
  const node = deref(root, raw);
  const variants = variantsOf(node)?.map((variant) => deref(root, variant));
  const nonNull = variants?.filter((variant) => !isNull(variant));
  const nullable = variants !== undefined && nonNull?.length !== variants.length;
  const single = nonNull?.length === 1 && nonNull[0] !== undefined ? nonNull[0] : undefined;
  const shape = single ?? node;
  const field = (type: string): FieldDoc => ({
    path,
    type: nullable && !type.endsWith(' or null') ? `${type} or null` : type,
    required,
    // A section's default is the defaults of its fields, listed with them.
    ...(node.default === undefined || isObject(node.default) ? {} : { default: node.default }),
    ...(node.description === undefined ? {} : { description: node.description }),
  });
  const discriminated = nonNull !== undefined && nonNull.length > 1 && nonNull.every((v) => v.properties?.type?.const);
  if (shape.properties !== undefined && !isSecretRef(shape)) {
    if (path !== '') out.push(field('object'));
    for (const [key, child] of Object.entries(shape.properties)) {
      walk(root, child, path === '' ? key : `${path}.${key}`, shape.required?.includes(key) ?? false, out);
    }
    return;
  }
  if (discriminated) {
    out.push(field('object'));
    const seen = new Set<string>();
    const types = nonNull.map((variant) => JSON.stringify(variant.properties?.type?.const));
    out.push({ path: `${path}.type`, type: types.join(' | '), required: true });
    for (const variant of nonNull) {
      const tag = JSON.stringify(variant.properties?.type?.const);
      for (const [key, child] of Object.entries(variant.properties ?? {})) {
        if (key === 'type' || seen.has(key)) continue;
        seen.add(key);
        const before = out.length;
        walk(root, child, `${path}.${key}`, variant.required?.includes(key) ?? false, out);
        for (const doc of out.slice(before)) doc.type = `${doc.type} (type ${tag})`;
      }
    }
    return;
  }
  if (shape.type === 'array' && shape.items !== undefined) {
    const items = deref(root, shape.items);
    if (items.properties !== undefined && !isSecretRef(items)) {
      out.push(field('array of objects'));
      for (const [key, child] of Object.entries(items.properties)) {
        walk(root, child, `${path}[].${key}`, items.required?.includes(key) ?? false, out);
      }
      return;
    }
  }
  out.push(field(isSecretRef(shape) ? 'secret reference' : typeOf(root, shape)));
}

function bounds(node: JsonSchema): string {
  const parts: string[] = [];
  if (node.exclusiveMinimum !== undefined) parts.push(`> ${node.exclusiveMinimum}`);
  if (node.minimum !== undefined && node.minimum > Number.MIN_SAFE_INTEGER) parts.push(`≥ ${node.minimum}`);
  if (node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER) parts.push(`≤ ${node.maximum}`);
  return parts.length === 0 ? '' : ` ${parts.join(', ')}`;
}

/** A short type: `integer > 0, ≤ 20`, `"nat" | "endpoints"`, `string[]`, `map of "P0" | "P1"`. */
function typeOf(root: JsonSchema, raw: JsonSchema): string {
  const node = deref(root, raw);
  if (raw.$ref !== undefined && variantsOf(node) !== undefined && raw.$ref.includes('__schema')) return 'JSON value';
  if (node.enum !== undefined) return node.enum.map((value) => JSON.stringify(value)).join(' | ');
  if (node.const !== undefined) return JSON.stringify(node.const);
  const variants = variantsOf(node);
  if (variants !== undefined) {
    if (isSecretRef(node)) return 'secret reference';
    return variants.map((variant) => typeOf(root, variant)).join(' or ');
  }
  if (Array.isArray(node.type)) return node.type.join(' or ');
  if (node.type === 'array') {
    const items = node.items === undefined ? 'JSON value' : typeOf(root, node.items);
    return items.includes(' ') ? `array of (${items})` : `${items}[]`;
  }
  if (node.type === 'object') {
    if (node.properties !== undefined) {
      const keys = Object.keys(node.properties).map((key) => `"${key}"${node.required?.includes(key) ? '' : '?'}`);
      return `{${keys.join(', ')}}`;
    }
    const values =
      typeof node.additionalProperties === 'object' ? typeOf(root, node.additionalProperties) : 'JSON value';
    return `map of ${values}`;
  }
  if (node.type === 'integer' || node.type === 'number') return `${node.type}${bounds(node)}`;
  return node.type ?? 'JSON value';
}

/** One list item: ``- `database.maxConnections` (integer > 0, ≤ 20; default `1`)``. */
function fieldLine(field: FieldDoc, prefix: string): string {
  const facts = [field.type];
  if (field.required) facts.push('required');
  if (field.default !== undefined) facts.push(`default \`${JSON.stringify(field.default)}\``);
  const description = field.description === undefined ? '' : `: ${field.description}`;
  return `- \`${prefix}${field.path}\` (${facts.join('; ')})${description}`;
}

/**
 * The fields as lists under one heading per top-level section (`### \`platform\``); top-level
 * fields that are not sections come first, under `title`.
 */
export function renderFields(fields: readonly FieldDoc[], title: string, prefix = ''): string {
  const topOf = (field: FieldDoc) => field.path.split(/[.[]/)[0] ?? '';
  const sections = new Set(fields.filter((field) => field.path !== topOf(field)).map(topOf));
  const loose = fields.filter((field) => !sections.has(topOf(field)));
  const lines: string[] = [];
  if (loose.length > 0) lines.push(`### ${title}`, '', ...loose.map((field) => fieldLine(field, prefix)), '');
  for (const section of sections) {
    lines.push(`### \`${prefix}${section}\``, '');
    lines.push(...fields.filter((field) => topOf(field) === section).map((field) => fieldLine(field, prefix)), '');
  }
  return lines.join('\n').trim();
}

const SCOPE_TITLE: Record<CheckScope, string> = {
  platform: 'Platform checks (once per sweep)',
  tenant: 'Tenant checks (for each tenant, each sweep)',
  sweep: 'Sweep checks (decided by the deployed canary when it judges a sweep)',
};
const SCOPES: readonly CheckScope[] = ['platform', 'tenant', 'sweep'];

function renderChecks(): string {
  const lines: string[] = [];
  for (const scope of SCOPES) {
    lines.push('', `### ${SCOPE_TITLE[scope]}`, '');
    for (const entry of CATALOG.filter((check) => check.scope === scope)) {
      const needs = 'needs' in entry && entry.needs !== undefined ? ` Runs after \`${entry.needs}\`.` : '';
      lines.push(`- \`${entry.id}\` (${entry.defaultTier}): ${entry.proves}. Runbook: ${entry.runbook}.${needs}`);
    }
  }
  return lines.join('\n').trim();
}

/** Words joined with `, ` and wrapped before `width` characters. */
function wrap(words: readonly string[], width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    const next = line === '' ? word : `${line}, ${word}`;
    if (next.length > width && line !== '') {
      lines.push(`${line},`);
      line = `  ${word}`;
    } else line = next;
  }
  if (line !== '') lines.push(line);
  return lines;
}

function renderCheckIds(): string {
  const lines: string[] = [];
  for (const scope of SCOPES) {
    const ids = CATALOG.filter((check) => check.scope === scope).map((check) => `\`${check.id}\``);
    lines.push(...wrap([`- ${scope}: ${ids[0] ?? ''}`, ...ids.slice(1)]));
  }
  return lines.join('\n');
}

/** The text of each generated block, from the code as it is now. */
export function generatedBlocks(): Record<BlockName, string> {
  return {
    'check-ids': renderCheckIds(),
    checks: renderChecks(),
    'config-fields': renderFields(fieldsOf(configSchema), 'Top level'),
    'deployment-fields': renderFields(fieldsOf(deploymentSchema), '`deployment`', 'deployment.'),
  };
}

/** `text` with each of `names`' blocks replaced by its generated content; a missing marker throws. */
export function applyBlocks(
  file: string,
  text: string,
  names: readonly BlockName[],
  blocks: Record<BlockName, string>,
): string {
  let result = text;
  for (const name of names) {
    const from = result.indexOf(begin(name));
    const to = result.indexOf(end(name));
    if (from < 0 || to < from) throw new Error(`${file} has no ${begin(name)} ... ${end(name)} markers`);
    result = `${result.slice(0, from + begin(name).length)}\n\n${blocks[name]}\n\n${result.slice(to)}`;
  }
  return result;
}

/** Each target file as it is and as the generator would write it. */
export function docsState(root = ROOT): { file: string; current: string; generated: string }[] {
  const blocks = generatedBlocks();
  return Object.entries(TARGETS).map(([file, names]) => {
    const current = readFileSync(join(root, file), 'utf8');
    return { file, current, generated: applyBlocks(file, current, names, blocks) };
  });
}

function main(argv: readonly string[]): number {
  const check = argv.includes('--check');
  let stale = 0;
  for (const { file, current, generated } of docsState()) {
    if (current === generated) continue;
    stale += 1;
    if (check) process.stderr.write(`${file} is out of date: run npm run docs\n`);
    else {
      writeFileSync(join(ROOT, file), generated);
      process.stdout.write(`wrote ${file}\n`);
    }
  }
  return check && stale > 0 ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
