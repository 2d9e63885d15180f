/**
 * The protocol simulation (sim/protocol.ts): the real sweep, probe-batch and judgement code
 * under seeded faults holds every invariant; the same seed gives the same run; and each flaw
 * the protocol was fixed for, put back, is caught on a seed that shows it (while the same seed
 * without it holds).
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../sim/main.ts';
import {
  detectionSeconds,
  type Hole,
  type Invariant,
  simulate,
  simulateDetection,
  simulateSeed,
} from '../../sim/protocol.ts';
import { T0 } from '../../sim/state.ts';

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

  // One seeded case per hole (20 tenants): found with `npm run simulate -- --tenants 20 --hole NAME --json`
  // (again since deferred round trips confirm a failure within their run and the sweep starts the
  // failing tenants, then those that may confirm, first: the runs changed). counted-twice needs a
  // sweep judged again after its state was saved, with a P1/P2 key failing first in it: 66 is the
  // first seed that shows it (23 for lease-never-expires).
  const CASES: [Hole, number, Invariant][] = [
    ['lease-never-expires', 23, 'judgedOnce'],
    ['closed-on-error', 3, 'judgedAfterAlerting'],
    ['judged-while-draining', 1, 'neverPartial'],
    ['stale-reprobed', 1, 'notStale'],
    ['refused-expected', 1, 'refusedNotAwaited'],
    ['counted-twice', 66, 'countedOnce'],
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

describe('sampled acceptances in the simulation (synthetic.acceptEveryMinutes at its default, 60)', () => {
  const PERIOD = 12; // sweeps of 5 minutes in an hour

  it("sends a healthy tenant's accepted ticket once per period, in its stable slot", async () => {
    const outcome = await simulateSeed(7, { tenants: 30 });
    const failing = new Set(outcome.episodes.map((e) => e.tenantId));
    const healthy = Object.entries(outcome.accepted).filter(([tenantId]) => !failing.has(tenantId));
    expect(healthy.length).toBeGreaterThan(20);
    expect(healthy.filter(([, sweeps]) => new Set(sweeps).size >= 2).length).toBeGreaterThan(20);
    for (const [tenantId, sweeps] of healthy) {
      const distinct = [...new Set(sweeps)];
      // 28 sweeps (12 faulty, 16 after): at most three acceptances (a faulty sweep may lose one), not 28.
      expect(distinct.length, tenantId).toBeGreaterThanOrEqual(1);
      expect(distinct.length, tenantId).toBeLessThanOrEqual(3);
      // The same slot in every period (a skipped sweep only makes the gap a period longer).
      for (let i = 1; i < distinct.length; i++) {
        expect(((distinct[i] as number) - (distinct[i - 1] as number)) % PERIOD, tenantId).toBe(0);
      }
    }
  });

  it('probes a tenant failing its accepted ticket again in the next sweep, until its alert fires', async () => {
    for (const seed of [1, 2, 3]) {
      const outcome = await simulateDetection(seed, {
        tenants: 40,
        scope: 'tenant',
        checkId: 'webhook.signed_accepted',
      });
      expect(outcome.violations).toEqual([]);
      expect(outcome.seconds).not.toBeNull();
      const sweeps = outcome.accepted;
      const gaps = sweeps.slice(1).map((sweep, i) => sweep - (sweeps[i] as number));
      // Healthy: once a period. Failing (the last two: it fires after two failing sweeps, P1): the very next sweep.
      expect(gaps.slice(0, -1).every((gap) => gap === PERIOD)).toBe(true);
      expect(gaps.at(-1)).toBe(1);
      expect(sweeps.at(-2)).toBeGreaterThanOrEqual(outcome.outageSweep);
      // Seen in its slot (at most a period after the outage), confirmed a sweep later.
      expect(outcome.seconds).toBeLessThanOrEqual((PERIOD + 2) * 300);
    }
  });

  it("starts one tenant's outage at its worst instant: 1 ms after its accepted ticket went out", async () => {
    const outcome = await simulateDetection(2, { tenants: 40, scope: 'tenant' });
    expect(outcome.violations).toEqual([]);
    // The ticket of the second period (its slot) went out just before: it passes, the next one a period later fails.
    expect(outcome.outageSweep).toBe(outcome.accepted[1]);
    expect(outcome.outageSweep).toBeGreaterThanOrEqual(PERIOD);
    expect(outcome.accepted[2]).toBe((outcome.accepted[1] as number) + PERIOD);
    expect(outcome.seconds).not.toBeNull();
    expect(outcome.seconds).toBeGreaterThan((PERIOD - 1) * 300);
  });

  it("fires one tenant's enhancement outage on the run that judges its failing ticket: confirmed within it, inside 4,200 s", async () => {
    for (const seed of [1, 2, 3]) {
      const outcome = await simulateDetection(seed, { tenants: 40, scope: 'tenant' });
      expect(outcome.violations).toEqual([]);
      const failingTicket = outcome.accepted[2] as number;
      expect(failingTicket).toBe((outcome.accepted[1] as number) + PERIOD);
      // No later acceptance: the sweep after the failing ticket's fired it (P1, two runs in one).
      expect(outcome.accepted).toHaveLength(3);
      const judgedAtS = (Date.parse(outcome.firedAt as string) - T0) / 1000;
      expect(Math.floor(judgedAtS / 300)).toBe(failingTicket + 1);
      // The confirmation waited roundTripTimeoutS (120 s) for a ticket that was never enhanced:
      // that sweep is judged only after the tenant's longer run reported.
      expect(judgedAtS - (failingTicket + 1) * 300).toBeGreaterThanOrEqual(120);
      // An hour (the next ticket) plus two sweeps at most, from the worst instant.
      expect(outcome.seconds).toBeLessThanOrEqual(4_200);
    }
  });

  it('fires for a platform-wide enhancement outage although each sweep carries a twelfth of the tickets', async () => {
    const platform = await detectionSeconds({ tenants: 60, scope: 'platform', seeds: 3 });
    expect(platform.neverFired).toBe(0);
    // The next sweep's tickets, judged a sweep later (deferred) and confirmed within that run by at
    // least breadth.minTenants tenants: fired in that sweep, within three sweeps of the outage.
    expect(platform.worst).toBeLessThanOrEqual(3 * 300);
  });
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
    const broken = await runSimulate([
      '--first-seed',
      '1',
      '--seeds',
      '1',
      '--tenants',
      '20',
      '--hole',
      'stale-reprobed',
    ]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/VIOLATION seed 1: no message is probed after its sweep drain deadline/);
    expect(broken.stdout).toContain('npm run simulate -- --first-seed 1 --seeds 1');
    const bad = await runSimulate(['--seeds', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--seeds must be an integer from 1 to 100000');
    expect(bad.stdout).toBe('');
  });
});
