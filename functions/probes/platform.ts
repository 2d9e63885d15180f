/**
 * Which platform probe answers which platform check (once a run: the sweep, the CLI's run), what
 * it needs configured, and how long it may take. Apart from the tenant probes (./index.ts) so
 * that the probe Lambda, which runs tenant checks only, does not bundle these.
 */
import type { PlatformCheckId } from '../core/catalog.ts';
import { probeDbConnections, probeQueueDepth } from './capacity.ts';
import { probeEntryPointsTenantBound } from './entry-points.ts';
import { probeHealth } from './health.ts';
import { httpBudget, type Registration, sqlBudget } from './index.ts';
import {
  probeContextScope,
  probeDefinerFunctions,
  probeIsolationSnapshot,
  probePartitionsCovered,
  probeViewsRespectRls,
} from './isolation.ts';
import {
  probeAppRoleEnforced,
  probeNoContextDenied,
  probePoliciesPresent,
  probeProbeRoleSafe,
  probeTablesEnabled,
} from './rls.ts';
import { probeTlsCertificate } from './tls.ts';
import type { PlatformProbe } from './types.ts';

export type PlatformProbes = Record<PlatformCheckId, Registration<PlatformProbe>>;

export const PLATFORM_PROBES: PlatformProbes = {
  'api.health': { probe: probeHealth, budgetMs: httpBudget },
  'api.tls_certificate': { probe: probeTlsCertificate, budgetMs: httpBudget },
  'rls.tables_enabled': { probe: probeTablesEnabled, requires: 'database', budgetMs: sqlBudget },
  'rls.policies_present': { probe: probePoliciesPresent, requires: 'database', budgetMs: sqlBudget },
  'rls.app_role_enforced': { probe: probeAppRoleEnforced, requires: 'database', budgetMs: sqlBudget },
  'rls.no_context_denied': { probe: probeNoContextDenied, requires: 'database', budgetMs: sqlBudget },
  'queue.depth': {
    probe: probeQueueDepth,
    requires: 'redis',
    budgetMs: (config) => (config.redis?.commandTimeoutMs ?? 3000) * 2 + 1000,
  },
  'db.connections': { probe: probeDbConnections, requires: 'database', budgetMs: sqlBudget },
  'canary.probe_role_safe': { probe: probeProbeRoleSafe, requires: 'database', budgetMs: sqlBudget },
  'rls.views_respect_rls': { probe: probeViewsRespectRls, requires: 'database', budgetMs: sqlBudget },
  'rls.partitions_covered': { probe: probePartitionsCovered, requires: 'database', budgetMs: sqlBudget },
  'rls.definer_functions': { probe: probeDefinerFunctions, requires: 'database', budgetMs: sqlBudget },
  'rls.context_scope': { probe: probeContextScope, requires: 'database', budgetMs: sqlBudget },
  'rls.isolation_snapshot': { probe: probeIsolationSnapshot, requires: 'database', budgetMs: sqlBudget },
  'webhook.entry_points_tenant_bound': { probe: probeEntryPointsTenantBound, budgetMs: httpBudget },
};
