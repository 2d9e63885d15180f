/**
 * The deployed shape of a run, split in two: the sweep (platform checks once, every tenant
 * handed to the probe queue) and the probe (one tenant's checks). Both call {@link runChecks};
 * the Lambda handlers only parse events and wire adapters around these.
 */
import type { SecretResolver } from './adapters/secrets.ts';
import type { EnqueueOutcome, TenantQueue } from './adapters/sqs.ts';
import type { SkippedTenant, TenantSource } from './adapters/tenant-source.ts';
import { CATALOG, type CheckId } from './core/catalog.ts';
import type { Config } from './core/config.ts';
import type { Report } from './core/types.ts';
import type { Ports } from './probes/types.ts';
import { runChecks } from './run.ts';

const PLATFORM_CHECKS: CheckId[] = CATALOG.filter((entry) => entry.scope === 'platform').map((entry) => entry.id);

export interface SweepInput {
  config: Config;
  ports: Ports;
  secrets: SecretResolver;
  tenantSource: TenantSource;
  queue: TenantQueue;
  signal?: AbortSignal;
}

export interface SweepOutcome {
  /** The platform checks' report (tenant checks run in the probes). */
  report: Report;
  /** Tenants handed to the queue, or an error if the tenant list could not be read. */
  tenants: { ok: true; tenantIds: string[]; skipped: SkippedTenant[] } | { ok: false; error: Error };
  enqueue: EnqueueOutcome;
}

/**
 * Lists the tenants and queues one message each while the platform checks run. A tenant list
 * that cannot be read does not stop the platform checks (they may say why); it is returned.
 */
export async function runSweep(input: SweepInput): Promise<SweepOutcome> {
  const { config } = input;
  const fanOut = (async (): Promise<Pick<SweepOutcome, 'tenants' | 'enqueue'>> => {
    let listing: Awaited<ReturnType<TenantSource['list']>>;
    try {
      listing = await input.tenantSource.list();
    } catch (error) {
      return {
        tenants: { ok: false, error: error instanceof Error ? error : new Error(String(error)) },
        enqueue: { sent: 0, failed: [] },
      };
    }
    const tenantIds = listing.tenants.map((tenant) => tenant.tenantId);
    const runId = `sweep-${input.ports.now().toISOString()}`;
    const enqueue = await input.queue.send(tenantIds.map((tenantId) => ({ tenantId, runId })));
    return { tenants: { ok: true, tenantIds, skipped: listing.skipped }, enqueue };
  })();
  // Platform probes use the first tenant as a positive control; only its secret is read.
  const report = await runChecks({
    config: { ...config, tenants: config.tenants.slice(0, 1) },
    ports: input.ports,
    secrets: input.secrets,
    filters: { checkIds: PLATFORM_CHECKS },
    ...(input.signal ? { signal: input.signal } : {}),
  });
  return { report, ...(await fanOut) };
}

/** The tenant asked for is not among the canary's tenants (config, or the tenant source). */
export class UnknownTenantError extends Error {
  override name = 'UnknownTenantError';
  constructor(readonly tenantId: string) {
    super(`tenant "${tenantId}" is not among the canary's tenants`);
  }
}

export interface ProbeTenantInput {
  /** A config whose `tenants` holds this tenant (and the others, for cross-tenant checks). */
  config: Config;
  ports: Ports;
  secrets: SecretResolver;
  tenantId: string;
  signal?: AbortSignal;
}

export interface ProbeTenantOutcome {
  report: Report;
  /** Why the tenant could not be probed at all (its signing secret cannot be read). */
  unprobed?: string;
}

/** One tenant's checks (platform checks are the sweep's). */
export async function probeTenant(input: ProbeTenantInput): Promise<ProbeTenantOutcome> {
  const tenant = input.config.tenants.find((candidate) => candidate.tenantId === input.tenantId);
  if (tenant === undefined) throw new UnknownTenantError(input.tenantId);
  let unprobed: string | undefined;
  try {
    // Cached by the resolver: the run reads it again for free.
    await input.secrets.resolve(tenant.signingSecret);
  } catch (error) {
    unprobed = `its signing secret cannot be read: ${error instanceof Error ? error.message : 'unknown error'}`;
  }
  const report = await runChecks({
    config: input.config,
    ports: input.ports,
    secrets: input.secrets,
    filters: { tenantIds: [input.tenantId], platform: false },
    ...(input.signal ? { signal: input.signal } : {}),
  });
  return { report, ...(unprobed === undefined ? {} : { unprobed }) };
}
