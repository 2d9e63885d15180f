import { describe, expect, it } from 'vitest';
import { createMemoryStateStore } from '../../functions/adapters/state-memory.ts';
import type { AppDeps } from '../../functions/app/deps.ts';
import { runOnDemand } from '../../functions/app/on-demand.ts';
import { UnknownTenantError } from '../../functions/app/tenants.ts';
import type { AlertMessage } from '../../functions/core/alert-policy.ts';
import { catalogEntry } from '../../functions/core/catalog.ts';
import { parseConfig } from '../../functions/core/config.ts';
import { METRIC } from '../../functions/core/telemetry.ts';
import type { Report } from '../../functions/core/types.ts';
import type { AlertStateStore, OpenPorts, TenantSource } from '../../functions/ports.ts';
import type { RunInput } from '../../functions/run.ts';
import { appDeps, countingMetrics, recordingPublisher } from '../support/app-deps.ts';

const NOW = new Date('2026-11-27T10:07:00Z');
const config = parseConfig({
  platform: { baseUrl: 'https://platform.invalid' },
  tenants: [
    { tenantId: 'acme', signingSecret: { value: 'a' } },
    { tenantId: 'globex', signingSecret: { value: 'g' } },
  ],
  run: { roundTrip: 'deferred' },
});

function arrange(overrides: { store?: AlertStateStore; source?: TenantSource } = {}) {
  const runs: RunInput[] = [];
  const published: AlertMessage[] = [];
  const { metrics, counts } = countingMetrics();
  const store = overrides.store ?? createMemoryStateStore();
  let closed = 0;
  const deps: AppDeps = appDeps(config, () => NOW, {
    metrics,
    openPorts: async () =>
      ({
        close: async () => {
          closed += 1;
        },
      }) as unknown as OpenPorts,
    ...(overrides.source === undefined ? {} : { tenantSource: () => overrides.source as TenantSource }),
    stateStore: async () => store,
    publisher: () => recordingPublisher(published),
    tenantQueue: async () => {
      throw new Error('an on-demand run queues nothing');
    },
    checks: async (input): Promise<Report> => {
      runs.push(input);
      const tenantId = input.filters?.tenantIds?.[0] ?? '';
      return {
        runId: '2026-11-27T10:07:00Z-ab12',
        startedAt: NOW.toISOString(),
        finishedAt: NOW.toISOString(),
        tenants: [tenantId],
        results: [
          {
            checkId: 'webhook.bad_signature_rejected',
            tenantId,
            status: 'fail',
            tier: 'P0',
            summary: 'a forged signature was accepted',
            durationMs: 3,
            evidence: {},
            runbook: catalogEntry('webhook.bad_signature_rejected').runbook,
          },
        ],
        alerts: [],
      };
    },
  });
  return { deps, runs, published, counts, store, closed: () => closed };
}

describe('an on-demand run', () => {
  it("runs one tenant's checks, waiting for its round trip, and returns the report without alerting", async () => {
    const { deps, runs, published, store, closed } = arrange();

    const report = await runOnDemand(deps, { tenantId: 'globex' }, undefined);

    expect(runs).toHaveLength(1);
    expect(runs[0]?.filters).toEqual({ tenantIds: ['globex'], platform: false });
    expect(runs[0]?.config.run.roundTrip).toBe('wait');
    expect(report.results.map((r) => r.tenantId)).toEqual(['globex']);
    expect(report.alerts).toEqual([]);
    expect(published).toEqual([]);
    expect(await store.openKeys()).toEqual([]);
    expect(closed()).toBe(1);
  });

  it('publishes its alerts when asked, and says so in the report', async () => {
    const { deps, published, store } = arrange();

    const report = await runOnDemand(deps, { tenantId: 'acme', publish: true }, undefined);

    expect(report.alerts).toEqual([
      {
        state: 'firing',
        tier: 'P0',
        checkId: 'webhook.bad_signature_rejected',
        tenantId: 'acme',
        dedupKey: 'webhook.bad_signature_rejected:acme',
      },
    ]);
    expect(published.map((m) => m.dedupKey)).toEqual(['webhook.bad_signature_rejected:acme']);
    expect(await store.openKeys()).toEqual(['webhook.bad_signature_rejected:acme']);
  });

  it('returns the report when the alert path fails, with no alerts, and counts the failure', async () => {
    const broken: AlertStateStore = {
      load: async () => {
        throw new Error('the state table is throttled');
      },
      openKeys: async () => [],
      save: async () => ({ written: new Map(), conflicts: [] }),
    };
    const { deps, counts } = arrange({ store: broken });

    const report = await runOnDemand(deps, { tenantId: 'acme', publish: true }, undefined);

    expect(report.results).toHaveLength(1);
    expect(report.alerts).toEqual([]);
    expect(counts.get(METRIC.alertingFailures)).toBe(1);
  });

  it('refuses a tenant the canary does not know, before opening any port', async () => {
    const { deps, runs, closed } = arrange();
    await expect(runOnDemand(deps, { tenantId: 'nobody' }, undefined)).rejects.toBeInstanceOf(UnknownTenantError);
    expect(runs).toHaveLength(0);
    expect(closed()).toBe(0);
  });

  it("reads the tenants from the tenant source when it is the platform's table", async () => {
    const listed = { tenantId: 'initech', signingSecret: { value: 'i' } };
    let lists = 0;
    const source: TenantSource = {
      kind: 'database',
      list: async () => {
        lists += 1;
        return { tenants: [listed], skipped: [] };
      },
      lookup: async () => ({ tenants: [listed], skipped: [] }),
    };
    const databaseConfig = {
      ...config,
      tenantSource: { type: 'database' },
    } as unknown as typeof config;
    const { deps, runs } = arrange({ source });

    await runOnDemand({ ...deps, config: async () => databaseConfig }, { tenantId: 'initech' }, undefined);

    expect(lists).toBe(1);
    expect(runs[0]?.config.tenants.map((t) => t.tenantId)).toEqual(['initech']);
  });
});
