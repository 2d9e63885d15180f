/**
 * The request budget (issue 24, platform.requestBudgetRps): the slot plan, the rotation of the
 * rejection probes, the sweep's DelaySeconds through the SQS adapter, a 1,000-tenant sweep in the
 * drain simulation that never exceeds the budget in any second, and a local run paced under it.
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../functions/adapters/http.ts';
import { createTenantQueue } from '../../functions/adapters/sqs.ts';
import {
  estimateBudget,
  MAX_DELAY_S,
  PLATFORM_REQUESTS,
  planStarts,
  planSweep,
  slotCapacity,
  tenantRequests,
} from '../../functions/core/budget.ts';
import { parseConfig } from '../../functions/core/config.ts';
import { REJECTION_CHECKS } from '../../functions/core/sampling.ts';
import { Secret } from '../../functions/core/secret.ts';
import type { Ports } from '../../functions/ports.ts';
import { runChecks } from '../../functions/run.ts';
import { peakInAnySecond, simulateDrain } from '../../sim/drain.ts';
import { startServer, strictReceiver, type TestServer } from '../support/servers.ts';

const INTERVAL_S = 300;
const SWEEP_AT = new Date(Date.parse('2026-12-01T10:00:07Z'));
const ids = (n: number) => Array.from({ length: n }, (_, i) => `tenant-${String(i).padStart(5, '0')}`);

/** The deployed shape: deferred round trips, acceptances every 60 min, 20 rps. */
const deployed = (extra: Record<string, unknown> = {}) =>
  parseConfig({
    platform: { baseUrl: 'https://api.example.com', ...extra },
    tenants: [{ tenantId: 'acme', signingSecret: { value: 's' } }],
    run: { sweepIntervalS: INTERVAL_S, roundTrip: 'deferred' },
  });

describe('the slot plan', () => {
  it('packs tenants in order into seconds of at most the slot capacity (half the budget)', () => {
    expect(slotCapacity(20)).toBe(10);
    expect(slotCapacity(32)).toBe(16);
    expect(planStarts([7, 7, 7, 7, 1], 16)).toEqual([0, 0, 1, 1, 1]);
    expect(planStarts([7, 2, 7, 1], 10, 1)).toEqual([1, 1, 2, 2]);
    // A tenant with more than a slot holds gets a second of its own.
    expect(planStarts([20, 1], 16)).toEqual([0, 1]);
  });

  it('counts a tenant run as one request per webhook check that runs', () => {
    const config = deployed();
    expect(tenantRequests(config)).toBe(7);
    // Its acceptance not due but its deferred round trip due: one request kept for a confirmation.
    expect(
      tenantRequests(config, { notDue: [{ checkId: 'webhook.signed_accepted', nextAt: '' }], failing: false }),
    ).toBe(7);
    expect(
      tenantRequests(config, {
        notDue: [
          { checkId: 'webhook.signed_accepted', nextAt: '' },
          { checkId: 'enhancement.round_trip', nextAt: '' },
        ],
        failing: false,
      }),
    ).toBe(6);
    const disabled = parseConfig({
      platform: { baseUrl: 'https://api.example.com' },
      tenants: [{ tenantId: 'acme', signingSecret: { value: 's' } }],
      checks: { disabled: ['webhook.future_timestamp_rejected'] },
    });
    expect(tenantRequests(disabled)).toBe(6);
  });
});

