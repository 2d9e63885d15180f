/**
 * Follows the accepted synthetic ticket to its enhancement: polls `enhancement_history` for
 * (tenant, ticket) in the tenant's context with backoff, never a long fixed sleep (waiting is
 * what a Lambda pays for). The quality check reads the text of the same row.
 */
import { errored, skipped } from '../core/results.ts';
import { syntheticLikePattern } from '../core/synthetic.ts';
import type { Outcome } from '../core/types.ts';
import { describeDbError } from '../ports.ts';
import type { TenantProbe, TenantProbeContext } from './types.ts';
import type { AcceptedTicket } from './webhook.ts';

/** What enhancement.round_trip hands on to enhancement.quality. */
export interface RoundTripData {
  status: 'completed' | 'failed' | 'pending' | 'missing';
  /** Characters of the configured text column; null when it is NULL or not configured. */
  textChars: number | null;
  /** Whether the configured text column exists on the row. */
  textColumnFound: boolean;
}

// Latest attempt first, a completed one preferred (a retry inserts a new row). The text column is
// read through to_jsonb so that its name is a parameter and a missing column is visible, not an error.
export const ROUND_TRIP_SQL = `
SELECT e.status,
       EXTRACT(EPOCH FROM e.completed_at - e.created_at)::float8 AS latency_s,
       left(e.error_message, 200) AS error_message,
       CASE WHEN $3::text IS NULL THEN NULL ELSE char_length(to_jsonb(e) ->> $3::text) END AS text_chars,
       CASE WHEN $3::text IS NULL THEN false ELSE to_jsonb(e) ? $3::text END AS text_column_found
FROM enhancement_history e
WHERE e.tenant_id = $1 AND e.ticket_id = $2
ORDER BY (e.status = 'completed') DESC, e.created_at DESC
LIMIT 1`;

interface RoundTripRow {
  status: string;
  latency_s: number | null;
  error_message: string | null;
  text_chars: number | null;
  text_column_found: boolean;
}

