/**
 * The bench's synthetic jobs a tenant a day (bench/shipped.ts): measured from the sweep's own plans
 * over a day of consecutive sweep times, not computed from the config.
 */
import { describe, expect, it } from 'vitest';
import { sweepsPerDay, syntheticJobsPerTenantDay } from '../../bench/shipped.ts';
import { parseConfig } from '../../functions/core/config.ts';

const tenantIds = Array.from({ length: 100 }, (_, i) => `tenant-${String(i).padStart(5, '0')}`);

function configWith(input: { acceptEveryMinutes?: number; disabled?: string[] }) {
  return parseConfig({
    platform: { baseUrl: 'https://platform.invalid' },
    tenants: [{ tenantId: 'tenant-00000', signingSecret: { value: 'secret' } }],
    run: { sweepIntervalS: 300, roundTrip: 'deferred' },
    ...(input.acceptEveryMinutes === undefined ? {} : { synthetic: { acceptEveryMinutes: input.acceptEveryMinutes } }),
    ...(input.disabled === undefined ? {} : { checks: { disabled: input.disabled } }),
  });
}

describe('synthetic jobs a tenant a day, from a day of planned sweeps', () => {
  it('plans 288 sweeps of five minutes and counts one accepted ticket a tenant an hour at the default', () => {
    expect(sweepsPerDay(300)).toBe(288);
    const measured = syntheticJobsPerTenantDay(configWith({}), tenantIds);
    expect(measured.sweeps).toBe(288);
    expect(measured.tickets).toBe(100 * 24);
    expect(measured.perTenantDay).toBe(24);
  });

  it('counts a ticket every sweep when acceptances are not sampled, and none when the check is off', () => {
    expect(syntheticJobsPerTenantDay(configWith({ acceptEveryMinutes: 5 }), tenantIds).perTenantDay).toBe(288);
    const off = syntheticJobsPerTenantDay(configWith({ disabled: ['webhook.signed_accepted'] }), tenantIds);
    expect(off.tickets).toBe(0);
  });
});
