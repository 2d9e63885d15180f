/** The tables as the stack creates them, and dynalite to hold them. */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { BillingMode, type CreateTableCommandInput, DynamoDBClient, ProjectionType } from '@aws-sdk/client-dynamodb';
import { STATE_TABLE, SWEEP_TABLE } from '../../functions/core/tables.ts';

/** The alert state table: partition key, the sparse index of open incidents. */
export const stateTableShape: Omit<CreateTableCommandInput, 'TableName'> = {
  AttributeDefinitions: [
    { AttributeName: STATE_TABLE.partitionKey, AttributeType: 'S' },
    { AttributeName: STATE_TABLE.openIndex.partitionKey, AttributeType: 'S' },
  ],
  KeySchema: [{ AttributeName: STATE_TABLE.partitionKey, KeyType: 'HASH' }],
  GlobalSecondaryIndexes: [
    {
      IndexName: STATE_TABLE.openIndex.indexName,
      KeySchema: [{ AttributeName: STATE_TABLE.openIndex.partitionKey, KeyType: 'HASH' }],
      Projection: { ProjectionType: ProjectionType.KEYS_ONLY },
    },
  ],
  BillingMode: BillingMode.PAY_PER_REQUEST,
};

/** The sweep ledger table as the stack creates it. */
export const sweepTableShape: Omit<CreateTableCommandInput, 'TableName'> = {
  AttributeDefinitions: [
    { AttributeName: SWEEP_TABLE.partitionKey, AttributeType: 'S' },
    { AttributeName: SWEEP_TABLE.sortKey, AttributeType: 'S' },
  ],
  KeySchema: [
    { AttributeName: SWEEP_TABLE.partitionKey, KeyType: 'HASH' },
    { AttributeName: SWEEP_TABLE.sortKey, KeyType: 'RANGE' },
  ],
  BillingMode: BillingMode.PAY_PER_REQUEST,
};

type DynaliteFactory = (options: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

/** dynalite (a real DynamoDB implementation, no IAM) on loopback, with a client for it. */
export async function startDynalite(region = 'us-east-1'): Promise<{
  client: DynamoDBClient;
  endpoint: string;
  stop(): Promise<void>;
}> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({
    endpoint,
    region,
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-only' },
  });
  return {
    client,
    endpoint,
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
