import { describe, expect, it } from 'vitest';
import { CATALOG, CHECK_IDS, catalogEntry } from '../../functions/core/catalog.ts';

// The public check ids: a rename breaks users' filters, tier overrides and alert routing.
const CONTRACT_IDS = {
  platform: [
    'api.health',
    'api.tls_certificate',
    'rls.tables_enabled',
    'rls.policies_present',
    'rls.app_role_enforced',
    'rls.no_context_denied',
    'queue.depth',
    'db.connections',
    'canary.probe_role_safe',
    'rls.views_respect_rls',
    'rls.partitions_covered',
    'rls.definer_functions',
    'rls.context_scope',
    'rls.isolation_snapshot',
    'webhook.entry_points_tenant_bound',
  ],
  tenant: [
    'webhook.signed_accepted',
    'webhook.bad_signature_rejected',
    'webhook.missing_signature_rejected',
    'webhook.tampered_body_rejected',
    'webhook.cross_tenant_signature_rejected',
    'webhook.stale_timestamp_rejected',
    'webhook.future_timestamp_rejected',
    'webhook.entry_points_reject_forgeries',
    'enhancement.round_trip',
    'enhancement.quality',
    'rls.context_function',
    'rls.cross_tenant_read',
    'rls.cross_tenant_write',
    'tenant.success_rate',
    'tenant.latency',
    'tenant.history_volume',
  ],
  // Decided by the deployed sweep protocol, never by a probe.
  sweep: ['canary.sweep_complete'],
};

describe('check catalog', () => {
  it('holds exactly the contract ids in contract order, platform checks first', () => {
    expect(CHECK_IDS).toEqual([...CONTRACT_IDS.platform, ...CONTRACT_IDS.tenant, ...CONTRACT_IDS.sweep]);
    expect(CATALOG.filter((e) => e.scope === 'platform').map((e) => e.id)).toEqual(CONTRACT_IDS.platform);
  });

  it('gives the contract default tiers', () => {
    const tiers = Object.fromEntries(CATALOG.map((e) => [e.id, e.defaultTier]));
    expect(tiers).toMatchObject({
      'api.health': 'P0',
      'rls.app_role_enforced': 'P0',
      'queue.depth': 'P2',
      'db.connections': 'P1',
      'canary.probe_role_safe': 'P2',
      'webhook.signed_accepted': 'P1',
      'webhook.bad_signature_rejected': 'P0',
      'webhook.stale_timestamp_rejected': 'P1',
      'webhook.future_timestamp_rejected': 'P1',
      'rls.views_respect_rls': 'P0',
      'rls.partitions_covered': 'P0',
      'rls.definer_functions': 'P2',
      'rls.context_scope': 'P2',
      'rls.isolation_snapshot': 'P2',
      'webhook.entry_points_tenant_bound': 'P0',
      'webhook.entry_points_reject_forgeries': 'P0',
      'enhancement.round_trip': 'P1',
      'enhancement.quality': 'P3',
      'rls.context_function': 'P1',
      'rls.cross_tenant_read': 'P0',
      'rls.cross_tenant_write': 'P0',
      'tenant.success_rate': 'P2',
      'tenant.history_volume': 'P3',
    });
  });

  it('names a runbook section and a first step for every check', () => {
    for (const entry of CATALOG) {
      // The canary's own checks point at the README, the others at the platform's guide.
      expect(entry.runbook, entry.id).toMatch(
        entry.scope === 'sweep' ? /^tenant-canary README: / : /^(Issue \d|Quick Diagnostics)/,
      );
      expect(entry.firstStep.length, entry.id).toBeGreaterThan(20);
    }
  });

  it('only depends on tenant checks that come earlier', () => {
    for (const entry of CATALOG) {
      if (!('needs' in entry)) continue;
      const need = catalogEntry(entry.needs);
      expect(need.scope).toBe('tenant');
      expect(CHECK_IDS.indexOf(need.id as never)).toBeLessThan(CHECK_IDS.indexOf(entry.id));
    }
  });
});
