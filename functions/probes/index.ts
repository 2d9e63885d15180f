/**
 * Which probe answers which check, what it needs configured, and how long it may take.
 */
import type { PlatformCheckId, TenantCheckId } from '../core/catalog.ts';
import type { Config } from '../core/config.ts';
import { probeDbConnections, probeQueueDepth } from './capacity.ts';
import { probeQuality, probeRoundTrip } from './enhancement.ts';
import { probeEntryPointsRejectForgeries, probeEntryPointsTenantBound } from './entry-points.ts';
import { probeHealth } from './health.ts';
import {
  probeContextScope,
  probeDefinerFunctions,
  probeIsolationSnapshot,
  probePartitionsCovered,
  probeViewsRespectRls,
} from './isolation.ts';
import {
  probeAppRoleEnforced,
  probeContextFunction,
  probeCrossTenantRead,
  probeCrossTenantWrite,
  probeNoContextDenied,
  probePoliciesPresent,
  probeProbeRoleSafe,
  probeTablesEnabled,
} from './rls.ts';
import { probeHistoryVolume, probeLatency, probeSuccessRate } from './tenant-health.ts';
import { probeTlsCertificate } from './tls.ts';
import type { PlatformProbe, TenantProbe } from './types.ts';
import {
  probeBadSignatureRejected,
  probeCrossTenantSignatureRejected,
  probeFutureTimestampRejected,
  probeMissingSignatureRejected,
  probeSignedAccepted,
  probeStaleTimestampRejected,
  probeTamperedBodyRejected,
} from './webhook.ts';

export type Requirement = 'database' | 'redis';

interface Registration<P> {
  /** Absent while the check is not built yet: it is reported `skipped` with that reason. */
  probe?: P;
  requires?: Requirement;
  /** The check's whole time budget; past it the check is an `error`. */
  budgetMs: (config: Config) => number;
}

/** One HTTP exchange plus slack for connecting and scheduling. */
const httpBudget = (config: Config) => config.thresholds.requestTimeoutMs + 1000;
const sqlBudget = (config: Config) => (config.database?.statementTimeoutMs ?? 5000) * 3 + 2000;

export const PLATFORM_PROBES: Record<PlatformCheckId, Registration<PlatformProbe>> = {
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

export const TENANT_PROBES: Record<TenantCheckId, Registration<TenantProbe>> = {
  'webhook.signed_accepted': { probe: probeSignedAccepted, budgetMs: httpBudget },
  'webhook.bad_signature_rejected': { probe: probeBadSignatureRejected, budgetMs: httpBudget },
  'webhook.missing_signature_rejected': { probe: probeMissingSignatureRejected, budgetMs: httpBudget },
  'webhook.tampered_body_rejected': { probe: probeTamperedBodyRejected, budgetMs: httpBudget },
  'webhook.cross_tenant_signature_rejected': { probe: probeCrossTenantSignatureRejected, budgetMs: httpBudget },
  'webhook.stale_timestamp_rejected': { probe: probeStaleTimestampRejected, budgetMs: httpBudget },
  'webhook.future_timestamp_rejected': { probe: probeFutureTimestampRejected, budgetMs: httpBudget },
  // Every entry point's probes are sent at once: one exchange's time.
  'webhook.entry_points_reject_forgeries': { probe: probeEntryPointsRejectForgeries, budgetMs: httpBudget },
  'enhancement.round_trip': {
    probe: probeRoundTrip,
    requires: 'database',
    budgetMs: (config) => config.thresholds.roundTripTimeoutS * 1000 + sqlBudget(config),
  },
  'enhancement.quality': { probe: probeQuality, requires: 'database', budgetMs: sqlBudget },
  'rls.context_function': { probe: probeContextFunction, requires: 'database', budgetMs: sqlBudget },
  'rls.cross_tenant_read': { probe: probeCrossTenantRead, requires: 'database', budgetMs: sqlBudget },
  'rls.cross_tenant_write': { probe: probeCrossTenantWrite, requires: 'database', budgetMs: sqlBudget },
  'tenant.success_rate': { probe: probeSuccessRate, requires: 'database', budgetMs: sqlBudget },
  'tenant.latency': { probe: probeLatency, requires: 'database', budgetMs: sqlBudget },
  'tenant.history_volume': { probe: probeHistoryVolume, requires: 'database', budgetMs: sqlBudget },
};
