/**
 * The use cases' dependencies (functions/app/deps.ts) for tests: memory state, a recording
 * publisher, a static tenant source, a quiet logger, no queue traffic; each test overrides what
 * it looks at.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { createMemoryStateStore } from '../../functions/adapters/state-memory.ts';
import type { AppDeps } from '../../functions/app/deps.ts';
import type { AlertMessage } from '../../functions/core/alert-policy.ts';
import type { Config } from '../../functions/core/config.ts';
import { Secret } from '../../functions/core/secret.ts';
import type { AlertPublisher, OpenPorts, TenantSource } from '../../functions/ports.ts';
import { discardedMetrics, silentLogger } from './telemetry.ts';

/** Metrics that count by name (single metrics too). */
export function countingMetrics(): { metrics: Metrics; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const add = (name: string, _unit: unknown, value: number) => counts.set(name, (counts.get(name) ?? 0) + value);
  const single = { addDimensions: () => single, addMetric: add };
  const metrics = { addMetric: add, singleMetric: () => single } as unknown as Metrics;
  return { metrics, counts };
}

/** The config's own tenants, listed and looked up (only the ids asked for). */
export function staticTenantSource(config: Config): TenantSource {
  return {
    kind: 'static',
    list: async () => ({ tenants: config.tenants, skipped: [] }),
    lookup: async (ids) => ({ tenants: config.tenants.filter((t) => ids.includes(t.tenantId)), skipped: [] }),
  };
}

/** A publisher that delivers everything, keeping what it was given in `published`. */
export function recordingPublisher(published: AlertMessage[]): AlertPublisher {
  return {
    async publish(messages) {
      published.push(...messages);
      return { delivered: messages.map((m) => m.id), failed: [] };
    },
  };
}

/** Ports that hold a clock and close; a use case whose checks are stood in needs no more. */
export function clockPorts(now: () => Date): OpenPorts {
  return { now, close: async () => {} } as unknown as OpenPorts;
}

/**
 * Dependencies for `config` at `now`: every secret is `s`, the tenants are the config's, alert state
 * in memory, alerts published to nowhere, a sweep ledger that is not there, a queue that takes
 * everything; `overrides` replace any of them.
 */
export function appDeps(config: Config, now: () => Date, overrides: Partial<AppDeps> = {}): AppDeps {
  const store = createMemoryStateStore();
  return {
    logger: silentLogger,
    metrics: discardedMetrics,
    config: async () => config,
    secrets: { resolve: async () => new Secret('s'), resolveDatabaseUrl: async () => new Secret('') },
    openPorts: async () => clockPorts(now),
    tenantSource: () => staticTenantSource(config),
    stateStore: async () => store,
    sweepLedger: async () => {
      throw new Error('no sweep ledger in this test');
    },
    publisher: () => recordingPublisher([]),
    tenantQueue: async () => ({
      send: async () => ({ sent: 0, failed: [] }),
      retryLater: async () => ({ unchanged: [] }),
    }),
    now,
    ...overrides,
  };
}
