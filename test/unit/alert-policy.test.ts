/**
 * The alert policy as scripted series, like Prometheus rule tests: each step is one run (its
 * time and results), and the messages it produces are compared exactly.
 */
import { describe, expect, it } from 'vitest';
import {
  type AlertMessage,
  type AlertPolicyOptions,
  type AlertStateMap,
  alertKeysToLoad,
  alertPolicyOptions,
  claimAlerts,
  DEFAULT_ALERT_POLICY,
  evaluateAlertPolicy,
  isOpenIncident,
  settleAlerts,
} from '../../functions/core/alert-policy.ts';
import { parseConfig } from '../../functions/core/config.ts';
import type { CheckResult, CheckStatus, Tier } from '../../functions/core/types.ts';

const T0 = Date.parse('2026-11-27T10:00:00Z');
const at = (minute: number) => new Date(T0 + minute * 60_000);
const iso = (minute: number) => at(minute).toISOString();

function result(checkId: string, tenantId: string | null, status: CheckStatus, tier: Tier | null = null): CheckResult {
  const failing = status === 'fail' || status === 'degraded' || status === 'error';
  return {
    checkId,
    tenantId,
    status,
    tier: failing ? (tier ?? 'P2') : null,
    summary: `${checkId} ${status} for ${tenantId ?? 'platform'}`,
    durationMs: 3,
    evidence: { status },
    runbook: 'Issue 4: Data Isolation Concern (Security)',
  };
}

interface Step {
  minute: number;
  results: CheckResult[];
  tenants?: string[];
  /** Expected messages, as `state tier dedupKey`. */
  expect: string[];
  /** Do not settle this run's messages (a failed publish): they must be offered again. */
  undelivered?: boolean;
}

interface SeriesOptions {
  options?: AlertPolicyOptions;
  /** Serialise the state to JSON and parse it back before these steps (a restart). */
  restartBefore?: number[];
  initial?: AlertStateMap;
}

const line = (m: AlertMessage) => `${m.state} ${m.tier} ${m.dedupKey}`;

/** The records a run would write: those that differ from what was loaded. */
function changed(next: AlertStateMap, previous: AlertStateMap): AlertStateMap {
  return Object.fromEntries(
    Object.entries(next).filter(([key, record]) => JSON.stringify(record) !== JSON.stringify(previous[key])),
  );
}

/**
 * The alert path loads only the keys of failing results and the open incidents, not every key
 * the results touch: the policy must send the same messages and write the same records from that.
 */
function expectSameFromOpenAndFailingKeys(
  previous: AlertStateMap,
  input: Omit<Parameters<typeof evaluateAlertPolicy>[0], 'previous'>,
  full: ReturnType<typeof evaluateAlertPolicy>,
  label: string,
) {
  const keys = new Set([
    ...alertKeysToLoad(input.results),
    ...Object.values(previous)
      .filter(isOpenIncident)
      .map((record) => record.dedupKey),
  ]);
  const loaded = Object.fromEntries(Object.entries(previous).filter(([key]) => keys.has(key)));
  const pruned = evaluateAlertPolicy({ ...input, previous: loaded });
  expect(pruned.messages, `${label}: messages from failing and open keys`).toEqual(full.messages);
  expect(changed(pruned.state, loaded), `${label}: writes from failing and open keys`).toEqual(
    changed(full.state, previous),
  );
}

/**
 * Runs the steps; returns every message and the final state. Assertions per step inside, among
 * them that loading only failing and open keys decides the same as loading every key.
 */
function series(steps: Step[], opts: SeriesOptions = {}) {
  let state: AlertStateMap = opts.initial ?? {};
  const all: AlertMessage[][] = [];
  steps.forEach((step, index) => {
    if (opts.restartBefore?.includes(index)) state = JSON.parse(JSON.stringify(state)) as AlertStateMap;
    const input = {
      results: step.results,
      tenants: step.tenants ?? [],
      now: at(step.minute),
      options: opts.options ?? DEFAULT_ALERT_POLICY,
    };
    const out = evaluateAlertPolicy({ ...input, previous: state });
    expect(out.messages.map(line), `run ${index} at minute ${step.minute}`).toEqual(step.expect);
    expectSameFromOpenAndFailingKeys(state, input, out, `run ${index} at minute ${step.minute}`);
    state = out.state;
    if (!step.undelivered) {
      const ids = new Set(out.messages.map((m) => m.id));
      state = Object.fromEntries(
        Object.entries(state).map(([key, record]) => [key, settleAlerts(record, ids, new Set())]),
      );
    }
    all.push(out.messages);
  });
  return { messages: all, state };
}

