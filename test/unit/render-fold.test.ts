import { describe, expect, it } from 'vitest';
import { COLLAPSE_ABOVE, FOLD_AT_LEAST, foldResults, renderReport } from '../../bin/cli/render.ts';
import type { CheckResult, CheckStatus, Report, Tier } from '../../functions/core/types.ts';

const TENANT_CHECKS = ['webhook.signed_accepted', 'rls.cross_tenant_read', 'tenant.latency'] as const;

const result = (
  checkId: string,
  tenantId: string | null,
  status: CheckStatus = 'pass',
  tier: Tier | null = null,
): CheckResult => ({
  checkId,
  tenantId,
  status,
  tier,
  summary: status === 'pass' ? 'fine' : `${checkId} is ${status} for ${tenantId ?? 'the platform'}`,
  durationMs: 5,
  evidence: {},
  runbook: 'x',
});

/** `tenants` tenants; `broken(tenantId, index)` gives the results of a tenant that are not passing. */
function fleet(tenants: number, broken: (index: number) => Partial<Record<string, [CheckStatus, Tier]>> = () => ({})) {
  const ids = [
    'acme-corp',
    'globex',
    ...Array.from({ length: tenants - 2 }, (_, i) => `tenant-${String(i + 3).padStart(3, '0')}`),
  ];
  const report: Report = {
    runId: '2026-11-28T05:00:00Z-ab12',
    startedAt: '2026-11-28T05:00:00.000Z',
    finishedAt: '2026-11-28T05:00:01.500Z',
    tenants: ids,
    results: [
      result('api.health', null),
      ...ids.flatMap((tenantId, index) =>
        TENANT_CHECKS.map((checkId) => {
          const bad = broken(index)[checkId];
          return bad === undefined ? result(checkId, tenantId) : result(checkId, tenantId, bad[0], bad[1]);
        }),
      ),
    ],
    alerts: [],
  };
  return report;
}

const render = (report: Report, full = false) => renderReport(report, { color: false }, 'http://x', { full });
const tenantBlocks = (text: string) => text.match(/^Tenant /gm)?.length ?? 0;

describe('the terminal at scale: results many tenants share fold into one line', () => {
  const allLeak = () => fleet(200, () => ({ 'rls.cross_tenant_read': ['fail', 'P0'] }));

  it('prints one line for 200 tenants failing the same check, with the count and a few tenant ids', () => {
    const text = render(allLeak());
    expect(text).toMatch(
      /^ {2}✗ FAIL {5}P0 rls\.cross_tenant_read on 200 of 200 tenants: acme-corp, globex, tenant-003, tenant-004, tenant-005 and 195 more$/m,
    );
    expect(text).toContain('e.g. acme-corp: rls.cross_tenant_read is fail for acme-corp');
    expect(text).toMatch(/^200 tenants: every other check passing \(--full lists them\)$/m);
    expect(tenantBlocks(text)).toBe(0);
    // Was one block per tenant: 200 × 4 lines and more.
    expect(text.split('\n').length).toBeLessThan(20);
  });

  it('then prints the tenants that differ, without the shared line', () => {
    const report = fleet(200, (index) => ({
      'rls.cross_tenant_read': ['fail', 'P0'],
      ...(index === 7 || index === 150 ? { 'webhook.signed_accepted': ['fail', 'P1'] } : {}),
    }));
    const text = render(report);
    expect(text).toContain('rls.cross_tenant_read on 200 of 200 tenants');
    expect(tenantBlocks(text)).toBe(2);
    expect(text).toMatch(/^Tenant tenant-008 \(and 1 shared result above\)$/m);
    expect(text).toContain('webhook.signed_accepted is fail for tenant-151');
    expect(text).not.toContain('rls.cross_tenant_read is fail for tenant-008');
    expect(text).toMatch(/^198 tenants: every other check passing/m);
  });

  it('keeps apart what differs in status or tier, and folds each', () => {
    const report = fleet(60, (index) => ({
      'rls.cross_tenant_read': index < 30 ? ['fail', 'P0'] : ['error', 'P2'],
    }));
    const text = render(report);
    expect(text).toContain('✗ FAIL     P0 rls.cross_tenant_read on 30 of 60 tenants');
    expect(text).toContain('? error    P2 rls.cross_tenant_read on 30 of 60 tenants');
    expect(tenantBlocks(text)).toBe(0);
  });

  it('prints every tenant with --full', () => {
    const text = render(allLeak(), true);
    expect(tenantBlocks(text)).toBe(200);
    expect(text.match(/rls\.cross_tenant_read is fail for /g)).toHaveLength(200);
    expect(text).not.toContain('tenants share');
    expect(text).not.toMatch(/ on \d+ of 200 tenants/);
  });

  it(`prints runs of ${COLLAPSE_ABOVE} tenants or fewer as before, every tenant in full`, () => {
    const text = render(fleet(COLLAPSE_ABOVE, () => ({ 'rls.cross_tenant_read': ['fail', 'P0'] })));
    expect(tenantBlocks(text)).toBe(COLLAPSE_ABOVE);
    expect(text).not.toMatch(/ on \d+ of \d+ tenants/);
  });

  it(`does not fold a result fewer than ${FOLD_AT_LEAST} tenants share`, () => {
    const text = render(
      fleet(40, (index) => (index < FOLD_AT_LEAST - 1 ? { 'tenant.latency': ['degraded', 'P2'] } : {})),
    );
    expect(tenantBlocks(text)).toBe(FOLD_AT_LEAST - 1);
    expect(text).not.toMatch(/ on \d+ of 40 tenants/);
  });

  it('never folds passing or skipped results, and counts each tenant once per group', () => {
    const tenants = new Map([
      ['a', [result('x', 'a', 'fail', 'P1'), result('x', 'a', 'fail', 'P1'), result('y', 'a', 'skipped')]],
      ['b', [result('x', 'b', 'fail', 'P1'), result('y', 'b', 'skipped')]],
      ['c', [result('x', 'c', 'fail', 'P1'), result('y', 'c', 'skipped'), result('z', 'c')]],
    ]);
    expect(foldResults(tenants)).toEqual([
      { checkId: 'x', status: 'fail', tier: 'P1', tenantIds: ['a', 'b', 'c'], example: 'x is fail for a' },
    ]);
    expect(foldResults(tenants, 4)).toEqual([]);
  });
});
