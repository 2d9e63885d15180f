/**
 * When the canary's role could bypass row-level security (database.ts probeRoleBypass): a
 * superuser, BYPASSRLS, or owning a tenant table, unless that table has FORCE ROW LEVEL SECURITY
 * (then its policies apply to the owner too).
 */
import { describe, expect, it } from 'vitest';
import { type DatabaseFacts, probeRoleBypass, type TableFacts } from '../../functions/probes/database.ts';
import { tableFacts } from '../support/table-facts.ts';

const table = (name: string, overrides: Partial<TableFacts>) => tableFacts(name, { owner: 'probe', ...overrides });

const snapshot = (tables: TableFacts[]): DatabaseFacts => ({
  tables,
  appRole: { name: 'app', exists: true, superuser: false, bypassRls: false },
  probeRole: { name: 'probe', exists: true, superuser: false, bypassRls: false },
  sessionUser: 'probe',
  connections: { used: 1, max: 100 },
  contextFunction: null,
});

describe('probeRoleBypass', () => {
  it('an owned table without FORCE is a bypass, naming it', () => {
    const bypass = probeRoleBypass(snapshot([table('tickets', { probeRoleOwns: true })]));
    expect(bypass).toContain('owns (or is a member of the owner of) tickets without FORCE ROW LEVEL SECURITY');
  });

  it('an owned table under FORCE ROW LEVEL SECURITY is not', () => {
    expect(probeRoleBypass(snapshot([table('tickets', { probeRoleOwns: true, forceRowSecurity: true })]))).toBeNull();
    const mixed = snapshot([
      table('tickets', { probeRoleOwns: true, forceRowSecurity: true }),
      table('notes', { probeRoleOwns: true }),
    ]);
    expect(probeRoleBypass(mixed)).toContain(' notes without FORCE');
    expect(probeRoleBypass(mixed)).not.toContain('tickets');
  });
});