const fail = (checkId: string, tenant: string | null, tier: Tier) => result(checkId, tenant, 'fail', tier);
const pass = (checkId: string, tenant: string | null) => result(checkId, tenant, 'pass');

describe('alert policy: thresholds, reminders and recovery', () => {
  it('fires a P0 on the first failing run, once per incident, reminds every 15 min and resolves after two passes', () => {
    const read = (status: 'fail' | 'pass') =>
      status === 'fail' ? [fail('rls.cross_tenant_read', 'acme', 'P0')] : [pass('rls.cross_tenant_read', 'acme')];
    const { messages } = series([
      { minute: 0, results: read('fail'), expect: ['firing P0 rls.cross_tenant_read:acme'] },
      { minute: 5, results: read('fail'), expect: [] },
      { minute: 10, results: read('fail'), expect: [] },
      { minute: 15, results: read('fail'), expect: ['reminder P0 rls.cross_tenant_read:acme'] },
      { minute: 20, results: read('fail'), expect: [] },
      { minute: 25, results: read('pass'), expect: [] },
      { minute: 30, results: read('pass'), expect: ['resolved P0 rls.cross_tenant_read:acme'] },
      { minute: 35, results: read('pass'), expect: [] },
    ]);
    const firing = messages[0]?.[0];
    expect(firing).toMatchObject({
      tenantId: 'acme',
      checkId: 'rls.cross_tenant_read',
      kind: 'check',
      firstFailedAt: iso(0),
      summary: 'rls.cross_tenant_read fail for acme',
      evidence: { status: 'fail' },
      runbook: 'Issue 4: Data Isolation Concern (Security)',
      firstStep: 'Scale workers to zero, then review the policies of the table named in the evidence.',
    });
    expect(messages[6]?.[0]?.firstFailedAt).toBe(iso(0));
  });

  it('does not slip a reminder a whole cycle when a run starts a few seconds early', () => {
    const f = [fail('rls.cross_tenant_read', 'acme', 'P0')];
    series([
      { minute: 0, results: f, expect: ['firing P0 rls.cross_tenant_read:acme'] },
      { minute: 10, results: f, expect: [] },
      { minute: 14.9, results: f, expect: ['reminder P0 rls.cross_tenant_read:acme'] },
      { minute: 20, results: f, expect: [] },
      { minute: 29.9, results: f, expect: ['reminder P0 rls.cross_tenant_read:acme'] },
    ]);
  });

  it('fires P1 to P3 on the second consecutive failing run', () => {
    for (const [checkId, tier] of [
      ['webhook.signed_accepted', 'P1'],
      ['tenant.success_rate', 'P2'],
      ['tenant.history_volume', 'P3'],
    ] as const) {
      series([
        { minute: 0, results: [fail(checkId, 'acme', tier)], expect: [] },
        { minute: 5, results: [fail(checkId, 'acme', tier)], expect: [`firing ${tier} ${checkId}:acme`] },
      ]);
    }
  });

  it('never fires a P1–P3 that flaps fail, pass, fail, pass', () => {
    for (const [checkId, tier] of [
      ['webhook.signed_accepted', 'P1'],
      ['tenant.success_rate', 'P2'],
      ['tenant.history_volume', 'P3'],
    ] as const) {
      const steps: Step[] = [];
      for (let run = 0; run < 12; run++) {
        steps.push({
          minute: run * 5,
          results: [run % 2 === 0 ? fail(checkId, 'acme', tier) : pass(checkId, 'acme')],
          expect: [],
        });
      }
      series(steps);
    }
  });

  it('does not resolve on one passing run between failures', () => {
    const f = [fail('webhook.signed_accepted', 'acme', 'P1')];
    const p = [pass('webhook.signed_accepted', 'acme')];
    series([
      { minute: 0, results: f, expect: [] },
      { minute: 5, results: f, expect: ['firing P1 webhook.signed_accepted:acme'] },
      { minute: 10, results: p, expect: [] },
      { minute: 15, results: f, expect: [] },
      { minute: 20, results: p, expect: [] },
      { minute: 25, results: f, expect: [] },
      { minute: 30, results: p, expect: [] },
      { minute: 35, results: p, expect: ['resolved P1 webhook.signed_accepted:acme'] },
    ]);
  });

  it('reminds a P1 every 30 min and a P3 never', () => {
    const steps = (checkId: string, tier: Tier, reminders: number[]): Step[] =>
      Array.from({ length: 14 }, (_, run) => ({
        minute: run * 5,
        results: [fail(checkId, 'acme', tier)],
        expect:
          run === 1
            ? [`firing ${tier} ${checkId}:acme`]
            : reminders.includes(run * 5)
              ? [`reminder ${tier} ${checkId}:acme`]
              : [],
      }));
    series(steps('webhook.signed_accepted', 'P1', [35, 65]));
    series(steps('tenant.history_volume', 'P3', []));
  });

  it('counts degraded as a P2 failure and leaves state alone on skipped', () => {
    const latency = (status: CheckStatus) => [result('tenant.latency', 'acme', status, 'P2')];
    const { state } = series([
      { minute: 0, results: latency('degraded'), expect: [] },
      { minute: 5, results: latency('skipped'), expect: [] },
      { minute: 10, results: latency('degraded'), expect: ['firing P2 tenant.latency:acme'] },
      { minute: 15, results: latency('pass'), expect: [] },
      { minute: 20, results: latency('skipped'), expect: [] },
      { minute: 25, results: latency('pass'), expect: ['resolved P2 tenant.latency:acme'] },
    ]);
    expect(state['tenant.latency:acme']?.phase).toBe('ok');
  });

  it('keeps the worst tier seen while pending (a P2 then a P1 failure fires P1)', () => {
    series([
      { minute: 0, results: [fail('tenant.success_rate', 'acme', 'P2')], expect: [] },
      {
        minute: 5,
        results: [fail('tenant.success_rate', 'acme', 'P1')],
        expect: ['firing P1 tenant.success_rate:acme'],
      },
    ]);
  });

  it('applies configured thresholds', () => {
    const options: AlertPolicyOptions = {
      ...DEFAULT_ALERT_POLICY,
      fireAfterRuns: { P0: 2, P1: 3, P2: 3, P3: 3 },
      resolveAfterRuns: 1,
      reminderMinutes: { P0: null, P1: null, P2: null, P3: null },
    };
    const f = [fail('rls.cross_tenant_read', 'acme', 'P0')];
    series(
      [
        { minute: 0, results: f, expect: [] },
        { minute: 5, results: f, expect: ['firing P0 rls.cross_tenant_read:acme'] },
        { minute: 20, results: f, expect: [] },
        {
          minute: 25,
          results: [pass('rls.cross_tenant_read', 'acme')],
          expect: ['resolved P0 rls.cross_tenant_read:acme'],
        },
      ],
      { options },
    );
  });
});

