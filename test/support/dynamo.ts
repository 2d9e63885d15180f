/** The alert state table as the stack creates it (partition key, the sparse index of open incidents), for dynalite. */
import { BillingMode, type CreateTableCommandInput, ProjectionType } from '@aws-sdk/client-dynamodb';
import { STATE_TABLE } from '../../functions/adapters/state-dynamodb.ts';

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
