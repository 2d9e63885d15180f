/**
 * The sweep ledger's contract, on dynalite (a DynamoDB implementation) and in memory (the
 * simulation's): one item per batch, the expected tenants and those withdrawn, a lease that is
 * held by one judge at a time, expires and can be taken over, and a sweep marked judged once, by
 * the lease's holder only.
 */
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSweepLedger } from '../../functions/adapters/sweep-ledger.ts';
import { batchItem, itemBytes } from '../../functions/adapters/sweep-ledger-items.ts';
import { createMemorySweepLedger } from '../../functions/adapters/sweep-ledger-memory.ts';
import { CATALOG, catalogEntry } from '../../functions/core/catalog.ts';
import { sweepIdAt } from '../../functions/core/tables.ts';
import type { CheckResult, CheckStatus } from '../../functions/core/types.ts';
import type { SweepLedger } from '../../functions/ports.ts';
import { startDynalite, sweepTableShape } from '../support/dynamo.ts';

let client: DynamoDBClient;
let stopDynalite: () => Promise<void>;
let ledger: SweepLedger;
let tables = 0;
const now = new Date('2026-11-27T10:05:00Z');

beforeAll(async () => {
  ({ client, stop: stopDynalite } = await startDynalite());
});
afterAll(() => stopDynalite());
async function dynamoLedger(): Promise<SweepLedger> {
  tables += 1;
  const tableName = `sweeps-${tables}`;
  await client.send(new CreateTableCommand({ TableName: tableName, ...sweepTableShape }));
  return createSweepLedger({ tableName, client });
}

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

const IMPLEMENTATIONS: [string, () => Promise<SweepLedger>][] = [
  ['DynamoDB (dynalite)', dynamoLedger],
  ['memory', async () => createMemorySweepLedger()],
];
const LEASE_MS = 90_000;
const deadline = later(300);
const ids = (parts: { tenantId: string }[]) => parts.map((p) => p.tenantId).sort();

