import { describe, expect, it } from 'vitest';
import { mapWithConcurrency, withBudget } from '../../functions/core/concurrency.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('bounded concurrency', () => {
  it('never has more than the limit in flight and keeps input order', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapWithConcurrency([5, 1, 4, 2, 3, 0, 2], 3, async (ms, index) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await sleep(ms * 3);
      inFlight -= 1;
      return index;
    });
    expect(out).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(peak).toBe(3);
  });

  it('handles an empty list', async () => {
    expect(await mapWithConcurrency([], 4, async () => 1)).toEqual([]);
  });
});

describe('time budgets', () => {
  it('answers with the timeout value and aborts the work when the budget is spent', async () => {
    let seen: AbortSignal | undefined;
    const started = Date.now();
    const result = await withBudget(
      50,
      undefined,
      (signal) => {
        seen = signal;
        return new Promise<string>(() => {});
      },
      () => 'timed out',
    );
    expect(result).toBe('timed out');
    expect(seen?.aborted).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('passes through a result that comes in time', async () => {
    expect(
      await withBudget(
        1000,
        undefined,
        async () => 'done',
        () => 'timed out',
      ),
    ).toBe('done');
  });

  it('propagates the parent abort to the work', async () => {
    const parent = new AbortController();
    const result = withBudget(
      5000,
      parent.signal,
      (signal) =>
        new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve('cancelled'), { once: true })),
      () => 'timed out',
    );
    parent.abort();
    expect(await result).toBe('cancelled');
  });
});
