/**
 * The DynamoDB state store against dynalite (a DynamoDB implementation, in process on
 * 127.0.0.1): conditional writes, racing writers, TTL on resolved items, item size.
 */

import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoStateStore } from '../../functions/adapters/state-dynamodb.ts';
import { type AlertEvent, evaluateAlerts } from '../../functions/app/alerting.ts';
import { type AlertMessage, DEFAULT_ALERT_POLICY, type IncidentRecord } from '../../functions/core/alert-policy.ts';
import { STATE_TABLE } from '../../functions/core/tables.ts';
import type { CheckResult, CheckStatus } from '../../functions/core/types.ts';
import type { AlertPublisher, AlertStateStore } from '../../functions/ports.ts';
import { stateTableShape } from '../support/dynamo.ts';
import { racingStores } from '../support/stores.ts';

type DynaliteFactory = (options: { createTableMs: number; deleteTableMs: number; updateTableMs: number }) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

let server: Server;
let endpoint: string;
let tableCount = 0;
let tableName: string;
const clients: DynamoDBClient[] = [];

function newClient(): DynamoDBClient {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-only' },
    retryMode: 'standard',
    maxAttempts: 3,
  });
  clients.push(client);
  return client;
}

const storeFor = (client = newClient()) => createDynamoStateStore({ tableName, client });

