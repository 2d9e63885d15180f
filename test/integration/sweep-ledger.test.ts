/**
 * The sweep ledger on dynalite (a DynamoDB implementation): each tenant counted once, the sweep
 * claimed once by whoever completes it, incomplete sweeps listed for the next sweep.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSweepLedger, SWEEP_TABLE, type SweepLedger, sweepIdAt } from '../../functions/adapters/sweep-ledger.ts';
import type { CheckResult, CheckStatus } from '../../functions/core/types.ts';

type DynaliteFactory = (options: { createTableMs: number }) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

let server: Server;
let client: DynamoDBClient;
let ledger: SweepLedger;
let tables = 0;
const now = new Date('2026-11-27T10:05:00Z');

beforeAll(async () => {
  server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-only' },
  });
});
afterAll(async () => {
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(async () => {
  tables += 1;
  const tableName = `sweeps-${tables}`;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [
        { AttributeName: SWEEP_TABLE.partitionKey, AttributeType: 'S' },
        { AttributeName: SWEEP_TABLE.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: SWEEP_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: SWEEP_TABLE.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  ledger = createSweepLedger({ tableName, client });
});

const result = (
  tenantId: string,
  status: CheckStatus,
  evidence: Record<string, unknown> = { status: 202 },
): CheckResult => ({
  checkId: 'webhook.signed_accepted',
  tenantId,
  status,
  tier: status === 'fail' ? 'P1' : null,
  summary: `${status} for ${tenantId}`,
  durationMs: 10,
  evidence,
  runbook: 'Issue 1, Resolution B: Signature Validation Fails',
});

describe('sweep ledger', () => {
  it('lets only the report that completes the sweep claim it, counting redeliveries once', async () => {
    const sweepId = sweepIdAt(now);
    await ledger.open(sweepId, 3, now);

    expect(await ledger.report(sweepId, 'acme-corp', [result('acme-corp', 'pass')], now)).toEqual({ claimed: false });
    expect(await ledger.report(sweepId, 'acme-corp', [result('acme-corp', 'fail')], now)).toEqual({ claimed: false });
    expect(await ledger.report(sweepId, 'globex', [result('globex', 'fail')], now)).toEqual({ claimed: false });
    expect(await ledger.report(sweepId, 'initech', [result('initech', 'pass')], now)).toEqual({ claimed: true });
    expect(await ledger.claim(sweepId, now)).toBe(false);

    const parts = await ledger.results(sweepId);
    expect(parts.map((p) => p.tenantId).sort()).toEqual(['acme-corp', 'globex', 'initech']);
    // The first report of a tenant is the one that counts.
    expect(parts.find((p) => p.tenantId === 'acme-corp')?.results[0]?.status).toBe('pass');
  });

  it('keeps a trimmed evidence of failures and drops that of passes', async () => {
    const sweepId = sweepIdAt(now);
    await ledger.open(sweepId, 2, now);
    await ledger.report(sweepId, 'acme-corp', [result('acme-corp', 'pass')], now);
    await ledger.report(sweepId, 'globex', [result('globex', 'fail', { body: 'x'.repeat(50_000), status: 500 })], now);
    const parts = await ledger.results(sweepId);
    expect(parts.find((p) => p.tenantId === 'acme-corp')?.results[0]?.evidence).toEqual({});
    const evidence = parts.find((p) => p.tenantId === 'globex')?.results[0]?.evidence ?? {};
    expect(evidence.status).toBe(500);
    expect(JSON.stringify(evidence).length).toBeLessThan(2_100);
  });

  it('lists earlier unjudged sweeps for the next sweep, until closed', async () => {
    const first = sweepIdAt(now);
    const second = sweepIdAt(new Date(now.getTime() + 300_000));
    const third = sweepIdAt(new Date(now.getTime() + 600_000));
    await ledger.open(first, 2, now);
    await ledger.open(second, 2, now);
    await ledger.report(first, 'acme-corp', [], now);

    expect(await ledger.pendingBefore(third)).toEqual([first, second]);
    expect(await ledger.pendingBefore(second)).toEqual([first]);
    expect(await ledger.claim(first, now)).toBe(true);
    expect(await ledger.claim(first, now)).toBe(false);
    await ledger.close(first);
    expect(await ledger.pendingBefore(third)).toEqual([second]);
  });

  it('does not count a tenant into a sweep that was never opened', async () => {
    expect(await ledger.report('sweep-unknown', 'acme-corp', [], now)).toEqual({ claimed: false });
    expect(await ledger.claim('sweep-unknown', now)).toBe(false);
  });
});
