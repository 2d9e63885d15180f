/**
 * The tenants of a run: the config's own list, or the tenant source's (the platform's tenant
 * table), and one tenant's checks (platform checks are the sweep's).
 */
import type { Config } from '../core/config.ts';
import { CanaryError, errorMessage } from '../core/errors.ts';
import type { SamplingDecision } from '../core/sampling.ts';
import type { Report } from '../core/types.ts';
import type { Ports, SecretResolver, SkippedTenant, TenantSource } from '../ports.ts';
import { runChecks } from '../run.ts';

/** The config with the tenants of its tenant source (the config's own list when static). */
export async function withSourcedTenants(
  config: Config,
  source: TenantSource,
): Promise<{ config: Config; skipped: SkippedTenant[] }> {
  if (config.tenantSource.type === 'static') return { config, skipped: [] };
  const listing = await source.list();
  return { config: { ...config, tenants: listing.tenants }, skipped: listing.skipped };
}

/** The tenant asked for is not among the canary's tenants (config, or the tenant source). */
export class UnknownTenantError extends CanaryError {
  override name = 'UnknownTenantError';
  constructor(readonly tenantId: string) {
    super('not-found', `tenant "${tenantId}" is not among the canary's tenants`);
  }
}

export interface ProbeTenantInput {
  /** A config whose `tenants` holds this tenant (and the others, for cross-tenant checks). */
  config: Config;
  ports: Ports;
  secrets: SecretResolver;
  tenantId: string;
  signal?: AbortSignal | undefined;
  /** @default runChecks */
  checks?: typeof runChecks | undefined;
  /** The sweep's sampling of this tenant (scheduled messages only); absent: every check runs. */
  sampling?: SamplingDecision | undefined;
}

export interface ProbeTenantOutcome {
  report: Report;
  /** Why the tenant could not be probed at all (its signing secret cannot be read). */
  unprobed?: string;
}

/** One tenant's checks (a batch's tenants share one set of ports). Throws {@link UnknownTenantError}. */
export async function probeTenant(input: ProbeTenantInput): Promise<ProbeTenantOutcome> {
  const tenant = input.config.tenants.find((candidate) => candidate.tenantId === input.tenantId);
  if (tenant === undefined) throw new UnknownTenantError(input.tenantId);
  let unprobed: string | undefined;
  try {
    // Cached by the resolver: the run reads it again for free.
    await input.secrets.resolve(tenant.signingSecret);
  } catch (error) {
    unprobed = `its signing secret cannot be read: ${errorMessage(error)}`;
  }
  const report = await (input.checks ?? runChecks)({
    config: input.config,
    ports: input.ports,
    secrets: input.secrets,
    filters: { tenantIds: [input.tenantId], platform: false },
    signal: input.signal,
    ...(input.sampling === undefined ? {} : { sampling: new Map([[input.tenantId, input.sampling]]) }),
  });
  return { report, ...(unprobed === undefined ? {} : { unprobed }) };
}
