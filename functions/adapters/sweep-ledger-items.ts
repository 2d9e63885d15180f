/**
 * The sweep ledger's items in DynamoDB, and their codec (the table: functions/core/tables.ts;
 * the reads and writes: functions/adapters/sweep-ledger.ts). Pure: no client, no clock.
 *
 * Items, all expiring after a day:
 * - `(sweepId, "#meta")`: `expected`, `reported`, `openedAt`, `deadline`; `leaseUntil` and
 *   `leaseOwner` while a judge holds it; `judgedAt` and `complete` once judged.
 * - `(sweepId, "expect#N")`: the tenant ids handed out, gzipped, in chunks;
 *   `(sweepId, "withdrawn#HASH")`: those SQS refused.
 * - `(sweepId, "batch#HASH")`: the results of one probe invocation's tenants (HASH: of their
 *   sorted ids, so a batch delivered again whole is recorded and counted once).
 * - `("#pending", sweepId)` while unjudged.
 *
 * A batch item holds only what judging needs ({@link encodeBatch}): non-passing results in full
 * (evidence trimmed), passing and skipped ones as check ids. The expected tenants cost about 1 KB
 * per 400 ids.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { trimEvidence } from '../core/alert-message.ts';
import { catalogEntry, isCheckId } from '../core/catalog.ts';
import { isQuiet } from '../core/results.ts';
import type { CheckResult } from '../core/types.ts';
import type { SweepStatus, SweepTenantResults } from '../ports.ts';

export const META = '#meta';
export const PENDING = '#pending';
export const BATCH_PREFIX = 'batch#';
export const EXPECT_PREFIX = 'expect#';
export const WITHDRAWN_PREFIX = 'withdrawn#';
/** Tenant ids per `expect#` item: 2,000 ids of up to 100 characters stay far below 400 KB gzipped. */
export const IDS_PER_ITEM = 2_000;
/** Evidence of a non-passing result kept for the judgement (examples in platform-wide alerts). */
const EVIDENCE_BYTES = 2_000;
/** Items live a day: long enough for a late judgement. */
const TTL_SECONDS = 86_400;

/** The `expiresAt` (TTL, epoch seconds) of an item written at `now`. */
export function expiresAtOf(now: Date): number {
  return Math.floor(now.getTime() / 1000) + TTL_SECONDS;
}

/** The `expect#N` part of the `n`th chunk of expected tenants. */
export function expectPart(n: number): string {
  return `${EXPECT_PREFIX}${String(n).padStart(4, '0')}`;
}

/** The `withdrawn#HASH` part of these (sorted) tenant ids. */
export function withdrawnPart(sortedIds: readonly string[]): string {
  return `${WITHDRAWN_PREFIX}${hashOf(sortedIds)}`;
}

/** An item of tenant ids (`expect#N`, `withdrawn#HASH`). */
export function idsItem(sweepId: string, part: string, ids: readonly string[], now: Date): Record<string, unknown> {
  return { sweepId, part, ids: encodeIds(ids), expiresAt: expiresAtOf(now) };
}

/** The tenant ids of `expect#` or `withdrawn#` items. */
export function idsOf(items: readonly Record<string, unknown>[]): string[] {
  return items.flatMap((item) => decodeIds(item.ids as Uint8Array));
}

/** The meta item of a sweep just opened. */
export function metaItem(sweepId: string, expected: number, deadline: Date, now: Date): Record<string, unknown> {
  return {
    sweepId,
    part: META,
    expected,
    reported: 0,
    openedAt: now.toISOString(),
    deadline: deadline.toISOString(),
    expiresAt: expiresAtOf(now),
  };
}

/** The marker of an unjudged sweep (the partition `pending` queries). */
export function pendingItem(sweepId: string, now: Date): Record<string, unknown> {
  return { sweepId: PENDING, part: sweepId, expiresAt: expiresAtOf(now) };
}

/** A sweep's status from its meta item. */
export function statusOf(item: Record<string, unknown>): SweepStatus {
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  return {
    sweepId: String(item.sweepId),
    expected: Number(item.expected ?? 0),
    reported: Number(item.reported ?? 0),
    openedAt: String(item.openedAt ?? ''),
    deadline: String(item.deadline ?? item.openedAt ?? ''),
    judgedAt: text(item.judgedAt),
    complete: typeof item.complete === 'boolean' ? item.complete : null,
    leaseUntil: text(item.leaseUntil),
  };
}

/**
 * Every tenant's results in a sweep's batch items; a tenant recorded twice (delivered again in
 * another batch) keeps its first results.
 */
export function resultsOfBatches(items: readonly Record<string, unknown>[]): SweepTenantResults[] {
  const byTenant = new Map<string, { at: string; results: CheckResult[] }>();
  for (const item of items) {
    const at = String(item.reportedAt);
    for (const entry of decodeBatch(String(item.tenants))) {
      const earlier = byTenant.get(entry.tenantId);
      if (earlier === undefined || at < earlier.at) byTenant.set(entry.tenantId, { at, results: entry.results });
    }
  }
  return [...byTenant].map(([tenantId, { results }]) => ({ tenantId, results }));
}