beforeAll(async () => {
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(async () => {
  tableCount += 1;
  tableName = `canary-alert-state-${tableCount}`;
  await newClient().send(
    new CreateTableCommand({
      TableName: tableName,
      ...stateTableShape,
    }),
  );
});

const T0 = Date.parse('2026-11-27T10:00:00Z');
const at = (minute: number) => new Date(T0 + minute * 60_000);

function record(key: string, overrides: Partial<IncidentRecord> = {}): IncidentRecord {
  return {
    dedupKey: key,
    kind: 'check',
    checkId: key.split(':')[0] ?? key,
    tenantId: key.split(':')[1] ?? null,
    phase: 'firing',
    tier: 'P1',
    thresholdTier: 'P1',
    consecutiveFails: 2,
    consecutivePasses: 0,
    firstFailedAt: at(0).toISOString(),
    tierSince: at(0).toISOString(),
    notifiedTiers: ['P1'],
    lastSentAt: at(5).toISOString(),
    resolvedAt: null,
    seq: 1,
    pending: [],
    ...overrides,
  };
}

const read = (status: CheckStatus): CheckResult => ({
  checkId: 'webhook.signed_accepted',
  tenantId: 'acme',
  status,
  tier: status === 'fail' ? 'P1' : null,
  summary: status === 'fail' ? 'the signed ticket got 401' : 'the signed ticket was accepted',
  durationMs: 12,
  evidence: { status: status === 'fail' ? 401 : 202 },
  runbook: 'Issue 1, Resolution B: Signature Validation Fails',
});

function recordingPublisher(): AlertPublisher & { sent: AlertMessage[] } {
  const sent: AlertMessage[] = [];
  return {
    sent,
    async publish(messages) {
      sent.push(...messages);
      return { delivered: messages.map((m) => m.id), failed: [] };
    },
  };
}

describe('DynamoDB state store', () => {
  it('writes a new key once, then only from the version it read', async () => {
    const store = storeFor();
    const key = 'webhook.signed_accepted:acme';
    expect(await store.save([{ record: record(key), expectedVersion: null }])).toEqual({
      written: new Map([[key, 1]]),
      conflicts: [],
    });
    expect((await store.save([{ record: record(key), expectedVersion: null }])).conflicts).toEqual([key]);
    expect((await store.save([{ record: record(key), expectedVersion: 7 }])).conflicts).toEqual([key]);
    const next = record(key, { consecutivePasses: 1 });
    expect((await store.save([{ record: next, expectedVersion: 1 }])).written.get(key)).toBe(2);
    const loaded = await store.load([key, 'absent:acme']);
    expect([...loaded.keys()]).toEqual([key]);
    expect(loaded.get(key)).toEqual({ record: next, version: 2 });
  });

  it('lets exactly one of two writers racing on one incident win', async () => {
    const key = 'rls.cross_tenant_read:acme';
    const [a, b] = [storeFor(), storeFor()];
    await a.save([{ record: record(key, { phase: 'pending' }), expectedVersion: null }]);
    for (let round = 1; round <= 10; round++) {
      const outcomes = await Promise.all(
        [a, b].map((store, i) =>
          store.save([{ record: record(key, { seq: round * 10 + i }), expectedVersion: round }]),
        ),
      );
      expect(outcomes.map((o) => o.written.size).sort()).toEqual([0, 1]);
      expect(outcomes.flatMap((o) => o.conflicts)).toEqual([key]);
      expect((await a.load([key])).get(key)?.version).toBe(round + 1);
    }
  });

  it('reads more than 100 keys (BatchGetItem in chunks)', async () => {
    const store = storeFor();
    const keys = Array.from({ length: 150 }, (_, i) => `webhook.signed_accepted:t${i}`);
    await store.save(keys.map((key) => ({ record: record(key), expectedVersion: null })));
    const loaded = await store.load([...keys, 'webhook.signed_accepted:missing']);
    expect(loaded.size).toBe(150);
    expect(loaded.get('webhook.signed_accepted:t149')?.record.dedupKey).toBe('webhook.signed_accepted:t149');
  });

  it('sets the TTL attribute only on resolved items with an empty outbox', async () => {
    const client = newClient();
    const store = storeFor(client);
    const resolvedAt = at(30).toISOString();
    await store.save([
      { record: record('a:*'), expectedVersion: null },
      { record: record('b:*', { phase: 'ok', tier: null, resolvedAt }), expectedVersion: null },
    ]);
    const item = async (key: string) =>
      (await client.send(new GetItemCommand({ TableName: tableName, Key: { dedupKey: { S: key } } }))).Item;
    expect((await item('a:*'))?.[STATE_TABLE.ttlAttribute]).toBeUndefined();
    expect((await item('b:*'))?.[STATE_TABLE.ttlAttribute]).toEqual({
      N: String(Math.floor(Date.parse(resolvedAt) / 1000) + 7 * 86_400),
    });
    expect((await item('b:*'))?.phase).toEqual({ S: 'ok' });
  });

  it('lists open incidents through the sparse index, and forgets them once at rest with an empty outbox', async () => {
    const store = storeFor();
    const resolvedAt = at(30).toISOString();
    const rest = { phase: 'ok' as const, tier: null, resolvedAt };
    const saved = await store.save([
      { record: record('firing:acme'), expectedVersion: null },
      { record: record('pending:acme', { phase: 'pending', consecutiveFails: 1 }), expectedVersion: null },
      { record: record('at-rest:acme', rest), expectedVersion: null },
    ]);
    expect(saved.conflicts).toEqual([]);
    expect((await store.openKeys()).sort()).toEqual(['firing:acme', 'pending:acme']);

    // Resolved, its resolution still in the outbox: open until delivered.
    const outbox = [
      {
        id: 'firing:acme#2',
        state: 'resolved' as const,
        tier: 'P1' as const,
        checkId: 'firing',
        tenantId: 'acme',
        dedupKey: 'firing:acme',
        kind: 'check' as const,
        firstFailedAt: at(0).toISOString(),
        createdAt: at(30).toISOString(),
        summary: 'resolved',
        evidence: {},
        runbook: 'r',
        firstStep: 's',
        escalatedFrom: null,
        note: null,
        claimedUntil: null,
      },
    ];
    await store.save([{ record: record('firing:acme', { ...rest, pending: outbox }), expectedVersion: 1 }]);
    expect((await store.openKeys()).sort()).toEqual(['firing:acme', 'pending:acme']);
    await store.save([{ record: record('firing:acme', rest), expectedVersion: 2 }]);
    expect(await store.openKeys()).toEqual(['pending:acme']);
  });

  it('pages through more open incidents than one Query returns', async () => {
    const store = storeFor();
    const keys = Array.from({ length: 150 }, (_, i) => `webhook.signed_accepted:t${String(i).padStart(3, '0')}`);
    for (let start = 0; start < keys.length; start += 25) {
      await store.save(keys.slice(start, start + 25).map((key) => ({ record: record(key), expectedVersion: null })));
    }
    expect((await store.openKeys()).sort()).toEqual(keys);
  });

  it('trims outbox evidence so a record fits in one item', async () => {
    const store = storeFor();
    const message = {
      id: 'x:acme#1',
      state: 'firing' as const,
      tier: 'P1' as const,
      checkId: 'x',
      tenantId: 'acme',
      dedupKey: 'x:acme',
      kind: 'check' as const,
      firstFailedAt: at(0).toISOString(),
      createdAt: at(0).toISOString(),
      summary: 'the response body was huge',
      evidence: { body: 'z'.repeat(500_000), status: 500 },
      runbook: 'r',
      firstStep: 's',
      escalatedFrom: null,
      note: null,
      claimedUntil: null,
    };
    const saved = await store.save([{ record: record('x:acme', { pending: [message] }), expectedVersion: null }]);
    expect(saved.written.get('x:acme')).toBe(1);
    const pending = (await store.load(['x:acme'])).get('x:acme')?.record.pending[0];
    expect(pending?.evidence).toEqual({ body: '[trimmed: 500002 bytes]', status: 500 });
    expect(pending?.summary).toBe('the response body was huge');
  });
});

describe('evaluateAlerts on DynamoDB', () => {
  /** Two Lambdas, each with its own client, that both read before either writes. */
  const racing = () => racingStores(() => storeFor());

  it('sends a firing once when two runs race on one incident; the loser re-reads and sends nothing', async () => {
    // The incident has one failing run already: the next failing run fires it (P1).
    const seed = storeFor();
    await evaluateAlerts({
      report: { results: [read('fail')] },
      tenants: ['acme'],
      store: seed,
      publisher: recordingPublisher(),
      now: at(0),
      options: DEFAULT_ALERT_POLICY,
    });
    const publishers = [recordingPublisher(), recordingPublisher()];
    const events: AlertEvent[] = [];
    const stores = racing();
    const sent = await Promise.all(
      stores.map((store, i) =>
        evaluateAlerts({
          report: { results: [read('fail')] },
          tenants: ['acme'],
          store,
          publisher: publishers[i] ?? null,
          now: at(5),
          options: DEFAULT_ALERT_POLICY,
          onEvent: (event) => events.push(event),
        }),
      ),
    );
    expect(sent.map((alerts) => alerts.length).sort()).toEqual([0, 1]);
    expect(publishers.flatMap((p) => p.sent).map((m) => `${m.state} ${m.tier} ${m.dedupKey}`)).toEqual([
      'firing P1 webhook.signed_accepted:acme',
    ]);
    expect(events).toEqual([{ type: 'conflict', keys: ['webhook.signed_accepted:acme'], attempt: 1 }]);
    const stored = (await seed.load(['webhook.signed_accepted:acme'])).get('webhook.signed_accepted:acme');
    expect(stored?.record).toMatchObject({ phase: 'firing', pending: [], seq: 1 });
  });

  it('reads only the keys of failing results and the open incidents, and still resolves', async () => {
    const inner = storeFor();
    const asked: string[][] = [];
    const store: AlertStateStore = {
      openKeys: () => inner.openKeys(),
      load: (keys) => {
        asked.push([...keys]);
        return inner.load(keys);
      },
      save: (writes) => inner.save(writes),
    };
    const run = (minute: number, results: CheckResult[]) =>
      evaluateAlerts({
        report: { results },
        tenants: ['acme', 'globex'],
        store,
        publisher: recordingPublisher(),
        now: at(minute),
        options: DEFAULT_ALERT_POLICY,
      });
    const globex = (status: CheckStatus) => ({ ...read(status), tenantId: 'globex' });
    const other = { ...read('pass'), checkId: 'api.health' };
    expect(await run(0, [read('fail'), globex('pass'), other])).toEqual([]);
    const fired = await run(5, [read('fail'), globex('pass'), other]);
    expect(fired.map((a) => `${a.state} ${a.dedupKey}`)).toEqual(['firing webhook.signed_accepted:acme']);
    await run(10, [read('pass'), globex('pass'), other]);
    const resolved = await run(15, [read('pass'), globex('pass'), other]);
    expect(resolved.map((a) => `${a.state} ${a.dedupKey}`)).toEqual(['resolved webhook.signed_accepted:acme']);
    // A healthy run after that reads nothing.
    expect(await run(20, [read('pass'), globex('pass'), other])).toEqual([]);
    expect(asked.map((keys) => keys.sort())).toEqual([
      ['canary:webhook.signed_accepted', 'webhook.signed_accepted:*', 'webhook.signed_accepted:acme'],
      ['canary:webhook.signed_accepted', 'webhook.signed_accepted:*', 'webhook.signed_accepted:acme'],
      ['webhook.signed_accepted:acme'],
      ['webhook.signed_accepted:acme'],
      [],
    ]);
  });

  it('does not lose a resolution when two runs race on it', async () => {
    const seed = storeFor();
    const publisher = recordingPublisher();
    for (const [minute, status] of [
      [0, 'fail'],
      [5, 'fail'],
      [10, 'pass'],
    ] as const) {
      await evaluateAlerts({
        report: { results: [read(status)] },
        tenants: ['acme'],
        store: seed,
        publisher,
        now: at(minute),
        options: DEFAULT_ALERT_POLICY,
      });
    }
    const publishers = [recordingPublisher(), recordingPublisher()];
    await Promise.all(
      racing().map((store, i) =>
        evaluateAlerts({
          report: { results: [read('pass')] },
          tenants: ['acme'],
          store,
          publisher: publishers[i] ?? null,
          now: at(15),
          options: DEFAULT_ALERT_POLICY,
        }),
      ),
    );
    expect(publishers.flatMap((p) => p.sent).map((m) => m.state)).toEqual(['resolved']);
    const stored = (await seed.load(['webhook.signed_accepted:acme'])).get('webhook.signed_accepted:acme');
    expect(stored?.record).toMatchObject({ phase: 'ok', pending: [] });
  });

  it('does not write when a run changes nothing', async () => {
    const store = storeFor();
    const run = (minute: number) =>
      evaluateAlerts({
        report: { results: [read('fail')] },
        tenants: ['acme'],
        store,
        publisher: recordingPublisher(),
        now: at(minute),
        options: DEFAULT_ALERT_POLICY,
      });
    await run(0);
    await run(5);
    const version = async () =>
      (await store.load(['webhook.signed_accepted:acme'])).get('webhook.signed_accepted:acme')?.version;
    const afterFiring = await version();
    await run(10);
    await run(15);
    expect(await version()).toBe(afterFiring);
  });
});
