/**
 * The canary's side of the paced run (bench/paced-run.ts), in its own process so that its CPU is
 * not the counting proxy's nor the sandbox's: each sweep of argv[2] (JSON, {@link PacedRunChildInput})
 * in turn through bench/paced-sweep.ts; prints one JSON line, {@link PacedRunChildOutput}.
 */
import { type PacedSweepInput, type PacedSweepOutput, runPacedSweep } from './paced-sweep.ts';

export interface PacedRunChildInput {
  sweeps: PacedSweepInput[];
  /** Pause between sweeps, ms (the counting proxy tells them apart by time). */
  gapMs: number;
}

export interface PacedRunChildOutput {
  sweeps: PacedSweepOutput[];
}

const input = JSON.parse(process.argv[2] ?? '{}') as PacedRunChildInput;
const sweeps: PacedSweepOutput[] = [];
for (const sweep of input.sweeps) {
  if (sweeps.length > 0) await new Promise((resolve) => setTimeout(resolve, input.gapMs));
  sweeps.push(await runPacedSweep(sweep));
}
process.stdout.write(`${JSON.stringify({ sweeps } satisfies PacedRunChildOutput)}\n`);
process.exit(0);