describe('alert policy: escalation by duration', () => {
  it('re-sends a P2 failing for 60 min as P1, then resolves on both topics', () => {
    const f = [fail('tenant.success_rate', 'acme', 'P2')];
    const steps: Step[] = [];
    for (let minute = 0; minute <= 95; minute += 5) {
      const expected =
        minute === 5
          ? ['firing P2 tenant.success_rate:acme']
          : minute === 60
            ? ['firing P1 tenant.success_rate:acme']
            : minute === 90
              ? ['reminder P1 tenant.success_rate:acme']
              : [];
      steps.push({ minute, results: f, expect: expected });
    }
    const p = [pass('tenant.success_rate', 'acme')];
    steps.push({ minute: 100, results: p, expect: [] });
    steps.push({
      minute: 105,
      results: p,
      expect: ['resolved P1 tenant.success_rate:acme', 'resolved P2 tenant.success_rate:acme'],
    });
    const { messages } = series(steps);
    const escalated = messages[12]?.[0];
    expect(escalated).toMatchObject({ state: 'firing', tier: 'P1', escalatedFrom: 'P2', firstFailedAt: iso(0) });
    expect(escalated?.note).toBe('escalated from P2: failing for 60 min');
  });

  it('raises a firing incident at once when its check starts failing at a worse tier', () => {
    series([
      { minute: 0, results: [fail('tenant.success_rate', 'acme', 'P2')], expect: [] },
      {
        minute: 5,
        results: [fail('tenant.success_rate', 'acme', 'P2')],
        expect: ['firing P2 tenant.success_rate:acme'],
      },
      {
        minute: 10,
        results: [fail('tenant.success_rate', 'acme', 'P1')],
        expect: ['firing P1 tenant.success_rate:acme'],
      },
      { minute: 15, results: [fail('tenant.success_rate', 'acme', 'P2')], expect: [] },
    ]);
  });
});

