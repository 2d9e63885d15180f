/**
 * Runs `task` over `items` with at most `limit` in flight; results keep the input order.
 * A rejected task rejects the whole map (tasks here are expected to turn faults into values).
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker);
  await Promise.all(workers);
  return results;
}

/**
 * Settles `work` within `budgetMs`: the signal it receives aborts at the deadline, and if the
 * work does not return promptly after that, `onTimeout()` is the answer. Never leaves a timer.
 */
export async function withBudget<R>(
  budgetMs: number,
  parent: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<R>,
  onTimeout: () => R,
): Promise<R> {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<R>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`budget of ${budgetMs} ms spent`));
      resolve(onTimeout());
    }, budgetMs);
  });
  try {
    return await Promise.race([work(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParentAbort);
    if (!controller.signal.aborted) controller.abort(new Error('check finished'));
  }
}

/**
 * A signal that ends a run `reserveMs` before the function's own timeout, leaving time to
 * report (undefined when the remaining time is unknown: a run without a deadline).
 */
export function deadlineSignal(remainingMs: number | undefined, reserveMs = 10_000): AbortSignal | undefined {
  if (remainingMs === undefined || !Number.isFinite(remainingMs)) return undefined;
  return AbortSignal.timeout(Math.max(1_000, remainingMs - reserveMs));
}
