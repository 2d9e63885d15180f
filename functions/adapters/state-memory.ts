/**
 * Alert state in process memory, for tests and a CLI run without `--state`: the same
 * conditional semantics as the file and DynamoDB stores.
 */
import { isOpenIncident } from '../core/alert-policy.ts';
import type { AlertStateStore, SaveResult, VersionedIncident } from '../ports.ts';

export interface MemoryStateStore extends AlertStateStore {
  /** A copy of everything stored (tests). */
  snapshot(): Map<string, VersionedIncident>;
}

export function createMemoryStateStore(initial: Iterable<[string, VersionedIncident]> = []): MemoryStateStore {
  const items = new Map<string, VersionedIncident>([...initial].map(([key, item]) => [key, structuredClone(item)]));
  return {
    async load(keys) {
      const out = new Map<string, VersionedIncident>();
      for (const key of keys) {
        const item = items.get(key);
        if (item) out.set(key, structuredClone(item));
      }
      return out;
    },
    async openKeys() {
      return [...items].filter(([, item]) => isOpenIncident(item.record)).map(([key]) => key);
    },
    async save(writes) {
      const result: SaveResult = { written: new Map(), conflicts: [] };
      for (const write of writes) {
        const key = write.record.dedupKey;
        const current = items.get(key)?.version ?? null;
        if (current !== write.expectedVersion) {
          result.conflicts.push(key);
          continue;
        }
        const version = (current ?? 0) + 1;
        items.set(key, { record: structuredClone(write.record), version });
        result.written.set(key, version);
      }
      return result;
    },
    snapshot() {
      return new Map([...items].map(([key, item]) => [key, structuredClone(item)]));
    },
  };
}
