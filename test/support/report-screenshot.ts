/**
 * The README's screenshot of the HTML report: the embedded sandbox with 12 tenants and one
 * fault (`secret-mismatch`: the receiver rejects acme-corp's signature), `run --html`, then
 * headless Chromium. `npx tsx test/support/report-screenshot.ts docs/html-report.png`
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { startSandbox } from '../../sandbox/index.ts';
import { findOnPath } from '../../sandbox/queue.ts';
import { runCli } from './cli.ts';

const out = resolve(process.argv[2] ?? 'docs/html-report.png');
const executablePath = findOnPath('chromium', process.env.PATH);
if (executablePath === undefined) throw new Error('chromium is not on PATH (apt-get install -y chromium)');
const sandbox = await startSandbox({ redis: 'memory', tenantCount: 12, faults: ['secret-mismatch'] });
const dir = await mkdtemp(join(tmpdir(), 'canary-screenshot-'));
try {
  const config = join(dir, 'sandbox.json');
  const html = join(dir, 'report.html');
  await writeFile(config, JSON.stringify(sandbox.config));
  const run = await runCli(['run', '--config', config, '--html', html]);
  if (run.code !== 1) throw new Error(`expected one failing check (exit 1), got ${run.code}: ${run.stderr}`);
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  await page.goto(pathToFileURL(html).href);
  await page.locator('#failing td.s-fail').first().click();
  await page.locator('#grid').scrollIntoViewIfNeeded();
  await page.screenshot({ path: out });
  await browser.close();
  process.stdout.write(`${out}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
  await sandbox.stop();
}
