/**
 * Alert state in DynamoDB: one item per incident key (partition key `dedupKey`), the record as
 * JSON plus a few plain attributes for people reading the table, and a `version` that every
 * write is conditional on (`attribute_not_exists` for a new key). Items of resolved incidents
 * carry a TTL attribute (`expiresAt`, epoch seconds) so the table cleans itself.
 *
 * Open incidents ({@link isOpenIncident}: pending, firing, or an outbox not yet empty) carry
 * `openShard`, the key of a sparse global secondary index (keys only): the alert path queries it
 * for the open keys and reads those with the keys of the run's failing results, instead of every
 * key a run touches (DynamoDB bills a read for a missing key too). The attribute is written with
 * the record, by the same conditional Put, so it never disagrees with the stored record; only the
 * index lags (eventually consistent, normally well under a second), and the records themselves are
 * then read strongly consistent. What a lag can cost: a run judged within that moment after
 * another run opened an incident does not see it, which is what happens anyway when the two runs
 * read before either wrote (a passing result does not write a record at rest); sweeps are minutes apart.
 */
import type { BatchGetCommandOutput, QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { trimEvidence } from '../core/alert-message.ts';
import { DEFAULT_RESOLVED_TTL_DAYS, expiryOf, type IncidentRecord, isOpenIncident } from '../core/alert-policy.ts';
import { mapWithConcurrency } from '../core/concurrency.ts';
import { STATE_TABLE } from '../core/tables.ts';
import { type AlertStateStore, type SaveResult, StateStoreError, type VersionedIncident } from '../ports.ts';
import { type DocumentClientOptions, isConditionalCheckFailed, lazyDocumentClient } from './dynamo-client.ts';

/** The one `openShard` value: a few thousand open keys are one Query; shard if ever more. */
const OPEN_SHARD = 'open';

export interface DynamoStateStoreOptions extends DocumentClientOptions {
  tableName: string;
  /** Days a resolved incident is kept. @default 7 */
  resolvedTtlDays?: number | undefined;
  /** Items written at once. @default 8 */
  writeConcurrency?: number;
}

const BATCH_GET_KEYS = 100;
const UNPROCESSED_ATTEMPTS = 6;
/** DynamoDB's item limit is 400 KB; keep clear of it. */
const MAX_RECORD_BYTES = 350_000;

interface Item {
  dedupKey: string;
  version: number;
  record: string;
  phase: string;
  tier: string | null;
  checkId: string;
  tenantId: string | null;
  pendingMessages: number;
  expiresAt?: number;
  openShard?: string;
}

export function createDynamoStateStore(options: DynamoStateStoreOptions): AlertStateStore {
  const { tableName } = options;
  const ttlDays = options.resolvedTtlDays ?? DEFAULT_RESOLVED_TTL_DAYS;
  const client = lazyDocumentClient(options);
  const fail = (what: string, error: unknown) =>
    new StateStoreError(
      `alert state table ${tableName}: ${what} failed (${error instanceof Error ? error.name : 'error'})`,
      { cause: error },
    );

  return {
    async load(keys) {
      const out = new Map<string, VersionedIncident>();
      const unique = [...new Set(keys)];
      for (let start = 0; start < unique.length; start += BATCH_GET_KEYS) {
        let request: Record<string, unknown>[] | undefined = unique
          .slice(start, start + BATCH_GET_KEYS)
          .map((dedupKey) => ({ dedupKey }));
        for (let attempt = 0; request !== undefined && request.length > 0; attempt++) {
          if (attempt === UNPROCESSED_ATTEMPTS) {
            throw new StateStoreError(`alert state table ${tableName}: reads stayed throttled (unprocessed keys)`);
          }
          if (attempt > 0) await sleep(50 * 2 ** attempt);
          let response: BatchGetCommandOutput;
          try {
            response = await client.send('BatchGet', {
              RequestItems: { [tableName]: { Keys: request, ConsistentRead: true } },
            });
          } catch (error) {
            throw fail('reading', error);
          }
          for (const item of (response.Responses?.[tableName] ?? []) as Item[]) {
            out.set(item.dedupKey, { record: parseRecord(item, tableName), version: item.version });
          }
          request = response.UnprocessedKeys?.[tableName]?.Keys;
        }
      }
      return out;
    },

    async openKeys() {
      const keys: string[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        let page: QueryCommandOutput;
        try {
          page = await client.send('Query', {
            TableName: tableName,
            IndexName: STATE_TABLE.openIndex.indexName,
            KeyConditionExpression: '#shard = :open',
            ExpressionAttributeNames: { '#shard': STATE_TABLE.openIndex.partitionKey },
            ExpressionAttributeValues: { ':open': OPEN_SHARD },
            ...(start ? { ExclusiveStartKey: start } : {}),
          });
        } catch (error) {
          throw fail('listing open incidents', error);
        }
        for (const item of page.Items ?? []) keys.push(String(item.dedupKey));
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
      return keys;
    },

    async save(writes) {
      const result: SaveResult = { written: new Map(), conflicts: [] };
      await mapWithConcurrency(writes, options.writeConcurrency ?? 8, async (write) => {
        const record = fitRecord(write.record);
        const key = record.dedupKey;
        const version = (write.expectedVersion ?? 0) + 1;
        const expiry = expiryOf(record, ttlDays);
        const item: Item = {
          dedupKey: key,
          version,
          record: JSON.stringify(record),
          phase: record.phase,
          tier: record.tier,
          checkId: record.checkId,
          tenantId: record.tenantId,
          pendingMessages: record.pending.length,
          ...(expiry === null ? {} : { expiresAt: Math.floor(expiry.getTime() / 1000) }),
          ...(isOpenIncident(record) ? { openShard: OPEN_SHARD } : {}),
        };
        try {
          await client.send('Put', {
            TableName: tableName,
            Item: item,
            ...(write.expectedVersion === null
              ? { ConditionExpression: 'attribute_not_exists(dedupKey)' }
              : {
                  ConditionExpression: '#version = :expected',
                  ExpressionAttributeNames: { '#version': 'version' },
                  ExpressionAttributeValues: { ':expected': write.expectedVersion },
                }),
          });
          result.written.set(key, version);
        } catch (error) {
          if (isConditionalCheckFailed(error)) result.conflicts.push(key);
          else throw fail('writing', error);
        }
      });
      return result;
    },
  };
}

function parseRecord(item: Item, tableName: string): IncidentRecord {
  try {
    const record = JSON.parse(item.record) as IncidentRecord;
    if (record.dedupKey !== item.dedupKey || !Array.isArray(record.pending)) throw new Error('mismatch');
    return record;
  } catch {
    throw new StateStoreError(`alert state table ${tableName}: item ${JSON.stringify(item.dedupKey)} is malformed`);
  }
}

/** Trims the evidence of outbox messages when a record would not fit in one item. */
function fitRecord(record: IncidentRecord): IncidentRecord {
  if (Buffer.byteLength(JSON.stringify(record)) <= MAX_RECORD_BYTES || record.pending.length === 0) return record;
  const each = Math.floor((MAX_RECORD_BYTES * 0.8) / record.pending.length);
  return {
    ...record,
    pending: record.pending.map((message) => ({ ...message, evidence: trimEvidence(message.evidence, each) })),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
