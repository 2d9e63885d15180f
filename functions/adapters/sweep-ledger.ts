/**
 * The sweep ledger in DynamoDB: the fan-in of a sweep (the protocol: functions/app/judge-sweep.ts).
 * The sweep fans tenants out to many probe invocations, but alerting must judge a whole sweep at
 * once (a platform-wide incident, the canary's own incidents: see functions/core/alert-policy.ts).
 * The items and their codec: functions/adapters/sweep-ledger-items.ts.
 *
 * Every state change of the meta item is a conditional write: a lease is taken only when free or
 * expired and the sweep unjudged, and a sweep is marked judged only by the lease's holder.
 *
 * Costs: DynamoDB bills a write unit per started KB and a counter update per call, so a probe
 * invocation writes one item and one counter update for its up to 10 tenants.
 */

import { randomUUID } from 'node:crypto';
import type { QueryCommandInput, QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { errorClass } from '../core/errors.ts';
import type { ReportOutcome, SweepLease, SweepLedger, SweepStatus, SweepTenantResults } from '../ports.ts';
import { type DocumentClientOptions, isConditionalCheckFailed, lazyDocumentClient } from './dynamo-client.ts';
import {
  BATCH_PREFIX,
  batchItem,
  EXPECT_PREFIX,
  expectPart,
  IDS_PER_ITEM,
  idsItem,
  idsOf,
  META,
  metaItem,
  PENDING,
  pendingItem,
  resultsOfBatches,
  statusOf,
  WITHDRAWN_PREFIX,
  withdrawnPart,
} from './sweep-ledger-items.ts';

export const SweepLedgerError = errorClass('SweepLedgerError', 'ledger');
export type SweepLedgerError = InstanceType<typeof SweepLedgerError>;

export interface SweepLedgerOptions extends DocumentClientOptions {
  tableName: string;
}

/** The table's calls, each failure a {@link SweepLedgerError} naming what was being done. */
function ledgerTable(options: SweepLedgerOptions) {
  const { tableName } = options;
  const client = lazyDocumentClient(options);
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
  /** A sweep's items whose part starts with `prefix`. */
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
  const put = (item: Record<string, unknown>, what: string) =>
    send(() => client.send('Put', { TableName: tableName, Item: item }), what);
  const status = async (sweepId: string): Promise<SweepStatus | undefined> => {
    const response = await send(
      () => client.send('Get', { TableName: tableName, Key: { sweepId, part: META }, ConsistentRead: true }),
      'reading a sweep',
    );
    return response.Item === undefined ? undefined : statusOf(response.Item);
  };
  return { tableName, client, fail, send, conditional, queryAll, parts, put, status };
}

/** The ledger's table and its calls (see {@link ledgerTable}). */
type LedgerTable = ReturnType<typeof ledgerTable>;

export function createSweepLedger(options: SweepLedgerOptions): SweepLedger {
  const table = ledgerTable(options);
  const { tableName, client, conditional, parts, put, status } = table;
  return {
    async open(sweepId, tenantIds, deadline, now) {
      const ids = [...new Set(tenantIds)];
      // The tenants first: a meta item is never without them.
      for (let at = 0, n = 0; at < ids.length; at += IDS_PER_ITEM, n++) {
        await put(idsItem(sweepId, expectPart(n), ids.slice(at, at + IDS_PER_ITEM), now), 'recording tenant ids');
      }
      await put(metaItem(sweepId, ids.length, deadline, now), 'opening a sweep');
      await put(pendingItem(sweepId, now), 'opening a sweep');
    },

    async withdraw(sweepId, tenantIds, now) {
      const ids = [...new Set(tenantIds)].sort();
      if (ids.length === 0) return;
      const first = await conditional(
        () =>
          client.send('Put', {
            TableName: tableName,
            Item: idsItem(sweepId, withdrawnPart(ids), ids, now),
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

    report: (sweepId, tenants, now) => reportResults(table, sweepId, tenants, now),

    status,

    pending: () => pendingSweeps(table),

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

    results: async (sweepId) => resultsOfBatches(await parts(sweepId, BATCH_PREFIX, 'reading results')),

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

/** Records one batch's tenants (once: a redelivered batch is not counted again) and counts them in. */
async function reportResults(
  table: LedgerTable,
  sweepId: string,
  tenants: readonly SweepTenantResults[],
  now: Date,
): Promise<ReportOutcome> {
  const { tableName, client, fail, conditional, status } = table;
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
}

/** The sweeps not judged yet; markers of judged or gone sweeps are forgotten on the way. */
async function pendingSweeps(table: LedgerTable): Promise<SweepStatus[]> {
  const { tableName, client, send, queryAll, status } = table;
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
}
