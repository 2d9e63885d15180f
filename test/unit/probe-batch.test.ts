/**
 * One probe batch, one road: each SQS body parsed once, each signing secret read once, one run for
 * the batch's tenants (functions/run.ts: its bounded concurrency), and the partial-batch answer as
 * before: only the records that could not be probed fail. Memory stores, the run's real code with
 * every check disabled (it still reads each tenant's secret), the clock injected.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemorySweepLedger } from '../../functions/adapters/sweep-ledger-memory.ts';
import type { AppDeps } from '../../functions/app/deps.ts';
import { probeBatch } from '../../functions/app/probe-batch.ts';
import { CATALOG } from '../../functions/core/catalog.ts';
import { parseConfig } from '../../functions/core/config.ts';
import { Secret } from '../../functions/core/secret.ts';
import type { OpenPorts, SweepLedger } from '../../functions/ports.ts';
import { type RunInput, runChecks, SECRET_LOOKUP_BUDGET_MS } from '../../functions/run.ts';
import { sqsRecord } from '../../sim/sqs-record.ts';
import { appDeps, clockPorts } from '../support/app-deps.ts';
import { silentLogger } from '../support/telemetry.ts';

const NOW = new Date('2026-11-27T10:05:10Z');
const DEADLINE = '2026-11-27T10:10:00.000Z';
const SWEEP = 'sweep-2026-11-27T10:05:00.000Z';

const config = parseConfig({
  platform: { baseUrl: 'https://platform.invalid' },
  tenants: ['acme', 'globex', 'initech', 'umbrella'].map((tenantId) => ({
    tenantId,
    signingSecret: { secretId: `tenants/${tenantId}` },
  })),
  // Every check off: the run still reads each tenant's secret, and needs no platform.
  checks: { disabled: CATALOG.map((entry) => entry.id) },
});

interface Arranged {
  deps: AppDeps;
  ledger: SweepLedger;
  /** Secret reads, by secret id. */
  reads: Map<string, number>;
  /** The inputs each run was called with. */
  runs: RunInput[];
  /** The records handed back for a retry after the short delay. */
  handedBack: string[];
}

/** A batch's world: `broken` secrets cannot be read; `hung` ones never answer. */
function arrange(secrets: { broken?: string; hung?: string } = {}, overrides: Partial<AppDeps> = {}): Arranged {
  const reads = new Map<string, number>();
  const runs: RunInput[] = [];
  const handedBack: string[] = [];
  const ledger = createMemorySweepLedger();
  const deps = appDeps(config, () => NOW, {
    secrets: {
      async resolve(ref) {
        const id = 'secretId' in ref ? ref.secretId : '?';
        reads.set(id, (reads.get(id) ?? 0) + 1);
        if (id === secrets.broken) throw new Error('ResourceNotFoundException');
        if (id === secrets.hung) return new Promise<never>(() => {});
        return new Secret(`secret-of-${id}`);
      },
      resolveDatabaseUrl: async () => new Secret(''),
    },
    sweepLedger: async () => ledger,
    tenantQueue: async () => ({
      send: async () => ({ sent: 0, failed: [] }),
      retryLater: async (records) => {
        handedBack.push(...records.map((record) => record.messageId));
        return { unchanged: [] };
      },
    }),
    checks: (input) => {
      runs.push(input);
      return runChecks(input);
    },
    ...overrides,
  });
  return { deps, ledger, reads, runs, handedBack };
}