describe('alert policy: canary errors', () => {
  it('alerts errors once per check on canary:<checkId> at P2, never as the check failing', () => {
    const errors = ['acme', 'globex', 'initech'].map((t) => result('webhook.bad_signature_rejected', t, 'error', 'P2'));
    const { messages, state } = series([
      { minute: 0, results: errors, expect: [] },
      { minute: 5, results: errors, expect: ['firing P2 canary:webhook.bad_signature_rejected'] },
      { minute: 10, results: errors.map((r) => ({ ...r, status: 'pass' as const, tier: null })), expect: [] },
      {
        minute: 15,
        results: errors.map((r) => ({ ...r, status: 'pass' as const, tier: null })),
        expect: ['resolved P2 canary:webhook.bad_signature_rejected'],
      },
    ]);
    expect(messages[1]?.[0]).toMatchObject({
      tenantId: null,
      kind: 'canary',
      evidence: { targets: ['acme', 'globex', 'initech'] },
    });
    expect(Object.keys(state).filter((key) => key.startsWith('webhook.'))).toEqual([]);
  });

  it('neither fires nor resolves the check itself while the canary cannot decide', () => {
    const f = [fail('rls.cross_tenant_read', 'acme', 'P0')];
    const e = [result('rls.cross_tenant_read', 'acme', 'error', 'P2')];
    series([
      { minute: 0, results: f, expect: ['firing P0 rls.cross_tenant_read:acme'] },
      { minute: 5, results: e, expect: [] },
      { minute: 10, results: e, expect: ['firing P2 canary:rls.cross_tenant_read'] },
      { minute: 15, results: e, expect: [] },
      { minute: 20, results: f, expect: ['reminder P0 rls.cross_tenant_read:acme'] },
    ]);
  });
});

describe('alert policy: escalation by breadth', () => {
  const six = ['t1', 't2', 't3', 't4', 't5', 't6'];
  const run = (failing: string[], checkId = 'webhook.signed_accepted', tier: Tier = 'P1') =>
    six.map((t) => (failing.includes(t) ? fail(checkId, t, tier) : pass(checkId, t)));

  it('sends one platform-wide incident one tier up instead of one per tenant, and one resolution', () => {
    const { messages } = series([
      { minute: 0, tenants: six, results: run(['t1', 't2', 't3', 't4']), expect: [] },
      {
        minute: 5,
        tenants: six,
        results: run(['t1', 't2', 't3', 't4']),
        expect: ['firing P0 webhook.signed_accepted:*'],
      },
      { minute: 10, tenants: six, results: run(['t1', 't2', 't3', 't4', 't5']), expect: [] },
      { minute: 15, tenants: six, results: run([]), expect: [] },
      { minute: 20, tenants: six, results: run([]), expect: ['resolved P0 webhook.signed_accepted:*'] },
    ]);
    expect(messages[1]?.[0]).toMatchObject({
      tenantId: null,
      kind: 'breadth',
      evidence: { tenants: ['t1', 't2', 't3', 't4'], failingTenants: 4, tenantsInRun: 6, tenantTier: 'P1' },
    });
  });

  it('alerts tenants one by one below 3 tenants or below half of the run', () => {
    series([
      { minute: 0, tenants: six, results: run(['t1', 't2']), expect: [] },
      {
        minute: 5,
        tenants: six,
        results: run(['t1', 't2']),
        expect: ['firing P1 webhook.signed_accepted:t1', 'firing P1 webhook.signed_accepted:t2'],
      },
    ]);
    const seven = [...six, 't7'];
    const results = [...run(['t1', 't2', 't3']), pass('webhook.signed_accepted', 't7')];
    series([
      { minute: 0, tenants: seven, results, expect: [] },
      {
        minute: 5,
        tenants: seven,
        results,
        expect: [
          'firing P1 webhook.signed_accepted:t1',
          'firing P1 webhook.signed_accepted:t2',
          'firing P1 webhook.signed_accepted:t3',
        ],
      },
    ]);
  });

  it('keeps P0 at P0 and quality (P3) at P3', () => {
    series([
      {
        minute: 0,
        tenants: six,
        results: run(six, 'rls.cross_tenant_read', 'P0'),
        expect: ['firing P0 rls.cross_tenant_read:*'],
      },
    ]);
    series([
      { minute: 0, tenants: six, results: run(six, 'tenant.history_volume', 'P3'), expect: [] },
      {
        minute: 5,
        tenants: six,
        results: run(six, 'tenant.history_volume', 'P3'),
        expect: ['firing P3 tenant.history_volume:*'],
      },
    ]);
  });

  it('hands still-failing tenants back to their own incidents when the platform-wide one resolves', () => {
    series([
      { minute: 0, tenants: six, results: run(['t1', 't2', 't3', 't4']), expect: [] },
      {
        minute: 5,
        tenants: six,
        results: run(['t1', 't2', 't3', 't4']),
        expect: ['firing P0 webhook.signed_accepted:*'],
      },
      { minute: 10, tenants: six, results: run(['t1', 't2']), expect: [] },
      {
        minute: 15,
        tenants: six,
        results: run(['t1', 't2']),
        expect: [
          'resolved P0 webhook.signed_accepted:*',
          'firing P1 webhook.signed_accepted:t1',
          'firing P1 webhook.signed_accepted:t2',
        ],
      },
      { minute: 20, tenants: six, results: run([]), expect: [] },
      {
        minute: 25,
        tenants: six,
        results: run([]),
        expect: ['resolved P1 webhook.signed_accepted:t1', 'resolved P1 webhook.signed_accepted:t2'],
      },
    ]);
  });

  it('a one-tenant run neither starts nor ends the platform-wide incident, and stays quiet under it', () => {
    const { state } = series([
      { minute: 0, tenants: six, results: run(six), expect: [] },
      { minute: 5, tenants: six, results: run(six), expect: ['firing P0 webhook.signed_accepted:*'] },
      { minute: 7, tenants: ['t1'], results: [pass('webhook.signed_accepted', 't1')], expect: [] },
      { minute: 8, tenants: ['t1'], results: [pass('webhook.signed_accepted', 't1')], expect: [] },
      { minute: 9, tenants: ['t2'], results: [fail('webhook.signed_accepted', 't2', 'P1')], expect: [] },
    ]);
    expect(state['webhook.signed_accepted:*']?.phase).toBe('firing');
  });
});

