#!/usr/bin/env node
/** CLI entry: wires the process (argv, streams, env, signals) to {@link main}. */
import { main } from './cli/main.ts';

const controller = new AbortController();
const stop = () => controller.abort(new Error('interrupted'));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
process.off('SIGINT', stop);
process.off('SIGTERM', stop);
