/**
 * The HTML report in a real headless browser (Debian's chromium, driven by playwright-core): a
 * 1,000-tenant report with one failing tenant, its DOM asserted, no request leaving the page, a
 * screenshot left in test/.out/. And the drill matrix.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DrillRow, skippedRow } from '../../bin/cli/drill.ts';
import { renderHtmlDrill, renderHtmlReport } from '../../bin/cli/html.ts';
import { CATALOG } from '../../functions/core/catalog.ts';
import type { CheckResult, Report } from '../../functions/core/types.ts';
import { launchChromium } from '../support/browser.ts';

const OUT = join(import.meta.dirname, '..', '.out');
const TENANT_CHECKS = CATALOG.filter((entry) => entry.scope === 'tenant').map((entry) => entry.id);
const PLATFORM_CHECKS = CATALOG.filter((entry) => entry.scope === 'platform').map((entry) => entry.id);
const BROKEN = 'tenant-0420';

function fleetReport(tenants: number): Report {
  const ids = Array.from({ length: tenants }, (_, i) => `tenant-${String(i + 1).padStart(4, '0')}`);
  const result = (checkId: string, tenantId: string | null): CheckResult => {
    const broken = tenantId === BROKEN && checkId === 'webhook.bad_signature_rejected';
    return {
      checkId: checkId as CheckResult['checkId'],
      tenantId,
      status: broken ? 'fail' : 'pass',
      tier: broken ? 'P0' : null,
      summary: broken ? 'a webhook with a wrong signature was accepted (HTTP 200)' : 'as expected',
      durationMs: 12,
      evidence: broken ? { status: 200, ticketId: 'SYNTH-abc', signature: '[redacted]' } : {},
      runbook: CATALOG.find((entry) => entry.id === checkId)?.runbook ?? '',
    };
  };
  return {
    runId: '2026-12-01T17:00:00Z-ab12',
    startedAt: '2026-12-01T17:00:00.000Z',
    finishedAt: '2026-12-01T17:00:41.000Z',
    tenants: ids,
    results: [
      ...PLATFORM_CHECKS.map((checkId) => result(checkId, null)),
      ...ids.flatMap((tenantId) => TENANT_CHECKS.map((checkId) => result(checkId, tenantId))),
    ],
    alerts: [
      {
        dedupKey: 'webhook.bad_signature_rejected:tenant-0420',
        tier: 'P0',
        state: 'firing',
        checkId: 'webhook.bad_signature_rejected',
        tenantId: BROKEN,
      },
    ],
  };
}

let browser: Browser | undefined;

beforeAll(async () => {
  browser = await launchChromium();
  mkdirSync(OUT, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe('the HTML report of a 1,000-tenant run', () => {
  it('shows the failing tenant first with its tier, filters, details a cell, and requests nothing', async (context) => {
    if (!browser) return context.skip();
    const html = renderHtmlReport(fleetReport(1000), {
      target: 'https://api.platform.example',
      runbookBaseUrl: 'https://wiki.example.com/ops/guide',
    });
    const file = join(OUT, 'html-report-1000.html');
    writeFileSync(file, html);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    const started = performance.now();
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const renderMs = performance.now() - started;

    // The failing tenant is in the first table, its cell says FAIL by symbol and tier, not colour alone.
    const cell = page.locator(`#failing tr[data-tenant="${BROKEN}"] td[data-check="webhook.bad_signature_rejected"]`);
    await expect(cell.getAttribute('class')).resolves.toContain('s-fail');
    expect((await cell.textContent())?.trim()).toBe('✗ P0');
    await expect(page.locator('#failing tr[data-tenant]').count()).resolves.toBe(1);
    await expect(page.locator('#passing-tenants tr[data-tenant]').count()).resolves.toBe(999);
    await expect(page.locator('#passing-tenants summary').textContent()).resolves.toBe(
      '999 tenants: every check passing',
    );

    // A click shows the check, its evidence and the runbook link.
    await cell.click();
    await expect(page.locator('#details-title').textContent()).resolves.toContain('webhook.bad_signature_rejected');
    await expect(page.locator('#details').textContent()).resolves.toContain('SYNTH-abc');
    const link = page.locator('#details a');
    await expect(link.getAttribute('href')).resolves.toMatch(/^https:\/\/wiki\.example\.com\/ops\/guide#/);
    await page.screenshot({ path: join(OUT, 'html-report-1000.png') });

    // The filter narrows the grid to one tenant, then to one check's column.
    await page.fill('#filter', 'tenant-0007');
    await expect(page.locator('tr[data-tenant]:not(.hidden)').count()).resolves.toBe(1);
    await expect(page.locator('#shown').textContent()).resolves.toBe('1 tenant shown');
    await page.fill('#filter', 'tenant.latency');
    await expect(page.locator('tr[data-tenant]:not(.hidden)').count()).resolves.toBe(1000);
    await expect(page.locator('tr[data-tenant="tenant-0001"] td.c:not(.hidden)').count()).resolves.toBe(1);
    await page.fill('#filter', 'no-such-thing');
    await expect(page.locator('tr[data-tenant]:not(.hidden)').count()).resolves.toBe(0);
    await expect(page.locator('#shown').textContent()).resolves.toBe('0 tenants shown');
    // A passing cell has its details too: its summary and its check's runbook.
    await page.fill('#filter', '');
    await page.locator('tr[data-tenant="tenant-0001"] td.c').first().click();
    await expect(page.locator('#details-title').textContent()).resolves.toBe(`${TENANT_CHECKS[0]} · tenant-0001`);
    await expect(page.locator('#details').textContent()).resolves.toContain('pass: as expected');
    await page.locator('#platform td.c').first().click();
    await expect(page.locator('#details-title').textContent()).resolves.toBe(`${PLATFORM_CHECKS[0]} · platform`);

    await expect(page.locator('#alerts').textContent()).resolves.toContain('[P0] firing');
    // Nothing but the file itself was requested.
    expect(requests).toEqual([pathToFileURL(file).href]);
    expect(html.length).toBeLessThan(2 * 1024 * 1024);
    context.annotate(`1,000 tenants: ${(html.length / 1024).toFixed(0)} KB, loaded in ${renderMs.toFixed(0)} ms`);
    await page.close();
  });

  it('escapes what it shows: a summary cannot inject markup or script', async (context) => {
    if (!browser) return context.skip();
    const report = fleetReport(2);
    const hostile = '</script><img src=x onerror="document.title=\'owned\'"><b>bold</b>';
    report.results[PLATFORM_CHECKS.length] = {
      ...(report.results[PLATFORM_CHECKS.length] as CheckResult),
      status: 'fail',
      tier: 'P1',
      summary: hostile,
      evidence: { body: hostile },
    };
    const file = join(OUT, 'html-report-escaped.html');
    writeFileSync(file, renderHtmlReport(report, { target: 'x' }));
    const page = await browser.newPage();
    await page.goto(pathToFileURL(file).href);
    await page.locator('#failing td.s-fail').first().click();
    await expect(page.title()).resolves.toBe('tenant-canary run 2026-12-01T17:00:00Z-ab12');
    await expect(page.locator('#details b').count()).resolves.toBe(0);
    await expect(page.locator('#details').textContent()).resolves.toContain('<b>bold</b>');
    await page.close();
  });
});

describe('the HTML drill matrix', () => {
  it('shows expected against fired per fault and check', async (context) => {
    if (!browser) return context.skip();
    const hit = { checkId: 'api.health', status: 'fail' as const, tier: 'P0', tenantId: null };
    const rows: DrillRow[] = [
      { fault: 'health-down', expected: [hit], got: [hit], missing: [], unexpected: [], ok: true, durationMs: 900 },
      {
        fault: 'queue-stopped',
        expected: [{ checkId: 'queue.depth', status: 'fail', tier: 'P1', tenantId: null }],
        got: [],
        missing: [{ checkId: 'queue.depth', status: 'fail', tier: 'P1', tenantId: null }],
        unexpected: [],
        ok: false,
        durationMs: 800,
      },
      skippedRow('tls-expiring', 'speaks plain HTTP'),
    ];
    const file = join(OUT, 'html-drill.html');
    writeFileSync(file, renderHtmlDrill(rows, { target: 'the embedded sandbox', startedAt: '2026-12-01T17:00:00Z' }));
    const page = await browser.newPage();
    await page.goto(pathToFileURL(file).href);
    await expect(page.locator('tr[data-fault="health-down"] td.c').textContent()).resolves.toBe('✓ P0');
    await expect(page.locator('tr[data-fault="queue-stopped"] td.c').textContent()).resolves.toBe('✗ P1');
    await page.locator('tr[data-fault="queue-stopped"] td.c').click();
    await expect(page.locator('#details').textContent()).resolves.toMatch(
      /expected.*queue\.depth fail P1.*fired.*nothing/s,
    );
    await expect(page.locator('header').textContent()).resolves.toContain('1 of 2 drills ok');
    await page.close();
  });
});
