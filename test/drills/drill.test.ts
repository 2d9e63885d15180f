/**
 * `tenant-canary drill --all` through the real CLI path, on PGlite (and Redis when there is one;
 * CI always has it). Each fault must fire exactly the checks written below, at these tiers, and
 * nothing else. The table is kept here, apart from the sandbox's own definitions, so that a fault
 * whose expectation is weakened there still fails here. The real-PostgreSQL drill runs in
 * .ci/run after the tests, alone on the server (one of its faults fills the connection slots).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DrillExpectation, DrillRow } from '../../bin/cli/drill.ts';
import { compare } from '../../bin/cli/drill.ts';
import type { Report } from '../../functions/core/types.ts';
import { SANDBOX_FAULTS } from '../../sandbox/index.ts';
import { findOnPath } from '../../sandbox/queue.ts';
import { runCli } from '../support/cli.ts';
import { hasRedisServer, requireRedisInCi } from '../support/services.ts';

const TENANTS = ['acme-corp', 'globex', 'initech'];
const TARGET = 'acme-corp';

/** `check status tier scope`: scope is `platform`, `target` (acme-corp) or `all` (every tenant). */
const EXPECTED: Record<string, string[]> = {
  'health-down': ['api.health fail P0 platform'],
  'health-hangs': ['api.health fail P0 platform'],
  'health-huge-body': ['api.health fail P0 platform'],
  'forged-signatures-accepted': [
    'webhook.bad_signature_rejected fail P0 all',
    'webhook.missing_signature_rejected fail P0 all',
    'webhook.tampered_body_rejected fail P0 all',
    'webhook.cross_tenant_signature_rejected fail P0 all',
  ],
  'resolved-ticket-forgeries-accepted': ['webhook.entry_points_reject_forgeries fail P0 all'],
  'agent-webhook-forgeries-accepted': ['webhook.entry_points_reject_forgeries fail P0 all'],
  'shared-entry-point-secret': ['webhook.entry_points_tenant_bound fail P0 platform'],
  'secret-mismatch': ['webhook.signed_accepted fail P1 target'],
  'replay-window-off': [
    'webhook.stale_timestamp_rejected fail P1 all',
    'webhook.future_timestamp_rejected fail P1 all',
  ],
  'future-timestamps-accepted': ['webhook.future_timestamp_rejected fail P1 all'],
  'certificate-expiring': ['api.tls_certificate fail P2 platform'],
  'rls-disabled': [
    'rls.tables_enabled fail P0 platform',
    'rls.no_context_denied fail P0 platform',
    'rls.cross_tenant_read fail P0 all',
    'rls.cross_tenant_write fail P0 all',
    'rls.isolation_snapshot fail P2 platform',
  ],
  'policy-leaks-all-rows': [
    'rls.policies_present fail P0 platform',
    'rls.no_context_denied fail P0 platform',
    'rls.cross_tenant_read fail P0 all',
    'rls.isolation_snapshot fail P2 platform',
  ],
  'policy-open-with-check': ['rls.cross_tenant_write fail P0 all', 'rls.isolation_snapshot fail P2 platform'],
  'update-policy-open-with-check': ['rls.cross_tenant_write fail P0 all', 'rls.isolation_snapshot fail P2 platform'],
  'no-context-fail-open': ['rls.no_context_denied fail P0 platform', 'rls.isolation_snapshot fail P2 platform'],
  'app-role-owns-table': ['rls.app_role_enforced fail P0 platform', 'rls.isolation_snapshot fail P2 platform'],
  'app-role-superuser': ['rls.app_role_enforced fail P0 platform', 'rls.isolation_snapshot fail P2 platform'],
  'canary-owner-credentials': [
    'canary.probe_role_safe fail P2 platform',
    'rls.no_context_denied error P2 platform',
    'rls.cross_tenant_read error P2 all',
    'rls.cross_tenant_write error P2 all',
    'rls.isolation_snapshot fail P2 platform',
  ],
  'definer-view': ['rls.views_respect_rls fail P0 platform'],
  'partition-uncovered': ['rls.partitions_covered fail P0 platform'],
  'definer-function-open': ['rls.definer_functions fail P2 platform'],
  'context-function-search-path': ['rls.definer_functions fail P2 platform'],
  'context-session-scoped': ['rls.context_scope fail P2 platform'],
  'policy-changed-since-pinned': ['rls.isolation_snapshot fail P2 platform'],
  'workers-stopped': ['queue.depth fail P2 platform', 'enhancement.round_trip fail P1 all'],
  'workers-slow': ['enhancement.round_trip degraded P2 all'],
  'enhancements-failing': ['enhancement.round_trip fail P1 all'],
  'empty-enhancement-text': ['enhancement.quality fail P3 all'],
  'low-success-rate': ['tenant.success_rate fail P2 target'],
  'slow-tenant': ['tenant.latency degraded P2 target'],
  'thin-history': ['tenant.history_volume fail P3 target'],
  'connections-near-limit': ['db.connections fail P1 platform'],
  'as-written': [
    'rls.app_role_enforced fail P0 platform',
    'rls.context_scope fail P2 platform',
    'rls.isolation_snapshot fail P2 platform',
    'webhook.entry_points_tenant_bound fail P0 platform',
    'enhancement.round_trip fail P1 all',
  ],
};

