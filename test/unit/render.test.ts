import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { oneLine } from '../../bin/cli/errors.ts';
import { renderPreflight } from '../../bin/cli/preflight.ts';
import { renderReport, styleFor } from '../../bin/cli/render.ts';
import { renderSnapshot } from '../../bin/cli/snapshot.ts';
import { CHECK_IDS, type CheckId } from '../../functions/core/catalog.ts';
import type { Report } from '../../functions/core/types.ts';
import { controlsIn } from '../support/hostile-text.ts';

const report: Report = {
  runId: '2026-11-28T05:00:00Z-ab12',
  startedAt: '2026-11-28T05:00:00.000Z',
  finishedAt: '2026-11-28T05:00:01.500Z',
  tenants: ['acme-corp'],
  results: [
    {
      checkId: 'api.health',
      tenantId: null,
      status: 'pass',
      tier: null,
      summary: 'healthy',
      durationMs: 12,
      evidence: {},
      runbook: 'x',
    },
    {
      checkId: 'webhook.bad_signature_rejected',
      tenantId: 'acme-corp',
      status: 'fail',
      tier: 'P0',
      summary: 'a forged ticket was accepted',
      durationMs: 30,
      evidence: {},
      runbook: 'x',
    },
    {
      checkId: 'tenant.latency',
      tenantId: 'acme-corp',
      status: 'skipped',
      tier: null,
      summary: 'no database',
      durationMs: 0,
      evidence: {},
      runbook: 'x',
    },
  ],
  alerts: [],
};

describe('human output', () => {
  it('colours only a terminal, and never with NO_COLOR', () => {
    expect(styleFor({ isTTY: true }, {}).color).toBe(true);
    expect(styleFor({ isTTY: false }, {}).color).toBe(false);
    expect(styleFor({ isTTY: true }, { NO_COLOR: '1' }).color).toBe(false);
    expect(styleFor({ isTTY: false }, { FORCE_COLOR: '1' }).color).toBe(true);
  });

  it('keeps escape sequences off the terminal even when a summary still holds them (the last guard)', () => {
    const forged: Report = {
      ...report,
      results: report.results.map((result) =>
        result.status === 'fail'
          ? { ...result, summary: 'rejected (HTTP 401: \u001b[2K\u001b[1G  ✓ pass   accepted\u001b[8m) hidden' }
          : result,
      ),
      alerts: [{ state: 'firing', tier: 'P0', checkId: 'x', tenantId: null, dedupKey: 'x:\u001b]0;t\u0007*' }],
    };
    for (const color of [false, true]) {
      const text = renderReport(forged, { color }, 'http://x\u001b[8m');
      // With colour, only our own SGR codes: ESC [ digits m.
      let ours = text;
      for (const code of [0, 1, 2, 31, 32, 33, 35]) ours = ours.split(`\u001b[${code}m`).join('');
      expect(controlsIn(ours)).toEqual([]);
      expect(ours).toMatch(
        /✗ FAIL\s+P0 webhook\.bad_signature_rejected\s+30 ms {2}rejected \(HTTP 401: {3}✓ pass {3}accepted\) hidden/,
      );
    }
  });

  it('keeps escape sequences the database or the platform sends off preflight, snapshot and error lines', () => {
    const esc = '\u001b';
    const preflight = renderPreflight(
      {
        ok: false,
        steps: [
          { step: 'postgres: connect', ok: false, detail: `FATAL: ${esc}[2K${esc}[1Gok`, fix: `${esc}]0;t\u0007x` },
        ],
      },
      true,
    );
    const snapshot = renderSnapshot({
      digest: 'd',
      pinned: null,
      matches: null,
      snapshot: {
        version: 2,
        tables: [
          {
            table: `t${esc}[8m`,
            found: 'column',
            exists: true,
            rowSecurity: true,
            forceRowSecurity: false,
            owner: 'o',
            policies: [
              {
                name: `p${esc}[2K`,
                permissive: true,
                command: 'ALL',
                roles: [],
                using: `(a ${esc}[8m= b)`,
                withCheck: null,
              },
            ],
            grants: { app: [], probe: [] },
          },
        ],
        appRole: {
          name: 'app',
          exists: true,
          superuser: false,
          bypassRls: false,
          inherit: true,
          createRole: false,
          createDb: false,
          login: true,
          memberOf: [],
        },
        probeRole: 'probe',
      },
    });
    let ours = preflight;
    for (const code of [0, 31, 32]) ours = ours.split(`${esc}[${code}m`).join('');
    expect(controlsIn(ours)).toEqual([]);
    expect(controlsIn(snapshot)).toEqual([]);
    expect(snapshot).toContain('USING      (a = b)');
    expect(oneLine(`tenant-canary: ${esc}[2Kboom\n  next\u009b8m`)).toBe('tenant-canary: boom next\n');
  });

  it('groups results per tenant with status, tier and summary, and counts them', () => {
    const text = renderReport(report, { color: false }, 'http://x');
    expect(text).not.toContain('\u001b[');
    expect(text).toContain('Platform');
    expect(text).toContain('Tenant acme-corp');
    expect(text).toMatch(/✗ FAIL\s+P0 webhook\.bad_signature_rejected\s+30 ms {2}a forged ticket was accepted/);
    expect(text).toContain('1 pass, 1 fail, 0 degraded, 0 error, 1 skipped in 1.5 s');
  });

  it('uses ANSI colours when asked', () => {
    expect(renderReport(report, { color: true }, 'http://x')).toContain('\u001b[31m');
  });
});

