/**
 * The judgement of a sweep (functions/app/judge-sweep.ts) in its own right: every outcome
 * (`judged`, `judged-incomplete`, `not-due`, `taken`, `failed`, `left`), on the DynamoDB sweep
 * ledger (dynalite: the conditional writes that make the lease) and on the in-memory one, with
 * the alert state in memory, a recording publisher and the clock injected.
 */

import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStateStore } from '../../functions/adapters/state-memory.ts';
import { createSweepLedger } from '../../functions/adapters/sweep-ledger.ts';
import { createMemorySweepLedger } from '../../functions/adapters/sweep-ledger-memory.ts';
import type { AppDeps } from '../../functions/app/deps.ts';
import { judgeSweepIfDue } from '../../functions/app/judge-sweep.ts';
import type { AlertMessage } from '../../functions/core/alert-policy.ts';
import { catalogEntry } from '../../functions/core/catalog.ts';
import { parseConfig } from '../../functions/core/config.ts';
import { JUDGE_BUDGET_MS, JUDGE_LEASE_MS, JUDGE_MARGIN_MS } from '../../functions/core/sweep-protocol.ts';
import { METRIC } from '../../functions/core/telemetry.ts';
import type { CheckResult } from '../../functions/core/types.ts';
import type { AlertStateStore, SweepLedger } from '../../functions/ports.ts';
import { appDeps, countingMetrics, recordingPublisher } from '../support/app-deps.ts';
import { startDynalite, sweepTableShape } from '../support/dynamo.ts';
import { silentLogger } from '../support/telemetry.ts';

const OPENED = new Date('2026-11-27T10:05:00Z');
const DEADLINE = new Date('2026-11-27T10:10:00Z');
const SWEEP = 'sweep-2026-11-27T10:05:00.000Z';
const config = parseConfig({
  platform: { baseUrl: 'https://platform.invalid' },
  tenants: [
    { tenantId: 'acme', signingSecret: { value: 'a' } },
    { tenantId: 'globex', signingSecret: { value: 'g' } },
  ],
});

let dynamo: DynamoDBClient;
let stopDynalite: () => Promise<void>;
let tables = 0;

beforeAll(async () => {
  ({ client: dynamo, stop: stopDynalite } = await startDynalite());
});
afterAll(() => stopDynalite());

const LEDGERS: [string, () => Promise<SweepLedger>][] = [
  [
    'DynamoDB (dynalite)',
    async () => {
      tables += 1;
      const tableName = `sweeps-${tables}`;
      await dynamo.send(new CreateTableCommand({ TableName: tableName, ...sweepTableShape }));
      return createSweepLedger({ tableName, client: dynamo });
    },
  ],
  ['memory', async () => createMemorySweepLedger()],
];

const forged = (tenantId: string): CheckResult => ({
  checkId: 'webhook.bad_signature_rejected',
  tenantId,
  status: 'fail',
  tier: 'P0',
  summary: 'a forged signature was accepted',
  durationMs: 5,
  evidence: {},
  runbook: catalogEntry('webhook.bad_signature_rejected').runbook,
});

interface World {
  deps: AppDeps;
  ledger: SweepLedger;
  published: AlertMessage[];
  counts: Map<string, number>;
  pings: number;
  at(seconds: number): void;
}

/** A sweep of acme and globex opened at OPENED; the clock at `seconds` after it. */
async function world(
  open: () => Promise<SweepLedger>,
  store: AlertStateStore = createMemoryStateStore(),
): Promise<World> {
  const ledger = await open();
  await ledger.open(SWEEP, ['acme', 'globex'], DEADLINE, OPENED);
  const published: AlertMessage[] = [];
  const { metrics, counts } = countingMetrics();
  let now = OPENED.getTime();
  const w: World = {
    ledger,
    published,
    counts,
    pings: 0,
    at: (seconds) => {
      now = OPENED.getTime() + seconds * 1000;
    },
    deps: appDeps(config, () => new Date(now), {
      metrics,
      stateStore: async () => store,
      sweepLedger: async () => ledger,
      publisher: () => recordingPublisher(published),
      heartbeat: async () => {
        w.pings += 1;
      },
    }),
  };
  return w;
}

