/**
 * Opening and closing the ports of a run, in one place: every caller (the use cases, the CLI,
 * the drills, the benchmark) runs its checks inside {@link withPorts}, which always closes.
 */
import type { Config } from '../core/config.ts';
import type { Report } from '../core/types.ts';
import type { OpenPorts } from '../ports.ts';
import { type RunInput, runChecks } from '../run.ts';

/** Opens the ports of a config (the adapters factory, or a test's). */
export type PortsOpener = (config: Config) => Promise<OpenPorts>;

/** Runs `work` with the config's ports open, and closes them whatever happens. */
export async function withPorts<T>(
  open: PortsOpener,
  config: Config,
  work: (ports: OpenPorts) => Promise<T>,
): Promise<T> {
  const ports = await open(config);
  try {
    return await work(ports);
  } finally {
    await ports.close();
  }
}

/** {@link runChecks} on freshly opened ports, closed afterwards. */
export function runWithPorts(open: PortsOpener, input: Omit<RunInput, 'ports'>): Promise<Report> {
  return withPorts(open, input.config, (ports) => runChecks({ ...input, ports }));
}
