/**
 * The shape every probe shares. A probe takes ports (adapters), config and a tenant, and
 * returns an {@link Outcome}. It never throws for a platform fault: that is a result.
 * An exception escaping a probe is a canary bug; the run reports it as `error`.
 */
import type { CheckId } from '../core/catalog.ts';
import type { Config } from '../core/config.ts';
import type { SamplingDecision } from '../core/sampling.ts';
import type { Secret } from '../core/secret.ts';
import type { Outcome } from '../core/types.ts';
import type { Ports, ResolvedTenant } from '../ports.ts';

export interface ProbeContext {
  config: Config;
  ports: Ports;
  /** Aborted when the check's time budget is spent or the run is cancelled. */
  signal: AbortSignal;
  /** Every tenant of this run whose secret resolved (for cross-tenant probes). */
  tenants: readonly ResolvedTenant[];
  /**
   * Work shared by several checks of one run (a catalog snapshot, a tenant's statistics):
   * the first caller starts it, later callers with the same key get the same promise.
   */
  once<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** The shared secrets of `platform.entryPoints`, by entry point name (absent: none read). */
  entryPointSecrets?: ReadonlyMap<string, EntryPointSecret>;
}

/** An entry point's shared secret as the run read it, or why it could not (names the reference, never a value). */
export type EntryPointSecret = { ok: true; secret: Secret } | { ok: false; reason: string };

export interface TenantProbeContext extends ProbeContext {
  tenant: ResolvedTenant;
  /** The outcome of the check this one `needs` (see the catalog). */
  dependency(checkId: CheckId): Promise<Outcome>;
  /** A scheduled sweep's sampling of this tenant (absent: `run`, on demand, a message sent by hand). */
  sampling?: SamplingDecision;
}

export type PlatformProbe = (ctx: ProbeContext) => Promise<Outcome>;
export type TenantProbe = (ctx: TenantProbeContext) => Promise<Outcome>;
