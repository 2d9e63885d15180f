import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../functions/core/config.ts';
import { planRun } from '../../functions/core/plan.ts';

const config = parseConfig({
  platform: { baseUrl: 'http://127.0.0.1:1' },
  tenants: ['a', 'b', 'c'].map((tenantId) => ({ tenantId, signingSecret: { value: `${tenantId}-secret` } })),
  checks: { disabled: ['queue.depth'] },
});

describe('planning a run', () => {
  it('plans every check for every tenant by default', () => {
    const plan = planRun(config);
    expect(plan.platform).toHaveLength(15);
    expect(plan.tenant).toHaveLength(16);
    expect(plan.tenants.map((t) => t.tenantId)).toEqual(['a', 'b', 'c']);
    expect(plan.tenantDependencies).toEqual([]);
    expect(plan.disabled.has('queue.depth')).toBe(true);
  });

  it('narrows to the named tenants and checks, pulling in unreported dependencies', () => {
    const plan = planRun(config, { tenantIds: ['b'], checkIds: ['enhancement.quality'] });
    expect(plan.platform).toEqual([]);
    expect(plan.tenant).toEqual(['enhancement.quality']);
    expect(plan.tenantDependencies).toEqual(['webhook.signed_accepted', 'enhancement.round_trip']);
    expect(plan.tenants.map((t) => t.tenantId)).toEqual(['b']);
  });

  it('leaves platform checks out when asked (the per-tenant Lambda)', () => {
    expect(planRun(config, { platform: false }).platform).toEqual([]);
  });

  it('refuses a tenant that is not in the config', () => {
    expect(() => planRun(config, { tenantIds: ['zz'] })).toThrow(ConfigError);
    expect(() => planRun(config, { tenantIds: ['zz'] })).toThrow('--tenant "zz" is not in the config\'s tenants');
  });
});
