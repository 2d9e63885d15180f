import { describe, expect, it } from 'vitest';
import { simulateDrain } from '../../sim/drain.ts';

describe('simulateDrain (the probe queue at the default quotas)', () => {
  it('drains in waves of maxConcurrency batches once the event source has scaled up', () => {
    const outcome = simulateDrain({ tenants: 10_000, batchSize: 10, maxConcurrency: 20, invocationMs: [1000] });
    expect(outcome.invocations).toBe(1000);
    expect(outcome.peakConcurrency).toBe(20);
    // 50 waves of about a second, plus the 3 s the event source takes to go from 5 to 20.
    expect(outcome.drainMs).toBeGreaterThan(50 * 900);
    expect(outcome.drainMs).toBeLessThan(50 * 1100 + 3000);
  });

  it('starts with 5 concurrent batches and adds at most 300 a minute', () => {
    const outcome = simulateDrain({ tenants: 10_000, batchSize: 10, maxConcurrency: 1000, invocationMs: [1000] });
    // Never all 1,000 at once: scaling from 5 by 5 a second, the queue is empty before that.
    expect(outcome.peakConcurrency).toBeLessThan(200);
    expect(outcome.peakConcurrency).toBeGreaterThan(5);
    const small = simulateDrain({ tenants: 50, batchSize: 10, maxConcurrency: 1000, invocationMs: [1000] });
    expect(small.peakConcurrency).toBe(5);
  });

  it('is the same for the same seed, and the account quota caps the mapping', () => {
    const options = { tenants: 2000, batchSize: 10, maxConcurrency: 50, invocationMs: [800, 1200, 950] };
    expect(simulateDrain({ ...options, seed: 7 })).toEqual(simulateDrain({ ...options, seed: 7 }));
    const capped = simulateDrain({ ...options, accountConcurrency: 10 });
    expect(capped.peakConcurrency).toBe(10);
    expect(() => simulateDrain({ ...options, invocationMs: [] })).toThrow(/at least one/);
  });
});
