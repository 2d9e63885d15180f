/**
 * A tenant's health over the last 24 hours of real (non-synthetic) traffic, as the guide's
 * "Check Tenant Health" step reads it: success rate, latency, ticket-history volume. One
 * rolled-back transaction in the tenant's context serves all three checks.
 */
import { errored, skipped } from '../core/results.ts';
import { syntheticLikePattern } from '../core/synthetic.ts';
import type { Outcome } from '../core/types.ts';
import { describeDbError } from '../ports.ts';
import type { TenantProbe, TenantProbeContext } from './types.ts';

/** Requests at least this many of which completed none: the tenant's tickets all fail (P1). */
const ALL_FAILING_MIN_REQUESTS = 10;

// Index-friendly on (tenant_id, status, created_at): equality on the first two columns, a range
// on the third. Synthetic tickets and requests still inside the round-trip window are left out.
export const TENANT_STATS_SQL = `
SELECT count(*)::int AS total,
       count(*) FILTER (WHERE status = 'completed')::int AS completed,
       count(*) FILTER (WHERE status = 'failed')::int AS failed,
       avg(EXTRACT(EPOCH FROM completed_at - created_at)) FILTER (WHERE status = 'completed')::float8 AS avg_s,
       (percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM completed_at - created_at))
          FILTER (WHERE status = 'completed'))::float8 AS p95_s
FROM enhancement_history
WHERE tenant_id = $1
  AND status IN ('completed', 'failed', 'pending')
  AND created_at > now() - interval '24 hours'
  AND NOT (status = 'pending' AND created_at > now() - make_interval(secs => $3))
  AND ticket_id NOT LIKE $2`;

// Counting stops at the threshold: a tenant with millions of tickets costs the same as one with 50.
export const HISTORY_VOLUME_SQL = `
SELECT count(*)::int AS n FROM (SELECT 1 FROM ticket_history WHERE tenant_id = $1 LIMIT $2) AS enough`;

export interface TenantStats {
  total: number;
  completed: number;
  failed: number;
  avgLatencyS: number | null;
  p95LatencyS: number | null;
  historyTickets: number;
}

type StatsResult = { ok: true; stats: TenantStats } | { ok: false; reason: string };

function tenantStats(ctx: TenantProbeContext): Promise<StatsResult> {
  const tenantId = ctx.tenant.tenantId;
  return ctx.once(`tenant-stats:${tenantId}`, async () => {
    const database = ctx.config.database!;
    const { thresholds, synthetic } = ctx.config;
    try {
      const stats = await ctx.ports.pg!.inRolledBackTransaction(
        { role: database.probeAsRole, settings: { [database.tenantSetting]: tenantId } },
        async (session) => {
          const requests = await session.query<{
            total: number;
            completed: number;
            failed: number;
            avg_s: number | null;
            p95_s: number | null;
          }>(TENANT_STATS_SQL, [tenantId, syntheticLikePattern(synthetic.ticketPrefix), thresholds.roundTripTimeoutS]);
          const history = await session.query<{ n: number }>(HISTORY_VOLUME_SQL, [
            tenantId,
            thresholds.historyMinTickets,
          ]);
          const row = requests.rows[0]!;
          return {
            total: row.total,
            completed: row.completed,
            failed: row.failed,
            avgLatencyS: row.avg_s,
            p95LatencyS: row.p95_s,
            historyTickets: history.rows[0]?.n ?? 0,
          };
        },
      );
      return { ok: true, stats };
    } catch (error) {
      return { ok: false, reason: `the tenant's statistics could not be read: ${describeDbError(error)}` };
    }
  });
}

async function withStats(ctx: TenantProbeContext, judge: (stats: TenantStats) => Outcome): Promise<Outcome> {
  const result = await tenantStats(ctx);
  return result.ok ? judge(result.stats) : errored(result.reason);
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

export const probeSuccessRate: TenantProbe = (ctx) =>
  withStats(ctx, (stats) => {
    const min = ctx.config.thresholds.successRateMin;
    const evidence = { total: stats.total, completed: stats.completed, failed: stats.failed, successRateMin: min };
    if (stats.total === 0) return skipped('no real enhancement requests in the last 24 h: nothing to rate', evidence);
    const rate = stats.completed / stats.total;
    const percent = `${round(rate * 100)}%`;
    if (stats.completed === 0 && stats.total >= ALL_FAILING_MIN_REQUESTS) {
      return {
        status: 'fail',
        tier: 'P1',
        summary: `none of ${stats.total} real enhancement requests completed in the last 24 h: all of this tenant's tickets are failing`,
        evidence: { ...evidence, successRate: rate },
      };
    }
    if (rate < min) {
      return {
        status: 'fail',
        summary: `${percent} of ${stats.total} real enhancement requests completed in the last 24 h (minimum ${round(min * 100)}%)`,
        evidence: { ...evidence, successRate: rate },
      };
    }
    return {
      status: 'pass',
      summary: `${percent} of ${stats.total} real requests completed in the last 24 h`,
      evidence: { ...evidence, successRate: rate },
    };
  });

export const probeLatency: TenantProbe = (ctx) =>
  withStats(ctx, (stats) => {
    const { avgLatencyDegradedS, p95LatencyDegradedS } = ctx.config.thresholds;
    if (stats.completed === 0 || stats.avgLatencyS === null || stats.p95LatencyS === null) {
      return skipped('no completed real enhancement in the last 24 h: no latency to judge', {
        completed: stats.completed,
      });
    }
    const evidence = {
      completed: stats.completed,
      avgLatencyS: round(stats.avgLatencyS, 2),
      p95LatencyS: round(stats.p95LatencyS, 2),
      avgLatencyDegradedS,
      p95LatencyDegradedS,
    };
    const slow: string[] = [];
    if (stats.avgLatencyS > avgLatencyDegradedS)
      slow.push(`average ${round(stats.avgLatencyS)} s > ${avgLatencyDegradedS} s`);
    if (stats.p95LatencyS > p95LatencyDegradedS)
      slow.push(`p95 ${round(stats.p95LatencyS)} s > ${p95LatencyDegradedS} s`);
    if (slow.length > 0) {
      return {
        status: 'degraded',
        summary: `enhancements are slow for this tenant over 24 h: ${slow.join(', ')}`,
        evidence,
      };
    }
    return {
      status: 'pass',
      summary: `average ${round(stats.avgLatencyS)} s, p95 ${round(stats.p95LatencyS)} s over ${stats.completed} enhancements`,
      evidence,
    };
  });

export const probeHistoryVolume: TenantProbe = (ctx) =>
  withStats(ctx, (stats) => {
    const min = ctx.config.thresholds.historyMinTickets;
    if (stats.historyTickets < min) {
      return {
        status: 'fail',
        summary: `only ${stats.historyTickets} tickets of history (minimum ${min}): too little context for useful enhancements`,
        evidence: { tickets: stats.historyTickets, historyMinTickets: min },
      };
    }
    return { status: 'pass', summary: `at least ${min} tickets of history`, evidence: { atLeast: min } };
  });
