/**
 * `npm run simulate -- [--seeds N] [--tenants N] [--sweeps N] [--first-seed N] [--hole NAME]... [--json]`:
 * the deployed sweep protocol under seeded faults (sim/protocol.ts). Exit 0 with no violation,
 * 1 with any (each printed with the seed that reproduces it), 2 for a usage error.
 */
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { HOLES, type Hole, INVARIANTS, simulate } from './protocol.ts';

const count = (name: string, min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
  }
  return n;
};

export interface Io {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export async function main(argv: readonly string[], io: Io = process): Promise<number> {
  const program = new Command()
    .name('simulate')
    .description('the deployed sweep protocol under seeded faults; checks its invariants on every seed')
    .option('--seeds <n>', 'seeds to run', count('--seeds', 1, 100_000), 100)
    .option(
      '--first-seed <n>',
      'the first seed (a violation names the seed to rerun)',
      count('--first-seed', 0, 2 ** 31),
      1,
    )
    .option('--tenants <n>', 'tenants per sweep', count('--tenants', 1, 10_000), 200)
    .option('--sweeps <n>', 'faulty sweeps per seed (then four without faults)', count('--sweeps', 3, 1_000), 12)
    .option(
      '--hole <name>',
      `put back a fixed flaw (${Object.keys(HOLES).join(', ')})`,
      (value: string, previous: Hole[]) => {
        if (!(value in HOLES))
          throw new InvalidArgumentError(`unknown hole "${value}": one of ${Object.keys(HOLES).join(', ')}`);
        return [...previous, value as Hole];
      },
      [] as Hole[],
    )
    .option('--json', 'print {"seeds", "sweeps", "violations"} as JSON')
    .exitOverride()
    .configureOutput({ writeErr: (text) => io.stderr.write(text), writeOut: (text) => io.stdout.write(text) });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    const code = (error as { exitCode?: number }).exitCode;
    return code === 0 ? 0 : 2;
  }
  const options = program.opts<{
    seeds: number;
    firstSeed: number;
    tenants: number;
    sweeps: number;
    hole: Hole[];
    json?: boolean;
  }>();
  const started = performance.now();
  const outcome = await simulate({
    seeds: options.seeds,
    firstSeed: options.firstSeed,
    tenants: options.tenants,
    sweeps: options.sweeps,
    holes: options.hole,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (options.json) {
    io.stdout.write(
      `${JSON.stringify({ seeds: outcome.seeds, sweeps: outcome.sweeps, violations: outcome.violations })}\n`,
    );
  } else {
    const c = outcome.counts;
    io.stdout.write(
      `${outcome.seeds} seeds × ${options.tenants} tenants: ${outcome.sweeps} sweeps (${c['sweeps.judged'] ?? 0} judged complete, ${c['sweeps.judgedIncomplete'] ?? 0} incomplete), ${c['probe.invocations'] ?? 0} probe invocations, ${c['alerts.delivered'] ?? 0} alerts in ${seconds} s\n`,
    );
    io.stdout.write(
      `faults: ${Object.entries(c)
        .filter(
          ([name]) =>
            name.startsWith('fault.') || name === 'sqs.deadLettered' || name === 'metric.StaleMessagesDropped',
        )
        .map(([name, n]) => `${name.replace(/^(fault|metric)\./, '')} ${n}`)
        .join(', ')}\n`,
    );
    for (const violation of outcome.violations.slice(0, 50)) {
      io.stdout.write(
        `VIOLATION seed ${violation.seed}: ${INVARIANTS[violation.invariant]}: ${violation.sweepId ? `${violation.sweepId}: ` : ''}${violation.detail}\n`,
      );
    }
    if (outcome.violations.length > 50) io.stdout.write(`... and ${outcome.violations.length - 50} more\n`);
    io.stdout.write(
      outcome.violations.length === 0
        ? 'every invariant held\n'
        : `rerun one: npm run simulate -- --first-seed ${outcome.violations[0]?.seed} --seeds 1\n`,
    );
  }
  return outcome.violations.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
