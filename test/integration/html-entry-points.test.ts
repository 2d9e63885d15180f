/**
 * The HTML report's column for `webhook.entry_points_reject_forgeries`, in a real headless
 * browser: one column for the check, one mark an entry point in each cell, the entry point's
 * probes in the cell's title and, for a cell that is not passing, a table in its details.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtmlReport } from '../../bin/cli/html.ts';
import { CATALOG } from '../../functions/core/catalog.ts';
import type { CheckResult, Report } from '../../functions/core/types.ts';
import { launchChromium } from '../support/browser.ts';

const OUT = join(import.meta.dirname, '..', '.out');
const CHECK = 'webhook.entry_points_reject_forgeries';
const RUNBOOK = CATALOG.find((entry) => entry.id === CHECK)?.runbook ?? '';

const probes = (missing: number) => ({
  'wrong-signature': { verdict: 'pass', status: 401 },
  'missing-signature': { verdict: missing < 300 ? 'fail' : 'pass', status: missing },
  'tampered-body': { verdict: 'pass', status: 401 },
  'cross-tenant': { verdict: 'skipped' },
});

function result(tenantId: string, failing: boolean): CheckResult {
  return {
    checkId: CHECK,
    tenantId,
    status: failing ? 'fail' : 'pass',
    tier: failing ? 'P0' : null,
    summary: failing
      ? `forged requests for ${tenantId} were accepted, so anyone can send them: resolved-ticket accepted a request without X-ServiceDesk-Signature (HTTP 202)`
      : 'every forgery was rejected',
    durationMs: 20,
    evidence: {
      entryPoints: [
        { name: 'resolved-ticket', verdict: failing ? 'fail' : 'pass', probes: probes(failing ? 202 : 401) },
        { name: 'agent-triage', verdict: 'pass', probes: probes(401) },
      ],
    },
    runbook: RUNBOOK,
  };
}

const report: Report = {
  runId: '2026-12-01T17:00:00Z-ep01',
  startedAt: '2026-12-01T17:00:00.000Z',
  finishedAt: '2026-12-01T17:00:02.000Z',
  tenants: ['acme-corp', 'globex'],
  results: [result('acme-corp', true), result('globex', false)],
  alerts: [],
};

let browser: Browser | undefined;

beforeAll(async () => {
  browser = await launchChromium();
  mkdirSync(OUT, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe('the entry points in the HTML report', () => {
  it("reads a verdict that is not a status (an object's own key such as constructor) as error", () => {
    const odd = result('acme-corp', false);
    odd.evidence = {
      entryPoints: [
        { name: 'resolved-ticket', verdict: 'constructor', probes: probes(401) },
        { name: 'agent-triage', verdict: 'toString', probes: probes(401) },
      ],
    };
    const html = renderHtmlReport({ ...report, results: [odd] }, { target: 'https://api.platform.example' });
    expect(html).toContain('resolved-ticket: error: wrong-signature HTTP 401');
    expect(html).toContain('agent-triage: error: wrong-signature HTTP 401');
  });

  it('shows one column for the check, a mark per entry point, and a table of probes in the details', async (context) => {
    const html = renderHtmlReport(report, { target: 'https://api.platform.example' });
    // One column for the check however many entry points: the grid's head names it once.
    expect(html.match(/<th class="check" data-check="webhook\.entry_points_reject_forgeries"/g)).toHaveLength(2);
    if (!browser) return context.skip();
    const file = join(OUT, 'html-entry-points.html');
    writeFileSync(file, html);
    const page = await browser.newPage();
    await page.goto(pathToFileURL(file).href);

    const failing = page.locator(`#failing tr[data-tenant="acme-corp"] td[data-check="${CHECK}"]`);
    expect((await failing.textContent())?.trim()).toBe('✗✓ P0');
    await expect(failing.getAttribute('title')).resolves.toMatch(
      /^resolved-ticket: fail: wrong-signature HTTP 401; missing-signature HTTP 202; tampered-body HTTP 401; cross-tenant skipped\nagent-triage: pass: /,
    );
    const passing = page.locator('#passing-tenants tr[data-tenant="globex"] td.c');
    expect((await passing.textContent())?.trim()).toBe('✓✓');

    await failing.click();
    const rows = page.locator('#details table.entry-points tr');
    await expect(rows.count()).resolves.toBe(3);
    await expect(rows.nth(0).textContent()).resolves.toBe(
      'entry pointwrong-signaturemissing-signaturetampered-bodycross-tenant',
    );
    await expect(rows.nth(1).textContent()).resolves.toBe(
      'resolved-ticketpass (HTTP 401)fail (HTTP 202)pass (HTTP 401)skipped',
    );
    await expect(rows.nth(1).locator('td.s-fail').count()).resolves.toBe(1);
    await page.close();
  });
});
