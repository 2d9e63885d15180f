/** Runs the CLI: `main` in-process with captured streams (the same path as the binary), or the binary itself. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../bin/cli/main.ts';
import type { SandboxOptions } from '../../sandbox/index.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  argv: string[],
  options: { env?: Record<string, string | undefined>; sandboxOptions?: SandboxOptions } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text), isTTY: false },
    env: options.env ?? { NO_COLOR: '1' },
    ...(options.sandboxOptions ? { sandboxOptions: options.sandboxOptions } : {}),
  });
  return { code, stdout, stderr };
}

/** A line of a Node.js stack trace, or the crash of an unhandled error: never on a CLI's output. */
export const STACK_LINE =
  /^\s+at .+\(.+:\d+:\d+\)$|^\s+at .+:\d+:\d+$|Unhandled 'error' event|node:internal|RangeError/m;

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * `tenant-canary ARGS` in its own process, as a user (or cron) runs it: stack traces, crashes and
 * exit codes as they really are. Powertools logs are silenced.
 */
export function runBinary(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; command?: readonly string[] } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [command, ...prefix] = options.command ?? [process.execPath, 'bin/tenant-canary.js'];
  return new Promise((resolve, reject) => {
    const child = spawn(command as string, [...prefix, ...args], {
      cwd: ROOT,
      env: { ...(options.env ?? process.env), NO_COLOR: '1', POWERTOOLS_LOG_LEVEL: 'SILENT' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
