/** Alert state stores arranged for tests. */
import type { AlertStateStore } from '../../functions/ports.ts';

/**
 * Two views of stores that both read before either writes (the worst interleaving of two runs
 * racing on one incident): each one's first `load` waits until the other's has returned too.
 */
export function racingStores(open: () => AlertStateStore): [AlertStateStore, AlertStateStore] {
  let arrived = 0;
  let release: () => void = () => {};
  const barrier = new Promise<void>((resolve) => {
    release = resolve;
  });
  const racer = (): AlertStateStore => {
    const inner = open();
    let loads = 0;
    return {
      openKeys: () => inner.openKeys(),
      async load(keys) {
        const items = await inner.load(keys);
        if (loads++ === 0) {
          arrived += 1;
          if (arrived === 2) release();
          await barrier;
        }
        return items;
      },
      save: (writes) => inner.save(writes),
    };
  };
  return [racer(), racer()];
}
