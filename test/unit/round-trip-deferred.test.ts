/**
 * enhancement.round_trip with `run.roundTrip: deferred`: one query for the previous sweep's
 * tickets, judged without waiting. The database is a fake port that returns the given rows.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config.ts';
import { Secret } from '../../functions/core/secret.ts';
import type { Outcome } from '../../functions/core/types.ts';
import type { PgPort, SqlSession } from '../../functions/ports.ts';
import {
  deferredWindowS,
  PREVIOUS_TICKETS_SQL,
  probeQuality,
  probeRoundTrip,
  ROUND_TRIP_SQL,
  type RoundTripData,
} from '../../functions/probes/enhancement.ts';
import type { TenantProbeContext } from '../../functions/probes/types.ts';

interface Row {
  ticket_id: string;
  status: string;
  latency_s: number | null;
  age_s: number;
  error_message?: string | null;
  text_chars?: number | null;
  text_column_found?: boolean;
}

const config = parseConfig({
  platform: { baseUrl: 'http://127.0.0.1:9' },
  database: { url: 'postgres://canary@127.0.0.1:9/db', probeAsRole: 'app_user' },
  tenants: [{ tenantId: 'acme-corp', signingSecret: { value: 'x' } }],
  thresholds: { roundTripDegradedS: 10, roundTripTimeoutS: 20 },
  run: { roundTrip: 'deferred', sweepIntervalS: 300 },
});

/** This run's accepted ticket: a failure of the previous ones is confirmed on it (no request sent). */
const OWN_TICKET: Outcome = { status: 'pass', summary: '', data: { ticketId: 'SYNTH-NOW' } };
/** The confirming ticket's record when the tests do not say: its enhancement failed (it settles at once). */
const CONFIRMATION_FAILED = { status: 'failed', latency_s: 1, error_message: 'LLM 503', text_chars: null };

function run(rows: Row[], accepted: Outcome = OWN_TICKET, confirmation: Partial<Row> = CONFIRMATION_FAILED) {
  const queries: { sql: string; params: readonly unknown[] | undefined }[] = [];
  const transactions: unknown[] = [];
  const session: SqlSession = {
    query: async (sql, params) => {
      queries.push({ sql, params });
      // ROUND_TRIP_SQL: the confirming ticket's record (a failure is confirmed within the run).
      const answer = sql === PREVIOUS_TICKETS_SQL ? rows : [confirmation];
      return {
        rows: answer.map((row) => ({ error_message: null, text_chars: 120, text_column_found: true, ...row })),
      } as never;
    },
  };
  const pg: PgPort = {
    statementCount: 0,
    connectionCount: 0,
    inRolledBackTransaction: async (options, work) => {
      transactions.push(options);
      return work(session);
    },
    inCommittedReadOnlyTransaction: async () => {
      throw new Error('the round trip never commits');
    },
    close: async () => {},
  };
  const ctx: TenantProbeContext = {
    config,
    ports: { http: {} as never, tls: {} as never, now: () => new Date(), uuid: () => '0', pg },
    signal: new AbortController().signal,
    tenants: [],
    tenant: { tenantId: 'acme-corp', signingSecret: new Secret('x') },
    once: (_key, work) => work(),
    dependency: async () => accepted,
  };
  return { ctx, queries, transactions };
}

