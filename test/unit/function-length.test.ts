/**
 * No function or method in non-test code is longer than a page (150 lines, counted from its first
 * line to its closing brace, comments and blank lines included, as a reader meets it). Biome's
 * noExcessiveLinesPerFunction (biome.json) counts fewer lines; this counts the ones on screen.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOTS = ['functions', 'lib', 'sandbox', 'sim', 'bench', 'bin', 'scripts'];
const MAX_LINES = 150;

/** The source with string, template and comment contents blanked (newlines kept), so braces count. */
function blankLiterals(source: string): string {
  let out = '';
  let i = 0;
  const blank = (text: string) => text.replace(/[^\n]/g, ' ');
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end < 0 ? source.length : end;
      out += blank(source.slice(i, stop));
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end < 0 ? source.length : end + 2;
      out += blank(source.slice(i, stop));
      i = stop;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      let depth = 0;
      while (j < source.length && (source[j] !== c || depth > 0)) {
        if (source[j] === '\\') j += 1;
        else if (c === '`' && source[j] === '$' && source[j + 1] === '{') depth += 1;
        else if (c === '`' && depth > 0 && source[j] === '}') depth -= 1;
        else if (c !== '`' && source[j] === '\n') break;
        j += 1;
      }
      out += c + blank(source.slice(i + 1, j)) + c;
      i = j + 1;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

const START =
  /^\s*(export\s+)?(default\s+)?(async\s+)?(function\*?\s+\w+|((public|private|protected|static|async|get|set)\s+)*(constructor|#?[A-Za-z_]\w*)\s*(<[^>]*>)?\s*\(|(const|let)\s+\w+\s*(:[^=]+)?=\s*(async\s*)?(\([^)]*\)|\w+)?\s*(:\s*[^=]+)?=>)/;
const KEYWORDS = new Set(['if', 'for', 'while', 'switch', 'catch', 'return', 'await', 'new', 'typeof', 'else', 'do']);

/** Functions longer than `max` lines in one file: `name:line (n lines)`. */
function longFunctions(source: string, max = MAX_LINES): string[] {
  const lines = blankLiterals(source).split('\n');
  const found: string[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    if (!START.test(line) || KEYWORDS.has(line.trim().split(/\W+/)[0] ?? '')) continue;
    const rest = lines.slice(i).join('\n');
    // The body's brace: the first `{` outside parentheses, before a `;` ends the statement.
    let parens = 0;
    let open = -1;
    for (let k = 0; k < rest.length && open < 0; k += 1) {
      const ch = rest[k];
      if (ch === '(') parens += 1;
      else if (ch === ')') parens -= 1;
      else if (ch === ';' && parens === 0) break;
      else if (ch === '{' && parens === 0) open = k;
    }
    if (open < 0) continue;
    let depth = 0;
    for (let k = open; k < rest.length; k += 1) {
      if (rest[k] === '{') depth += 1;
      else if (rest[k] === '}' && --depth === 0) {
        const count = rest.slice(0, k).split('\n').length;
        if (count > max) found.push(`${line.trim().slice(0, 60)} :${i + 1} (${count} lines)`);
        break;
      }
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory())
      return entry.name === 'node_modules' || entry.name.startsWith('.') ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')
      ? [path]
      : [];
  });
}

describe('function length', () => {
  it('measures a function from its first line to its closing brace, strings and comments aside', () => {
    const body = Array.from({ length: 148 }, (_, i) => `  const a${i} = '}' + \`{\${i}\`; // }`).join('\n');
    expect(longFunctions(`export function f() {\n${body}\n}\n`)).toEqual([]);
    const longer = `${body}\n  return 1;`;
    expect(longFunctions(`export function f() {\n${longer}\n}\n`)).toEqual(['export function f() { :1 (151 lines)']);
    expect(longFunctions(`class A {\n  constructor() {\n${longer}\n  }\n}\n`)).toHaveLength(1);
    expect(longFunctions(`const f = async (x: number) => {\n${longer}\n};\n`)).toHaveLength(1);
  });

  it(`finds no function or method over ${MAX_LINES} lines outside the tests`, () => {
    const long = ROOTS.flatMap((root) =>
      sourceFiles(root).flatMap((file) => longFunctions(readFileSync(file, 'utf8')).map((f) => `${file}: ${f}`)),
    );
    expect(long).toEqual([]);
  });
});
