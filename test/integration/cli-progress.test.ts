/**
 * The progress line: drawn on an interactive stderr only. A real pseudo-terminal (util-linux
 * `script`) against piped output, with the CLI as a user runs it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { progressEnabled, progressLine } from '../../bin/cli/progress.ts';
import { findOnPath } from '../../sandbox/queue.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const RUN = [
  '--import',
  'tsx',
  'bin/tenant-canary.ts',
  'run',
  '--check',
  'webhook.signed_accepted',
  '--sandbox-redis',
  'memory',
];
/** The environment of a person at a terminal: no CI, no NO_COLOR. */
const { CI: _ci, NO_COLOR: _nc, FORCE_COLOR: _fc, ...interactive } = process.env;

function run(
  command: string,
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...interactive, POWERTOOLS_LOG_LEVEL: 'SILENT' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** readline's cursorTo(0) and clearLine(0): column 1, erase the whole line. */
const REDRAW = '\u001b[1G\u001b[2K';

const literal = (text: string) => text.replace(/[[\]\\^$.*+?()|{}]/g, '\\$&');
const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

describe('the progress line', () => {
  it('is drawn in place on a terminal, and not at all when stderr is a pipe', { timeout: 120_000 }, async (ctx) => {
    if (findOnPath('script', process.env.PATH) === undefined) {
      if (process.env.CI === 'true') throw new Error('CI=true but util-linux script is not on PATH');
      ctx.skip('util-linux script is not on PATH: no pseudo-terminal to draw on');
    }
    const command = [process.execPath, ...RUN].map(quote).join(' ');
    const [onTty, piped] = await Promise.all([
      run('script', ['-qefc', command, '/dev/null']),
      run(process.execPath, RUN),
    ]);
    expect(onTty.code, onTty.stdout.slice(-2000)).toBe(0);
    // Redrawn with readline: cursor to column 1, clear the line, the text.
    expect(onTty.stdout).toMatch(new RegExp(`${literal(REDRAW)}tenants 3/3, 0 failing, \\d+ s`));
    expect(onTty.stdout).toContain('3 pass, 0 fail');
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toMatch(/tenants \d+\/\d+/);
    expect(piped.stdout).not.toContain('\u001b[');
    expect(piped.stdout).toContain('3 pass, 0 fail');
  });

  it('follows --json, NO_COLOR and CI as the rest of the output does', () => {
    const tty = { isTTY: true, write: () => true };
    expect(progressEnabled(tty, {}, false)).toBe(true);
    expect(progressEnabled(tty, {}, true)).toBe(false);
    expect(progressEnabled(tty, { NO_COLOR: '1' }, false)).toBe(false);
    expect(progressEnabled(tty, { CI: 'true' }, false)).toBe(false);
    expect(progressEnabled({ isTTY: false, write: () => true }, {}, false)).toBe(false);
  });

  it('writes nothing when off, and clears its line when stopped', () => {
    const written: string[] = [];
    const stream = { isTTY: true, write: (text: string) => written.push(text) };
    const off = progressLine(stream, false);
    off.update('tenants 1/2, 0 failing');
    off.stop();
    expect(written).toEqual([]);
    let now = 0;
    const on = progressLine(stream, true, () => now);
    now = 2400;
    on.update('tenants 1/2, 0 failing');
    expect(written.join('')).toBe(`${REDRAW}tenants 1/2, 0 failing, 2 s`);
    on.stop();
    expect(written.join('').endsWith(`2 s${REDRAW}`)).toBe(true);
  });
});
