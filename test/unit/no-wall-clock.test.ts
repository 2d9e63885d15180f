/**
 * Guard: tests never depend on today's date or the wall clock (issue 21: a test ran the file
 * state store at fixed dates from 2026-11-27 while the store pruned by the wall clock; it went red
 * on 2026-12-04). Two source rules, checked on the text (no type information):
 *
 * 1. A test file that uses fixed dates (an ISO date-time literal, `Date.UTC(`) passes a clock to
 *    every clocked factory it calls. A clocked factory is found in the code, not listed by hand: an
 *    exported function or class whose `now` option or parameter defaults to the wall clock
 *    (`options.now ?? (() => new Date())`, `now = Date.now`, ...). A call passes a clock when its
 *    arguments mention `now` or `clock`. This is what would have caught
 *    `createFileStateStore({ path })` in test/unit/alert-evaluate.test.ts.
 * 2. Production code reads the wall clock (`new Date()`, `Date.now()`) only as the default of a
 *    clock seam, or at a place listed below with the reason it needs no seam.
 *
 * Limits (a heuristic, not a type check): rule 1 sees only direct calls in the test file (a helper
 * in another file that builds a store without a clock, or options passed through a variable
 * or spread, are not seen; a false alarm is silenced with a `wall-clock-ok: <reason>` comment on
 * the call's line or the line above); rule 2 does not see wall-clock reads hidden in libraries or
 * via `Date()`/`new Date(undefined)`. Neither catches a test that reads the wall clock and
 * compares it with fixed dates through a value computed elsewhere; running files under a shifted
 * clock (libfaketime, `faketime -f '+400d'`, with a private TMPDIR) does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const PRODUCTION_DIRS = ['functions', 'lib', 'bin', 'sandbox', 'sim'];

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)))
    .sort();
}
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The wall clock as a default: `x.now ?? (() => new Date())`, `now ?? Date.now`, `now: () => number = Date.now`. */
const WALL_CLOCK_DEFAULT =
  /\bnow\s*\?\?\s*\(?\s*(?:\(\s*\)\s*=>\s*new Date\(\s*\)|Date\.now\b|new Date\(\s*\))|\bnow\s*(?::[^\n]*?)?=\s*(?:Date\.now\b|\(\s*\)\s*=>\s*new Date\(\s*\))/g;
const DECLARATION =
  /^export\s+(?:default\s+)?(?:async\s+)?(?:function\s*\*?\s*(\w+)|class\s+(\w+)|const\s+(\w+)\s*=)/gm;

/** Factories with a wall-clock default whose clock cannot change a test's outcome at fixed dates. */
const NOT_DATE_DEPENDENT: Record<string, string> = {
  fernetEncrypt:
    'the clock only stamps the token, and nothing here decrypts with a TTL (fernetDecrypt ignores the stamp without ttlSeconds)',
  createPagerDutySender: 'the clock measures the retry budget (elapsed milliseconds), never a date',
};

interface ClockedFactory {
  name: string;
  file: string;
  isClass: boolean;
}

/** Exported functions and classes with a wall-clock default, in production code and test support. */
function clockedFactories(): ClockedFactory[] {
  const found = new Map<string, ClockedFactory>();
  for (const file of [...PRODUCTION_DIRS.flatMap(tsFiles), ...tsFiles('test/support')]) {
    const text = read(file);
    const declarations = [...text.matchAll(DECLARATION)].map((m) => ({
      at: m.index,
      name: (m[1] ?? m[2] ?? m[3]) as string,
      isClass: m[2] !== undefined,
    }));
    for (const match of text.matchAll(WALL_CLOCK_DEFAULT)) {
      const enclosing = declarations.filter((d) => d.at < match.index).at(-1);
      if (enclosing !== undefined && NOT_DATE_DEPENDENT[enclosing.name] === undefined)
        found.set(enclosing.name, { name: enclosing.name, file, isClass: enclosing.isClass });
    }
  }
  return [...found.values()];
}

/** An ISO date-time literal ('2026-11-27T10:00:00Z', "2026-11-27 10:00") or Date.UTC(: the test runs at fixed dates. */
const FIXED_DATE = /['"`]\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\bDate\.UTC\(/;

/** The argument text of the call whose `(` is at `open`, or undefined when unbalanced. */
function argumentsAt(text: string, open: number): string | undefined {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return text.slice(open + 1, i);
  }
  return undefined;
}

const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

/** Calls of clocked factories without a clock, in test files that use fixed dates. */
function unclockedCalls(
  files: readonly { file: string; text: string }[],
  factories: readonly ClockedFactory[],
): string[] {
  const findings: string[] = [];
  for (const { file, text } of files) {
    if (!FIXED_DATE.test(text)) continue;
    const lines = text.split('\n');
    for (const factory of factories) {
      const call = new RegExp(
        `${factory.isClass ? '\\bnew\\s+' : '(?<![\\w.$])'}${factory.name}\\s*(?:<[^>()]*>)?\\(`,
        'g',
      );
      for (const match of text.matchAll(call)) {
        const before = text.slice(text.lastIndexOf('\n', match.index) + 1, match.index);
        if (/\b(?:function|import)\b|^\s*\*|\/\//.test(before)) continue; // a declaration, an import, a comment
        const args = argumentsAt(text, match.index + match[0].length - 1);
        if (args === undefined || /\b(?:now|clock)\b/i.test(args)) continue;
        const line = lineOf(text, match.index);
        if (/wall-clock-ok:\s*\S/.test(`${lines[line - 2] ?? ''}\n${lines[line - 1] ?? ''}`)) continue;
        findings.push(
          `${file}:${line}: ${factory.name}(…) without a clock (its default is the wall clock, ${factory.file}) in a test at fixed dates`,
        );
      }
    }
  }
  return findings;
}

/**
 * Wall-clock reads in production code that are not the default of a clock seam, with why each
 * needs none. Keyed by file and the trimmed line, so edits elsewhere in the file do not move them.
 */
const WALL_CLOCK_ALLOWED: Record<string, Record<string, string>> = {
  'functions/handlers/runtime.ts': { 'now: () => new Date(),': 'the Lambda composition root: the production clock' },
  'sim/protocol.ts': { 'now: () => new Date(),': 'the simulation composition root' },
  'bin/cli/main.ts': {
    'const startedAt = new Date().toISOString();': 'the CLI composition root: when this command started',
  },
  'bin/cli/drill.ts': {
    'const started = Date.now();': 'elapsed time of a drill, printed only',
    'const row = compare(fault, sandbox.expectedFor(fault), report, Date.now() - started);':
      'elapsed time, printed only',
  },
  'functions/adapters/secrets.ts': {
    'if (cached !== undefined && cached.expiresAt > Date.now()) return cached.text;':
      'cache age (elapsed time); the test fakes Date (vi.setSystemTime)',
    'cache.set(secretId, { text, expiresAt: Date.now() + maxAge * 1000 });': 'cache age (elapsed time)',
  },
  'functions/probes/enhancement.ts': {
    'const remaining = deadline - Date.now();': 'a polling deadline (elapsed time)',
  },
  'sandbox/queue.ts': {
    'const deadline = Date.now() + 5_000;': 'a startup polling deadline (elapsed time)',
    'while (!ready && !gone && Date.now() < deadline) {': 'a startup polling deadline (elapsed time)',
  },
  'sandbox/tls.ts': {
    'const deadline = Date.now() + 30_000;': 'the cache lock: waiting for it (elapsed time)',
    '(s) => Date.now() - s.mtimeMs,': "the cache lock: a stale lock's age, against the file system's clock",
    'if (age > 20_000 || Date.now() > deadline)': 'the cache lock: waiting for it (elapsed time)',
  },
};

const WALL_CLOCK_READ = /\bnew Date\(\s*\)|\bDate\.now\(\s*\)/;

function wallClockReads(): string[] {
  const findings: string[] = [];
  for (const file of PRODUCTION_DIRS.flatMap(tsFiles)) {
    read(file)
      .split('\n')
      .forEach((line, index) => {
        const code = line.replace(/\/\/.*$/, '').trim();
        if (code.startsWith('*') || !WALL_CLOCK_READ.test(code)) return;
        if (new RegExp(WALL_CLOCK_DEFAULT.source).test(code)) return; // the default of a seam
        if (WALL_CLOCK_ALLOWED[file]?.[code] !== undefined) return;
        findings.push(`${file}:${index + 1}: ${code}`);
      });
  }
  return findings;
}

describe('no test depends on the wall clock', () => {
  const factories = clockedFactories();

  it('finds the clocked factories in the code (the guard itself works)', () => {
    const names = factories.map((f) => f.name);
    expect(names).toContain('createFileStateStore');
    expect(names).toContain('sandboxTls');
    expect(names).toContain('TenantDirectory');
    // The bug of issue 21 is caught; a call that passes the clock is not.
    const buggy = `const T0 = Date.parse('2026-11-27T10:00:00Z');\nconst store = createFileStateStore({ path });\n`;
    expect(unclockedCalls([{ file: 'x.test.ts', text: buggy }], factories)).toEqual([
      'x.test.ts:2: createFileStateStore(…) without a clock (its default is the wall clock, functions/adapters/state-file.ts) in a test at fixed dates',
    ]);
    const fixed = buggy.replace('{ path }', '{ path, now: () => at(minute) }');
    expect(unclockedCalls([{ file: 'x.test.ts', text: fixed }], factories)).toEqual([]);
    // Without fixed dates the wall clock is consistent with itself: not flagged.
    expect(unclockedCalls([{ file: 'x.test.ts', text: 'createFileStateStore({ path });' }], factories)).toEqual([]);
  });

  it('a test at fixed dates passes a clock to every factory whose default is the wall clock', () => {
    const files = ['test/unit', 'test/integration', 'test/cdk', 'test/drills', 'test/support']
      .flatMap(tsFiles)
      .filter((file) => file !== 'test/unit/no-wall-clock.test.ts')
      .map((file) => ({ file, text: read(file) }));
    expect(unclockedCalls(files, factories)).toEqual([]);
  });

  it('production code reads the wall clock only as the default of a clock seam, or where listed with a reason', () => {
    expect(wallClockReads()).toEqual([]);
  });
});