const body = (tenantId: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ tenantId, runId: SWEEP, deadline: DEADLINE, ...extra });

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('a probe batch', () => {
  it('parses each body once, reads each secret once and probes its tenants in one run', async () => {
    const { deps, ledger, reads, runs } = arrange();
    await ledger.open(SWEEP, ['acme', 'globex', 'initech'], new Date(DEADLINE), new Date('2026-11-27T10:05:00Z'));
    const bodies = [body('acme'), body('globex', { peer: 'initech' }), body('initech')];
    const parse = vi.spyOn(JSON, 'parse');

    const response = await probeBatch(
      deps,
      { Records: bodies.map((text, i) => sqsRecord(`m-${i}`, text)) },
      undefined,
      undefined,
    );

    const parses = parse.mock.calls.filter(([text]) => bodies.includes(text as string));
    expect(parses).toHaveLength(3);
    expect(response.batchItemFailures).toEqual([]);
    expect(runs).toHaveLength(1);
    expect(new Set(runs[0]?.filters?.tenantIds)).toEqual(new Set(['acme', 'globex', 'initech']));
    expect(runs[0]?.filters?.platform).toBe(false);
    expect(Object.fromEntries(reads)).toEqual({ 'tenants/acme': 1, 'tenants/globex': 1, 'tenants/initech': 1 });
    // The sweep counted all three in: complete, and judged by this batch.
    expect(await ledger.status(SWEEP)).toMatchObject({ reported: 3, complete: true });
  });

  it("fails only the record whose tenant's secret cannot be read, and still records its results", async () => {
    const { deps, ledger, reads, runs } = arrange({ broken: 'tenants/globex' });
    await ledger.open(SWEEP, ['acme', 'globex'], new Date(DEADLINE), new Date('2026-11-27T10:05:00Z'));

    const response = await probeBatch(
      deps,
      { Records: [sqsRecord('m-acme', body('acme')), sqsRecord('m-globex', body('globex'))] },
      undefined,
      undefined,
    );

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-globex' }] });
    expect(runs).toHaveLength(1);
    expect(reads.get('tenants/globex')).toBe(1);
    const recorded = await ledger.results(SWEEP);
    const acme = recorded.find((part) => part.tenantId === 'acme');
    expect(acme?.results.length).toBeGreaterThan(0);
    expect(acme?.results.some((r) => r.status === 'error')).toBe(false);
    const globex = recorded.find((part) => part.tenantId === 'globex');
    expect(globex?.results.length).toBeGreaterThan(0);
    expect(globex?.results.every((r) => r.status === 'error')).toBe(true);
    expect(await ledger.status(SWEEP)).toMatchObject({ reported: 2 });
  });

  it("fails only the record of a tenant whose secret never answers, at the run's time limit", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { deps, ledger, reads } = arrange({ hung: 'tenants/globex' });
    await ledger.open(SWEEP, ['acme', 'globex'], new Date(DEADLINE), new Date('2026-11-27T10:05:00Z'));

    const answer = probeBatch(
      deps,
      { Records: [sqsRecord('m-acme', body('acme')), sqsRecord('m-globex', body('globex'))] },
      undefined,
      undefined,
    );
    // The run's own limit on a secret lookup (functions/run.ts), on the faked timers: no real wait.
    await vi.advanceTimersByTimeAsync(SECRET_LOOKUP_BUDGET_MS);
    const response = await answer;

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-globex' }] });
    expect(reads.get('tenants/globex')).toBe(1);
    const recorded = await ledger.results(SWEEP);
    expect(recorded.find((part) => part.tenantId === 'acme')?.results.some((r) => r.status === 'error')).toBe(false);
    expect(recorded.find((part) => part.tenantId === 'globex')?.results.every((r) => r.status === 'error')).toBe(true);
  });

  it('fails every probing record when the run throws, still counts gone tenants and hands the failures back', async () => {
    const { deps, ledger, handedBack } = arrange(
      {},
      {
        checks: async () => {
          throw new Error('the run broke');
        },
        // umbrella left the tenant list since the sweep listed it.
        config: async () => ({ ...config, tenants: config.tenants.slice(0, 3) }),
      },
    );
    await ledger.open(SWEEP, ['acme', 'globex', 'umbrella'], new Date(DEADLINE), new Date('2026-11-27T10:05:00Z'));
    const stale = JSON.stringify({ tenantId: 'initech', runId: SWEEP, deadline: '2026-11-27T10:00:00.000Z' });

    const response = await probeBatch(
      deps,
      {
        Records: [
          sqsRecord('m-acme', body('acme')),
          sqsRecord('m-globex', body('globex')),
          sqsRecord('m-stale', stale),
          sqsRecord('m-gone', body('umbrella')),
        ],
      },
      undefined,
      undefined,
    );

    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m-acme', 'm-globex']);
    expect(handedBack.sort()).toEqual(['m-acme', 'm-globex']);
    // Only the gone tenant is counted in; the others are probed when their records come back.
    expect(await ledger.status(SWEEP)).toMatchObject({ reported: 1, judgedAt: null });
    expect(await ledger.results(SWEEP)).toEqual([{ tenantId: 'umbrella', results: [] }]);
  });

  it('counts a gone tenant into its sweep with no results, and its record succeeds', async () => {
    const { deps, ledger, runs } = arrange(
      {},
      { config: async () => ({ ...config, tenants: config.tenants.slice(0, 1) }) },
    );
    await ledger.open(SWEEP, ['acme', 'globex'], new Date(DEADLINE), new Date('2026-11-27T10:05:00Z'));

    const response = await probeBatch(
      deps,
      { Records: [sqsRecord('m-acme', body('acme')), sqsRecord('m-gone', body('globex'))] },
      undefined,
      undefined,
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(runs[0]?.filters?.tenantIds).toEqual(['acme']);
    expect(await ledger.status(SWEEP)).toMatchObject({ reported: 2 });
    expect((await ledger.results(SWEEP)).find((part) => part.tenantId === 'globex')).toEqual({
      tenantId: 'globex',
      results: [],
    });
  });

  it('counts a tenant sent twice in one sweep once', async () => {
    const { deps, ledger, runs } = arrange();
    await ledger.open(SWEEP, ['acme', 'globex'], new Date(DEADLINE), new Date('2026-11-27T10:05:00Z'));
    const report = vi.spyOn(ledger, 'report');

    const response = await probeBatch(
      deps,
      { Records: [sqsRecord('m-1', body('acme')), sqsRecord('m-2', body('acme'))] },
      undefined,
      undefined,
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(runs[0]?.filters?.tenantIds).toEqual(['acme']);
    expect(report.mock.calls.map(([, tenants]) => tenants.map((t) => t.tenantId))).toEqual([['acme']]);
    expect(await ledger.status(SWEEP)).toMatchObject({ reported: 1, judgedAt: null });
  });

  it('hands back a stale record on its second delivery, without probing it', async () => {
    const { deps, runs, handedBack } = arrange();
    const stale = JSON.stringify({ tenantId: 'acme', runId: SWEEP, deadline: '2026-11-27T10:00:00.000Z' });

    const response = await probeBatch(
      deps,
      { Records: [sqsRecord('m-first', stale), sqsRecord('m-again', stale, { receiveCount: 2 })] },
      undefined,
      undefined,
    );

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-again' }] });
    expect(handedBack).toEqual(['m-again']);
    expect(runs).toHaveLength(0);
  });

  it("forges each tenant's cross-tenant signature with its message's peer", async () => {
    const onlyCrossTenant = parseConfig({
      platform: { baseUrl: 'https://platform.invalid' },
      tenants: config.tenants,
      checks: {
        disabled: CATALOG.map((entry) => entry.id).filter((id) => id !== 'webhook.cross_tenant_signature_rejected'),
      },
    });
    // A receiver that rejects every request: the evidence names the tenant whose secret signed it.
    const http = {
      requestCount: 0,
      close: async () => {},
      request: async () => ({ kind: 'response', status: 401, headers: {}, bodyText: '', json: undefined }),
    };
    const { deps, ledger } = arrange(
      {},
      {
        config: async () => onlyCrossTenant,
        openPorts: async () => ({ ...clockPorts(() => NOW), http, uuid: () => 'u-1' }) as unknown as OpenPorts,
      },
    );
    await ledger.open(SWEEP, ['acme', 'globex'], new Date(DEADLINE), new Date('2026-11-27T10:05:00Z'));

    await probeBatch(
      deps,
      {
        Records: [
          sqsRecord('m-acme', body('acme', { peer: 'initech' })),
          sqsRecord('m-globex', body('globex', { peer: 'umbrella' })),
        ],
      },
      undefined,
      undefined,
    );

    const signedAs = (await ledger.results(SWEEP)).map((part) => [
      part.tenantId,
      part.results.find((r) => r.checkId === 'webhook.cross_tenant_signature_rejected')?.evidence.signedAsTenant,
    ]);
    expect(Object.fromEntries(signedAs)).toEqual({ acme: 'initech', globex: 'umbrella' });
  });

  it('probes a tenant delivered twice once, running what either message asks for, and records it in both sweeps', async () => {
    const { deps, ledger, runs } = arrange();
    const other = 'sweep-2026-11-27T10:00:00.000Z';
    await ledger.open(SWEEP, ['acme', 'globex'], new Date(DEADLINE), new Date('2026-11-27T10:05:00Z'));
    await ledger.open(other, ['acme', 'globex'], new Date(DEADLINE), new Date('2026-11-27T10:00:00Z'));
    const notDue = (checkId: string) => ({ checkId, nextAt: '2026-11-27T11:00:00.000Z' });
    const first = body('acme', {
      sampling: { notDue: [notDue('webhook.signed_accepted'), notDue('enhancement.round_trip')], failing: false },
    });
    const second = JSON.stringify({
      tenantId: 'acme',
      runId: other,
      deadline: DEADLINE,
      sampling: { notDue: [{ checkId: 'enhancement.round_trip', nextAt: '2026-11-27T10:30:00.000Z' }], failing: true },
    });

    const response = await probeBatch(
      deps,
      { Records: [sqsRecord('m-1', first), sqsRecord('m-2', second)] },
      undefined,
      undefined,
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.filters?.tenantIds).toEqual(['acme']);
    // Not due for either: it runs at the sooner of the two times.
    expect(runs[0]?.sampling?.get('acme')).toEqual({
      notDue: [{ checkId: 'enhancement.round_trip', nextAt: '2026-11-27T10:30:00.000Z' }],
      failing: true,
    });
    for (const sweepId of [SWEEP, other]) {
      const recorded = await ledger.results(sweepId);
      expect(recorded.map((part) => part.tenantId)).toEqual(['acme']);
      expect(recorded[0]?.results.length).toBeGreaterThan(0);
      expect(await ledger.status(sweepId)).toMatchObject({ reported: 1 });
    }
  });

  it('runs nothing and opens no ports for a batch with no tenant to probe: malformed records fail, stale ones are dropped', async () => {
    let opened = 0;
    const { deps, reads, runs } = arrange(
      {},
      {
        openPorts: async () => {
          opened += 1;
          return clockPorts(() => NOW);
        },
      },
    );
    const stale = JSON.stringify({ tenantId: 'acme', runId: SWEEP, deadline: '2026-11-27T10:00:00.000Z' });

    const response = await probeBatch(
      deps,
      { Records: [sqsRecord('m-bad', '{not json'), sqsRecord('m-stale', stale)] },
      undefined,
      undefined,
    );

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-bad' }] });
    expect(runs).toHaveLength(0);
    expect(reads.size).toBe(0);
    expect(opened).toBe(0);
  });

  it("logs 'tenant probed' once per tenant, naming each of its messages", async () => {
    const probedLines: Record<string, unknown>[] = [];
    const logger = (keys: Record<string, unknown>): Logger =>
      ({
        ...silentLogger,
        info: (message: string) => {
          if (message === 'tenant probed') probedLines.push(keys);
        },
        createChild: (options: { persistentKeys?: Record<string, unknown> }) =>
          logger({ ...keys, ...options.persistentKeys }),
      }) as unknown as Logger;
    const { deps } = arrange({}, { logger: logger({}) });

    await probeBatch(
      deps,
      { Records: [sqsRecord('m-1', body('acme')), sqsRecord('m-2', body('acme')), sqsRecord('m-3', body('globex'))] },
      undefined,
      undefined,
    );

    expect(probedLines).toEqual([
      { tenantId: 'acme', messageIds: ['m-1', 'm-2'], sweepId: SWEEP },
      { tenantId: 'globex', messageIds: ['m-3'], sweepId: SWEEP },
    ]);
  });
});