describe('alert policy: maintenance windows', () => {
  const window = (start: number, end: number, tenants?: string[]) => ({
    start: iso(start),
    end: iso(end),
    ...(tenants ? { tenants } : {}),
  });

  it('holds alerts in a global window and fires an incident still failing when it ends', () => {
    const options = { ...DEFAULT_ALERT_POLICY, maintenance: [window(0, 30)] };
    const f = [fail('rls.cross_tenant_read', 'acme', 'P0')];
    const blip = [fail('webhook.signed_accepted', 'globex', 'P1')];
    const { messages } = series(
      [
        { minute: 5, results: [...f, ...blip], expect: [] },
        { minute: 10, results: [...f, ...blip], expect: [] },
        { minute: 15, results: [...f, pass('webhook.signed_accepted', 'globex')], expect: [] },
        { minute: 25, results: [...f, pass('webhook.signed_accepted', 'globex')], expect: [] },
        {
          minute: 30,
          results: [...f, pass('webhook.signed_accepted', 'globex')],
          expect: ['firing P0 rls.cross_tenant_read:acme'],
        },
      ],
      { options },
    );
    expect(messages[4]?.[0]?.firstFailedAt).toBe(iso(5));
  });

  it('sends the resolution of an incident that recovered during a window when the window ends', () => {
    const options = { ...DEFAULT_ALERT_POLICY, maintenance: [window(10, 30)] };
    const f = [fail('rls.cross_tenant_read', 'acme', 'P0')];
    const p = [pass('rls.cross_tenant_read', 'acme')];
    series(
      [
        { minute: 0, results: f, expect: ['firing P0 rls.cross_tenant_read:acme'] },
        { minute: 10, results: p, expect: [] },
        { minute: 15, results: p, expect: [] },
        { minute: 20, results: p, expect: [] },
        { minute: 30, results: p, expect: ['resolved P0 rls.cross_tenant_read:acme'] },
        { minute: 35, results: p, expect: [] },
      ],
      { options },
    );
  });

  it('keeps an incident open through a window in which it recovers and fails again', () => {
    const options = { ...DEFAULT_ALERT_POLICY, maintenance: [window(10, 30)] };
    const f = [fail('rls.cross_tenant_read', 'acme', 'P0')];
    const p = [pass('rls.cross_tenant_read', 'acme')];
    series(
      [
        { minute: 0, results: f, expect: ['firing P0 rls.cross_tenant_read:acme'] },
        { minute: 10, results: p, expect: [] },
        { minute: 15, results: p, expect: [] },
        { minute: 20, results: f, expect: [] },
        { minute: 30, results: f, expect: ['reminder P0 rls.cross_tenant_read:acme'] },
      ],
      { options },
    );
  });

  it('holds only the named tenants in a tenant window, and leaves them out of breadth', () => {
    const six = ['t1', 't2', 't3', 't4', 't5', 't6'];
    const options = { ...DEFAULT_ALERT_POLICY, maintenance: [window(0, 60, ['t1', 't2', 't3'])] };
    const results = six.map((t) =>
      ['t1', 't2', 't3', 't4'].includes(t)
        ? fail('webhook.signed_accepted', t, 'P1')
        : pass('webhook.signed_accepted', t),
    );
    // 4 of 6 fail, but 3 are in maintenance: 1 of 3 remaining tenants is no platform-wide incident.
    series(
      [
        { minute: 0, tenants: six, results, expect: [] },
        { minute: 5, tenants: six, results, expect: ['firing P1 webhook.signed_accepted:t4'] },
        // The window is over: 4 of 6 now; the platform-wide incident takes over (P1 tenants: second run).
        { minute: 60, tenants: six, results, expect: [] },
        { minute: 65, tenants: six, results, expect: ['firing P0 webhook.signed_accepted:*'] },
      ],
      { options },
    );
  });
});