describe.each(LEDGERS)('judging a sweep on the %s ledger', (_name, open) => {
  it('judged: every expected tenant recorded; alerts published, sweep closed complete, heartbeat pinged', async () => {
    const w = await world(open);
    await w.ledger.report(SWEEP, [{ tenantId: 'acme', results: [forged('acme')] }], OPENED);
    await w.ledger.report(SWEEP, [{ tenantId: 'globex', results: [] }], OPENED);
    w.at(20);

    expect(await judgeSweepIfDue(w.deps, silentLogger, config, SWEEP)).toBe('judged');

    expect(w.published.map((m) => m.dedupKey)).toEqual(['webhook.bad_signature_rejected:acme']);
    expect(await w.ledger.status(SWEEP)).toMatchObject({ complete: true, judgedAt: '2026-11-27T10:05:20.000Z' });
    expect(await w.ledger.pending()).toEqual([]);
    expect(w.pings).toBe(1);
    expect(w.counts.get(METRIC.sweepsJudged)).toBe(1);
    expect(w.counts.get(METRIC.sweepsIncomplete)).toBe(0);
  });

  it('judged-incomplete: past its deadline without a tenant; closed incomplete, the missing tenant named', async () => {
    const w = await world(open);
    await w.ledger.report(SWEEP, [{ tenantId: 'acme', results: [forged('acme')] }], OPENED);
    w.at(300);

    expect(await judgeSweepIfDue(w.deps, silentLogger, config, SWEEP)).toBe('judged-incomplete');

    expect(await w.ledger.status(SWEEP)).toMatchObject({ complete: false, judgedAt: '2026-11-27T10:10:00.000Z' });
    expect(w.counts.get(METRIC.sweepsIncomplete)).toBe(1);
    expect(w.published.map((m) => m.dedupKey)).toContain('webhook.bad_signature_rejected:acme');
  });

  it('not-due: incomplete and before its deadline; the lease is given back and nothing is published', async () => {
    const w = await world(open);
    await w.ledger.report(SWEEP, [{ tenantId: 'acme', results: [forged('acme')] }], OPENED);
    w.at(30);

    expect(await judgeSweepIfDue(w.deps, silentLogger, config, SWEEP)).toBe('not-due');

    expect(w.published).toEqual([]);
    expect(await w.ledger.status(SWEEP)).toMatchObject({ judgedAt: null, leaseUntil: null });
    // Given back: the next judge may claim it at once.
    expect(await w.ledger.claim(SWEEP, new Date(OPENED.getTime() + 31_000), JUDGE_LEASE_MS)).not.toBeNull();
  });

  it('taken: another judge holds the lease, or the sweep was judged already', async () => {
    const w = await world(open);
    await w.ledger.report(
      SWEEP,
      [
        { tenantId: 'acme', results: [] },
        { tenantId: 'globex', results: [] },
      ],
      OPENED,
    );
    const held = await w.ledger.claim(SWEEP, new Date(OPENED.getTime() + 10_000), JUDGE_LEASE_MS);
    expect(held).not.toBeNull();
    w.at(20);

    expect(await judgeSweepIfDue(w.deps, silentLogger, config, SWEEP)).toBe('taken');
    expect(w.published).toEqual([]);

    // Once the lease has expired it is taken over and judged; after that it is taken for good.
    w.at(10 + JUDGE_LEASE_MS / 1000);
    expect(await judgeSweepIfDue(w.deps, silentLogger, config, SWEEP)).toBe('judged');
    expect(await judgeSweepIfDue(w.deps, silentLogger, config, SWEEP)).toBe('taken');
    expect(w.counts.get(METRIC.sweepsJudged)).toBe(1);
  });

  it('failed: the alert path throws; the lease is given back, the sweep stays judgeable and is judged later', async () => {
    const store = createMemoryStateStore();
    let broken = true;
    const flaky: AlertStateStore = {
      load: (keys) => (broken ? Promise.reject(new Error('the state table is throttled')) : store.load(keys)),
      openKeys: () => store.openKeys(),
      save: (writes) => store.save(writes),
    };
    const w = await world(open, flaky);
    await w.ledger.report(SWEEP, [{ tenantId: 'acme', results: [forged('acme')] }], OPENED);
    await w.ledger.report(SWEEP, [{ tenantId: 'globex', results: [] }], OPENED);
    w.at(20);

    expect(await judgeSweepIfDue(w.deps, silentLogger, config, SWEEP)).toBe('failed');

    expect(w.counts.get(METRIC.alertingFailures)).toBe(1);
    expect(await w.ledger.status(SWEEP)).toMatchObject({ judgedAt: null, leaseUntil: null });
    expect((await w.ledger.pending()).map((s) => s.sweepId)).toEqual([SWEEP]);
    expect(w.pings).toBe(0);
    broken = false;
    expect(await judgeSweepIfDue(w.deps, silentLogger, config, SWEEP)).toBe('judged');
    expect(w.published.map((m) => m.dedupKey)).toEqual(['webhook.bad_signature_rejected:acme']);
  });

  it('failed: a judgement that outlasts its budget is abandoned and its lease given back', async () => {
    const never: AlertStateStore = {
      load: () => new Promise(() => {}),
      openKeys: async () => [],
      save: async () => ({ written: new Map(), conflicts: [] }),
    };
    const w = await world(open, never);
    await w.ledger.report(
      SWEEP,
      [
        { tenantId: 'acme', results: [] },
        { tenantId: 'globex', results: [] },
      ],
      OPENED,
    );
    w.at(20);

    expect(await judgeSweepIfDue(w.deps, silentLogger, config, SWEEP, { budgetMs: 50 })).toBe('failed');
    expect(await w.ledger.status(SWEEP)).toMatchObject({ judgedAt: null, leaseUntil: null });
  });

  it('failed: the ledger cannot be reached', async () => {
    const w = await world(open);
    const deps: AppDeps = {
      ...w.deps,
      sweepLedger: async () => {
        throw new Error('no ledger');
      },
    };
    expect(await judgeSweepIfDue(deps, silentLogger, config, SWEEP)).toBe('failed');
    expect(w.counts.get(METRIC.alertingFailures)).toBe(1);
  });

  it('left: too little of the invocation remains; the sweep is not even claimed', async () => {
    const w = await world(open);
    await w.ledger.report(
      SWEEP,
      [
        { tenantId: 'acme', results: [] },
        { tenantId: 'globex', results: [] },
      ],
      OPENED,
    );
    w.at(20);

    const remainingMs = () => JUDGE_BUDGET_MS + JUDGE_MARGIN_MS - 1;
    expect(await judgeSweepIfDue(w.deps, silentLogger, config, SWEEP, { remainingMs })).toBe('left');

    expect(await w.ledger.status(SWEEP)).toMatchObject({ judgedAt: null, leaseUntil: null });
    const enough = () => JUDGE_BUDGET_MS + JUDGE_MARGIN_MS;
    expect(await judgeSweepIfDue(w.deps, silentLogger, config, SWEEP, { remainingMs: enough })).toBe('judged');
  });
});
