/**
 * Alert state in one JSON file, for `run --state FILE` (cron, a laptop). Every save re-reads the
 * file, checks versions, and replaces it atomically (temp file in the same directory, fsync,
 * rename), so a crash never leaves half a file. Saves within one process are serialised; two
 * processes sharing one file are detected as version conflicts only between read and rename.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { DEFAULT_RESOLVED_TTL_DAYS, expiryOf, type IncidentRecord, isOpenIncident } from '../core/alert-policy.ts';
import { type AlertStateStore, type SaveResult, StateStoreError, type VersionedIncident } from '../ports.ts';

const FORMAT = 'tenant-canary/alert-state@1';

interface StateFile {
  format: typeof FORMAT;
  incidents: Record<string, VersionedIncident>;
}

export interface FileStateStoreOptions {
  path: string;
  /** Days a resolved incident is kept before it is pruned. @default 7 */
  resolvedTtlDays?: number | undefined;
  /** @default the current time (pruning only) */
  now?: () => Date;
}

export function createFileStateStore(options: FileStateStoreOptions): AlertStateStore {
  const { path } = options;
  const ttlDays = options.resolvedTtlDays ?? DEFAULT_RESOLVED_TTL_DAYS;
  const now = options.now ?? (() => new Date());
  let queue: Promise<unknown> = Promise.resolve();
  const serialised = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };

  const read = async (): Promise<StateFile> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { format: FORMAT, incidents: {} };
      throw new StateStoreError(`alert state file ${path} cannot be read (${code ?? 'error'})`, { cause: error });
    }
    return parseStateFile(text, path);
  };

  return {
    async load(keys) {
      const file = await read();
      const out = new Map<string, VersionedIncident>();
      for (const key of keys) {
        const item = file.incidents[key];
        if (item) out.set(key, item);
      }
      return out;
    },
    async openKeys() {
      const file = await read();
      return Object.entries(file.incidents)
        .filter(([, item]) => isOpenIncident(item.record))
        .map(([key]) => key);
    },
    save(writes) {
      return serialised(async () => {
        const result: SaveResult = { written: new Map(), conflicts: [] };
        if (writes.length === 0) return result;
        const file = await read();
        for (const write of writes) {
          const key = write.record.dedupKey;
          const current = file.incidents[key]?.version ?? null;
          if (current !== write.expectedVersion) {
            result.conflicts.push(key);
            continue;
          }
          const version = (current ?? 0) + 1;
          file.incidents[key] = { record: write.record, version };
          result.written.set(key, version);
        }
        if (result.written.size === 0) return result;
        const at = now().getTime();
        for (const [key, item] of Object.entries(file.incidents)) {
          const expiry = expiryOf(item.record, ttlDays);
          if (expiry !== null && expiry.getTime() <= at) delete file.incidents[key];
        }
        await writeAtomically(path, `${JSON.stringify(file, null, 2)}\n`);
        return result;
      });
    },
  };
}

function parseStateFile(text: string, path: string): StateFile {
  const invalid = (why: string) =>
    new StateStoreError(`alert state file ${path} is not tenant-canary alert state: ${why}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalid('not valid JSON');
  }
  if (json === null || typeof json !== 'object' || (json as { format?: unknown }).format !== FORMAT) {
    throw invalid(`"format" is not "${FORMAT}"`);
  }
  const incidents = (json as { incidents?: unknown }).incidents;
  if (incidents === null || typeof incidents !== 'object' || Array.isArray(incidents)) {
    throw invalid('"incidents" is not an object');
  }
  for (const [key, item] of Object.entries(incidents)) {
    const record = (item as { record?: Partial<IncidentRecord> } | null)?.record;
    const version = (item as { version?: unknown } | null)?.version;
    if (!Number.isInteger(version) || record?.dedupKey !== key || !Array.isArray(record.pending)) {
      throw invalid(`incident ${JSON.stringify(key.slice(0, 200))} is malformed`);
    }
  }
  return json as StateFile;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new StateStoreError(`alert state file ${path} cannot be written (${code})`, { cause: error });
  }
}