describe('alert policy: outbox, claims and restarts', () => {
  const f = [fail('webhook.signed_accepted', 'acme', 'P1')];
  const p = [pass('webhook.signed_accepted', 'acme')];

  it('offers an undelivered message again next run, with the same id, until it is delivered', () => {
    const { messages } = series([
      { minute: 0, results: f, expect: [] },
      { minute: 5, results: f, expect: ['firing P1 webhook.signed_accepted:acme'], undelivered: true },
      { minute: 10, results: f, expect: ['firing P1 webhook.signed_accepted:acme'], undelivered: true },
      { minute: 15, results: f, expect: ['firing P1 webhook.signed_accepted:acme'] },
      { minute: 20, results: f, expect: [] },
    ]);
    expect(messages[2]?.[0]?.id).toBe(messages[1]?.[0]?.id);
    expect(messages[3]?.[0]?.id).toBe(messages[1]?.[0]?.id);
  });

  it('keeps an undelivered resolution even when the check fails again', () => {
    series([
      { minute: 0, results: f, expect: [] },
      { minute: 5, results: f, expect: ['firing P1 webhook.signed_accepted:acme'] },
      { minute: 10, results: p, expect: [] },
      { minute: 15, results: p, expect: ['resolved P1 webhook.signed_accepted:acme'], undelivered: true },
      { minute: 20, results: f, expect: ['resolved P1 webhook.signed_accepted:acme'] },
      { minute: 25, results: f, expect: ['firing P1 webhook.signed_accepted:acme'] },
    ]);
  });

  it('gives the same messages across a restart (state serialised and reloaded) as without one', () => {
    const six = ['t1', 't2', 't3', 't4', 't5', 't6'];
    const steps: Step[] = [
      {
        minute: 0,
        tenants: six,
        results: [fail('rls.cross_tenant_read', 't1', 'P0'), ...f],
        expect: ['firing P0 rls.cross_tenant_read:t1'],
      },
      {
        minute: 5,
        results: [fail('rls.cross_tenant_read', 't1', 'P0'), ...f],
        expect: ['firing P1 webhook.signed_accepted:acme'],
      },
      {
        minute: 15,
        results: [fail('rls.cross_tenant_read', 't1', 'P0'), ...p],
        expect: ['reminder P0 rls.cross_tenant_read:t1'],
        undelivered: true,
      },
      {
        minute: 20,
        results: [pass('rls.cross_tenant_read', 't1'), ...p],
        expect: ['reminder P0 rls.cross_tenant_read:t1', 'resolved P1 webhook.signed_accepted:acme'],
        undelivered: true,
      },
      {
        minute: 25,
        results: [pass('rls.cross_tenant_read', 't1'), ...p],
        expect: ['resolved P0 rls.cross_tenant_read:t1', 'resolved P1 webhook.signed_accepted:acme'],
      },
      { minute: 30, results: [pass('rls.cross_tenant_read', 't1'), ...p], expect: [] },
    ];
    const straight = series(steps);
    for (let restart = 1; restart < steps.length; restart++) {
      const restarted = series(steps, { restartBefore: [restart] });
      expect(restarted.messages).toEqual(straight.messages);
      expect(restarted.state).toEqual(straight.state);
    }
    const everyRun = series(steps, { restartBefore: steps.map((_, i) => i) });
    expect(everyRun.messages).toEqual(straight.messages);
  });

  it('does not offer a message another run has claimed until the claim expires', () => {
    const first = evaluateAlertPolicy({
      previous: {},
      results: [fail('rls.cross_tenant_read', 'acme', 'P0')],
      tenants: [],
      now: at(0),
      options: DEFAULT_ALERT_POLICY,
    });
    const key = 'rls.cross_tenant_read:acme';
    const message = first.messages[0];
    expect(message).toBeDefined();
    const claimed = { [key]: claimAlerts(first.state[key]!, new Set([message!.id]), at(2)) };
    const during = evaluateAlertPolicy({
      previous: claimed,
      results: [],
      tenants: [],
      now: at(1),
      options: DEFAULT_ALERT_POLICY,
    });
    expect(during.messages).toEqual([]);
    const after = evaluateAlertPolicy({
      previous: claimed,
      results: [],
      tenants: [],
      now: at(2),
      options: DEFAULT_ALERT_POLICY,
    });
    expect(after.messages.map((m) => m.id)).toEqual([message!.id]);
  });

  it('leaves a record untouched (same object) when a run changes nothing, so nothing is written', () => {
    const { state } = series([
      { minute: 0, results: f, expect: [] },
      { minute: 5, results: f, expect: ['firing P1 webhook.signed_accepted:acme'] },
    ]);
    const next = evaluateAlertPolicy({
      previous: state,
      results: f,
      tenants: [],
      now: at(10),
      options: DEFAULT_ALERT_POLICY,
    });
    expect(next.state['webhook.signed_accepted:acme']).toBe(state['webhook.signed_accepted:acme']);
    const healthy = evaluateAlertPolicy({
      previous: {},
      results: p,
      tenants: [],
      now: at(10),
      options: DEFAULT_ALERT_POLICY,
    });
    expect(healthy.state).toEqual({});
  });
});