function expand(lines: string[], withRedis: boolean): DrillExpectation[] {
  return lines.flatMap((line) => {
    const [checkId, status, tier, scope] = line.split(' ') as [string, DrillExpectation['status'], string, string];
    if (checkId === 'queue.depth' && !withRedis) return [];
    const tenants = scope === 'platform' ? [null] : scope === 'target' ? [TARGET] : TENANTS;
    return tenants.map((tenantId) => ({ checkId, status, tier, tenantId }));
  });
}

const keyOf = (e: DrillExpectation) => `${e.checkId}|${e.tenantId ?? '*'}|${e.status}|${e.tier}`;
const sorted = (list: DrillExpectation[]) => list.map(keyOf).sort();

describe('the sandbox faults', () => {
  it('are exactly the faults this table expects (a new fault needs its row here)', () => {
    expect(SANDBOX_FAULTS.map((f) => f.name).sort()).toEqual(Object.keys(EXPECTED).sort());
  });
});

describe('drill --all on the embedded sandbox', () => {
  it('fires exactly the expected checks for every fault, with no false alarm, and exits 0', async () => {
    requireRedisInCi();
    const withRedis = hasRedisServer();
    const withOpenssl = findOnPath('openssl', process.env.PATH) !== undefined;
    const run = await runCli(['drill', '--all', '--json'], {
      sandboxOptions: withRedis ? {} : { redis: 'memory' },
    });
    const rows = JSON.parse(run.stdout) as DrillRow[];
    expect(run.stderr).toBe('');
    expect(rows.map((r) => r.fault)).toEqual(SANDBOX_FAULTS.map((f) => f.name));
    for (const row of rows) {
      if (row.fault === 'connections-near-limit') {
        // PGlite is one backend: there are no connection slots to fill.
        expect(row.skipped).toMatch(/real PostgreSQL/);
        continue;
      }
      if (row.fault === 'certificate-expiring' && !withOpenssl) {
        expect(row.skipped).toMatch(/HTTPS/);
        continue;
      }
      const wanted = expand(EXPECTED[row.fault] ?? ['(no row in the table)'], withRedis);
      expect(sorted(row.expected), `${row.fault}: what the sandbox expects`).toEqual(sorted(wanted));
      expect(sorted(row.got), `${row.fault}: what fired`).toEqual(sorted(wanted));
      expect(row.ok, row.fault).toBe(true);
    }
    expect(run.code).toBe(0);
  }, 240_000);

  it('as-written reports the superuser app role, the session-scoped context, the shared entry-point secret and the stopped queue, and nothing else', async () => {
    const run = await runCli(['drill', 'as-written', '--json']);
    const [row] = JSON.parse(run.stdout) as DrillRow[];
    expect(row?.ok).toBe(true);
    const fired = [...new Set(row?.got.map((g) => `${g.checkId} ${g.status} ${g.tier}`))].sort();
    expect(fired).toEqual([
      'enhancement.round_trip fail P1',
      'rls.app_role_enforced fail P0',
      'rls.context_scope fail P2',
      'rls.isolation_snapshot fail P2',
      'webhook.entry_points_tenant_bound fail P0',
    ]);
    expect(run.code).toBe(0);
  }, 120_000);

  it('shared-entry-point-secret fails only webhook.entry_points_tenant_bound (P0); each entry-point forgery fault fails only the forgery check (P0, every tenant)', async () => {
    const run = await runCli([
      'drill',
      'shared-entry-point-secret',
      'resolved-ticket-forgeries-accepted',
      'agent-webhook-forgeries-accepted',
      '--json',
    ]);
    const rows = JSON.parse(run.stdout) as DrillRow[];
    const firedOf = (fault: string) =>
      rows
        .find((row) => row.fault === fault)
        ?.got.map((g) => `${g.checkId} ${g.status} ${g.tier} ${g.tenantId ?? '-'}`);
    expect(firedOf('shared-entry-point-secret')).toEqual(['webhook.entry_points_tenant_bound fail P0 -']);
    for (const fault of ['resolved-ticket-forgeries-accepted', 'agent-webhook-forgeries-accepted']) {
      expect(firedOf(fault)?.sort(), fault).toEqual(
        TENANTS.map((tenant) => `webhook.entry_points_reject_forgeries fail P0 ${tenant}`),
      );
    }
    expect(rows.every((row) => row.ok)).toBe(true);
    expect(run.code).toBe(0);
  }, 120_000);

  it('prints one readable row per fault with what was expected and what fired, and --html the matrix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canary-drill-html-'));
    const html = join(dir, 'drill.html');
    const run = await runCli(['drill', 'secret-mismatch', 'thin-history', '--html', html]);
    const page = await readFile(html, 'utf8');
    await rm(dir, { recursive: true, force: true });
    expect(page).toContain('<tr data-fault="secret-mismatch">');
    expect(page).toContain('2 of 2 drills ok');
    expect(page).toMatch(/data-check="webhook\.signed_accepted"[^>]*>✓ P1</);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/✓ ok {2}secret-mismatch/);
    expect(run.stdout).toMatch(/expected: webhook\.signed_accepted P1 \(acme-corp\)/);
    expect(run.stdout).toMatch(/got: {6}tenant\.history_volume P3 \(acme-corp\)/);
    expect(run.stdout).toMatch(/2 of 2 drills ok/);
  }, 120_000);

  it('rejects unknown faults and a mix of names and --all as usage errors', async () => {
    const unknown = await runCli(['drill', 'no-such-fault']);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/"no-such-fault" is not a fault/);
    const both = await runCli(['drill', '--all', 'health-down']);
    expect(both.code).toBe(2);
    const neither = await runCli(['drill']);
    expect(neither.code).toBe(2);
  });
});

