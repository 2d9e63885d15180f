/**
 * Where alert state lives between runs: one record per incident key, each with a version.
 * Writes are conditional on the version the writer read, so two runs that race on one incident
 * cannot both record (and send) the same transition: the loser gets a conflict, re-reads and
 * decides again. Three adapters: memory (tests), a JSON file (the CLI's `run --state FILE`) and
 * DynamoDB (the Lambdas).
 */
import { type IncidentRecord, isOpenIncident } from '../core/alert-policy.ts';

export interface VersionedIncident {
  record: IncidentRecord;
  /** Incremented by every write; the condition of the next one. */
  version: number;
}

export interface IncidentWrite {
  record: IncidentRecord;
  /** The version read; null: the key must not exist yet. */
  expectedVersion: number | null;
}

export interface SaveResult {
  /** New version of each written key. */
  written: Map<string, number>;
  /** Keys whose stored version was not the expected one: nothing was written for them. */
  conflicts: string[];
}

export interface AlertStateStore {
  /** The stored records of these keys (absent keys are missing from the map). */
  load(keys: readonly string[]): Promise<Map<string, VersionedIncident>>;
  /**
   * The keys of every open incident ({@link isOpenIncident}), to {@link load} with the keys of a
   * run's failing results instead of every key the run touches. May also name incidents that
   * have just come to rest (the DynamoDB index is eventually consistent); load reads them as they are.
   */
  openKeys(): Promise<string[]>;
  /** Writes each record if its key is still at `expectedVersion`. */
  save(writes: readonly IncidentWrite[]): Promise<SaveResult>;
}

/** A store that cannot be read or written (not a conflict: those are a {@link SaveResult}). */
export class StateStoreError extends Error {
  override name = 'StateStoreError';
}

/** Resolved incidents are kept this long (history, seq continuity), then expire. */
export const DEFAULT_RESOLVED_TTL_DAYS = 7;

/**
 * When a record may be forgotten: an incident at rest with an empty outbox, `ttlDays` after it
 * came to rest; null while anything is open or pending.
 */
export function expiryOf(record: IncidentRecord, ttlDays: number): Date | null {
  if (record.phase !== 'ok' || record.pending.length > 0 || record.resolvedAt === null) return null;
  return new Date(Date.parse(record.resolvedAt) + ttlDays * 86_400_000);
}

export interface MemoryStateStore extends AlertStateStore {
  /** A copy of everything stored (tests). */
  snapshot(): Map<string, VersionedIncident>;
}

/** In-process store for tests: same conditional semantics as the others. */
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

export type StateStoreSpec =
  | { kind: 'memory' }
  | {
      kind: 'file';
      path: string;
      resolvedTtlDays?: number;
      /** The clock that ages resolved incidents (a replay with `--now` passes its own). */
      now?: () => Date;
    }
  | {
      kind: 'dynamodb';
      tableName: string;
      resolvedTtlDays?: number;
      /** Settings of the DynamoDB client (region, endpoint, credentials). */
      clientConfig?: import('@aws-sdk/client-dynamodb').DynamoDBClientConfig;
    };

/** The store named by `spec`. Adapters load their SDKs only when chosen. */
export async function openStateStore(spec: StateStoreSpec): Promise<AlertStateStore> {
  switch (spec.kind) {
    case 'memory':
      return createMemoryStateStore();
    case 'file': {
      const { createFileStateStore } = await import('./state-file.ts');
      return createFileStateStore({
        path: spec.path,
        resolvedTtlDays: spec.resolvedTtlDays,
        ...(spec.now ? { now: spec.now } : {}),
      });
    }
    case 'dynamodb': {
      const { createDynamoStateStore } = await import('./state-dynamodb.ts');
      return createDynamoStateStore({
        tableName: spec.tableName,
        resolvedTtlDays: spec.resolvedTtlDays,
        clientConfig: spec.clientConfig,
      });
    }
  }
}
