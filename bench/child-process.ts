/** Runs a bench process (`node ARGS JSON`) and returns the JSON of the last line it prints. */
import { spawn } from 'node:child_process';

export async function runJsonChild<T>(args: readonly string[], input: unknown, what: string, cwd: string): Promise<T> {
  const child = spawn(process.execPath, [...args, JSON.stringify(input)], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const last = stdout.trim().split('\n').at(-1);
  if (code !== 0 || !last) throw new Error(`the ${what} process failed (${code}): ${stderr}`);
  return JSON.parse(last) as T;
}