describe('alert policy options from config', () => {
  it('maps the alerts section, defaults included', () => {
    const config = parseConfig({
      platform: { baseUrl: 'https://api.example.com' },
      tenants: [{ tenantId: 'acme', signingSecret: { value: 'x' } }],
      alerts: {
        fireAfterRuns: { P1: 3 },
        reminderMinutes: { P2: null },
        maintenance: [{ start: '2026-11-27T22:00:00Z', end: '2026-11-27T23:00:00Z', tenants: ['acme'] }],
      },
    });
    expect(alertPolicyOptions(config)).toEqual({
      ...DEFAULT_ALERT_POLICY,
      fireAfterRuns: { P0: 1, P1: 3, P2: 2, P3: 2 },
      reminderMinutes: { P0: 15, P1: 30, P2: null, P3: null },
      maintenance: [{ start: '2026-11-27T22:00:00Z', end: '2026-11-27T23:00:00Z', tenants: ['acme'] }],
    });
    const defaults = parseConfig({
      platform: { baseUrl: 'https://api.example.com' },
      tenants: [{ tenantId: 'acme', signingSecret: { value: 'x' } }],
    });
    expect(alertPolicyOptions(defaults)).toEqual(DEFAULT_ALERT_POLICY);
  });
});

describe('ordered runs (sweeps judged again, or late)', () => {
  const failing = [result('webhook.signed_accepted', 'acme-corp', 'fail', 'P1')];
  const passing = [result('webhook.signed_accepted', 'acme-corp', 'pass')];
  const judge = (previous: AlertStateMap, sweepId: string, results: CheckResult[], minute: number) =>
    evaluateAlertPolicy({
      previous,
      results,
      tenants: ['acme-corp'],
      now: at(minute),
      options: DEFAULT_ALERT_POLICY,
      sweepId,
    });

  it('counts a sweep once however often it is judged: a P1 does not fire on one failing sweep judged twice', () => {
    const once = judge({}, 'sweep-2026-11-27T10:00:00.000Z', failing, 1);
    expect(once.state['webhook.signed_accepted:acme-corp']).toMatchObject({ consecutiveFails: 1, phase: 'pending' });
    const again = judge(once.state, 'sweep-2026-11-27T10:00:00.000Z', failing, 3);
    expect(again.state['webhook.signed_accepted:acme-corp']).toBe(once.state['webhook.signed_accepted:acme-corp']);
    expect(again.messages).toEqual([]);
    // The next sweep is a second run: it fires.
    const next = judge(again.state, 'sweep-2026-11-27T10:05:00.000Z', failing, 6);
    expect(next.messages.map(line)).toEqual(['firing P1 webhook.signed_accepted:acme-corp']);
  });

  it('never lets a late, older sweep undo what a newer one decided', () => {
    const newer = judge({}, 'sweep-2026-11-27T10:05:00.000Z', failing, 6);
    const late = judge(newer.state, 'sweep-2026-11-27T10:00:00.000Z', passing, 7);
    expect(late.state['webhook.signed_accepted:acme-corp']).toMatchObject({ consecutiveFails: 1, phase: 'pending' });
    // Without run ids (CLI runs) every run counts, as before.
    const unordered = evaluateAlertPolicy({
      previous: newer.state,
      results: passing,
      tenants: ['acme-corp'],
      now: at(7),
      options: DEFAULT_ALERT_POLICY,
    });
    expect(unordered.state['webhook.signed_accepted:acme-corp']?.phase).toBe('ok');
  });
});