describe('README', () => {
  it('documents every check of the catalog', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const id of CHECK_IDS) expect(readme, id).toContain(`\`${id}\``);
  });

  describe('at scale', () => {
    const platformChecks: readonly CheckId[] = ['api.health', 'queue.depth', 'rls.policies_present'];
    const tenantChecks = CHECK_IDS.filter((id) => !platformChecks.includes(id)).slice(0, 6);
    const fleet = (tenants: number, failing: readonly number[]): Report => {
      const ids = Array.from({ length: tenants }, (_, i) => `tenant-${String(i + 1).padStart(3, '0')}`);
      return {
        ...report,
        tenants: ids,
        results: [
          report.results[0]!,
          ...ids.flatMap((tenantId, i) =>
            tenantChecks.map((checkId, c) => ({
              checkId,
              tenantId,
              status: failing.includes(i) && c === 0 ? ('fail' as const) : ('pass' as const),
              tier: failing.includes(i) && c === 0 ? ('P1' as const) : null,
              summary: failing.includes(i) && c === 0 ? `${tenantId} is broken` : 'fine',
              durationMs: 5,
              evidence: {},
              runbook: 'x',
            })),
          ),
        ],
      };
    };

    it('prints the 2 failing tenants of 40 in full and the other 38 in one line', () => {
      const text = renderReport(fleet(40, [6, 29]), { color: false }, 'http://x');
      expect(text).toContain('Tenant tenant-007');
      expect(text).toContain('Tenant tenant-030');
      expect(text).toContain('tenant-007 is broken');
      expect(text.match(/^Tenant /gm)).toHaveLength(2);
      expect(text).toMatch(/^38 tenants: every check passing \(--full lists them\)$/m);
      expect(text).toContain(`${40 * 6 - 2 + 1} pass, 2 fail`);
      // Short enough to read: the platform, two tenants, the collapsed line, the footer.
      expect(text.split('\n').length).toBeLessThan(30);
    });

    it('prints every tenant with --full, and at 20 tenants or fewer', () => {
      expect(
        renderReport(fleet(40, [6]), { color: false }, 'http://x', { full: true }).match(/^Tenant /gm),
      ).toHaveLength(40);
      expect(renderReport(fleet(20, []), { color: false }, 'http://x').match(/^Tenant /gm)).toHaveLength(20);
      const skipped = fleet(21, []);
      skipped.results.push({ ...report.results[2]!, tenantId: 'tenant-001' });
      expect(renderReport(skipped, { color: false }, 'http://x')).toContain(
        '21 tenants: every check passing or skipped',
      );
    });
  });
});