describe.each(IMPLEMENTATIONS)('sweep ledger: %s', (_name, open) => {
  beforeEach(async () => {
    ledger = await open();
  });

  it('says a sweep may be complete when every tenant is counted in, counting a batch delivered again once', async () => {
    const sweepId = sweepIdAt(now);
    await ledger.open(sweepId, ['acme-corp', 'globex', 'initech'], deadline, now);

    const batch = [...one('acme-corp', 'pass'), ...one('globex', 'fail')];
    expect(await ledger.report(sweepId, batch, now)).toEqual({ recorded: true, mayBeComplete: false, late: false });
    // The same batch again (the invocation died after recording): not counted again.
    expect(await ledger.report(sweepId, batch, later(60))).toEqual({
      recorded: false,
      mayBeComplete: false,
      late: false,
    });
    expect(await ledger.report(sweepId, one('initech', 'pass'), now)).toEqual({
      recorded: true,
      mayBeComplete: true,
      late: false,
    });
    expect(ids(await ledger.results(sweepId))).toEqual(['acme-corp', 'globex', 'initech']);
    expect(await ledger.status(sweepId)).toMatchObject({ expected: 3, reported: 3, judgedAt: null });
  });

  it('keeps the first results of a tenant counted twice, and knows which tenants are expected', async () => {
    const sweepId = sweepIdAt(now);
    await ledger.open(sweepId, ['acme-corp', 'globex', 'initech'], deadline, now);
    await ledger.report(sweepId, one('acme-corp', 'pass'), now);
    // acme-corp delivered again, in another batch: counted again (3 of 3), but globex is missing.
    const outcome = await ledger.report(sweepId, [...one('acme-corp', 'fail'), ...one('initech', 'pass')], later(30));
    expect(outcome.mayBeComplete).toBe(true);
    const recorded = new Set(ids(await ledger.results(sweepId)));
    expect((await ledger.expectedTenants(sweepId)).filter((t) => !recorded.has(t))).toEqual(['globex']);
    const parts = await ledger.results(sweepId);
    expect(parts.find((p) => p.tenantId === 'acme-corp')?.results.map((r) => r.status)).toEqual(['pass']);
  });

  it('stops expecting withdrawn tenants, once however often they are withdrawn', async () => {
    const sweepId = sweepIdAt(now);
    await ledger.open(sweepId, ['acme-corp', 'globex', 'initech'], deadline, now);
    await ledger.withdraw(sweepId, ['globex'], now);
    await ledger.withdraw(sweepId, ['globex'], now);
    expect(await ledger.expectedTenants(sweepId)).toEqual(['acme-corp', 'initech']);
    expect((await ledger.status(sweepId))?.expected).toBe(2);
    const outcome = await ledger.report(sweepId, [...one('acme-corp', 'pass'), ...one('initech', 'pass')], now);
    expect(outcome.mayBeComplete).toBe(true);
  });

  it('holds the lease for one judge, lets another take it over once it expires, and lets only the holder finish', async () => {
    const sweepId = sweepIdAt(now);
    await ledger.open(sweepId, ['acme-corp'], deadline, now);
    const first = await ledger.claim(sweepId, now, LEASE_MS);
    expect(first).not.toBeNull();
    expect(await ledger.claim(sweepId, later(30), LEASE_MS)).toBeNull();
    // The first judge died: after its lease another takes over, and the first can no longer finish.
    const second = await ledger.claim(sweepId, later(91), LEASE_MS);
    expect(second).not.toBeNull();
    expect(await ledger.finish(first!, { complete: true }, later(95))).toBe(false);
    expect(await ledger.finish(second!, { complete: false }, later(95))).toBe(true);
    expect(await ledger.status(sweepId)).toMatchObject({ judgedAt: later(95).toISOString(), complete: false });
    // Judged: nobody claims it again, and results that come now are late.
    expect(await ledger.claim(sweepId, later(500), LEASE_MS)).toBeNull();
    expect(await ledger.report(sweepId, one('acme-corp', 'pass'), later(100))).toMatchObject({
      late: true,
      mayBeComplete: false,
    });
  });

  it('leaves a released sweep judgeable, and lists unjudged sweeps oldest first until judged', async () => {
    const first = sweepIdAt(now);
    const second = sweepIdAt(later(300));
    await ledger.open(second, ['acme-corp'], later(600), later(300));
    await ledger.open(first, ['acme-corp', 'globex'], deadline, now);
    expect((await ledger.pending()).map((s) => s.sweepId)).toEqual([first, second]);
    const lease = await ledger.claim(first, now, LEASE_MS);
    await ledger.release(lease!);
    const again = await ledger.claim(first, later(1), LEASE_MS);
    expect(again).not.toBeNull();
    expect(await ledger.finish(again!, { complete: true }, later(2))).toBe(true);
    expect((await ledger.pending()).map((s) => s.sweepId)).toEqual([second]);
    expect((await ledger.pending())[0]).toMatchObject({ expected: 1, reported: 0, deadline: later(600).toISOString() });
  });

  it('opens a sweep of no tenants (judged at once) and one of 5,000 tenants', async () => {
    await ledger.open('sweep-empty', [], deadline, now);
    expect(await ledger.status('sweep-empty')).toMatchObject({ expected: 0, reported: 0 });
    const many = Array.from({ length: 5_000 }, (_, i) => `tenant-${String(i).padStart(5, '0')}`);
    await ledger.open('sweep-many', many, deadline, now);
    expect(await ledger.expectedTenants('sweep-many')).toEqual(many);
  });

  it('keeps a trimmed evidence of failures, and passes and skips as check ids rebuilt for the policy', async () => {
    const sweepId = sweepIdAt(now);
    await ledger.open(sweepId, ['acme-corp', 'globex'], deadline, now);
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
    const stored = parts.find((p) => p.tenantId === 'globex')?.results[0];
    expect(stored?.evidence.status).toBe(500);
    if (_name === 'memory') return; // memory keeps results whole
    expect(parts.find((p) => p.tenantId === 'acme-corp')?.results).toEqual([
      { ...passing, summary: 'api.health passes.', durationMs: 0, evidence: {} },
      { ...skipped, summary: 'api.health was skipped.', durationMs: 0, evidence: {}, runbook: passing.runbook },
    ]);
    expect({ ...stored, evidence: {} }).toEqual({ ...failing, evidence: {} });
    expect(JSON.stringify(stored?.evidence).length).toBeLessThan(2_100);
  });

  it('does not count a tenant into a sweep that was never opened', async () => {
    expect(await ledger.report('sweep-unknown', [{ tenantId: 'acme-corp', results: [] }], now)).toEqual({
      recorded: false,
      mayBeComplete: false,
      late: false,
    });
    expect(await ledger.claim('sweep-unknown', now, LEASE_MS)).toBeNull();
    expect(await ledger.status('sweep-unknown')).toBeUndefined();
  });
});

describe('sweep ledger items', () => {
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
});
