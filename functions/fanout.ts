/**
 * The deployed shape of a run, split in two: the sweep (platform checks once, every tenant
 * handed to the probe queue) and the probe (one tenant's checks). Both call {@link runChecks};
 * the Lambda handlers only parse events and wire adapters around these.
 */
import type { SecretResolver } from './adapters/secrets.ts';
import type { EnqueueOutcome, TenantQueue } from './adapters/sqs.ts';
import { type SweepLedger, sweepIdAt } from './adapters/sweep-ledger.ts';
import type { SkippedTenant, TenantSource } from './adapters/tenant-source.ts';
import { CATALOG, type CheckId } from './core/catalog.ts';
import type { Config } from './core/config.ts';
import type { CheckResult, Report } from './core/types.ts';
import type { Ports } from './probes/types.ts';
import { runChecks } from './run.ts';

const PLATFORM_CHECKS: CheckId[] = CATALOG.filter((entry) => entry.scope === 'platform').map((entry) => entry.id);

export interface SweepInput {
  config: Config;
  ports: Ports;
  secrets: SecretResolver;
  tenantSource: TenantSource;
  queue: TenantQueue;
  /** Where the probes report back, so the whole sweep is judged at once. */
  ledger: SweepLedger;
  signal?: AbortSignal;
}

export interface SweepOutcome {
  sweepId: string;
  /** Earlier sweeps still unjudged (a tenant never reported): the caller judges them now. */
  unjudged: string[];
  /** The ledger could not be used: this sweep's tenant results will not be judged. */
  ledgerError?: Error;
  /** The platform checks' report (tenant checks run in the probes). */
  report: Report;
  /** Tenants handed to the queue, or an error if the tenant list could not be read. */
  tenants: { ok: true; tenantIds: string[]; skipped: SkippedTenant[] } | { ok: false; error: Error };
  enqueue: EnqueueOutcome;
}

/**
 * Lists the tenants, then queues one message each while the platform checks run. A tenant list
 * that cannot be read does not stop the platform checks (they may say why); it is returned.
 */
export async function runSweep(input: SweepInput): Promise<SweepOutcome> {
  const { config } = input;
  const sweepId = sweepIdAt(input.ports.now());
  let listing: Awaited<ReturnType<TenantSource['list']>> | undefined;
  let listingError: Error | undefined;
  try {
    listing = await input.tenantSource.list();
  } catch (error) {
    listingError = asError(error);
  }
  const fanOut = async (tenantIds: string[]): Promise<Pick<SweepOutcome, 'enqueue' | 'unjudged' | 'ledgerError'>> => {
    let unjudged: string[] = [];
    let ledgerError: Error | undefined;
    try {
      unjudged = await input.ledger.pendingBefore(sweepId);
      // Opened before any message is sent: the first probe to report finds it.
      if (tenantIds.length > 0) await input.ledger.open(sweepId, tenantIds.length, input.ports.now());
    } catch (error) {
      ledgerError = asError(error);
    }
    const enqueue = await input.queue.send(tenantIds.map((tenantId) => ({ tenantId, runId: sweepId })));
    return { enqueue, unjudged, ...(ledgerError ? { ledgerError } : {}) };
  };
  const tenantIds = listing?.tenants.map((tenant) => tenant.tenantId) ?? [];
  const queued = listing === undefined ? undefined : fanOut(tenantIds);
  // Platform probes use the first tenant as a positive control; only its secret is read.
  const report = await runChecks({
    config: { ...config, tenants: (listing?.tenants ?? config.tenants).slice(0, 1) },
    ports: input.ports,
    secrets: input.secrets,
    filters: { checkIds: PLATFORM_CHECKS },
    ...(input.signal ? { signal: input.signal } : {}),
  });
  if (listing === undefined || queued === undefined) {
    return {
      sweepId,
      report,
      tenants: { ok: false, error: listingError ?? new Error('the tenant list could not be read') },
      enqueue: { sent: 0, failed: [] },
      unjudged: [],
    };
  }
  return { sweepId, report, tenants: { ok: true, tenantIds, skipped: listing.skipped }, ...(await queued) };
}

/** Every result a sweep's probes recorded, and the tenants they cover: one run, for the alert policy. */
export async function collectSweep(
  ledger: SweepLedger,
  sweepId: string,
): Promise<{ results: CheckResult[]; tenants: string[] }> {
  const parts = await ledger.results(sweepId);
  return { results: parts.flatMap((part) => part.results), tenants: parts.map((part) => part.tenantId) };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
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
