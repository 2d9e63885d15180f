/**
 * The protocol simulation (sim/protocol.ts): the real sweep, probe-batch and judgement code
 * under seeded faults holds every invariant; the same seed gives the same run; and each flaw
 * the protocol was fixed for, put back, is caught on a seed that shows it (while the same seed
 * without it holds).
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../sim/main.ts';
import { type Hole, type Invariant, simulate, simulateSeed } from '../../sim/protocol.ts';

async function runSimulate(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

describe('the sweep protocol, simulated', () => {
  it('holds every invariant over 20 seeds of 40 tenants, with the faults exercised', async () => {
    const outcome = await simulate({ seeds: 20, tenants: 40 });
    expect(outcome.violations).toEqual([]);
    expect(outcome.sweeps).toBeGreaterThan(200);
    for (const fault of ['crash', 'storeError', 'ledgerError', 'sqsRefused', 'sweepSkipped', 'snsThrottled']) {
      expect(outcome.counts[`fault.${fault}`], fault).toBeGreaterThan(0);
    }
    expect(outcome.counts['sweeps.judgedIncomplete']).toBeGreaterThan(0);
    // Messages back after a death come stale: handed on toward the DLQ, not probed, never deleted.
    expect(outcome.counts['metric.StaleRedeliveriesHandedBack']).toBeGreaterThan(0);
    expect(outcome.counts['sqs.deadLettered']).toBeGreaterThan(0);
    expect(outcome.counts['sqs.retriedLater']).toBeGreaterThan(0);
    expect(outcome.counts['alerts.delivered']).toBeGreaterThan(0);
  }, 120_000);

  it('gives the same run for the same seed', async () => {
    const [a, b] = [await simulateSeed(7, { tenants: 30 }), await simulateSeed(7, { tenants: 30 })];
    expect(a).toEqual(b);
    expect(a.counts['probe.invocations']).toBeGreaterThan(10);
  });

  // One seeded case per hole (20 tenants): found with `npm run simulate -- --tenants 20 --hole NAME --json`.
  const CASES: [Hole, number, Invariant][] = [
    ['lease-never-expires', 43, 'judgedOnce'],
    ['closed-on-error', 1, 'judgedAfterAlerting'],
    ['judged-while-draining', 1, 'neverPartial'],
    ['stale-reprobed', 1, 'notStale'],
    ['refused-expected', 2, 'refusedNotAwaited'],
    ['counted-twice', 10, 'countedOnce'],
  ];
  it.each(CASES)(
    'catches %s (seed %i) as a %s violation, and the fixed protocol holds on that seed',
    async (hole, seed, invariant) => {
      const broken = await simulateSeed(seed, { tenants: 20, holes: [hole] });
      expect(broken.violations.map((v) => v.invariant)).toContain(invariant);
      expect(broken.violations.every((v) => v.seed === seed)).toBe(true);
      const fixed = await simulateSeed(seed, { tenants: 20 });
      expect(fixed.violations).toEqual([]);
    },
  );
});

describe('npm run simulate', () => {
  it('prints {seeds, sweeps, violations} with --json and exits 0 when every invariant holds', async () => {
    const { code, stdout } = await runSimulate(['--seeds', '3', '--tenants', '10', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { seeds: number; sweeps: number; violations: unknown[] };
    expect(report).toMatchObject({ seeds: 3, violations: [] });
    expect(report.sweeps).toBeGreaterThan(20);
  });

  it('exits 1 naming the seed that reproduces a violation, and 2 for a bad argument', async () => {
    const broken = await runSimulate(['--seeds', '1', '--tenants', '20', '--hole', 'stale-reprobed']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/VIOLATION seed 1: no message is probed after its sweep drain deadline/);
    expect(broken.stdout).toContain('npm run simulate -- --first-seed 1 --seeds 1');
    const bad = await runSimulate(['--seeds', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--seeds must be an integer from 1 to 100000');
    expect(bad.stdout).toBe('');
  });
});
