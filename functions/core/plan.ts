/**
 * Planning: which checks run for which tenants, from config and the CLI's filters. Pure.
 */
import { CATALOG, type CheckId, catalogEntry, type PlatformCheckId, type TenantCheckId } from './catalog.ts';
import { type Config, ConfigError, type TenantConfig } from './config.ts';

export interface PlanFilters {
  /** Only these tenants (each must be in the config). */
  tenantIds?: readonly string[];
  /** Only these checks (dependencies still run, unreported). */
  checkIds?: readonly CheckId[];
  /** Run platform checks too (default true; the per-tenant Lambda leaves them to the sweep). */
  platform?: boolean;
}

export interface Plan {
  /** Platform checks to report, in catalog order. */
  platform: PlatformCheckId[];
  /** Tenant checks to report for each tenant, in catalog order. */
  tenant: TenantCheckId[];
  /** Tenant checks that only run because a reported one needs them. */
  tenantDependencies: TenantCheckId[];
  tenants: TenantConfig[];
  /** Checks skipped because `checks.disabled` names them. */
  disabled: ReadonlySet<CheckId>;
}

export function planRun(config: Config, filters: PlanFilters = {}): Plan {
  const tenants = selectTenants(config, filters.tenantIds);
  const wanted = new Set<CheckId>(filters.checkIds ?? CATALOG.map((entry) => entry.id));
  const platformWanted = filters.platform ?? true;
  const platform: PlatformCheckId[] = [];
  const tenant: TenantCheckId[] = [];
  for (const entry of CATALOG) {
    if (!wanted.has(entry.id)) continue;
    if (entry.scope === 'platform') {
      if (platformWanted) platform.push(entry.id);
    } else if (entry.scope === 'tenant') {
      tenant.push(entry.id);
    }
  }
  const reported = new Set<CheckId>(tenant);
  const dependencies = new Set<TenantCheckId>();
  for (const id of tenant) {
    for (let need = needsOf(id); need !== undefined; need = needsOf(need)) {
      if (!reported.has(need)) dependencies.add(need);
    }
  }
  return {
    platform,
    tenant,
    tenantDependencies: CATALOG.filter((e) => dependencies.has(e.id as TenantCheckId)).map(
      (e) => e.id as TenantCheckId,
    ),
    tenants,
    disabled: new Set(config.checks.disabled as CheckId[]),
  };
}

function needsOf(id: CheckId): TenantCheckId | undefined {
  return catalogEntry(id).needs as TenantCheckId | undefined;
}

function selectTenants(config: Config, tenantIds: readonly string[] | undefined): TenantConfig[] {
  if (tenantIds === undefined || tenantIds.length === 0) return [...config.tenants];
  const byId = new Map(config.tenants.map((tenant) => [tenant.tenantId, tenant]));
  const unknown = tenantIds.filter((id) => !byId.has(id));
  if (unknown.length > 0) {
    throw new ConfigError([
      `--tenant ${unknown.map((id) => JSON.stringify(id)).join(', ')} is not in the config's tenants`,
    ]);
  }
  return [...new Set(tenantIds)].map((id) => byId.get(id)!);
}
