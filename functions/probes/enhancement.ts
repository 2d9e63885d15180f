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
import { type AcceptedTicket, sendSignedTicket } from './webhook.ts';

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

/** What polling a ticket's enhancement record ended with: its row (undefined: none yet), or the read's error. */
type Polled = { ok: true; row: RoundTripRow | undefined; polls: number } | { ok: false; error: unknown; polls: number };

/**
 * Polls the ticket's enhancement record with backoff ({@link pollDelays}) until it settles
 * (completed or failed), `deadline` (epoch ms) passes or the check's time runs out.
 */
async function pollRow(ctx: TenantProbeContext, ticketId: string, deadline: number): Promise<Polled> {
  const nextDelay = pollDelays();
  let polls = 0;
  let row: RoundTripRow | undefined;
  for (;;) {
    polls += 1;
    try {
      row = await readRow(ctx, ticketId);
    } catch (error) {
      return { ok: false, error, polls };
    }
    if (row?.status === 'completed' || row?.status === 'failed') break;
    const remaining = deadline - Date.now();
    if (!(remaining > 0) || ctx.signal.aborted) break;
    await sleep(Math.min(nextDelay(), remaining), ctx.signal);
  }
  return { ok: true, row, polls };
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
  const polled = await pollRow(ctx, ticket.ticketId, Date.parse(ticket.sentAt) + roundTripTimeoutS * 1000);
  const { polls } = polled;
  if (!polled.ok) {
    return errored(`the enhancement record could not be read: ${describeDbError(polled.error)}`, {
      ticketId: ticket.ticketId,
      polls,
    });
  }
  const { row } = polled;
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
 * `run.roundTrip: deferred`: this run's ticket is sent (webhook.signed_accepted) and judged by the
 * next run; this run judges the tickets sent by the previous one, read with one query. A failure
 * (no ticket picked up, an enhancement failed, one overdue) is confirmed within the run before it
 * is reported ({@link confirmInRun}), so one run's verdict is as good as two: the alert policy
 * counts a confirmed failure twice, and an outage fires on the first run after the ticket it did
 * not enhance.
 */
async function probeDeferredRoundTrip(ctx: TenantProbeContext): Promise<Outcome> {
  const accepted = await ctx.dependency('webhook.signed_accepted');
  const own = accepted.status === 'pass' ? (accepted.data as AcceptedTicket | undefined) : undefined;
  const current = (accepted.data as AcceptedTicket | undefined)?.ticketId ?? '';
  const database = ctx.config.database!;
  // While the tenant is failing (sampled sweeps), the sweep before this one may have sent no ticket
  // (the one that failed was judged without a new one): look back one sweep further to judge it again.
  const failing = ctx.sampling?.failing === true;
  const lookbackSweeps = failing ? 2 : 1;
  const windowS =
    deferredWindowS(ctx.config.run.sweepIntervalS, ctx.config.thresholds.roundTripTimeoutS) +
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
    // No confirmation: the canary could not read, which says nothing about the platform.
    return errored(`the enhancement records could not be read: ${describeDbError(error)}`, { mode: 'deferred' });
  }
  const judged = judgePrevious(ctx, rows, windowS);
  // A failing tenant's incident is open already: its next failure counts without waiting here
  // (during an outage every failing tenant would wait roundTripTimeoutS in every sweep).
  if (judged.confirm === undefined || failing || ctx.signal.aborted) return judged.outcome;
  // A fresh ticket only when the acceptance did not run this sweep (the plan reserved its request);
  // one that ran and did not pass (a 429, a 5xx, a timeout) is not sent again here.
  if (own === undefined && accepted.status !== 'skipped') {
    return {
      ...judged.outcome,
      evidence: {
        ...judged.outcome.evidence,
        confirmation: { sent: false, why: `webhook.signed_accepted ran this sweep and is ${accepted.status}` },
      },
    };
  }
  return confirmInRun(ctx, judged.outcome, own, judged.confirm);
}

