/**
 * The tenants of a run: the config's own list, or the tenant source's (the platform's tenant
 * table); a tenant asked for that is not among them is an {@link UnknownTenantError}.
 */
import type { Config } from '../core/config.ts';
import { CanaryError } from '../core/errors.ts';
import type { SkippedTenant, TenantSource } from '../ports.ts';

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