describe('alert policy: failures confirmed within their run (results.ts isConfirmedInRun)', () => {
  /** A round-trip failure whose probe confirmed it with a second ticket in the same run. */
  const confirmed = (tenant: string) => {
    const failed = fail('enhancement.round_trip', tenant, 'P1');
    return { ...failed, evidence: { ...failed.evidence, confirmedInRun: { ticketId: 'SYNTH-2', status: 'missing' } } };
  };
  const withFireAfter = (runs: number): AlertPolicyOptions => ({
    ...DEFAULT_ALERT_POLICY,
    fireAfterRuns: { ...DEFAULT_ALERT_POLICY.fireAfterRuns, P1: runs },
  });

  it('counts a confirmed failure as two failing runs: with fireAfterRuns 2 a P1 fires at once', () => {
    const { messages } = series([
      { minute: 0, results: [confirmed('acme')], expect: ['firing P1 enhancement.round_trip:acme'] },
      { minute: 5, results: [confirmed('acme')], expect: [] },
    ]);
    expect(messages[0]?.[0]).toMatchObject({
      firstFailedAt: iso(0),
      evidence: { confirmedInRun: { ticketId: 'SYNTH-2' } },
    });
    // Without the confirmation the same failure waits for a second run.
    series([
      { minute: 0, results: [fail('enhancement.round_trip', 'acme', 'P1')], expect: [] },
      {
        minute: 5,
        results: [fail('enhancement.round_trip', 'acme', 'P1')],
        expect: ['firing P1 enhancement.round_trip:acme'],
      },
    ]);
  });

  it('with fireAfterRuns 3 a confirmed failure still needs one more failing run; a pass in between starts over', () => {
    const options = withFireAfter(3);
    series(
      [
        { minute: 0, results: [confirmed('acme')], expect: [] },
        {
          minute: 5,
          results: [fail('enhancement.round_trip', 'acme', 'P1')],
          expect: ['firing P1 enhancement.round_trip:acme'],
        },
      ],
      { options },
    );
    series(
      [
        { minute: 0, results: [confirmed('acme')], expect: [] },
        { minute: 5, results: [pass('enhancement.round_trip', 'acme')], expect: [] },
        { minute: 10, results: [fail('enhancement.round_trip', 'acme', 'P1')], expect: [] },
        { minute: 15, results: [confirmed('acme')], expect: ['firing P1 enhancement.round_trip:acme'] },
      ],
      { options },
    );
  });

  it('does not count a degraded result or a fail without the evidence key twice', () => {
    const degraded = {
      ...result('enhancement.round_trip', 'acme', 'degraded'),
      evidence: { confirmedInRun: { ticketId: 'SYNTH-2' } },
    };
    series([
      { minute: 0, results: [degraded], expect: [] },
      { minute: 5, results: [degraded], expect: ['firing P2 enhancement.round_trip:acme'] },
    ]);
  });

  it('fires a platform-wide incident at once when at least breadth.minTenants of its failing tenants are confirmed', () => {
    const six = ['t1', 't2', 't3', 't4', 't5', 't6'];
    const run = (confirmedTenants: string[], failing: string[]) =>
      six.map((t) =>
        confirmedTenants.includes(t)
          ? confirmed(t)
          : failing.includes(t)
            ? fail('enhancement.round_trip', t, 'P1')
            : pass('enhancement.round_trip', t),
      );
    const { messages } = series([
      {
        minute: 0,
        tenants: six,
        results: run(['t1', 't2', 't3'], ['t4']),
        expect: ['firing P0 enhancement.round_trip:*'],
      },
    ]);
    expect(messages[0]?.[0]).toMatchObject({ kind: 'breadth', evidence: { failingTenants: 4, tenantTier: 'P1' } });
    // Two confirmed of four failing: below minTenants (3), so the incident waits for a second run.
    series([
      { minute: 0, tenants: six, results: run(['t1', 't2'], ['t3', 't4']), expect: [] },
      {
        minute: 5,
        tenants: six,
        results: run([], ['t1', 't2', 't3', 't4']),
        expect: ['firing P0 enhancement.round_trip:*'],
      },
    ]);
  });
});
