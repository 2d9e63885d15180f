/** A tenant table as the run's catalog snapshot describes it (functions/probes/database.ts), for pure tests. */
import type { TableFacts } from '../../functions/probes/database.ts';

/** An existing, column-found text-keyed table under RLS, owned by `owner`, writable by the probe. */
export function tableFacts(name: string, overrides: Partial<TableFacts> = {}): TableFacts {
  return {
    name,
    configured: false,
    exists: true,
    found: 'column',
    path: [],
    hops: [],
    tenantColumnType: 'text',
    partitioned: false,
    rowSecurity: true,
    forceRowSecurity: false,
    owner: 'owner',
    appRoleOwns: false,
    probeRoleOwns: false,
    policies: [],
    helpers: [],
    probePrivileges: { select: true, insert: true, update: true },
    sequenceColumns: [],
    partitionKey: null,
    ...overrides,
  };
}
