/** The canary's two DynamoDB tables: alert state, and each sweep's tenant results. */
import { RemovalPolicy, type Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { STATE_TABLE, SWEEP_TABLE } from '../../functions/core/tables.ts';

export interface CanaryTables {
  /** Alert state: written on state changes, kept (point-in-time recovery, retained). */
  stateTable: dynamodb.Table;
  /** The sweep ledger: each sweep's tenant results, so the probe that completes a sweep can judge it whole. */
  sweepTable: dynamodb.Table;
}

export function createTables(stack: Stack): CanaryTables {
  const stateTable = new dynamodb.Table(stack, 'AlertState', {
    partitionKey: { name: STATE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: STATE_TABLE.ttlAttribute,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy: RemovalPolicy.RETAIN,
  });
  // Sparse: only open incidents carry its key, so judging a sweep reads those, not every key.
  stateTable.addGlobalSecondaryIndex({
    indexName: STATE_TABLE.openIndex.indexName,
    partitionKey: { name: STATE_TABLE.openIndex.partitionKey, type: dynamodb.AttributeType.STRING },
    projectionType: dynamodb.ProjectionType.KEYS_ONLY,
  });
  // A day's TTL: a sweep is judged within two intervals.
  const sweepTable = new dynamodb.Table(stack, 'SweepResults', {
    partitionKey: { name: SWEEP_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: SWEEP_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: SWEEP_TABLE.ttlAttribute,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy: RemovalPolicy.DESTROY,
  });
  return { stateTable, sweepTable };
}