function hashOf(sortedIds: readonly string[]): string {
  return createHash('sha256').update(sortedIds.join('\n')).digest('base64url').slice(0, 16);
}

function encodeIds(ids: readonly string[]): Uint8Array {
  return gzipSync(ids.join('\n'));
}

function decodeIds(bytes: Uint8Array | undefined): string[] {
  if (bytes === undefined || bytes.length === 0) return [];
  const text = gunzipSync(bytes).toString('utf8');
  return text === '' ? [] : text.split('\n');
}

/** Whether a result is stored as its check id alone (and rebuilt exactly but for its summary). */
function storedAsId(result: CheckResult): boolean {
  return isQuiet(result.status) && isCheckId(result.checkId);
}

/**
 * A batch's results as stored: `c`, the check ids stored by id (once per item); `t`, per tenant
 * `[tenantId, passing, skipped, other results]`, passing and skipped as indexes into `c`, each
 * written in base 36 with `w` digits.
 */
interface StoredBatch {
  c: string[];
  w: number;
  t: [string, string, string, CheckResult[]][];
}

/**
 * What judging needs of one batch's results, as one JSON string. Non-passing results keep
 * everything, their evidence trimmed. A passing or skipped result of a catalog check keeps only
 * its check id: its evidence was never kept, its tier is null, its runbook is the catalog's, and
 * its summary and duration are not used by the alert policy but for a resolution's wording (a
 * resolution judged from the ledger says the check passes, not what the passing probe said).
 */
export function encodeBatch(tenants: readonly SweepTenantResults[]): string {
  const checks = [...new Set(tenants.flatMap(({ results }) => results.filter(storedAsId).map((r) => r.checkId)))];
  const width = Math.max(1, Math.ceil(Math.log(checks.length + 1) / Math.log(36)));
  const index = new Map(checks.map((id, i) => [id, i.toString(36).padStart(width, '0')]));
  const ids = (results: readonly CheckResult[], status: string) =>
    results
      .filter((r) => storedAsId(r) && r.status === status)
      .map((r) => index.get(r.checkId))
      .join('');
  const stored: StoredBatch = {
    c: checks,
    w: width,
    t: tenants.map(({ tenantId, results }) => [
      tenantId,
      ids(results, 'pass'),
      ids(results, 'skipped'),
      results.filter((r) => !storedAsId(r)).map(compact),
    ]),
  };
  return JSON.stringify(stored);
}

export function decodeBatch(text: string): { tenantId: string; results: CheckResult[] }[] {
  const stored = JSON.parse(text) as StoredBatch;
  const checksOf = (digits: string) => {
    const out: string[] = [];
    for (let at = 0; at < digits.length; at += stored.w) {
      out.push(stored.c[Number.parseInt(digits.slice(at, at + stored.w), 36)] ?? '');
    }
    return out;
  };
  return stored.t.map(([tenantId, passes, skips, others]) => {
    const rebuilt = (checkId: string, status: 'pass' | 'skipped'): CheckResult => ({
      checkId,
      tenantId,
      status,
      tier: null,
      summary: status === 'pass' ? `${checkId} passes.` : `${checkId} was skipped.`,
      durationMs: 0,
      evidence: {},
      runbook: isCheckId(checkId) ? catalogEntry(checkId).runbook : '',
    });
    return {
      tenantId,
      results: [
        ...others,
        ...checksOf(passes).map((id) => rebuilt(id, 'pass')),
        ...checksOf(skips).map((id) => rebuilt(id, 'skipped')),
      ],
    };
  });
}

/** What judging needs of a result kept whole: passes and skips lose their evidence, the rest keep a trimmed one. */
function compact(result: CheckResult): CheckResult {
  const quiet = isQuiet(result.status);
  return { ...result, evidence: quiet ? {} : trimEvidence(result.evidence, EVIDENCE_BYTES) };
}

/** The item `SweepLedger.report` writes for a batch (exported for the bench's size figure). */
export function batchItem(
  sweepId: string,
  tenants: readonly SweepTenantResults[],
  now: Date,
): Record<string, string | number> {
  const ids = [...new Set(tenants.map((t) => t.tenantId))].sort();
  return {
    sweepId,
    part: `${BATCH_PREFIX}${hashOf(ids)}`,
    tenants: encodeBatch(tenants),
    reportedAt: now.toISOString(),
    expiresAt: expiresAtOf(now),
  };
}

/** DynamoDB's size of an item of strings and numbers: names plus values (a number: about half its digits, plus one). */
export function itemBytes(item: Record<string, string | number>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += Buffer.byteLength(name);
    bytes += typeof value === 'string' ? Buffer.byteLength(value) : Math.ceil(String(value).length / 2) + 1;
  }
  return bytes;
}