describe('deferred round trip', () => {
  it('reads the previous sweep window with one query in the tenant context, leaving this run’s ticket out', async () => {
    const { ctx, queries, transactions } = run([
      { ticket_id: 'SYNTH-PREV', status: 'completed', latency_s: 3.2, age_s: 290 },
    ]);
    const outcome = await probeRoundTrip(ctx);
    expect(outcome.status).toBe('pass');
    expect(queries).toHaveLength(1);
    expect(queries[0]!.sql).toBe(PREVIOUS_TICKETS_SQL);
    expect(queries[0]!.params).toEqual(['acme-corp', 'SYNTH-%', 'SYNTH-NOW', 'llm_output', 320]);
    expect(transactions).toEqual([{ role: 'app_user', settings: { 'app.current_tenant_id': 'acme-corp' } }]);
    expect(outcome.evidence).toMatchObject({ mode: 'deferred', windowS: 320, latencyS: 3.2 });
  });

  it('the window is one interval plus at most half an interval of slack', () => {
    expect(deferredWindowS(300, 20)).toBe(320);
    expect(deferredWindowS(300, 600)).toBe(450);
  });

  it('looks back one sweep further while the tenant is failing (sampled sweeps): the failed ticket is judged again', async () => {
    const { ctx, queries } = run([{ ticket_id: 'SYNTH-PREV', status: 'completed', latency_s: 3, age_s: 590 }]);
    const outcome = await probeRoundTrip({ ...ctx, sampling: { notDue: [], failing: true } });
    expect(queries[0]!.params?.[4]).toBe(620);
    expect(outcome).toMatchObject({ status: 'pass', evidence: { windowS: 620 } });
  });

  it('still judges the previous tickets when this run’s ticket was not accepted', async () => {
    const { ctx, queries } = run([{ ticket_id: 'SYNTH-PREV', status: 'completed', latency_s: 1, age_s: 290 }], {
      status: 'fail',
      summary: 'HTTP 503',
    });
    expect((await probeRoundTrip(ctx)).status).toBe('pass');
    expect(queries[0]!.params?.[2]).toBe('');
  });

  it.each([
    ['degraded', 'HTTP 429'],
    ['fail', 'HTTP 503'],
    ['error', 'timed out'],
  ] as const)(
    'sends no fresh ticket when this run’s acceptance ran and is %s (%s): the failure stays unconfirmed',
    async (status, summary) => {
      // ports.http is a stub that throws if used: any request here would fail the test.
      const { ctx, queries } = run([{ ticket_id: 'SYNTH-PREV', status: 'pending', latency_s: null, age_s: 290 }], {
        status,
        summary,
      });
      const outcome = await probeRoundTrip(ctx);
      expect(outcome.status).toBe('fail');
      expect(outcome.evidence).not.toHaveProperty('confirmedInRun');
      expect(outcome.evidence).toMatchObject({
        confirmation: { sent: false, why: `webhook.signed_accepted ran this sweep and is ${status}` },
      });
      expect(queries).toHaveLength(1);
    },
  );

  it('fails when no ticket of the window was picked up and this run’s ticket is not enhanced either', async () => {
    const { ctx, queries } = run([]);
    const outcome = await probeRoundTrip(ctx);
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(
      /nothing is consuming the queue.*confirmed in this run: synthetic ticket SYNTH-NOW failed too: LLM 503/,
    );
    expect(outcome.evidence).toMatchObject({
      confirmedInRun: { ticketId: 'SYNTH-NOW', sentBy: 'webhook.signed_accepted', status: 'failed', polls: 1 },
    });
    expect((outcome.data as RoundTripData).status).toBe('failed');
    expect(queries.map((q) => q.sql)).toEqual([PREVIOUS_TICKETS_SQL, ROUND_TRIP_SQL]);
    expect(queries[1]!.params?.[1]).toBe('SYNTH-NOW');
  });

  it('with nothing to judge and this run’s ticket enhanced, passes and hands that row to the quality check', async () => {
    const { ctx } = run([], OWN_TICKET, { status: 'completed', latency_s: 2.5, text_chars: 300 });
    const outcome = await probeRoundTrip(ctx);
    expect(outcome.status).toBe('pass');
    expect(outcome.summary).toMatch(/^no synthetic ticket of this tenant to judge .*SYNTH-NOW was enhanced in 2.5 s$/);
    expect(outcome.evidence).not.toHaveProperty('confirmedInRun');
    expect(outcome.data).toEqual({ status: 'completed', textChars: 300, textColumnFound: true });
  });

  it('calls a failure whose confirmation was enhanced intermittent (degraded), naming both tickets', async () => {
    const { ctx } = run(
      [{ ticket_id: 'SYNTH-A', status: 'failed', latency_s: 2, age_s: 280, error_message: 'LLM 503' }],
      OWN_TICKET,
      { status: 'completed', latency_s: 1 },
    );
    const outcome = await probeRoundTrip(ctx);
    expect(outcome.status).toBe('degraded');
    expect(outcome.summary).toMatch(/SYNTH-A failed: LLM 503; but this run's ticket SYNTH-NOW was enhanced in 1 s/);
    expect(outcome.evidence).toMatchObject({ confirmation: { ticketId: 'SYNTH-NOW', status: 'completed' } });
    expect(outcome.evidence).not.toHaveProperty('confirmedInRun');
  });

  it('does not judge again a failed ticket older than a completed one (the intermittent failure a confirmation found)', async () => {
    const { ctx, queries } = run([
      { ticket_id: 'SYNTH-CONFIRM', status: 'completed', latency_s: 1, age_s: 290 },
      { ticket_id: 'SYNTH-A', status: 'failed', latency_s: 2, age_s: 590, error_message: 'LLM 503' },
    ]);
    const outcome = await probeRoundTrip({ ...ctx, sampling: { notDue: [], failing: true } });
    expect(outcome.status).toBe('pass');
    expect(queries).toHaveLength(1);
    // The other way round (the newer one failed) it fails as before.
    const newerFailed = run([
      { ticket_id: 'SYNTH-B', status: 'failed', latency_s: 2, age_s: 290, error_message: 'LLM 503' },
      { ticket_id: 'SYNTH-A', status: 'completed', latency_s: 1, age_s: 590 },
    ]);
    const failed = await probeRoundTrip({ ...newerFailed.ctx, sampling: { notDue: [], failing: true } });
    expect(failed.status).toBe('fail');
    expect(failed.summary).toMatch(/SYNTH-B failed: LLM 503/);
  });

  it('does not confirm for a tenant already failing (its incident is open): one query, no wait', async () => {
    const { ctx, queries } = run([]);
    const outcome = await probeRoundTrip({ ...ctx, sampling: { notDue: [], failing: true } });
    expect(outcome.status).toBe('fail');
    expect(outcome.evidence).not.toHaveProperty('confirmedInRun');
    expect((outcome.data as RoundTripData).status).toBe('missing');
    expect(queries).toHaveLength(1);
  });

  it('fails on a failed enhancement, unless a retry of the same ticket completed', async () => {
    const failed = await probeRoundTrip(
      run([{ ticket_id: 'SYNTH-A', status: 'failed', latency_s: 2, age_s: 280, error_message: 'LLM 503' }]).ctx,
    );
    expect(failed.status).toBe('fail');
    expect(failed.summary).toMatch(/LLM 503/);
    const retried = await probeRoundTrip(
      run([
        { ticket_id: 'SYNTH-A', status: 'completed', latency_s: 2, age_s: 270 },
        { ticket_id: 'SYNTH-A', status: 'failed', latency_s: 2, age_s: 280 },
      ]).ctx,
    );
    expect(retried.status).toBe('pass');
  });

  it('fails on a ticket still pending past the timeout; a late pick-up is degraded', async () => {
    const overdue = await probeRoundTrip(
      run([{ ticket_id: 'SYNTH-A', status: 'pending', latency_s: null, age_s: 250 }]).ctx,
    );
    expect(overdue.status).toBe('fail');
    expect(overdue.summary).toMatch(/still pending 250 s/);
    const late = await probeRoundTrip(
      run([{ ticket_id: 'SYNTH-A', status: 'pending', latency_s: null, age_s: 5 }]).ctx,
    );
    expect(late.status).toBe('degraded');
  });

  it('judges the slowest completed ticket against the thresholds', async () => {
    const slow = await probeRoundTrip(
      run([{ ticket_id: 'SYNTH-A', status: 'completed', latency_s: 12, age_s: 280 }]).ctx,
    );
    expect(slow.status).toBe('degraded');
    const tooSlow = await probeRoundTrip(
      run([{ ticket_id: 'SYNTH-A', status: 'completed', latency_s: 25, age_s: 280 }]).ctx,
    );
    expect(tooSlow.status).toBe('fail');
  });

  it('hands the newest completed enhancement to the quality check', async () => {
    const { ctx } = run([
      { ticket_id: 'SYNTH-B', status: 'completed', latency_s: 1, age_s: 100, text_chars: 0 },
      { ticket_id: 'SYNTH-A', status: 'completed', latency_s: 1, age_s: 280, text_chars: 300 },
    ]);
    const roundTrip = await probeRoundTrip(ctx);
    expect(roundTrip.data).toEqual({ status: 'completed', textChars: 0, textColumnFound: true });
    const quality = await probeQuality({ ...ctx, dependency: async () => roundTrip });
    expect(quality.status).toBe('fail');
  });
});

describe('run.roundTrip config', () => {
  it('defaults to wait with a 300 s interval, and rejects other modes', () => {
    const base = {
      platform: { baseUrl: 'http://x.test' },
      tenants: [{ tenantId: 'a', signingSecret: { value: 'x' } }],
    };
    expect(parseConfig(base).run).toEqual({ tenantConcurrency: 10, roundTrip: 'wait', sweepIntervalS: 300 });
    expect(parseConfig({ ...base, run: { tenantConcurrency: 5 } }).run.roundTrip).toBe('wait');
    expect(() => parseConfig({ ...base, run: { roundTrip: 'later' } })).toThrow(
      /run.roundTrip must be "wait" or "deferred"/,
    );
  });
});
