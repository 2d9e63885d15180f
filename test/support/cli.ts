/** Runs the CLI's `main` in-process with captured streams: the same path as the binary. */
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
