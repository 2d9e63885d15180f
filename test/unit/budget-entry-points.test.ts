/**
 * The entry points' forgeries in the request budget: counted request by request, rotated like the
 * rejection probes when the budget cannot cover every sweep, and each (tenant, check) still run
 * at least once per period.
 */
import { describe, expect, it } from 'vitest';
import {
  checkRequests,
  entryPointRequests,
  estimateBudget,
  planSweep,
  tenantRequests,
} from '../../functions/core/budget.ts';
import { type ConfigInput, parseConfig } from '../../functions/core/config.ts';
import { ROTATED_CHECKS, sampleTenant } from '../../functions/core/sampling.ts';

type EntryPointInput = NonNullable<ConfigInput['platform']['entryPoints']>[number];
const PER_TENANT: EntryPointInput = {
  name: 'resolved-ticket',
  path: '/webhook/servicedesk/resolved-ticket',
  signatureHeader: 'X-ServiceDesk-Signature',
  body: 'resolved-ticket',
};
const SHARED: EntryPointInput = {
  name: 'agent-triage',
  path: '/webhook/agents/3f1c/webhook',
  signatureHeader: 'X-Hub-Signature-256',
  secret: { secretId: 'prod/agent' },
  body: { template: { ticket_id: '{ticketId}' } },
};
const CHECK = 'webhook.entry_points_reject_forgeries';

const config = (entryPoints: EntryPointInput[], extra: Partial<ConfigInput> = {}) =>
  parseConfig({
    platform: { baseUrl: 'https://api.example.com', entryPoints },
    tenants: [{ tenantId: 'acme-corp', signingSecret: { value: 's' } }],
    ...extra,
  });

describe('entry points in the request budget', () => {
  it('counts four requests for a per-tenant secret, three for a shared one, one more with acceptProbe', () => {
    const both = config([PER_TENANT, SHARED]);
    expect(entryPointRequests(both.platform.entryPoints)).toBe(7);
    expect(checkRequests(both, CHECK)).toBe(7);
    expect(checkRequests(both, 'webhook.bad_signature_rejected')).toBe(1);
    expect(entryPointRequests(config([{ ...SHARED, acceptProbe: true }]).platform.entryPoints)).toBe(4);
  });

  it("adds them to a tenant run's requests unless the check is disabled, not due, or not planned", () => {
    expect(tenantRequests(config([]))).toBe(7);
    expect(tenantRequests(config([PER_TENANT, SHARED]))).toBe(14);
    expect(tenantRequests(config([PER_TENANT]), { notDue: [{ checkId: CHECK, nextAt: '' }], failing: false })).toBe(7);
    expect(tenantRequests(config([PER_TENANT], { checks: { disabled: [CHECK] } }))).toBe(7);
    expect(tenantRequests(config([PER_TENANT]), undefined, (id) => id === CHECK)).toBe(4);
  });

  it('rotates the entry-point check like the rejection probes, and never while its incident is open', () => {
    const base = config([PER_TENANT]);
    expect(ROTATED_CHECKS).toContain(CHECK);
    const sweepAt = new Date('2026-12-01T10:00:00Z');
    const skippedIn = (openRejections?: Set<string>) =>
      Array.from({ length: 12 }, (_, i) =>
        sampleTenant({
          tenantId: 'acme-corp',
          sweepAt: new Date(sweepAt.getTime() + i * 300_000),
          config: base,
          failing: false,
          rotation: 12,
          ...(openRejections === undefined ? {} : { openRejections }),
        }).notDue.some((entry) => entry.checkId === CHECK),
      );
    // Once per period of 12 sweeps, in a stable slot.
    expect(skippedIn().filter((skipped) => !skipped)).toHaveLength(1);
    expect(skippedIn(new Set([CHECK])).some(Boolean)).toBe(false);
  });

  it('keeps every second of a large sweep within the budget with the entry points counted', () => {
    const withEntryPoints = config([PER_TENANT, SHARED], {
      platform: { baseUrl: 'https://x.example', requestBudgetRps: 40, entryPoints: [PER_TENANT, SHARED] },
    });
    const tenantIds = Array.from({ length: 1000 }, (_, i) => `tenant-${i}`);
    const plan = planSweep({
      tenantIds,
      sweepAt: new Date('2026-12-01T10:00:00Z'),
      config: withEntryPoints,
      failing: new Set(),
    });
    expect(plan.fits).toBe(true);
    const perSecond = new Map<number, number>();
    for (const tenant of plan.tenants)
      perSecond.set(tenant.delayS, (perSecond.get(tenant.delayS) ?? 0) + tenant.requests);
    // Any one-second window spans at most two slots of half the budget.
    for (const [second, count] of perSecond)
      expect(count + (perSecond.get(second + 1) ?? 0), `second ${second}`).toBeLessThanOrEqual(40);
    // The entry points' requests are in the plan: more than the six one-request rejection probes alone would give.
    expect(plan.tenants.some((tenant) => tenant.requests > 7)).toBe(true);
  });

  it('makes synth name a budget that covers a tenant run with its entry points', () => {
    const estimate = estimateBudget(config([PER_TENANT, SHARED]), 1000);
    expect(estimate.requestsPerTenantRun).toBe(14);
    expect(estimate.rotation).toBeNull();
    expect(estimate.neededBudgetRps).toBeGreaterThanOrEqual(28);
  });
});