describe('a sweep under the budget', () => {
  it('runs every rejection probe every sweep while the budget covers them', () => {
    const plan = planSweep({ tenantIds: ids(100), sweepAt: SWEEP_AT, config: deployed(), failing: new Set() });
    expect(plan.rotation).toBe(1);
    expect(plan.fits).toBe(true);
    for (const tenant of plan.tenants) {
      expect(tenant.decision.notDue.some((n) => (REJECTION_CHECKS as readonly string[]).includes(n.checkId))).toBe(
        false,
      );
    }
  });

  it('rotates the rejection probes fairly past that: each (tenant, check) at least once per period', () => {
    const config = deployed();
    const tenants = ids(1000);
    const ran = new Map<string, number>();
    for (let k = 0; k < 12; k++) {
      const at = new Date(SWEEP_AT.getTime() + k * INTERVAL_S * 1000);
      const plan = planSweep({ tenantIds: tenants, sweepAt: at, config, failing: new Set() });
      expect(plan.rotation).toBeGreaterThan(1);
      expect(plan.fits).toBe(true);
      for (const tenant of plan.tenants) {
        const skipped = new Set(tenant.decision.notDue.map((n) => n.checkId));
        for (const checkId of REJECTION_CHECKS) {
          if (!skipped.has(checkId))
            ran.set(`${tenant.tenantId}:${checkId}`, (ran.get(`${tenant.tenantId}:${checkId}`) ?? 0) + 1);
        }
      }
    }
    expect(ran.size).toBe(1000 * REJECTION_CHECKS.length);
    for (const count of ran.values()) expect(count).toBeGreaterThanOrEqual(1);
  });

  it('runs a rotated probe with an open incident every sweep until it closes', () => {
    const tenants = ids(1000);
    const open = new Map([[tenants[7] as string, new Set(['webhook.bad_signature_rejected'])]]);
    for (let k = 0; k < 6; k++) {
      const at = new Date(SWEEP_AT.getTime() + k * INTERVAL_S * 1000);
      const plan = planSweep({
        tenantIds: tenants,
        sweepAt: at,
        config: deployed(),
        failing: new Set(),
        openRejections: open,
      });
      expect(plan.rotation).toBeGreaterThan(1);
      const skipped = plan.tenants.find((t) => t.tenantId === tenants[7])?.decision.notDue.map((n) => n.checkId);
      expect(skipped).toBeDefined();
      expect(skipped).not.toContain('webhook.bad_signature_rejected');
    }
  });

  it('spreads its tenants over the interval with DelaySeconds, sent per entry and never in the body', async () => {
    const sqs = mockClient(SQSClient);
    const entries: { MessageBody?: string; DelaySeconds?: number }[] = [];
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => {
      entries.push(...(input.Entries as typeof entries));
      return { Successful: input.Entries.map((e) => ({ Id: e.Id })), Failed: [] };
    });
    const queue = createTenantQueue({
      queueUrl: 'https://sqs.invalid/q',
      client: new SQSClient({ region: 'eu-west-1' }),
    });
    const plan = planSweep({ tenantIds: ids(300), sweepAt: SWEEP_AT, config: deployed(), failing: new Set() });
    const outcome = await queue.send(
      plan.tenants.map((t) => ({ tenantId: t.tenantId, runId: 's', sampling: t.decision, delaySeconds: t.delayS })),
    );
    expect(outcome.sent).toBe(300);
    expect(entries.map((e) => e.DelaySeconds ?? 0)).toEqual(plan.tenants.map((t) => t.delayS));
    expect(Math.max(...entries.map((e) => e.DelaySeconds ?? 0))).toBeLessThanOrEqual(MAX_DELAY_S);
    expect(entries.every((e) => !(e.MessageBody ?? '').includes('delaySeconds'))).toBe(true);
    sqs.restore();
  });

  it('never exceeds the budget in any second of a 1,000-tenant sweep in the drain simulation (deployed shape)', () => {
    const config = deployed();
    const tenants = ids(1000);
    // Healthy, and with 100 tenants failing their acceptance (they accept every sweep).
    for (const failing of [new Set<string>(), new Set(tenants.slice(0, 100))]) {
      const plan = planSweep({ tenantIds: tenants, sweepAt: SWEEP_AT, config, failing });
      for (const seed of [1, 2, 3]) {
        const outcome = simulateDrain({
          tenants: 1000,
          batchSize: 10,
          maxConcurrency: 20,
          invocationMs: [540, 420, 700],
          seed,
          delaysS: plan.tenants.map((t) => t.delayS),
          requests: plan.tenants.map((t) => t.requests),
          platformRequests: PLATFORM_REQUESTS,
        });
        expect(outcome.peakRps).toBeLessThanOrEqual(config.platform.requestBudgetRps);
        expect(outcome.peakRps).toBeGreaterThan(0);
        // Drained (and so judgeable) inside the interval.
        expect(outcome.drainMs).toBeLessThan(INTERVAL_S * 1000);
      }
    }
    // Unpaced, the same sweep is far over the budget: the simulation can tell.
    const unpaced = simulateDrain({
      tenants: 1000,
      batchSize: 10,
      maxConcurrency: 20,
      invocationMs: [540],
      requests: Array.from({ length: 1000 }, () => 7),
    });
    expect(unpaced.peakRps).toBeGreaterThan(100);
  });

  it('keeps one request for a deferred round trip that may confirm (its acceptance not due), and starts the failing tenants first, then those', () => {
    const config = deployed();
    const tenants = ids(1000);
    const failing = new Set([tenants[500] as string, tenants[999] as string]);
    const plan = planSweep({ tenantIds: tenants, sweepAt: SWEEP_AT, config, failing });
    const due = (t: (typeof plan.tenants)[number], checkId: string) =>
      !t.decision.notDue.some((n) => n.checkId === checkId);
    const confirming = plan.tenants.filter((t) => !t.decision.failing && due(t, 'enhancement.round_trip'));
    // A twelfth of the tenants judge the previous sweep's tickets (their acceptance is not due).
    expect(confirming.length).toBeGreaterThan(40);
    for (const t of confirming) {
      expect(due(t, 'webhook.signed_accepted')).toBe(false);
      expect(t.requests).toBe(
        tenantRequests(config, t.decision, (checkId) => checkId !== 'enhancement.round_trip') + 1,
      );
    }
    // The failing tenants first (in tenant order), then the ones that may confirm, then the rest.
    expect(plan.tenants.slice(0, 2).map((t) => t.tenantId)).toEqual([tenants[500], tenants[999]]);
    expect(plan.tenants.slice(2, 2 + confirming.length)).toEqual(confirming);
    const delays = plan.tenants.map((t) => t.delayS);
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
    expect(plan.fits).toBe(true);
    // The last one that may confirm starts early enough to wait roundTripTimeoutS and report inside the interval.
    expect((confirming.at(-1)?.delayS ?? 0) + config.thresholds.roundTripTimeoutS).toBeLessThan(INTERVAL_S / 2);
  });

  it('measures the peak in a sliding second', () => {
    expect(
      peakInAnySecond([
        { at: 0, count: 5 },
        { at: 999, count: 5 },
        { at: 1000, count: 5 },
      ]),
    ).toBe(10);
    expect(peakInAnySecond([])).toBe(0);
  });
});

