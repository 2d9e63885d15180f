/**
 * Probe contexts for tests: a parsed config, real Secrets, a real HTTP client.
 */
import { randomUUID } from 'node:crypto';
import { createTlsPort } from '../../functions/adapters/tls.ts';
import type { CheckId } from '../../functions/core/catalog.ts';
import { type Config, type ConfigInput, parseConfig } from '../../functions/core/config.ts';
import { tierFor } from '../../functions/core/results.ts';
import { Secret } from '../../functions/core/secret.ts';
import type { Outcome, Tier } from '../../functions/core/types.ts';
import type { HttpClient, ResolvedTenant, TlsPort } from '../../functions/ports.ts';
import type { ProbeContext, TenantProbeContext } from '../../functions/probes/types.ts';

/** A config for `baseUrl` with the given tenants (tenantId → secret value). */
export interface TestConfigExtra {
  platform?: Partial<ConfigInput['platform']>;
  thresholds?: ConfigInput['thresholds'];
}

export function testConfig(baseUrl: string, secrets: Record<string, string>, extra: TestConfigExtra = {}): Config {
  return parseConfig({
    platform: { baseUrl, ...extra.platform },
    tenants: Object.entries(secrets).map(([tenantId, value]) => ({ tenantId, signingSecret: { value } })),
    ...(extra.thresholds ? { thresholds: extra.thresholds } : {}),
  });
}

export function resolveTenants(secrets: Record<string, string>): ResolvedTenant[] {
  return Object.entries(secrets).map(([tenantId, value]) => ({ tenantId, signingSecret: new Secret(value) }));
}

export interface ContextOptions {
  /** @default a TLS port trusting the system roots */
  tls?: TlsPort;
  now?: () => Date;
  uuid?: () => string;
  signal?: AbortSignal;
}

export function platformContext(config: Config, http: HttpClient, options: ContextOptions = {}): ProbeContext {
  const shared = new Map<string, Promise<unknown>>();
  return {
    config,
    ports: {
      http,
      tls: options.tls ?? createTlsPort(),
      now: options.now ?? (() => new Date()),
      uuid: options.uuid ?? randomUUID,
    },
    signal: options.signal ?? new AbortController().signal,
    tenants: [],
    once<T>(key: string, work: () => Promise<T>): Promise<T> {
      let pending = shared.get(key);
      if (!pending) {
        pending = work();
        shared.set(key, pending);
      }
      return pending as Promise<T>;
    },
  };
}

export function tenantContext(
  config: Config,
  http: HttpClient,
  tenantId: string,
  tenants: readonly ResolvedTenant[],
  options: ContextOptions = {},
): TenantProbeContext {
  const tenant = tenants.find((candidate) => candidate.tenantId === tenantId);
  if (!tenant) throw new Error(`test setup: no tenant ${tenantId}`);
  return {
    ...platformContext(config, http, options),
    tenants,
    tenant,
    dependency: () => Promise.reject(new Error('these probes have no dependency')),
  };
}

/** The tier the run would report for this outcome (the probe's, else the catalog default). */
export function effectiveTier(checkId: CheckId, outcome: Outcome): Tier | null {
  return tierFor(outcome.status, outcome.tier, checkId);
}
