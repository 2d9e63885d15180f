/**
 * Names shared by the Lambdas that emit metrics (EMF) and the stack that graphs and alarms on
 * them. Dimensions are per check, status or tier, never per tenant: a custom metric costs per
 * dimension combination, and tenant detail belongs in the structured logs.
 */
export const METRICS_NAMESPACE = 'TenantCanary';
/** Powertools' `service` dimension, on every metric. */
export const SERVICE_NAME = 'tenant-canary';

export const METRIC = {
  /** 1 per sweep that ran to the end: its absence means the canary stopped. */
  heartbeat: 'SweepHeartbeat',
  /** Wall time of one sweep (ms). */
  sweepDuration: 'SweepDuration',
  /** Tenants handed to the probe queue by one sweep. */
  tenantsEnqueued: 'TenantsEnqueued',
  /** Tenants a sweep could not hand to the queue. */
  tenantsNotEnqueued: 'TenantsNotEnqueued',
  /** Results per `check` and `status`. */
  checkResults: 'CheckResults',
  /** Seconds from a synthetic ticket to its completed enhancement. */
  roundTripLatency: 'RoundTripLatency',
  /** Alert messages delivered, per `tier`. */
  alertsSent: 'AlertsSent',
  /** Runs whose alert path failed (state table or SNS unreachable). */
  alertingFailures: 'AlertingFailures',
  /** 1 per sweep judged (by the probe that completed it or after its deadline): its absence means judging stopped. */
  sweepsJudged: 'SweepsJudged',
  /** 1 per sweep judged at its drain deadline without every tenant (0 per complete one). */
  sweepsIncomplete: 'SweepsIncomplete',
  /** Messages delivered after their sweep's drain deadline: dropped, not probed. */
  staleMessagesDropped: 'StaleMessagesDropped',
  /** Deliveries of stale records delivered before (each one, up to maxReceiveCount - 1 a record): handed back toward the dead-letter queue, not deleted. */
  staleRedeliveriesHandedBack: 'StaleRedeliveriesHandedBack',
  /** Pings of the external heartbeat URL that failed (the external service then alerts). */
  heartbeatPingFailures: 'HeartbeatPingFailures',
  /** Tenants whose results arrived after their sweep was judged (not in its judgement). */
  lateResults: 'LateResults',
} as const;

export const DIMENSION = { check: 'check', status: 'status', tier: 'tier', service: 'service' } as const;