describe('the synth estimate', () => {
  it('covers 1,000 tenants at 20 rps by rotating, and refuses 10,000 at 20 rps naming the budget needed', () => {
    const config = deployed();
    const thousand = estimateBudget(config, 1000);
    expect(thousand.rotation).not.toBeNull();
    expect(thousand.peakRps).toBeLessThanOrEqual(20);
    const tenThousand = estimateBudget(config, 10_000);
    expect(tenThousand.rotation).toBeNull();
    expect(tenThousand.neededBudgetRps).toBeGreaterThan(20);
    expect(estimateBudget(deployed({ requestBudgetRps: tenThousand.neededBudgetRps }), 10_000).rotation).not.toBeNull();
  });

  it('refuses a budget whose slot cannot hold one tenant run (its checks are sent at once)', () => {
    expect(estimateBudget(deployed({ requestBudgetRps: 13 }), 3).rotation).toBeNull();
    expect(estimateBudget(deployed({ requestBudgetRps: 14 }), 3).rotation).toBe(1);
  });
});

describe('a local run under the budget', () => {
  let server: TestServer;
  const secrets = Object.fromEntries(ids(6).map((id) => [id, `secret-${id}`]));
  beforeAll(async () => {
    // wall-clock-ok: the local run is paced in real time; the receiver and the canary share that clock.
    server = await startServer(strictReceiver({ secrets }));
  });
  afterAll(async () => {
    await server.close();
  });

  it('paces tenant starts: the platform never sees more than the budget in a second', async () => {
    const config = parseConfig({
      platform: { baseUrl: server.url, requestBudgetRps: 18 },
      tenants: Object.entries(secrets).map(([tenantId, value]) => ({ tenantId, signingSecret: { value } })),
      checks: { disabled: ['enhancement.round_trip', 'enhancement.quality'] },
    });
    const http = createHttpClient({ connectTimeoutMs: 1000 });
    const stamps: number[] = [];
    const counting = {
      ...http,
      get requestCount() {
        return http.requestCount;
      },
      request: (request: Parameters<typeof http.request>[0]) => {
        stamps.push(performance.now());
        return http.request(request);
      },
    };
    const ports: Ports = {
      http: counting,
      tls: { handshake: async () => ({ kind: 'cancelled' }) },
      now: () => new Date(),
      uuid: () => crypto.randomUUID(),
    };
    const report = await runChecks({
      config,
      ports,
      secrets: {
        resolve: async (ref) => new Secret('value' in ref ? ref.value : ''),
        resolveDatabaseUrl: async () => new Secret(''),
      },
      filters: { platform: false },
    });
    await http.close();
    expect(report.results.filter((r) => r.checkId === 'webhook.signed_accepted').map((r) => r.status)).toEqual(
      Array.from({ length: 6 }, () => 'pass'),
    );
    // 6 tenants × 7 requests, one tenant a second (a slot holds 9 of the 18): five seconds of starts.
    expect(stamps).toHaveLength(42);
    expect(peakInAnySecond(stamps.map((at) => ({ at, count: 1 })))).toBeLessThanOrEqual(18);
    expect(Math.max(...stamps) - Math.min(...stamps)).toBeGreaterThan(4900);
  }, 30_000);
});
