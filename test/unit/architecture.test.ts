/**
 * The layout's rules, read off the source: arrows point inward (handlers and bin/ -> app/ ->
 * run/probes -> ports + core; adapters -> ports + core), lib/ never loads an adapter, there is
 * no import cycle, and handlers stay thin.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_DIRS = ['functions', 'lib', 'bin', 'sandbox', 'bench', 'sim'];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative module a file imports (static, re-exports and `import()`), as repo paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)'(\.{1,2}\/[^']+)'/gm)];
  return specifiers.map((match) => relative(ROOT, resolve(ROOT, dirname(file), match[1] as string)));
}

const files = SOURCE_DIRS.flatMap(sourceFiles);
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const under = (prefix: string) => [...graph].filter(([file]) => file.startsWith(prefix));

function offenders(from: string, forbidden: readonly string[]): string[] {
  return under(from).flatMap(([file, imports]) =>
    imports.filter((target) => forbidden.some((prefix) => target.startsWith(prefix))).map((t) => `${file} -> ${t}`),
  );
}

describe('the layout', () => {
  it('finds the source it checks', () => {
    expect(graph.get('functions/probes/rls.ts')).toContain('functions/ports.ts');
    expect(files.length).toBeGreaterThan(60);
  });

  it('keeps adapters out of probes, core, the use cases, the run and the CDK app', () => {
    expect(offenders('functions/probes/', ['functions/adapters/'])).toEqual([]);
    expect(offenders('functions/core/', ['functions/adapters/', 'functions/probes/', 'functions/app/'])).toEqual([]);
    expect(offenders('functions/app/', ['functions/adapters/', 'functions/handlers/'])).toEqual([]);
    expect(offenders('functions/run.ts', ['functions/adapters/', 'functions/app/'])).toEqual([]);
    expect(offenders('functions/run-core.ts', ['functions/adapters/', 'functions/app/'])).toEqual([]);
    expect(offenders('functions/ports.ts', ['functions/adapters/', 'functions/probes/', 'functions/app/'])).toEqual([]);
    expect(offenders('lib/', ['functions/adapters/', 'functions/app/', 'functions/handlers/'])).toEqual([]);
  });

  it('keeps probes and use cases out of the adapters', () => {
    expect(offenders('functions/adapters/', ['functions/probes/', 'functions/app/', 'functions/handlers/'])).toEqual(
      [],
    );
  });

  it('never lets functions/ load the sandbox or the CLI', () => {
    expect(offenders('functions/', ['sandbox/', 'bin/', 'lib/', 'bench/', 'sim/'])).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) if (graph.has(target)) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('keeps every handler under 120 lines', () => {
    const long = under('functions/handlers/')
      .map(([file]) => ({ file, lines: readFileSync(join(ROOT, file), 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 120);
    expect(long).toEqual([]);
  });
});
