import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECK_IDS } from '../../functions/core/catalog.ts';
import { configSchema } from '../../functions/core/config.ts';
import { deploymentSchema } from '../../lib/config.ts';
import { docsState, fieldsOf } from '../../scripts/docs.ts';

const ROOT = join(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The lines of a Markdown text outside fenced code blocks. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  for (const line of prose(text)) {
    const heading = /^#{1,6} (.+)$/.exec(line);
    if (heading?.[1] !== undefined) {
      const base = slug(heading[1]);
      let anchor = base;
      for (let n = 1; anchors.has(anchor); n += 1) anchor = `${base}-${n}`;
      anchors.add(anchor);
    }
    for (const match of line.matchAll(/<a id="([^"]+)"><\/a>/g)) anchors.add(match[1] ?? '');
  }
  return anchors;
}

describe('the generated docs', () => {
  it('are what npm run docs writes from the schema and the catalog (run it when this fails)', () => {
    for (const { file, current, generated } of docsState(ROOT)) {
      expect(current, `${file} is out of date: run npm run docs`).toBe(generated);
    }
  });

  it('list every config field and every deployment field', () => {
    const configuration = read('docs/configuration.md');
    for (const field of fieldsOf(configSchema)) expect(configuration, field.path).toContain(`- \`${field.path}\` (`);
    const operations = read('docs/operations.md');
    for (const field of fieldsOf(deploymentSchema)) {
      expect(operations, field.path).toContain(`- \`deployment.${field.path}\` (`);
    }
    // Defaults come from the schema, not from a hand-written table.
    expect(configuration).toContain('- `database.maxConnections` (integer > 0, ≤ 20; default `1`)');
    expect(configuration).toContain('- `tenants[].signingSecret` (secret reference; required)');
  });

  it('name every check of the catalog, in the README and in docs/checks.md', () => {
    const checks = read('docs/checks.md');
    const readme = read('README.md');
    for (const id of CHECK_IDS) {
      expect(checks, id).toContain(`- \`${id}\` (`);
      expect(readme, id).toContain(`\`${id}\``);
    }
  });
});

describe('the README', () => {
  const readme = read('README.md');

  it('fits on a few screens: at most 250 lines, none over 200 characters outside code blocks', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
    for (const line of prose(readme)) expect(line.length, line.slice(0, 80)).toBeLessThanOrEqual(200);
  });

  it('keeps the two commands and the section the canary check links', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
    // canary.sweep_complete's runbook is "tenant-canary README: A sweep is judged once".
    expect(anchorsOf(readme)).toContain('a-sweep-is-judged-once');
  });
});

describe('links between the docs', () => {
  it('point at files that exist and at headings or anchors they have', () => {
    for (const file of DOCS) {
      for (const line of prose(read(file))) {
        for (const match of line.matchAll(/\]\(([^)\s]+)\)/g)) {
          const target = match[1] ?? '';
          if (/^[a-z]+:/.test(target)) continue;
          const [path = '', anchor] = target.split('#');
          const resolved = path === '' ? file : relative(ROOT, join(ROOT, dirname(file), path));
          expect(existsSync(join(ROOT, resolved)), `${file} links ${target}`).toBe(true);
          if (anchor !== undefined && resolved.endsWith('.md')) {
            expect(anchorsOf(read(resolved)), `${file} links ${target}`).toContain(anchor);
          }
        }
      }
    }
  });
});