/** Poll delays: quick first looks (a healthy platform may answer in well under a second), then backing off. */
export function pollDelays(firstMs = 200, factor = 1.6, maxMs = 5000): () => number {
  let next = firstMs;
  return () => {
    const delay = next;
    next = Math.min(Math.round(next * factor), maxMs);
    return delay;
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

async function readRow(ctx: TenantProbeContext, ticketId: string): Promise<RoundTripRow | undefined> {
  const database = ctx.config.database!;
  return ctx.ports.pg!.inRolledBackTransaction(
    { role: database.probeAsRole, settings: { [database.tenantSetting]: ctx.tenant.tenantId } },
    async (session) => {
      const result = await session.query<RoundTripRow>(ROUND_TRIP_SQL, [
        ctx.tenant.tenantId,
        ticketId,
        database.enhancementTextColumn,
      ]);
      return result.rows[0];
    },
  );
}

export const probeRoundTrip: TenantProbe = async (ctx) => {
  if (ctx.config.run.roundTrip === 'deferred') return probeDeferredRoundTrip(ctx);
  const accepted = await ctx.dependency('webhook.signed_accepted');
  const ticket = accepted.data as AcceptedTicket | undefined;
  if (accepted.status !== 'pass' || ticket === undefined) {
    return skipped(
      'the synthetic ticket was not accepted, so there is no enhancement to follow (see webhook.signed_accepted)',
    );
  }
  const { roundTripDegradedS, roundTripTimeoutS } = ctx.config.thresholds;
  const deadline = Date.parse(ticket.sentAt) + roundTripTimeoutS * 1000;
  const nextDelay = pollDelays();
  let polls = 0;
  let row: RoundTripRow | undefined;
  for (;;) {
    polls += 1;
    try {
      row = await readRow(ctx, ticket.ticketId);
    } catch (error) {
      return errored(`the enhancement record could not be read: ${describeDbError(error)}`, {
        ticketId: ticket.ticketId,
        polls,
      });
    }
    if (row?.status === 'completed' || row?.status === 'failed') break;
    const remaining = deadline - Date.now();
    if (remaining <= 0 || ctx.signal.aborted) break;
    await sleep(Math.min(nextDelay(), remaining), ctx.signal);
  }
  const evidence: Record<string, unknown> = { ticketId: ticket.ticketId, polls, status: row?.status ?? null };
  const data: RoundTripData = {
    status:
      row === undefined ? 'missing' : row.status === 'completed' || row.status === 'failed' ? row.status : 'pending',
    textChars: row?.text_chars ?? null,
    textColumnFound: row?.text_column_found ?? false,
  };
  if (row === undefined) {
    return {
      status: 'fail',
      summary: `no enhancement record for the synthetic ticket after ${roundTripTimeoutS} s: nothing is consuming the queue or the worker cannot write`,
      evidence,
      data,
    };
  }
  if (row.status === 'failed') {
    return {
      status: 'fail',
      summary: `the synthetic ticket's enhancement failed: ${row.error_message ?? 'no error message'}`,
      evidence: { ...evidence, errorMessage: row.error_message },
      data,
    };
  }
  if (row.status !== 'completed' || row.latency_s === null) {
    return {
      status: 'fail',
      summary: `the synthetic ticket is still ${row.status} after ${roundTripTimeoutS} s`,
      evidence,
      data,
    };
  }
  const latency = Math.round(row.latency_s * 100) / 100;
  const withLatency = { ...evidence, latencyS: latency, roundTripDegradedS, roundTripTimeoutS };
  if (row.latency_s > roundTripTimeoutS) {
    return {
      status: 'fail',
      summary: `the synthetic ticket took ${latency} s to enhance (limit ${roundTripTimeoutS} s)`,
      evidence: withLatency,
      data,
    };
  }
  if (row.latency_s > roundTripDegradedS) {
    return {
      status: 'degraded',
      summary: `the synthetic ticket took ${latency} s to enhance (degraded above ${roundTripDegradedS} s)`,
      evidence: withLatency,
      data,
    };
  }
  return { status: 'pass', summary: `the synthetic ticket was enhanced in ${latency} s`, evidence: withLatency, data };
};

// The synthetic tickets of one tenant enhanced (or picked up) within the window, newest first, this
// run's own ticket left out. Every attempt row is returned; the probe groups them by ticket.
export const PREVIOUS_TICKETS_SQL = `
SELECT e.ticket_id, e.status,
       EXTRACT(EPOCH FROM e.completed_at - e.created_at)::float8 AS latency_s,
       EXTRACT(EPOCH FROM now() - e.created_at)::float8 AS age_s,
       left(e.error_message, 200) AS error_message,
       CASE WHEN $4::text IS NULL THEN NULL ELSE char_length(to_jsonb(e) ->> $4::text) END AS text_chars,
       CASE WHEN $4::text IS NULL THEN false ELSE to_jsonb(e) ? $4::text END AS text_column_found
FROM enhancement_history e
WHERE e.tenant_id = $1 AND e.ticket_id LIKE $2 AND e.ticket_id <> $3
  AND e.created_at > now() - make_interval(secs => $5)
ORDER BY e.created_at DESC
LIMIT 20`;

interface PreviousRow extends RoundTripRow {
  ticket_id: string;
  age_s: number;
}

/**
 * How far back `deferred` looks: one sweep interval, plus slack for the schedule's jitter and the
 * queue (at most half an interval, so the ticket of two sweeps ago stays out).
 */
export function deferredWindowS(sweepIntervalS: number, roundTripTimeoutS: number): number {
  return Math.round(sweepIntervalS + Math.min(roundTripTimeoutS, sweepIntervalS / 2));
}

/** Per ticket, the attempt that counts: a completed one, else the latest. Rows come newest first. */
function latestAttempts(rows: readonly PreviousRow[]): PreviousRow[] {
  const byTicket = new Map<string, PreviousRow>();
  for (const row of rows) {
    const kept = byTicket.get(row.ticket_id);
    if (kept === undefined || (kept.status !== 'completed' && row.status === 'completed')) {
      byTicket.set(row.ticket_id, row);
    }
  }
  return [...byTicket.values()];
}

/**
 * `run.roundTrip: deferred`: no waiting. This run's ticket is sent (webhook.signed_accepted) and
 * judged by the next run; this run judges the tickets sent by the previous one, read with one
 * query. A platform that stops enhancing is reported by the first run after the ticket it did not
 * enhance, so within two sweep intervals.
 */
async function probeDeferredRoundTrip(ctx: TenantProbeContext): Promise<Outcome> {
  const accepted = await ctx.dependency('webhook.signed_accepted');
  const current = (accepted.data as AcceptedTicket | undefined)?.ticketId ?? '';
  const database = ctx.config.database!;
  const { roundTripDegradedS, roundTripTimeoutS } = ctx.config.thresholds;
  // While the tenant is failing (sampled sweeps), the sweep before this one may have sent no ticket
  // (the one that failed was judged without a new one): look back one sweep further to judge it again.
  const lookbackSweeps = ctx.sampling?.failing === true ? 2 : 1;
  const windowS =
    deferredWindowS(ctx.config.run.sweepIntervalS, roundTripTimeoutS) +
    (lookbackSweeps - 1) * ctx.config.run.sweepIntervalS;
  let rows: PreviousRow[];
  try {
    rows = await ctx.ports.pg!.inRolledBackTransaction(
      { role: database.probeAsRole, settings: { [database.tenantSetting]: ctx.tenant.tenantId } },
      async (session) =>
        (
          await session.query<PreviousRow>(PREVIOUS_TICKETS_SQL, [
            ctx.tenant.tenantId,
            syntheticLikePattern(ctx.config.synthetic.ticketPrefix),
            current,
            database.enhancementTextColumn,
            windowS,
          ])
        ).rows,
    );
  } catch (error) {
    return errored(`the enhancement records could not be read: ${describeDbError(error)}`, { mode: 'deferred' });
  }
  const tickets = latestAttempts(rows);
  const completed = tickets.filter((row) => row.status === 'completed' && row.latency_s !== null);
  const newestCompleted = completed[0];
  const data: RoundTripData = {
    status: newestCompleted
      ? 'completed'
      : tickets.some((t) => t.status === 'failed')
        ? 'failed'
        : tickets[0]
          ? 'pending'
          : 'missing',
    textChars: newestCompleted?.text_chars ?? null,
    textColumnFound: newestCompleted?.text_column_found ?? false,
  };
  const evidence: Record<string, unknown> = {
    mode: 'deferred',
    windowS,
    tickets: tickets.map((t) => ({
      ticketId: t.ticket_id,
      status: t.status,
      ...(t.latency_s === null ? {} : { latencyS: Math.round(t.latency_s * 100) / 100 }),
      ageS: Math.round(t.age_s),
    })),
  };
  if (tickets.length === 0) {
    return {
      status: 'fail',
      summary: `no synthetic ticket of this tenant from the last ${windowS} s was picked up for enhancement: nothing is consuming the queue or the worker cannot write (expected once, on the first sweep after the canary was paused or deployed)`,
      evidence,
      data,
    };
  }
  const failed = tickets.find((t) => t.status === 'failed');
  if (failed) {
    return {
      status: 'fail',
      summary: `the enhancement of synthetic ticket ${failed.ticket_id} failed: ${failed.error_message ?? 'no error message'}`,
      evidence: { ...evidence, errorMessage: failed.error_message },
      data,
    };
  }
  const unfinished = tickets.filter((t) => t.status !== 'completed');
  const overdue = unfinished.find((t) => t.age_s > roundTripTimeoutS);
  if (overdue) {
    return {
      status: 'fail',
      summary: `synthetic ticket ${overdue.ticket_id} is still ${overdue.status} ${Math.round(overdue.age_s)} s after it was picked up (limit ${roundTripTimeoutS} s)`,
      evidence,
      data,
    };
  }
  const slowest = Math.max(0, ...completed.map((t) => t.latency_s ?? 0));
  const latency = Math.round(slowest * 100) / 100;
  const withLatency = { ...evidence, latencyS: latency, roundTripDegradedS, roundTripTimeoutS };
  if (slowest > roundTripTimeoutS) {
    return {
      status: 'fail',
      summary: `a synthetic ticket took ${latency} s to enhance (limit ${roundTripTimeoutS} s)`,
      evidence: withLatency,
      data,
    };
  }
  if (unfinished.length > 0) {
    const young = unfinished[0]!;
    return {
      status: 'degraded',
      summary: `synthetic ticket ${young.ticket_id} from the previous sweep was picked up only ${Math.round(young.age_s)} s ago and is still being enhanced: the queue or the workers are slow`,
      evidence: withLatency,
      data,
    };
  }
  if (slowest > roundTripDegradedS) {
    return {
      status: 'degraded',
      summary: `a synthetic ticket took ${latency} s to enhance (degraded above ${roundTripDegradedS} s)`,
      evidence: withLatency,
      data,
    };
  }
  return {
    status: 'pass',
    summary: `the previous sweep's synthetic ticket${completed.length > 1 ? 's were' : ' was'} enhanced in ${latency} s${completed.length > 1 ? ' at most' : ''}`,
    evidence: withLatency,
    data,
  };
}

export const probeQuality: TenantProbe = async (ctx) => {
  const column = ctx.config.database!.enhancementTextColumn;
  if (column === null) return skipped('database.enhancementTextColumn is null: no text to judge');
  const roundTrip = await ctx.dependency('enhancement.round_trip');
  const data = roundTrip.data as RoundTripData | undefined;
  if (data === undefined || data.status !== 'completed') {
    return skipped('the synthetic ticket has no completed enhancement to judge (see enhancement.round_trip)');
  }
  if (!data.textColumnFound) {
    return errored(`enhancement_history has no column ${column}: check database.enhancementTextColumn`);
  }
  const min = ctx.config.thresholds.enhancementMinChars;
  const chars = data.textChars ?? 0;
  const evidence = { column, chars, enhancementMinChars: min };
  if (chars < min) {
    return {
      status: 'fail',
      summary:
        chars === 0
          ? `the synthetic enhancement's ${column} is empty`
          : `the synthetic enhancement has ${chars} characters (minimum ${min})`,
      evidence,
    };
  }
  return { status: 'pass', summary: `the synthetic enhancement has ${chars} characters of text`, evidence };
};