describe('drill comparison', () => {
  const report = (results: Partial<Report['results'][number]>[]): Report =>
    ({ results: results.map((r) => ({ status: 'pass', tier: null, tenantId: null, ...r })) }) as unknown as Report;
  const expected: DrillExpectation[] = [{ checkId: 'api.health', status: 'fail', tier: 'P0', tenantId: null }];

  it('is a mismatch when the expected check does not fire', () => {
    const row = compare('health-down', expected, report([{ checkId: 'api.health' }]), 1);
    expect(row.ok).toBe(false);
    expect(row.missing).toEqual(expected);
  });

  it('is a mismatch when it fires at another tier', () => {
    const row = compare('health-down', expected, report([{ checkId: 'api.health', status: 'fail', tier: 'P1' }]), 1);
    expect(row.ok).toBe(false);
  });

  it('is a false alarm when anything else fails, degrades or errors', () => {
    const row = compare(
      'health-down',
      expected,
      report([
        { checkId: 'api.health', status: 'fail', tier: 'P0' },
        { checkId: 'tenant.latency', status: 'degraded', tier: 'P2', tenantId: 'globex' },
      ]),
      1,
    );
    expect(row.ok).toBe(false);
    expect(row.unexpected).toEqual([{ checkId: 'tenant.latency', status: 'degraded', tier: 'P2', tenantId: 'globex' }]);
  });

  it('is ok when exactly the expected checks fire', () => {
    expect(
      compare('health-down', expected, report([{ checkId: 'api.health', status: 'fail', tier: 'P0' }]), 1).ok,
    ).toBe(true);
  });
});
