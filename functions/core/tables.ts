/**
 * The DynamoDB tables' shapes: a deploy-time contract between the CDK stack (lib/), which
 * creates them, and the adapters, which read and write them. Here so lib/ never loads an adapter.
 */

/** Alert state: partition key, TTL attribute, the sparse index of open incidents. */
export const STATE_TABLE = {
  partitionKey: 'dedupKey',
  ttlAttribute: 'expiresAt',
  openIndex: { indexName: 'open', partitionKey: 'openShard' },
} as const;

/** The sweep ledger: one item per probe invocation under its sweep. */
export const SWEEP_TABLE = { partitionKey: 'sweepId', sortKey: 'part', ttlAttribute: 'expiresAt' } as const;

/** A sweep id: `sweep-` and the ISO instant, so ids sort by time (the ledger's `pendingBefore` relies on it). */
export function sweepIdAt(now: Date): string {
  return `sweep-${now.toISOString()}`;
}