/** Why the previous tickets failed, when a confirmation in this run can settle it. */
type Confirmable = 'nothing-to-judge' | 'failed' | 'overdue';

/** The verdict on the previous sweep's tickets, and whether a confirmation would settle it. */
function judgePrevious(
  ctx: TenantProbeContext,
  rows: readonly PreviousRow[],
  windowS: number,
): { outcome: Outcome; confirm?: Confirmable } {
  const { roundTripDegradedS, roundTripTimeoutS } = ctx.config.thresholds;
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
    const outcome: Outcome = {
      status: 'fail',
      summary: `no synthetic ticket of this tenant from the last ${windowS} s was picked up for enhancement: nothing is consuming the queue or the worker cannot write (expected once, on the first sweep after the canary was paused or deployed)`,
      evidence,
      data,
    };
    return { outcome, confirm: 'nothing-to-judge' };
  }
  // A ticket that failed or is stuck, older than a completed one, was judged by an earlier run (a
  // failing tenant looks back two sweeps): the newer one shows the platform enhancing again. So a
  // failure found intermittent by its confirmation (the newer ticket) is not judged again.
  const newestCompletedAt = tickets.findIndex((t) => t.status === 'completed');
  const judgeable = tickets.filter(
    (t, i) => t.status === 'completed' || newestCompletedAt < 0 || i < newestCompletedAt,
  );
  const failed = judgeable.find((t) => t.status === 'failed');
  if (failed) {
    const outcome: Outcome = {
      status: 'fail',
      summary: `the enhancement of synthetic ticket ${failed.ticket_id} failed: ${failed.error_message ?? 'no error message'}`,
      evidence: { ...evidence, errorMessage: failed.error_message },
      data,
    };
    return { outcome, confirm: 'failed' };
  }
  const unfinished = judgeable.filter((t) => t.status !== 'completed');
  const overdue = unfinished.find((t) => t.age_s > roundTripTimeoutS);
  if (overdue) {
    const outcome: Outcome = {
      status: 'fail',
      summary: `synthetic ticket ${overdue.ticket_id} is still ${overdue.status} ${Math.round(overdue.age_s)} s after it was picked up (limit ${roundTripTimeoutS} s)`,
      evidence,
      data,
    };
    return { outcome, confirm: 'overdue' };
  }
  const slowest = Math.max(0, ...completed.map((t) => t.latency_s ?? 0));
  const latency = Math.round(slowest * 100) / 100;
  const withLatency = { ...evidence, latencyS: latency, roundTripDegradedS, roundTripTimeoutS };
  if (slowest > roundTripTimeoutS) {
    return {
      outcome: {
        status: 'fail',
        summary: `a synthetic ticket took ${latency} s to enhance (limit ${roundTripTimeoutS} s)`,
        evidence: withLatency,
        data,
      },
    };
  }
  if (unfinished.length > 0) {
    const young = unfinished[0]!;
    return {
      outcome: {
        status: 'degraded',
        summary: `synthetic ticket ${young.ticket_id} from the previous sweep was picked up only ${Math.round(young.age_s)} s ago and is still being enhanced: the queue or the workers are slow`,
        evidence: withLatency,
        data,
      },
    };
  }
  if (slowest > roundTripDegradedS) {
    return {
      outcome: {
        status: 'degraded',
        summary: `a synthetic ticket took ${latency} s to enhance (degraded above ${roundTripDegradedS} s)`,
        evidence: withLatency,
        data,
      },
    };
  }
  return {
    outcome: {
      status: 'pass',
      summary: `the previous sweep's synthetic ticket${completed.length > 1 ? 's were' : ' was'} enhanced in ${latency} s${completed.length > 1 ? ' at most' : ''}`,
      evidence: withLatency,
      data,
    },
  };
}

