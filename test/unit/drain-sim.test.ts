import { describe, expect, it } from 'vitest';
import { REQUEST_SPREAD_MS, simulateDrain } from '../../sim/drain.ts';

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

  it("counts a tenant run's requests over the spread of its invocation, so slots a second apart can share a second", () => {
    // 20 one-tenant slots, a second apart, 10 requests each (half a budget of 20): as the sweep plans them.
    const slots = { tenants: 20, batchSize: 10, maxConcurrency: 20, invocationMs: [300] };
    const paced = { ...slots, delaysS: Array.from({ length: 20 }, (_, i) => i + 1), requests: Array(20).fill(10) };
    // Counted at each invocation's start, no sliding second ever holds two slots.
    expect(simulateDrain({ ...paced, requestSpreadMs: 0 }).peakRps).toBe(10);
    // Spread over the first 350 ms (as the real paced run saw them), one second holds parts of two, never more.
    const spread = simulateDrain({ ...paced, seed: 3 });
    expect(REQUEST_SPREAD_MS).toBe(350);
    expect(spread.peakRps).toBeGreaterThan(10);
    expect(spread.peakRps).toBeLessThanOrEqual(20);
  });
});
