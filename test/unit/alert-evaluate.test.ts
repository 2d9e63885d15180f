/**
 * evaluateAlerts end to end with the memory and file stores: dry runs, restarts through the
 * state file, racing writers, and writing only on change.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileStateStore } from '../../functions/adapters/state-file.ts';
import { createMemoryStateStore } from '../../functions/adapters/state-memory.ts';
import { type AlertEvent, evaluateAlerts } from '../../functions/app/alerting.ts';
import { type AlertMessage, DEFAULT_ALERT_POLICY } from '../../functions/core/alert-policy.ts';
import type { CheckResult, CheckStatus } from '../../functions/core/types.ts';
import {
  type AlertPublisher,
  type AlertStateStore,
  type IncidentWrite,
  StateStoreError,
} from '../../functions/ports.ts';
import { racingStores } from '../support/stores.ts';

const T0 = Date.parse('2026-11-27T10:00:00Z');
const at = (minute: number) => new Date(T0 + minute * 60_000);

const read = (status: CheckStatus): CheckResult => ({
  checkId: 'rls.cross_tenant_read',
  tenantId: 'acme',
  status,
  tier: status === 'fail' ? 'P0' : null,
  summary: status === 'fail' ? 'a globex row is visible to acme in ticket_history' : 'no foreign row is visible',
  durationMs: 5,
  evidence: {},
  runbook: 'Issue 4: Data Isolation Concern (Security)',
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

/** Counts writes: the store is only written when something changed. */
function countingStore(inner: AlertStateStore): AlertStateStore & { writes: IncidentWrite[] } {
  const writes: IncidentWrite[] = [];
  return {
    writes,
    load: (keys) => inner.load(keys),
    openKeys: () => inner.openKeys(),
    save: (batch) => {
      writes.push(...batch);
      return inner.save(batch);
    },
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'canary-alert-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const states = (alerts: { state: string; tier: string; dedupKey: string }[]) =>
  alerts.map((a) => `${a.state} ${a.tier} ${a.dedupKey}`);

describe('evaluateAlerts', () => {
  it('marks dry-run alerts as sent, so the next dry run does not fire again', async () => {
    const store = createMemoryStateStore();
    const run = (minute: number, status: CheckStatus) =>
      evaluateAlerts({
        report: { results: [read(status)] },
        tenants: ['acme'],
        store,
        publisher: null,
        now: at(minute),
        options: DEFAULT_ALERT_POLICY,
      });
    expect(await run(0, 'fail')).toEqual([
      {
        state: 'firing',
        tier: 'P0',
        checkId: 'rls.cross_tenant_read',
        tenantId: 'acme',
        dedupKey: 'rls.cross_tenant_read:acme',
      },
    ]);
    expect(await run(5, 'fail')).toEqual([]);
    expect(store.snapshot().get('rls.cross_tenant_read:acme')).toMatchObject({ version: 1, record: { pending: [] } });
  });

  it('keeps incidents across restarts through the state file: no duplicate, no lost resolution', async () => {
    const path = join(dir, 'state.json');
    const publisher = recordingPublisher();
    const plan: [number, CheckStatus, string[]][] = [
      [0, 'fail', ['firing P0 rls.cross_tenant_read:acme']],
      [5, 'fail', []],
      [10, 'fail', []],
      [15, 'fail', ['reminder P0 rls.cross_tenant_read:acme']],
      [20, 'pass', []],
      [25, 'pass', ['resolved P0 rls.cross_tenant_read:acme']],
      [30, 'pass', []],
    ];
    for (const [minute, status, expected] of plan) {
      // A new store (as a new process would open) for every run, on the run's own clock: it
      // prunes resolved incidents by that clock, never by the wall clock.
      const store = createFileStateStore({ path, now: () => at(minute) });
      const alerts = await evaluateAlerts({
        report: { results: [read(status)] },
        tenants: ['acme'],
        store,
        publisher,
        now: at(minute),
        options: DEFAULT_ALERT_POLICY,
      });
      expect(states(alerts), `minute ${minute}`).toEqual(expected);
    }
    expect(publisher.sent.map((m) => m.state)).toEqual(['firing', 'reminder', 'resolved']);
    expect(await readdir(dir)).toEqual(['state.json']);
    const file = JSON.parse(await readFile(path, 'utf8'));
    expect(file.incidents['rls.cross_tenant_read:acme'].record).toMatchObject({ phase: 'ok', pending: [] });
  });

  it('writes the store only when something changed', async () => {
    const store = countingStore(createMemoryStateStore());
    const run = (minute: number, status: CheckStatus) =>
      evaluateAlerts({
        report: { results: [read(status)] },
        tenants: ['acme'],
        store,
        publisher: recordingPublisher(),
        now: at(minute),
        options: DEFAULT_ALERT_POLICY,
      });
    await run(0, 'pass');
    expect(store.writes).toHaveLength(0);
    await run(5, 'fail'); // claim, then settle
    expect(store.writes).toHaveLength(2);
    await run(10, 'fail');
    await run(15, 'fail'); // still firing, no reminder due yet
    expect(store.writes).toHaveLength(2);
  });

  it('lets exactly one of two racing runs send, and the other re-reads and sends nothing', async () => {
    const shared = createMemoryStateStore();
    // Both runs read before either writes: the worst interleaving.
    const stores = racingStores(() => shared);
    const publishers = [recordingPublisher(), recordingPublisher()];
    const events: AlertEvent[] = [];
    const results = await Promise.all(
      publishers.map((publisher, i) =>
        evaluateAlerts({
          report: { results: [read('fail')] },
          tenants: ['acme'],
          store: stores[i] as AlertStateStore,
          publisher,
          now: at(0),
          options: DEFAULT_ALERT_POLICY,
          onEvent: (event) => events.push(event),
        }),
      ),
    );
    expect(results.map((r) => r.length).sort()).toEqual([0, 1]);
    expect(publishers.flatMap((p) => p.sent).map((m) => m.id)).toEqual(['rls.cross_tenant_read:acme#1']);
    expect(events).toEqual([{ type: 'conflict', keys: ['rls.cross_tenant_read:acme'], attempt: 1 }]);
    expect(shared.snapshot().get('rls.cross_tenant_read:acme')?.record).toMatchObject({ phase: 'firing', pending: [] });
  });
});

describe('file state store', () => {
  const record = (key: string, version = 0) => ({
    dedupKey: key,
    kind: 'check' as const,
    checkId: 'api.health',
    tenantId: null,
    phase: 'firing' as const,
    tier: 'P0' as const,
    thresholdTier: 'P0' as const,
    consecutiveFails: 1,
    consecutivePasses: version,
    firstFailedAt: at(0).toISOString(),
    tierSince: at(0).toISOString(),
    notifiedTiers: ['P0' as const],
    lastSentAt: at(0).toISOString(),
    resolvedAt: null,
    seq: 1,
    pending: [],
  });

  it('reads nothing from a missing file and refuses a corrupted one, naming the path only', async () => {
    const path = join(dir, 'state.json');
    const store = createFileStateStore({ path, now: () => at(0) });
    expect((await store.load(['x'])).size).toBe(0);
    await writeFile(path, '{"format": "tenant-canary/alert-state@1", "incidents": {"x": hunter2');
    const error = await store.load(['x']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateStoreError);
    expect((error as Error).message).toBe(`alert state file ${path} is not tenant-canary alert state: not valid JSON`);
    await writeFile(path, '{"format": "something-else"}');
    await expect(store.load(['x'])).rejects.toThrow(/"format" is not "tenant-canary\/alert-state@1"/);
  });

  it('refuses a write from a stale version (a conflict), across store instances', async () => {
    const path = join(dir, 'state.json');
    const a = createFileStateStore({ path, now: () => at(0) });
    const b = createFileStateStore({ path, now: () => at(1) });
    expect(await a.save([{ record: record('api.health:*'), expectedVersion: null }])).toEqual({
      written: new Map([['api.health:*', 1]]),
      conflicts: [],
    });
    expect(await b.save([{ record: record('api.health:*', 1), expectedVersion: null }])).toEqual({
      written: new Map(),
      conflicts: ['api.health:*'],
    });
    expect(
      (await b.save([{ record: record('api.health:*', 1), expectedVersion: 1 }])).written.get('api.health:*'),
    ).toBe(2);
    expect((await a.load(['api.health:*'])).get('api.health:*')?.version).toBe(2);
  });

  it('prunes resolved incidents after their TTL', async () => {
    const path = join(dir, 'state.json');
    let now = at(0);
    const store = createFileStateStore({ path, resolvedTtlDays: 1, now: () => now });
    const resolved = { ...record('old:*'), phase: 'ok' as const, tier: null, resolvedAt: at(0).toISOString() };
    await store.save([{ record: resolved, expectedVersion: null }]);
    now = new Date(T0 + 86_400_000 + 1000);
    await store.save([{ record: record('new:*'), expectedVersion: null }]);
    expect([...(await store.load(['old:*', 'new:*'])).keys()]).toEqual(['new:*']);
  });
});