/**
 * Confirms a failure of the previous tickets within this run (the "retry before alerting" of
 * synthetic monitors): this run's own accepted ticket when webhook.signed_accepted sent one (no
 * extra request), else one fresh synthetic ticket sent here, followed with backoff up to
 * roundTripTimeoutS after it was sent. Not enhanced either: `fail`, with `confirmedInRun` in its
 * evidence (the alert policy counts it as two failing runs). Enhanced: the earlier failure was
 * intermittent (`degraded`), or there was nothing to judge (`pass`); the quality check then judges
 * the confirmation's row. A confirmation that could not be sent, read or waited for in full
 * leaves the failure as it was, unconfirmed.
 */
async function confirmInRun(
  ctx: TenantProbeContext,
  judged: Outcome,
  own: AcceptedTicket | undefined,
  why: Confirmable,
): Promise<Outcome> {
  const { roundTripDegradedS, roundTripTimeoutS } = ctx.config.thresholds;
  const unconfirmed = (confirmation: Record<string, unknown>): Outcome => ({
    ...judged,
    evidence: { ...judged.evidence, confirmation },
  });
  let ticket = own;
  const sentBy = own === undefined ? 'enhancement.round_trip' : 'webhook.signed_accepted';
  if (ticket === undefined) {
    const sent = await sendSignedTicket(ctx);
    if (sent.accepted === undefined) return unconfirmed({ sentBy, accepted: false, ...sent.evidence });
    ticket = sent.accepted;
  }
  const sentAt = Number.isFinite(Date.parse(ticket.sentAt)) ? Date.parse(ticket.sentAt) : ctx.ports.now().getTime();
  const polled = await pollRow(ctx, ticket.ticketId, sentAt + roundTripTimeoutS * 1000);
  const base = { ticketId: ticket.ticketId, sentBy, polls: polled.polls };
  if (!polled.ok) return unconfirmed({ ...base, error: describeDbError(polled.error) });
  const { row } = polled;
  const waitedMs = ctx.ports.now().getTime() - sentAt;
  const waitedS = Math.round(waitedMs / 1000);
  if (row?.status === 'completed') {
    const latency = Math.round((row.latency_s ?? 0) * 100) / 100;
    const evidence = { ...judged.evidence, confirmation: { ...base, status: row.status, latencyS: latency } };
    const data: RoundTripData = {
      status: 'completed',
      textChars: row.text_chars,
      textColumnFound: row.text_column_found,
    };
    if (why === 'nothing-to-judge') {
      const slow = latency > roundTripDegradedS;
      return {
        status: slow ? 'degraded' : 'pass',
        summary: `no synthetic ticket of this tenant to judge from the previous sweep (expected on the first sweep after the canary was paused or deployed); this run's ticket ${ticket.ticketId} was enhanced in ${latency} s${slow ? ` (degraded above ${roundTripDegradedS} s)` : ''}`,
        evidence,
        data,
      };
    }
    return {
      status: 'degraded',
      summary: `${judged.summary}; but this run's ticket ${ticket.ticketId} was enhanced in ${latency} s: the failure was intermittent`,
      evidence,
      data,
    };
  }
  // The check's time ran out before the ticket's: not a full confirmation.
  if (row?.status !== 'failed' && ctx.signal.aborted && waitedMs < roundTripTimeoutS * 1000) {
    return unconfirmed({ ...base, status: row?.status ?? null, waitedS });
  }
  const status = row === undefined ? 'missing' : row.status;
  const what =
    row === undefined
      ? `was not picked up in ${waitedS} s`
      : row.status === 'failed'
        ? `failed too: ${row.error_message ?? 'no error message'}`
        : `is still ${row.status} after ${waitedS} s`;
  return {
    status: 'fail',
    summary: `${judged.summary}; confirmed in this run: synthetic ticket ${ticket.ticketId} ${what}`,
    evidence: {
      ...judged.evidence,
      confirmedInRun: {
        ...base,
        status,
        waitedS,
        ...(row?.error_message ? { errorMessage: row.error_message } : {}),
      },
    },
    data: {
      status: status === 'missing' || status === 'failed' ? status : 'pending',
      textChars: null,
      textColumnFound: false,
    },
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
