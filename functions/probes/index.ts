/**
 * Which tenant probe answers which check, what it needs configured, and how long it may take.
 * The platform checks' registry is functions/probes/platform.ts: the probe Lambda runs tenant
 * checks only, and its bundle leaves the platform probes out (bench key `bundle_kb_probe`).
 */
import type { TenantCheckId } from '../core/catalog.ts';
import type { Config } from '../core/config.ts';
import { probeQuality, probeRoundTrip } from './enhancement.ts';
import { probeEntryPointsRejectForgeries } from './entry-points.ts';
import { probeContextFunction, probeCrossTenantRead, probeCrossTenantWrite } from './rls.ts';
import { probeHistoryVolume, probeLatency, probeSuccessRate } from './tenant-health.ts';
import type { TenantProbe } from './types.ts';
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

export interface Registration<P> {
  /** Absent while the check is not built yet: it is reported `skipped` with that reason. */
  probe?: P;
  requires?: Requirement;
  /** The check's whole time budget; past it the check is an `error`. */
  budgetMs: (config: Config) => number;
}

/** One HTTP exchange plus slack for connecting and scheduling. */
export const httpBudget = (config: Config) => config.thresholds.requestTimeoutMs + 1000;
export const sqlBudget = (config: Config) => (config.database?.statementTimeoutMs ?? 5000) * 3 + 2000;

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
