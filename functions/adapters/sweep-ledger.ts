/**
 * The fan-in of a sweep. The sweep fans tenants out to many probe invocations, but alerting
 * must judge a whole sweep at once (a platform-wide incident, the canary's own incidents: see
 * functions/core/alert-policy.ts). So each probe records its tenant's results here, counts
 * itself in, and the probe that completes the sweep claims it (once, by a conditional write)
 * and judges it. A sweep that never completes (a tenant in the dead-letter queue) is judged by
 * the next sweep with the results it has.
 *
 * Items: `(sweepId, "#meta")` with `expected`, `reported`, `claimedAt`; `(sweepId,
 * "tenant#ID")` with that tenant's results; `("#pending", sweepId)` while unjudged. All expire.
 */
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
import type { CheckResult } from '../core/types.ts';

/** The table's shape, for the CDK stack. */
export const SWEEP_TABLE = { partitionKey: 'sweepId', sortKey: 'part', ttlAttribute: 'expiresAt' } as const;

const META = '#meta';
const PENDING = '#pending';
const TENANT_PREFIX = 'tenant#';
/** Evidence of a non-passing result kept for the judgement (examples in platform-wide alerts). */
const EVIDENCE_BYTES = 2_000;
/** Items live a day: long enough for the next sweeps to judge a late one. */
const TTL_SECONDS = 86_400;

export class SweepLedgerError extends Error {
  override name = 'SweepLedgerError';
}

export interface SweepTenantResults {
  tenantId: string;
  results: CheckResult[];
}

export interface SweepLedger {
  /** Opens a sweep that will hand out `expected` tenants. */
  open(sweepId: string, expected: number, now: Date): Promise<void>;
  /**
   * Records one tenant's results once (a redelivery changes nothing) and counts it in.
   * `claimed`: this call completed the sweep and won the right to judge it.
   */
  report(sweepId: string, tenantId: string, results: readonly CheckResult[], now: Date): Promise<{ claimed: boolean }>;
  /** Claims an incomplete sweep for judging; false if another caller already has. */
  claim(sweepId: string, now: Date): Promise<boolean>;
  /** Every recorded tenant's results. */
  results(sweepId: string): Promise<SweepTenantResults[]>;
  /** Unjudged sweeps opened before `sweepId` (ids sort by time). */
  pendingBefore(sweepId: string): Promise<string[]>;
  /** Forgets a judged sweep's pending marker. */
  close(sweepId: string): Promise<void>;
}

export interface SweepLedgerOptions {
  tableName: string;
  client?: DynamoDBClient;
  clientConfig?: DynamoDBClientConfig;
}

/** A sweep id: `sweep-` and the ISO instant, so ids sort by time. */
export function sweepIdAt(now: Date): string {
  return `sweep-${now.toISOString()}`;
}

export function createSweepLedger(options: SweepLedgerOptions): SweepLedger {
  const { tableName } = options;
  const base = options.client ?? new DynamoDBClient({ retryMode: 'standard', maxAttempts: 3, ...options.clientConfig });
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

    async report(sweepId, tenantId, results, now) {
      const first = await conditional(
        () =>
          client.send(
            new PutCommand({
              TableName: tableName,
              Item: {
                sweepId,
                part: `${TENANT_PREFIX}${tenantId}`,
                results: JSON.stringify(results.map(compact)),
                expiresAt: expiry(now),
              },
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
            UpdateExpression: 'ADD reported :one',
            ConditionExpression: 'attribute_exists(expected)',
            ExpressionAttributeValues: { ':one': 1 },
            ReturnValues: 'ALL_NEW',
          }),
        );
        counted = response.Attributes;
      } catch (error) {
        // No such sweep (opened elsewhere, or expired): the results stay, nobody judges them here.
        if (error instanceof ConditionalCheckFailedException) return { claimed: false };
        throw fail('counting a tenant in', error);
      }
      const complete = Number(counted?.reported) >= Number(counted?.expected) && counted?.claimedAt === undefined;
      return { claimed: complete && (await claim(sweepId, now)) };
    },

    claim,

    async results(sweepId) {
      const items = await queryAll(
        {
          TableName: tableName,
          KeyConditionExpression: 'sweepId = :sweep AND begins_with(part, :tenant)',
          ExpressionAttributeValues: { ':sweep': sweepId, ':tenant': TENANT_PREFIX },
          ConsistentRead: true,
        },
        'reading results',
      );
      return items.map((item) => ({
        tenantId: String(item.part).slice(TENANT_PREFIX.length),
        results: JSON.parse(String(item.results)) as CheckResult[],
      }));
    },

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

/** What judging needs of a result: passes and skips lose their evidence, the rest keep a trimmed one. */
function compact(result: CheckResult): CheckResult {
  const quiet = result.status === 'pass' || result.status === 'skipped';
  return { ...result, evidence: quiet ? {} : trimEvidence(result.evidence, EVIDENCE_BYTES) };
}
