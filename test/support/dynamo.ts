/** The tables as the stack creates them, for dynalite. */
import { BillingMode, type CreateTableCommandInput, ProjectionType } from '@aws-sdk/client-dynamodb';
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
