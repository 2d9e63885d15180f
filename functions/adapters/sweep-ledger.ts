/**
 * The fan-in of a sweep in DynamoDB (the protocol: functions/app/judge-sweep.ts). The sweep fans
 * tenants out to many probe invocations, but alerting must judge a whole sweep at once (a
 * platform-wide incident, the canary's own incidents: see functions/core/alert-policy.ts).
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
 * Every state change of the meta item is a conditional write: a lease is taken only when free or
 * expired and the sweep unjudged, and a sweep is marked judged only by the lease's holder.
 *
 * Costs: DynamoDB bills a write unit per started KB and a counter update per call, so a probe
 * invocation writes one item and one counter update for its up to 10 tenants, and the item holds
 * only what judging needs ({@link encodeBatch}): non-passing results in full (evidence trimmed),
 * passing and skipped ones as check ids. The expected tenants cost about 1 KB per 400 ids.
 */

import { createHash, randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { QueryCommandInput, QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { trimEvidence } from '../core/alert-message.ts';
import { catalogEntry, isCheckId } from '../core/catalog.ts';
import { errorClass } from '../core/errors.ts';
import { isQuiet } from '../core/results.ts';
import type { CheckResult } from '../core/types.ts';
import type { SweepLease, SweepLedger, SweepStatus, SweepTenantResults } from '../ports.ts';
import { type DocumentClientOptions, isConditionalCheckFailed, lazyDocumentClient } from './dynamo-client.ts';

const META = '#meta';
const PENDING = '#pending';
const BATCH_PREFIX = 'batch#';
const EXPECT_PREFIX = 'expect#';
const WITHDRAWN_PREFIX = 'withdrawn#';
/** Tenant ids per `expect#` item: 2,000 ids of up to 100 characters stay far below 400 KB gzipped. */
const IDS_PER_ITEM = 2_000;
/** Evidence of a non-passing result kept for the judgement (examples in platform-wide alerts). */
const EVIDENCE_BYTES = 2_000;
/** Items live a day: long enough for a late judgement. */
const TTL_SECONDS = 86_400;

export const SweepLedgerError = errorClass('SweepLedgerError', 'ledger');
export type SweepLedgerError = InstanceType<typeof SweepLedgerError>;

export interface SweepLedgerOptions extends DocumentClientOptions {
  tableName: string;
}

export function createSweepLedger(options: SweepLedgerOptions): SweepLedger {
  const { tableName } = options;
  const client = lazyDocumentClient(options);
  const expiry = (now: Date) => Math.floor(now.getTime() / 1000) + TTL_SECONDS;
  const fail = (what: string, error: unknown) =>
    new SweepLedgerError(
      `sweep table ${tableName}: ${what} failed (${error instanceof Error ? error.name : 'error'})`,
      { cause: error },
    );
  const send = async <T>(work: () => Promise<T>, what: string): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw fail(what, error);
    }
  };
  /** A conditional write: false when its condition did not hold. */
  const conditional = async (work: () => Promise<unknown>, what: string): Promise<boolean> => {
    try {
      await work();
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw fail(what, error);
    }
  };
  const queryAll = async (input: QueryCommandInput, what: string) => {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page: QueryCommandOutput = await send(
        () => client.send('Query', { ...input, ...(start ? { ExclusiveStartKey: start } : {}) }),
        what,
      );
      items.push(...((page.Items ?? []) as Record<string, unknown>[]));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  };
  const parts = (sweepId: string, prefix: string, what: string) =>
    queryAll(
      {
        TableName: tableName,
        KeyConditionExpression: 'sweepId = :sweep AND begins_with(part, :prefix)',
        ExpressionAttributeValues: { ':sweep': sweepId, ':prefix': prefix },
        ConsistentRead: true,
      },
      what,
    );
  const idsOf = (items: readonly Record<string, unknown>[]): string[] =>
    items.flatMap((item) => decodeIds(item.ids as Uint8Array));
  const putIds = (sweepId: string, part: string, ids: readonly string[], now: Date) =>
    send(
      () =>
        client.send('Put', {
          TableName: tableName,
          Item: { sweepId, part, ids: encodeIds(ids), expiresAt: expiry(now) },
        }),
      'recording tenant ids',
    );
  const status = async (sweepId: string): Promise<SweepStatus | undefined> => {
    const response = await send(
      () => client.send('Get', { TableName: tableName, Key: { sweepId, part: META }, ConsistentRead: true }),
      'reading a sweep',
    );
    return response.Item === undefined ? undefined : statusOf(response.Item);
  };

  const readResults = async (sweepId: string): Promise<SweepTenantResults[]> => {
    const items = await parts(sweepId, BATCH_PREFIX, 'reading results');
    // A tenant recorded twice (delivered again in another batch) keeps its first results.
    const byTenant = new Map<string, { at: string; results: CheckResult[] }>();
    for (const item of items) {
      const at = String(item.reportedAt);
      for (const entry of decodeBatch(String(item.tenants))) {
        const earlier = byTenant.get(entry.tenantId);
        if (earlier === undefined || at < earlier.at) byTenant.set(entry.tenantId, { at, results: entry.results });
      }
    }
    return [...byTenant].map(([tenantId, { results }]) => ({ tenantId, results }));
  };

  return {
    async open(sweepId, tenantIds, deadline, now) {
      const ids = [...new Set(tenantIds)];
      // The tenants first: a meta item is never without them.
      for (let at = 0, n = 0; at < ids.length; at += IDS_PER_ITEM, n++) {
        await putIds(sweepId, `${EXPECT_PREFIX}${String(n).padStart(4, '0')}`, ids.slice(at, at + IDS_PER_ITEM), now);
      }
      const expiresAt = expiry(now);
      await send(
        () =>
          client.send('Put', {
            TableName: tableName,
            Item: {
              sweepId,
              part: META,
              expected: ids.length,
              reported: 0,
              openedAt: now.toISOString(),
              deadline: deadline.toISOString(),
              expiresAt,
            },
          }),
        'opening a sweep',
      );
      await send(
        () => client.send('Put', { TableName: tableName, Item: { sweepId: PENDING, part: sweepId, expiresAt } }),
        'opening a sweep',
      );
    },

    async withdraw(sweepId, tenantIds, now) {
      const ids = [...new Set(tenantIds)].sort();
      if (ids.length === 0) return;
      const part = `${WITHDRAWN_PREFIX}${hashOf(ids)}`;
      const first = await conditional(
        () =>
          client.send('Put', {
            TableName: tableName,
            Item: { sweepId, part, ids: encodeIds(ids), expiresAt: expiry(now) },
            ConditionExpression: 'attribute_not_exists(part)',
          }),
        'withdrawing tenants',
      );
      if (!first) return;
      await conditional(
        () =>
          client.send('Update', {
            TableName: tableName,
            Key: { sweepId, part: META },
            UpdateExpression: 'ADD expected :minus',
            ConditionExpression: 'attribute_exists(expected)',
            ExpressionAttributeValues: { ':minus': -ids.length },
          }),
        'withdrawing tenants',
      );
    },

    async report(sweepId, tenants, now) {
      if (tenants.length === 0) return { recorded: false, mayBeComplete: false, late: false };
      const first = await conditional(
        () =>
          client.send('Put', {
            TableName: tableName,
            Item: batchItem(sweepId, tenants, now),
            ConditionExpression: 'attribute_not_exists(part)',
          }),
        'recording results',
      );
      if (!first) {
        const known = await status(sweepId);
        return { recorded: false, mayBeComplete: false, late: known?.judgedAt != null };
      }
      let counted: Record<string, unknown> | undefined;
      try {
        const response = await client.send('Update', {
          TableName: tableName,
          Key: { sweepId, part: META },
          UpdateExpression: 'ADD reported :n',
          ConditionExpression: 'attribute_exists(expected)',
          ExpressionAttributeValues: { ':n': new Set(tenants.map((t) => t.tenantId)).size },
          ReturnValues: 'ALL_NEW',
        });
        counted = response.Attributes;
      } catch (error) {
        // No such sweep (opened elsewhere, or expired): the results stay, nobody judges them here.
        if (isConditionalCheckFailed(error)) return { recorded: false, mayBeComplete: false, late: false };
        throw fail('counting tenants in', error);
      }
      const current = statusOf(counted ?? {});
      const late = current.judgedAt !== null;
      return { recorded: true, late, mayBeComplete: !late && current.reported >= current.expected };
    },

    status,

    async pending() {
      const markers = await queryAll(
        {
          TableName: tableName,
          KeyConditionExpression: 'sweepId = :pending',
          ExpressionAttributeValues: { ':pending': PENDING },
          ConsistentRead: true,
        },
        'listing pending sweeps',
      );
      const out: SweepStatus[] = [];
      for (const marker of markers) {
        const sweepId = String(marker.part);
        const current = await status(sweepId);
        if (current !== undefined && current.judgedAt === null) {
          out.push(current);
          continue;
        }
        // Judged (its judge died before forgetting the marker) or gone: forget it now.
        await send(
          () => client.send('Delete', { TableName: tableName, Key: { sweepId: PENDING, part: sweepId } }),
          'forgetting a judged sweep',
        );
      }
      return out;
    },

    async claim(sweepId, now, leaseMs) {
      const lease: SweepLease = {
        sweepId,
        token: randomUUID(),
        until: new Date(now.getTime() + leaseMs).toISOString(),
      };
      const won = await conditional(
        () =>
          client.send('Update', {
            TableName: tableName,
            Key: { sweepId, part: META },
            UpdateExpression: 'SET leaseUntil = :until, leaseOwner = :token',
            ConditionExpression:
              'attribute_exists(expected) AND attribute_not_exists(judgedAt) AND (attribute_not_exists(leaseUntil) OR leaseUntil <= :now)',
            ExpressionAttributeValues: { ':until': lease.until, ':token': lease.token, ':now': now.toISOString() },
          }),
        'claiming a sweep',
      );
      return won ? lease : null;
    },

    async expectedTenants(sweepId) {
      const [listed, withdrawn] = await Promise.all([
        parts(sweepId, EXPECT_PREFIX, 'reading the expected tenants'),
        parts(sweepId, WITHDRAWN_PREFIX, 'reading the expected tenants'),
      ]);
      const gone = new Set(idsOf(withdrawn));
      return idsOf(listed).filter((id) => !gone.has(id));
    },

    results: readResults,

    async finish(lease, outcome, now) {
      const won = await conditional(
        () =>
          client.send('Update', {
            TableName: tableName,
            Key: { sweepId: lease.sweepId, part: META },
            UpdateExpression: 'SET judgedAt = :now, complete = :complete REMOVE leaseUntil, leaseOwner',
            ConditionExpression: 'leaseOwner = :token AND attribute_not_exists(judgedAt)',
            ExpressionAttributeValues: {
              ':now': now.toISOString(),
              ':complete': outcome.complete,
              ':token': lease.token,
            },
          }),
        'marking a sweep judged',
      );
      if (!won) return false;
      // Best effort: a marker left behind is forgotten by the next `pending`.
      await client
        .send('Delete', { TableName: tableName, Key: { sweepId: PENDING, part: lease.sweepId } })
        .catch(() => {});
      return true;
    },

    async release(lease) {
      await conditional(
        () =>
          client.send('Update', {
            TableName: tableName,
            Key: { sweepId: lease.sweepId, part: META },
            UpdateExpression: 'REMOVE leaseUntil, leaseOwner',
            ConditionExpression: 'leaseOwner = :token',
            ExpressionAttributeValues: { ':token': lease.token },
          }),
        'releasing a sweep',
      );
    },
  };
}

function statusOf(item: Record<string, unknown>): SweepStatus {
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

/** The item {@link SweepLedger.report} writes for a batch (exported for the bench's size figure). */
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
    expiresAt: Math.floor(now.getTime() / 1000) + TTL_SECONDS,
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
