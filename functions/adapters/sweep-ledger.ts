/**
 * The fan-in of a sweep. The sweep fans tenants out to many probe invocations, but alerting
 * must judge a whole sweep at once (a platform-wide incident, the canary's own incidents: see
 * functions/core/alert-policy.ts). So each probe records its tenant's results here, counts
 * itself in, and the probe that completes the sweep claims it (once, by a conditional write)
 * and judges it. A sweep that never completes (a tenant in the dead-letter queue) is judged by
 * the next sweep with the results it has.
 *
 * Items: `(sweepId, "#meta")` with `expected`, `reported`, `claimedAt`; `(sweepId, "batch#HASH")`
 * with the results of one probe invocation's tenants (HASH: of their sorted ids, so a batch
 * delivered again whole is recorded and counted once); `("#pending", sweepId)` while unjudged.
 * All expire.
 *
 * Costs: DynamoDB bills a write unit per started KB and a counter update per call, so a probe
 * invocation writes one item and one counter update for its up to 10 tenants, and the item holds
 * only what judging needs ({@link encodeBatch}): non-passing results in full (evidence trimmed),
 * passing and skipped ones as check ids.
 *
 * A tenant delivered again in another batch (its record failed, or an invocation died after
 * recording) can be counted twice, so the count only says a sweep may be complete: the probe that
 * claims it reads the recorded tenants and, if some are still missing, releases the claim.
 */

import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { trimEvidence } from '../core/alert-message.ts';
import { catalogEntry, isCheckId } from '../core/catalog.ts';
import { errorClass } from '../core/errors.ts';
import type { CheckResult } from '../core/types.ts';
import type { SweepLedger, SweepTenantResults } from '../ports.ts';
import { awsClientDefaults } from './aws-client.ts';

const META = '#meta';
const PENDING = '#pending';
const BATCH_PREFIX = 'batch#';
/** Evidence of a non-passing result kept for the judgement (examples in platform-wide alerts). */
const EVIDENCE_BYTES = 2_000;
/** Items live a day: long enough for the next sweeps to judge a late one. */
const TTL_SECONDS = 86_400;

export const SweepLedgerError = errorClass('SweepLedgerError', 'ledger');
export type SweepLedgerError = InstanceType<typeof SweepLedgerError>;

export interface SweepLedgerOptions {
  tableName: string;
  client?: DynamoDBClient;
  clientConfig?: DynamoDBClientConfig;
}

