/**
 * Every fault switch of the sandbox, through the real CLI path (`run --config FILE --json`):
 * the exact check, status and tier of the contract fire, and nothing else fails.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../functions/core/types.ts';
import { type Sandbox, type SandboxFaultName, startSandbox } from '../../sandbox/index.ts';
import { runCli } from '../support/cli.ts';
import { requireRedisInCi } from '../support/services.ts';

const TENANTS = ['acme-corp', 'globex', 'initech'];
const FORGED = [
  'webhook.bad_signature_rejected',
  'webhook.missing_signature_rejected',
  'webhook.tampered_body_rejected',
  'webhook.cross_tenant_signature_rejected',
];

interface Expected {
  checkId: string;
  tenantId: string | null;
  status: 'fail' | 'degraded' | 'error';
  tier: 'P0' | 'P1' | 'P2' | 'P3';
}

const everyTenant = (checkId: string, tier: Expected['tier']): Expected[] =>
  TENANTS.map((tenantId) => ({ checkId, tenantId, status: 'fail', tier }));

// The HTTP-level faults; the data-plane ones are proven by the drill tests (test/drills/).
const EXPECTATIONS: Partial<Record<SandboxFaultName, Expected[]>> = {
  'health-down': [{ checkId: 'api.health', tenantId: null, status: 'fail', tier: 'P0' }],
  'health-hangs': [{ checkId: 'api.health', tenantId: null, status: 'fail', tier: 'P0' }],
  'health-huge-body': [{ checkId: 'api.health', tenantId: null, status: 'fail', tier: 'P0' }],
  'forged-signatures-accepted': FORGED.flatMap((checkId) => everyTenant(checkId, 'P0')),
  'secret-mismatch': [{ checkId: 'webhook.signed_accepted', tenantId: 'acme-corp', status: 'fail', tier: 'P1' }],
  'replay-window-off': [
    ...everyTenant('webhook.stale_timestamp_rejected', 'P1'),
    ...everyTenant('webhook.future_timestamp_rejected', 'P1'),
  ],
  'future-timestamps-accepted': everyTenant('webhook.future_timestamp_rejected', 'P1'),
};

let sandbox: Sandbox;
let dir: string;
let configFile: string;

beforeAll(async () => {
  requireRedisInCi();
  sandbox = await startSandbox();
  dir = await mkdtemp(join(tmpdir(), 'canary-cli-'));
  configFile = join(dir, 'sandbox.json');
  await writeFile(configFile, JSON.stringify(sandbox.config));
});

afterAll(async () => {
  await sandbox?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function runJson(extra: string[] = []): Promise<{ code: number; report: Report; stderr: string }> {
  const run = await runCli(['run', '--config', configFile, '--json', ...extra]);
  return { code: run.code, report: JSON.parse(run.stdout) as Report, stderr: run.stderr };
}

const unhealthy = (report: Report) =>
  report.results
    .filter((r) => r.status === 'fail' || r.status === 'degraded' || r.status === 'error')
    .map(({ checkId, tenantId, status, tier }) => ({ checkId, tenantId, status, tier }));

const sortExpected = (list: Expected[]) =>
  [...list].sort((a, b) => `${a.checkId}/${a.tenantId}`.localeCompare(`${b.checkId}/${b.tenantId}`));

describe('the CLI against the healthy sandbox', () => {
  it('passes api.health and every webhook check for all three tenants and exits 0', async () => {
    await sandbox.setFaults([]);
    const { code, report } = await runJson();
    expect(unhealthy(report)).toEqual([]);
    expect(code).toBe(0);
    expect(report.results.find((r) => r.checkId === 'api.health')?.status).toBe('pass');
    for (const tenantId of TENANTS) {
      const webhook = report.results.filter((r) => r.tenantId === tenantId && r.checkId.startsWith('webhook.'));
      expect(webhook.map((r) => [r.checkId, r.status])).toEqual([
        ['webhook.signed_accepted', 'pass'],
        ['webhook.bad_signature_rejected', 'pass'],
        ['webhook.missing_signature_rejected', 'pass'],
        ['webhook.tampered_body_rejected', 'pass'],
        ['webhook.cross_tenant_signature_rejected', 'pass'],
        ['webhook.stale_timestamp_rejected', 'pass'],
        ['webhook.future_timestamp_rejected', 'pass'],
        ['webhook.entry_points_reject_forgeries', 'pass'],
      ]);
    }
    for (const result of report.results.filter((r) => r.status === 'skipped')) {
      expect(result.summary.length, result.checkId).toBeGreaterThan(10);
    }
  });

  it('narrows the run with --tenant and --check', async () => {
    const { code, report } = await runJson(['--tenant', 'globex', '--check', 'webhook.stale_timestamp_rejected']);
    expect(code).toBe(0);
    expect(report.results.map((r) => [r.checkId, r.tenantId])).toEqual([
      ['webhook.stale_timestamp_rejected', 'globex'],
    ]);
  });
});

describe.each(Object.entries(EXPECTATIONS) as [SandboxFaultName, Expected[]][])(
  'the CLI with the sandbox fault %s',
  (fault, expected) => {
    it(`reports exactly ${expected.length} failing result(s) and exits 1`, async () => {
      await sandbox.setFaults([fault]);
      try {
        const started = Date.now();
        const { code, report } = await runJson();
        expect(sortExpected(unhealthy(report) as Expected[])).toEqual(sortExpected(expected));
        expect(code).toBe(1);
        // A hanging or huge health endpoint costs at most its request budget.
        expect(Date.now() - started).toBeLessThan(15_000);
      } finally {
        await sandbox.setFaults([]);
      }
    });
  },
);

describe('secrets in output', () => {
  it('never prints a tenant secret on stdout, stderr, in the report file or the HTML report, even when checks fail', async () => {
    await sandbox.setFaults(['forged-signatures-accepted', 'secret-mismatch', 'health-down']);
    try {
      const reportFile = join(dir, 'report.json');
      const htmlFile = join(dir, 'report.html');
      const human = await runCli(['run', '--config', configFile, '--report', reportFile, '--html', htmlFile]);
      const json = await runCli(['run', '--config', configFile, '--json']);
      const html = await readFile(htmlFile, 'utf8');
      // The HTML holds the failing cells' evidence: the same redaction as the report.
      expect(html).toContain('webhook.bad_signature_rejected');
      const channels = [human.stdout, human.stderr, json.stdout, json.stderr, await readFile(reportFile, 'utf8'), html];
      expect(human.code).toBe(1);
      for (const { secret } of sandbox.tenants) {
        expect(secret.length).toBeGreaterThan(8);
        for (const channel of channels) expect(channel).not.toContain(secret);
      }
    } finally {
      await sandbox.setFaults([]);
    }
  });
});
