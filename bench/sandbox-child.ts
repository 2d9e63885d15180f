/**
 * The benchmark's sandbox, in its own process so that the canary's CPU time and memory are
 * measured without the platform's. Started by bench/main.ts with the options as JSON in argv[2];
 * prints one JSON line `{ config, info, seedMs }` on stdout when ready; stops when stdin closes
 * or on SIGTERM.
 */
import { type SandboxOptions, startSandbox } from '../sandbox/index.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as SandboxOptions;
const started = performance.now();
const sandbox = await startSandbox({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
const readyMs = Math.round(performance.now() - started);
process.stdout.write(`${JSON.stringify({ config: sandbox.config, info: sandbox.info, readyMs })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await sandbox.stop().catch((error: unknown) => process.stderr.write(`sandbox stop failed: ${error}\n`));
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