export function createSweepLedger(options: SweepLedgerOptions): SweepLedger {
  const { tableName } = options;
  const base = options.client ?? new DynamoDBClient({ ...awsClientDefaults(), ...options.clientConfig });
  const client = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
  const expiry = (now: Date) => Math.floor(now.getTime() / 1000) + TTL_SECONDS;
  const fail = (what: string, error: unknown) =>
    new SweepLedgerError(
      `sweep table ${tableName}: ${what} failed (${error instanceof Error ? error.name : 'error'})`,
      {
        cause: error,
      },
    );
  const conditional = async (work: () => Promise<unknown>, what: string): Promise<boolean> => {
    try {
      await work();
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw fail(what, error);
    }
  };
  const claim = (sweepId: string, now: Date) =>
    conditional(
      () =>
        client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { sweepId, part: META },
            UpdateExpression: 'SET claimedAt = :now',
            ConditionExpression: 'attribute_exists(expected) AND attribute_not_exists(claimedAt)',
            ExpressionAttributeValues: { ':now': now.toISOString() },
          }),
        ),
      'claiming a sweep',
    );
  const queryAll = async (input: ConstructorParameters<typeof QueryCommand>[0], what: string) => {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      let page: QueryCommandOutput;
      try {
        page = await client.send(new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
      } catch (error) {
        throw fail(what, error);
      }
      items.push(...((page.Items ?? []) as Record<string, unknown>[]));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  };

  const readResults = async (sweepId: string): Promise<SweepTenantResults[]> => {
    const items = await queryAll(
      {
        TableName: tableName,
        KeyConditionExpression: 'sweepId = :sweep AND begins_with(part, :batch)',
        ExpressionAttributeValues: { ':sweep': sweepId, ':batch': BATCH_PREFIX },
        ConsistentRead: true,
      },
      'reading results',
    );
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
  /** Claims a sweep whose count says complete, keeping the claim only if every tenant is recorded. */
  const claimComplete = async (sweepId: string, expected: number, now: Date): Promise<boolean> => {
    if (!(await claim(sweepId, now))) return false;
    if ((await readResults(sweepId)).length >= expected) return true;
    // A tenant was counted twice: release the claim. A report that came in while we held it saw
    // the claim and left; its results were recorded before, so the second look finds them.
    try {
      await client.send(
        new UpdateCommand({ TableName: tableName, Key: { sweepId, part: META }, UpdateExpression: 'REMOVE claimedAt' }),
      );
    } catch (error) {
      throw fail('releasing a claim', error);
    }
    if ((await readResults(sweepId)).length < expected) return false;
    return claim(sweepId, now);
  };

  return {
    async open(sweepId, expected, now) {
      const expiresAt = expiry(now);
      try {
        await client.send(
          new PutCommand({
            TableName: tableName,
            Item: { sweepId, part: META, expected, reported: 0, openedAt: now.toISOString(), expiresAt },
          }),
        );
        await client.send(
          new PutCommand({ TableName: tableName, Item: { sweepId: PENDING, part: sweepId, expected, expiresAt } }),
        );
      } catch (error) {
        throw fail('opening a sweep', error);
      }
    },

    async report(sweepId, tenants, now) {
      if (tenants.length === 0) return { claimed: false };
      const first = await conditional(
        () =>
          client.send(
            new PutCommand({
              TableName: tableName,
              Item: batchItem(sweepId, tenants, now),
              ConditionExpression: 'attribute_not_exists(part)',
            }),
          ),
        'recording results',
      );
      if (!first) return { claimed: false };
      let counted: Record<string, unknown> | undefined;
      try {
        const response = await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { sweepId, part: META },
            UpdateExpression: 'ADD reported :n',
            ConditionExpression: 'attribute_exists(expected)',
            ExpressionAttributeValues: { ':n': new Set(tenants.map((t) => t.tenantId)).size },
            ReturnValues: 'ALL_NEW',
          }),
        );
        counted = response.Attributes;
      } catch (error) {
        // No such sweep (opened elsewhere, or expired): the results stay, nobody judges them here.
        if (error instanceof ConditionalCheckFailedException) return { claimed: false };
        throw fail('counting tenants in', error);
      }
      const expected = Number(counted?.expected);
      const mayBeComplete = Number(counted?.reported) >= expected && counted?.claimedAt === undefined;
      return { claimed: mayBeComplete && (await claimComplete(sweepId, expected, now)) };
    },

    claim,

    results: readResults,

    async pendingBefore(sweepId) {
      const items = await queryAll(
        {
          TableName: tableName,
          KeyConditionExpression: 'sweepId = :pending AND part < :sweep',
          ExpressionAttributeValues: { ':pending': PENDING, ':sweep': sweepId },
          ConsistentRead: true,
        },
        'listing pending sweeps',
      );
      return items.map((item) => String(item.part));
    },

    async close(sweepId) {
      try {
        await client.send(new DeleteCommand({ TableName: tableName, Key: { sweepId: PENDING, part: sweepId } }));
      } catch (error) {
        throw fail('closing a sweep', error);
      }
    },
  };
}

/** Whether a result is stored as its check id alone (and rebuilt exactly but for its summary). */
function storedAsId(result: CheckResult): boolean {
  return (result.status === 'pass' || result.status === 'skipped') && isCheckId(result.checkId);
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
  const quiet = result.status === 'pass' || result.status === 'skipped';
  return { ...result, evidence: quiet ? {} : trimEvidence(result.evidence, EVIDENCE_BYTES) };
}

/** The item {@link SweepLedger.report} writes for a batch (exported for the bench's size figure). */
export function batchItem(
  sweepId: string,
  tenants: readonly SweepTenantResults[],
  now: Date,
): Record<string, string | number> {
  const ids = [...new Set(tenants.map((t) => t.tenantId))].sort();
  const hash = createHash('sha256').update(ids.join('\n')).digest('base64url').slice(0, 16);
  return {
    sweepId,
    part: `${BATCH_PREFIX}${hash}`,
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
