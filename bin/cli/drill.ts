/**
 * `tenant-canary drill`: switch each sandbox fault on, run every check, and compare what fired
 * with what the fault must cause. A drill passes only when exactly the expected checks fire, at
 * the expected tier, and nothing else fails, degrades or errors (no false alarm).
 */
import { openPorts } from '../../functions/adapters/index.ts';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { runWithPorts } from '../../functions/app/with-ports.ts';
import { parseConfig } from '../../functions/core/config.ts';
import { needsAttention } from '../../functions/core/results.ts';
import type { CheckResult, Report } from '../../functions/core/types.ts';
import type { SandboxFaultName, SandboxOptions } from '../../sandbox/index.ts';

export interface DrillExpectation {
  checkId: string;
  status: 'fail' | 'degraded' | 'error';
  tier: string;
  tenantId: string | null;
}

export interface DrillRow {
  fault: string;
  /** Why the fault could not be caused here (then nothing was compared, and the row is ok). */
  skipped?: string;
  expected: DrillExpectation[];
  got: DrillExpectation[];
  missing: DrillExpectation[];
  unexpected: DrillExpectation[];
  ok: boolean;
  durationMs: number;
}

const key = (e: DrillExpectation) => `${e.checkId}|${e.tenantId ?? '*'}|${e.status}|${e.tier}`;

export function fired(results: readonly CheckResult[]): DrillExpectation[] {
  return results
    .filter((r) => needsAttention(r.status))
    .map((r) => ({
      checkId: r.checkId,
      status: r.status as DrillExpectation['status'],
      tier: r.tier ?? '',
      tenantId: r.tenantId,
    }));
}

export function compare(fault: string, expected: DrillExpectation[], report: Report, durationMs: number): DrillRow {
  const got = fired(report.results);
  const gotKeys = new Set(got.map(key));
  const expectedKeys = new Set(expected.map(key));
  const missing = expected.filter((e) => !gotKeys.has(key(e)));
  const unexpected = got.filter((g) => !expectedKeys.has(key(g)));
  return { fault, expected, got, missing, unexpected, ok: missing.length === 0 && unexpected.length === 0, durationMs };
}

/** The row of a fault this sandbox cannot cause: nothing compared, ok. */
export function skippedRow(fault: string, reason: string): DrillRow {
  return { fault, skipped: reason, expected: [], got: [], missing: [], unexpected: [], ok: true, durationMs: 0 };
}

export async function runDrills(
  faults: readonly SandboxFaultName[] | 'all',
  options: SandboxOptions,
  onRow: (row: DrillRow) => void,
  signal?: AbortSignal,
): Promise<DrillRow[]> {
  const { startSandbox, SANDBOX_FAULTS } = await import('../../sandbox/index.ts');
  const names = faults === 'all' ? SANDBOX_FAULTS.map((f) => f.name) : faults;
  const sandbox = await startSandbox(options);
  const rows: DrillRow[] = [];
  try {
    for (const fault of names) {
      if (signal?.aborted) break;
      const cannot = sandbox.cannotCause(fault);
      if (cannot !== null) {
        const row = skippedRow(fault, cannot);
        rows.push(row);
        onRow(row);
        continue;
      }
      await sandbox.setFaults([fault]);
      // Read after the switch: a fault that changes how the platform is built changes its description.
      const config = parseConfig(sandbox.config);
      const started = Date.now();
      const report = await runWithPorts(openPorts, {
        config,
        secrets: createSecretResolver({ env: {} }),
        signal,
      });
      const row = compare(fault, sandbox.expectedFor(fault), report, Date.now() - started);
      rows.push(row);
      onRow(row);
    }
  } finally {
    await sandbox.stop();
  }
  return rows;
}

const describeList = (list: DrillExpectation[]) =>
  list.length === 0
    ? 'nothing'
    : summarise(list)
        .map((e) => `${e.checkId} ${e.status === 'fail' ? '' : `${e.status} `}${e.tier}${e.where}`)
        .join(', ');

/** Groups per-tenant rows: "webhook.x P0 (3 tenants)". */
function summarise(list: DrillExpectation[]) {
  const groups = new Map<string, { checkId: string; status: string; tier: string; tenants: (string | null)[] }>();
  for (const e of list) {
    const k = `${e.checkId}|${e.status}|${e.tier}`;
    const group = groups.get(k) ?? { checkId: e.checkId, status: e.status, tier: e.tier, tenants: [] };
    group.tenants.push(e.tenantId);
    groups.set(k, group);
  }
  return [...groups.values()].map((g) => ({
    ...g,
    where:
      g.tenants.length === 1 && g.tenants[0] === null
        ? ''
        : g.tenants.length === 1
          ? ` (${g.tenants[0]})`
          : ` (${g.tenants.length} tenants)`,
  }));
}

export function renderDrillRow(row: DrillRow, color: boolean): string {
  const mark = row.ok
    ? color
      ? '\u001b[32m✓ ok\u001b[0m'
      : '✓ ok'
    : color
      ? '\u001b[31m✗ MISMATCH\u001b[0m'
      : '✗ MISMATCH';
  if (row.skipped !== undefined) {
    return `${color ? '\u001b[33m- skipped\u001b[0m' : '- skipped'}  ${row.fault}: ${row.skipped}\n`;
  }
  const lines = [
    `${mark}  ${row.fault}  (${(row.durationMs / 1000).toFixed(1)} s)`,
    `     expected: ${describeList(row.expected)}`,
    `     got:      ${describeList(row.got)}`,
  ];
  if (row.missing.length > 0) lines.push(`     missing:  ${describeList(row.missing)}`);
  if (row.unexpected.length > 0) lines.push(`     false alarm: ${describeList(row.unexpected)}`);
  return `${lines.join('\n')}\n`;
}
