/**
 * The sweep ledger on dynalite (a DynamoDB implementation): one item per batch, the sweep
 * claimed once by whoever completes it (every tenant recorded), incomplete sweeps listed for the next sweep.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { batchItem, createSweepLedger, itemBytes } from '../../functions/adapters/sweep-ledger.ts';
import { CATALOG, catalogEntry } from '../../functions/core/catalog.ts';
import { sweepIdAt } from '../../functions/core/tables.ts';
import type { CheckResult, CheckStatus } from '../../functions/core/types.ts';
import type { SweepLedger } from '../../functions/ports.ts';
import { sweepTableShape } from '../support/dynamo.ts';

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
      ...sweepTableShape,
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

const later = (seconds: number) => new Date(now.getTime() + seconds * 1000);
const one = (tenantId: string, status: CheckStatus, evidence?: Record<string, unknown>) => [
  { tenantId, results: [result(tenantId, status, evidence)] },
];

describe('sweep ledger', () => {
  it('lets only the report that completes the sweep claim it, counting a batch delivered again once', async () => {
    const sweepId = sweepIdAt(now);
    await ledger.open(sweepId, 3, now);

    const batch = [...one('acme-corp', 'pass'), ...one('globex', 'fail')];
    expect(await ledger.report(sweepId, batch, now)).toEqual({ claimed: false });
    // The same batch again (the invocation died after recording): not counted again.
    expect(await ledger.report(sweepId, batch, later(60))).toEqual({ claimed: false });
    expect(await ledger.report(sweepId, one('initech', 'pass'), now)).toEqual({ claimed: true });
    expect(await ledger.claim(sweepId, now)).toBe(false);

    const parts = await ledger.results(sweepId);
    expect(parts.map((p) => p.tenantId).sort()).toEqual(['acme-corp', 'globex', 'initech']);
  });

  it('does not claim a sweep whose count is complete only because a tenant was counted twice', async () => {
    const sweepId = sweepIdAt(now);
    await ledger.open(sweepId, 3, now);
    expect(await ledger.report(sweepId, one('acme-corp', 'pass'), now)).toEqual({ claimed: false });
    // acme-corp delivered again, in another batch: counted again (3 of 3), but globex is missing.
    expect(await ledger.report(sweepId, [...one('acme-corp', 'fail'), ...one('initech', 'pass')], later(30))).toEqual({
      claimed: false,
    });
    expect(await ledger.pendingBefore(sweepIdAt(later(600)))).toEqual([sweepId]);
    // The last tenant completes it, and the claim holds.
    expect(await ledger.report(sweepId, one('globex', 'fail'), later(60))).toEqual({ claimed: true });
    expect(await ledger.claim(sweepId, now)).toBe(false);
    const parts = await ledger.results(sweepId);
    expect(parts.map((p) => p.tenantId).sort()).toEqual(['acme-corp', 'globex', 'initech']);
    // The first report of a tenant is the one that counts.
    expect(parts.find((p) => p.tenantId === 'acme-corp')?.results.map((r) => r.status)).toEqual(['pass']);
  });

  it('keeps a trimmed evidence of failures, and passes and skips as check ids rebuilt for the policy', async () => {
    const sweepId = sweepIdAt(now);
    await ledger.open(sweepId, 2, now);
    const passing = {
      ...result('acme-corp', 'pass'),
      checkId: 'api.health',
      runbook: catalogEntry('api.health').runbook,
    };
    const skipped = { ...result('acme-corp', 'skipped'), checkId: 'api.health' };
    const failing = result('globex', 'fail', { body: 'x'.repeat(50_000), status: 500 });
    await ledger.report(
      sweepId,
      [
        { tenantId: 'acme-corp', results: [passing, { ...skipped, tenantId: 'acme-corp' }] },
        { tenantId: 'globex', results: [failing] },
      ],
      now,
    );
    const parts = await ledger.results(sweepId);
    expect(parts.find((p) => p.tenantId === 'acme-corp')?.results).toEqual([
      { ...passing, summary: 'api.health passes.', durationMs: 0, evidence: {} },
      { ...skipped, summary: 'api.health was skipped.', durationMs: 0, evidence: {}, runbook: passing.runbook },
    ]);
    const stored = parts.find((p) => p.tenantId === 'globex')?.results[0];
    expect({ ...stored, evidence: {} }).toEqual({ ...failing, evidence: {} });
    expect(stored?.evidence.status).toBe(500);
    expect(JSON.stringify(stored?.evidence).length).toBeLessThan(2_100);
  });

  it('writes a healthy batch of 10 tenants in one item under 1 KB', () => {
    const checks = CATALOG.filter((entry) => entry.scope === 'tenant');
    const tenants = Array.from({ length: 10 }, (_, i) => ({
      tenantId: `tenant-${String(i).padStart(4, '0')}`,
      results: checks.map((entry) => ({
        ...result(`tenant-${i}`, 'pass' as const, { took: 12 }),
        checkId: entry.id,
        summary: 'a long passing summary that the ledger does not keep '.repeat(3),
      })),
    }));
    expect(checks.length).toBeGreaterThan(10);
    expect(itemBytes(batchItem(sweepIdAt(now), tenants, now))).toBeLessThan(1024);
  });

  it('lists earlier unjudged sweeps for the next sweep, until closed', async () => {
    const first = sweepIdAt(now);
    const second = sweepIdAt(new Date(now.getTime() + 300_000));
    const third = sweepIdAt(new Date(now.getTime() + 600_000));
    await ledger.open(first, 2, now);
    await ledger.open(second, 2, now);
    await ledger.report(first, [{ tenantId: 'acme-corp', results: [] }], now);

    expect(await ledger.pendingBefore(third)).toEqual([first, second]);
    expect(await ledger.pendingBefore(second)).toEqual([first]);
    expect(await ledger.claim(first, now)).toBe(true);
    expect(await ledger.claim(first, now)).toBe(false);
    await ledger.close(first);
    expect(await ledger.pendingBefore(third)).toEqual([second]);
  });

  it('does not count a tenant into a sweep that was never opened', async () => {
    expect(await ledger.report('sweep-unknown', [{ tenantId: 'acme-corp', results: [] }], now)).toEqual({
      claimed: false,
    });
    expect(await ledger.claim('sweep-unknown', now)).toBe(false);
  });
});
