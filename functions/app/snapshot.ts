/**
 * `tenant-canary snapshot`: the normalised isolation snapshot, its digest, and how it compares
 * with the one pinned in `database.isolationDigest`, read exactly as `rls.isolation_snapshot`
 * reads it (same role, same statements), so a digest pinned from here matches the sweep's.
 */
import type { Config } from '../core/config.ts';
import { errorClass } from '../core/errors.ts';
import { describeDbError } from '../ports.ts';
import { type IsolationSnapshot, isolationDigest, readIsolationSnapshot } from '../probes/isolation.ts';
import { type PortsOpener, withPorts } from './with-ports.ts';

export interface SnapshotOutcome {
  digest: string;
  /** `database.isolationDigest`, or null when none is pinned. */
  pinned: string | null;
  /** Whether the digest equals the pinned one; null when none is pinned. */
  matches: boolean | null;
  snapshot: IsolationSnapshot;
}

/** The database could not be read: the snapshot is unknown (the CLI exits 1). */
export const SnapshotUnavailableError = errorClass('SnapshotUnavailableError', 'unavailable');

export async function takeIsolationSnapshot(open: PortsOpener, config: Config): Promise<SnapshotOutcome> {
  const database = config.database;
  if (database === undefined) throw new Error('takeIsolationSnapshot needs a config with a database section');
  const snapshot = await withPorts(open, config, async (ports) => {
    try {
      return await readIsolationSnapshot(ports.pg!, database);
    } catch (error) {
      throw new SnapshotUnavailableError(`the isolation snapshot could not be read: ${describeDbError(error)}`, {
        cause: error,
      });
    }
  });
  const digest = isolationDigest(snapshot);
  const pinned = database.isolationDigest;
  return { digest, pinned, matches: pinned === null ? null : pinned === digest, snapshot };
}
