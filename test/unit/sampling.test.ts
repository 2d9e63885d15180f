/**
 * Sampled acceptances (issue 24): the slot math, and the deployed path that re-probes a tenant
 * whose accepted ticket failed in the very next sweep (the real sweep, probe batch and judge, on
 * the memory ledger and state store, with simulated checks that honour the sampling).
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStateStore } from '../../functions/adapters/state-memory.ts';
import { createMemorySweepLedger } from '../../functions/adapters/sweep-ledger-memory.ts';
import type { AppDeps } from '../../functions/app/deps.ts';
import { probeBatch } from '../../functions/app/probe-batch.ts';
import { sweep } from '../../functions/app/sweep.ts';
import { DEFAULT_ALERT_POLICY, evaluateAlertPolicy } from '../../functions/core/alert-policy.ts';
import { type CheckId, catalogEntry } from '../../functions/core/catalog.ts';
import { type Config, parseConfig } from '../../functions/core/config.ts';
import { isQuiet } from '../../functions/core/results.ts';
import {
  acceptanceSlot,
  failingTenants,
  openPacedChecks,
  periodSweeps,
  SAMPLED_CHECKS,
  type SamplingDecision,
  sampleTenant,
  sweepIndexAt,
} from '../../functions/core/sampling.ts';
import { Secret } from '../../functions/core/secret.ts';
import type { CheckResult, CheckStatus, Report } from '../../functions/core/types.ts';
import type { OpenPorts, TenantMessage, TenantQueue } from '../../functions/ports.ts';
import type { RunInput } from '../../functions/run.ts';
import { sqsRecord } from '../../sim/sqs-record.ts';
import { discardedMetrics, silentLogger } from '../support/telemetry.ts';

const INTERVAL_S = 300;
const T0 = Date.parse('2026-12-01T00:00:00Z');
const sweepAt = (index: number) => new Date(index * INTERVAL_S * 1000 + 7_000); // 7 s after the boundary

const config = (overrides: Record<string, unknown> = {}) =>
  parseConfig({
    platform: { baseUrl: 'https://platform.invalid' },
    tenants: [{ tenantId: 'acme', signingSecret: { value: 's' } }],
    run: { sweepIntervalS: INTERVAL_S, roundTrip: 'deferred' },
    ...overrides,
  });

const tenantIds = (n: number) => Array.from({ length: n }, (_, i) => `tenant-${String(i).padStart(4, '0')}`);

describe('sampled acceptances: the slot math', () => {
  it('gives 12 sweeps to a 60-minute period at 5-minute sweeps, and 1 when the period is shorter than a sweep', () => {
    expect(periodSweeps(60, 300)).toBe(12);
    expect(periodSweeps(5, 300)).toBe(1);
    expect(periodSweeps(1, 300)).toBe(1);
  });

  it('numbers consecutive sweeps consecutively from their time, whatever the offset in the interval', () => {
    const first = sweepIndexAt(new Date(T0 + 7_000), INTERVAL_S);
    for (let k = 1; k < 30; k++) {
      expect(sweepIndexAt(new Date(T0 + 7_000 + k * INTERVAL_S * 1000), INTERVAL_S)).toBe(first + k);
    }
  });

  it('gives each tenant a stable slot: the same in every call and every period', () => {
    for (const id of tenantIds(50)) {
      const slot = acceptanceSlot(id, 12);
      expect(slot).toBeGreaterThanOrEqual(0);
      expect(slot).toBeLessThan(12);
      expect(acceptanceSlot(id, 12)).toBe(slot);
    }
    expect(acceptanceSlot('acme-corp', 12)).toBe(acceptanceSlot('acme-corp', 12));
  });

  it('runs each tenant acceptance exactly once per period, in the same sweep of each period (deterministic, clock injected)', () => {
    const cfg = config();
    for (const tenantId of tenantIds(40)) {
      const due: number[] = [];
      for (let index = 1000; index < 1000 + 36; index++) {
        const decision = sampleTenant({ tenantId, sweepAt: sweepAt(index), config: cfg, failing: false });
        if (!decision.notDue.some((n) => n.checkId === 'webhook.signed_accepted')) due.push(index);
        // Deterministic: the same input, the same decision.
        expect(sampleTenant({ tenantId, sweepAt: sweepAt(index), config: cfg, failing: false })).toEqual(decision);
      }
      expect(due).toHaveLength(3);
      expect(due[1]! - due[0]!).toBe(12);
      expect(due[2]! - due[1]!).toBe(12);
    }
  });

  it('spreads 1,000 tenants evenly: every sweep of the period carries about 1/12 of the acceptances', () => {
    const counts = Array.from({ length: 12 }, () => 0);
    for (const id of tenantIds(1000)) counts[acceptanceSlot(id, 12)]! += 1;
    for (const count of counts) {
      // 83.3 expected; a fair hash keeps every sweep within ±35 %.
      expect(count).toBeGreaterThan(54);
      expect(count).toBeLessThan(113);
    }
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it('judges the ticket in the sweep after the slot with deferred round trips, in the slot when waiting', () => {
    const tenantId = 'acme';
    const slot = acceptanceSlot(tenantId, 12);
    const base = 1200 - (1200 % 12); // index ≡ 0 (mod 12)
    const notDueAt = (index: number, roundTrip: 'deferred' | 'wait') =>
      sampleTenant({
        tenantId,
        sweepAt: sweepAt(index),
        config: config({ run: { sweepIntervalS: INTERVAL_S, roundTrip } }),
        failing: false,
      }).notDue.map((n) => n.checkId);

    expect(notDueAt(base + slot, 'deferred')).toEqual(['enhancement.round_trip', 'enhancement.quality']);
    expect(notDueAt(base + slot + 1, 'deferred')).toEqual(['webhook.signed_accepted']);
    expect(notDueAt(base + slot + 2, 'deferred')).toEqual([...SAMPLED_CHECKS]);
    expect(notDueAt(base + slot, 'wait')).toEqual([]);
    expect(notDueAt(base + slot + 1, 'wait')).toEqual([...SAMPLED_CHECKS]);
  });

  it('names the next run of each skipped check, one period away at most', () => {
    const tenantId = 'acme';
    const slot = acceptanceSlot(tenantId, 12);
    const index = 1200 + ((slot + 5) % 12);
    const at = sweepAt(index);
    const decision = sampleTenant({ tenantId, sweepAt: at, config: config(), failing: false });
    const accepted = decision.notDue.find((n) => n.checkId === 'webhook.signed_accepted');
    expect(accepted).toBeDefined();
    const next = new Date(accepted!.nextAt);
    expect(sweepIndexAt(next, INTERVAL_S) % 12).toBe(slot);
    expect(next.getTime() - at.getTime()).toBeGreaterThan(0);
    expect(next.getTime() - at.getTime()).toBeLessThanOrEqual(12 * INTERVAL_S * 1000);
  });

  it('runs everything, every sweep, for a failing tenant', () => {
    for (let index = 1200; index < 1212; index++) {
      expect(sampleTenant({ tenantId: 'acme', sweepAt: sweepAt(index), config: config(), failing: true })).toEqual({
        notDue: [],
        failing: true,
      });
    }
  });

  it('reads the failing tenants from the open incidents of the sampled checks only', () => {
    expect(
      failingTenants([
        'webhook.signed_accepted:acme',
        'enhancement.round_trip:globex',
        'enhancement.quality:initech',
        'enhancement.round_trip:*',
        'webhook.bad_signature_rejected:umbrella',
        'canary:enhancement.round_trip',
      ]),
    ).toEqual(new Set(['acme', 'globex', 'initech']));
    // A rotated probe's open incident is kept per tenant (it runs every sweep), but is not a failing acceptance.
    expect(openPacedChecks(['webhook.bad_signature_rejected:umbrella', 'api.health:*'])).toEqual(
      new Map([['umbrella', new Set(['webhook.bad_signature_rejected'])]]),
    );
  });
});

describe('the alert policy and sampled checks', () => {
  const result = (tenantId: string, status: CheckStatus): CheckResult => ({
    checkId: 'enhancement.round_trip',
    tenantId,
    status,
    tier: status === 'fail' ? 'P1' : null,
    summary: status,
    durationMs: 0,
    evidence: {},
    runbook: catalogEntry('enhancement.round_trip').runbook,
  });

  it('treats skipped as no observation: a platform-wide outage seen by the 1/12 of tenants due still opens the platform-wide incident', () => {
    const tenants = tenantIds(120);
    const results = tenants.map((id, i) => result(id, i % 12 === 0 ? 'fail' : 'skipped'));
    const { state } = evaluateAlertPolicy({
      previous: {},
      results,
      tenants,
      now: new Date(T0),
      options: DEFAULT_ALERT_POLICY,
    });
    expect(state['enhancement.round_trip:*']?.kind).toBe('breadth');
    expect(state['enhancement.round_trip:*']?.phase).toBe('pending');
    // A skipped result leaves a tenant's record alone.
    expect(state[`enhancement.round_trip:${tenants[1]}`]).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// The deployed path: sweep -> probe batch -> judge -> next sweep

const logger = silentLogger;
const metrics = discardedMetrics;

/** A simulated check result: failing ones at P1. */
function simulated(checkId: CheckId, tenantId: string, status: CheckStatus): CheckResult {
  return {
    checkId,
    tenantId,
    status,
    tier: isQuiet(status) ? null : 'P1',
    summary: status,
    durationMs: 1,
    evidence: {},
    runbook: catalogEntry(checkId).runbook,
  };
}

/**
 * The deployed path on the memory ledger and state store, with simulated checks: `runSweep` fans
 * out (the real sweep), then probes every message in one batch (which completes and judges it),
 * and moves the clock to the next sweep; it answers each tenant's sampling.
 */
function deployedPath(cfg: Config, clock: { now: number }, checks: (input: RunInput) => Promise<Report>) {
  let sent: TenantMessage[] = [];
  const queue: TenantQueue = {
    async send(messages) {
      sent = [...messages];
      return { sent: messages.length, failed: [] };
    },
    async retryLater() {
      return { unchanged: [] };
    },
  };
  const store = createMemoryStateStore();
  const ledger = createMemorySweepLedger();
  const deps: AppDeps = {
    logger,
    metrics,
    config: async () => cfg,
    secrets: { resolve: async () => new Secret('s3cret'), resolveDatabaseUrl: async () => new Secret('') },
    openPorts: async () => ({ close: async () => {} }) as unknown as OpenPorts,
    tenantSource: () => ({
      kind: 'static',
      list: async () => ({ tenants: cfg.tenants, skipped: [] }),
      lookup: async (ids) => ({ tenants: cfg.tenants.filter((t) => ids.includes(t.tenantId)), skipped: [] }),
    }),
    stateStore: async () => store,
    sweepLedger: async () => ledger,
    publisher: () => ({ publish: async (messages) => ({ delivered: messages.map((m) => m.id), failed: [] }) }),
    tenantQueue: async () => queue,
    now: () => new Date(clock.now),
    checks,
  };
  const runSweep = async () => {
    await sweep(deps);
    clock.now += 10_000;
    await probeBatch(
      deps,
      { Records: sent.map((message, i) => sqsRecord(`m-${clock.now}-${i}`, JSON.stringify(message))) },
      undefined,
      undefined,
    );
    clock.now += INTERVAL_S * 1000 - 10_000;
    return new Map(sent.map((message) => [message.tenantId, message.sampling]));
  };
  return { store, runSweep, sent: () => sent };
}

describe('a tenant failing its accepted ticket', () => {
  it('is probed again in the next sweep, and sampled again once it passes', async () => {
    const cfg = parseConfig({
      platform: { baseUrl: 'https://platform.invalid' },
      // acme second in the listing: failing, it starts first, one place earlier than it is listed.
      tenants: ['globex', 'acme', 'initech', 'umbrella'].map((tenantId) => ({
        tenantId,
        signingSecret: { value: `secret-${tenantId}` },
      })),
      // run.roundTrip "wait" (the default) with a database: scheduled probes judge round trips deferred.
      database: { url: 'postgres://canary@127.0.0.1:9/db' },
      run: { sweepIntervalS: INTERVAL_S },
    });
    // The first sweep is acme's slot; acme's receiver refuses its accepted ticket until `healed`.
    const slot = acceptanceSlot('acme', 12);
    const clock = { now: sweepAt(12_000 + slot).getTime() };
    let healed = false;
    /** What each tenant's run was asked to run this sweep. */
    let ran = new Map<string, string[]>();
    const checks = async (input: RunInput): Promise<Report> => {
      const at = new Date(clock.now).toISOString();
      const results: CheckResult[] = [];
      for (const tenantId of input.filters?.tenantIds ?? []) {
        const notDue = new Set(input.sampling?.get(tenantId)?.notDue.map((n) => n.checkId));
        const statusOf = (checkId: string): CheckStatus => {
          if (notDue.has(checkId as SamplingDecision['notDue'][number]['checkId'])) return 'skipped';
          return checkId === 'webhook.signed_accepted' && tenantId === 'acme' && !healed ? 'fail' : 'pass';
        };
        const checkIds = [...SAMPLED_CHECKS, 'webhook.bad_signature_rejected'] as const;
        ran.set(
          tenantId,
          checkIds.filter((id) => statusOf(id) !== 'skipped'),
        );
        for (const checkId of checkIds) results.push(simulated(checkId, tenantId, statusOf(checkId)));
      }
      return { runId: 'r', startedAt: at, finishedAt: at, tenants: [], results, alerts: [] };
    };
    const path = deployedPath(cfg, clock, checks);
    const { store } = path;
    /** One sweep, with what each tenant ran in it. */
    const runSweep = () => {
      ran = new Map();
      return path.runSweep();
    };

    // Sweep 1 (acme's slot): acme's accepted ticket runs and fails.
    const first = await runSweep();
    expect(first.get('acme')?.failing).toBe(false);
    // Sampled as the probe runs them (deferred): the slot's ticket is judged in the next sweep.
    expect(first.get('acme')?.notDue.map((n) => n.checkId)).toEqual(['enhancement.round_trip', 'enhancement.quality']);
    expect(ran.get('acme')).toContain('webhook.signed_accepted');
    expect((await store.openKeys()).includes('webhook.signed_accepted:acme')).toBe(true);

    // Sweep 2: not acme's slot, yet its accepted ticket runs again (and its round trip, as it judges the slot's ticket).
    const second = await runSweep();
    expect(second.get('acme')).toEqual({ notDue: [], failing: true });
    // The failing tenant starts first (the plan's order, not the listing's), and every message still
    // names another tenant as its peer: each tenant is exactly one message's peer, none its own.
    const sent = path.sent();
    expect(sent[0]?.tenantId).toBe('acme');
    expect(sent.every((message) => message.peer !== undefined && message.peer !== message.tenantId)).toBe(true);
    expect(new Set(sent.map((message) => message.peer)).size).toBe(sent.length);
    expect(ran.get('acme')).toEqual([...SAMPLED_CHECKS, 'webhook.bad_signature_rejected']);
    // A healthy tenant not in its slot: its accepted ticket is skipped with the time of the next one.
    const others = ['globex', 'initech', 'umbrella'].filter((id) => acceptanceSlot(id, 12) !== slot + 1);
    for (const id of others) {
      expect(second.get(id)?.notDue.map((n) => n.checkId)).toContain('webhook.signed_accepted');
      expect(ran.get(id)).not.toContain('webhook.signed_accepted');
    }

    // It passes from sweep 3 on; while its incident is open it is still probed every sweep, then sampled again.
    healed = true;
    const acmeRuns: boolean[] = [];
    for (let k = 0; k < 4; k++) {
      await runSweep();
      acmeRuns.push(ran.get('acme')?.includes('webhook.signed_accepted') ?? false);
    }
    expect(acmeRuns[0]).toBe(true);
    expect((await store.openKeys()).includes('webhook.signed_accepted:acme')).toBe(false);
    expect(acmeRuns.at(-1)).toBe(false);
  });
});

describe('a one-sweep acceptance period with deferred round trips', () => {
  it('still marks a tenant with an open round-trip incident failing, so its probe does not confirm again', async () => {
    const cfg = parseConfig({
      platform: { baseUrl: 'https://platform.invalid' },
      tenants: ['acme', 'globex'].map((tenantId) => ({ tenantId, signingSecret: { value: `secret-${tenantId}` } })),
      // A database: scheduled probes judge round trips deferred. Every sweep carries every acceptance.
      database: { url: 'postgres://canary@127.0.0.1:9/db' },
      run: { sweepIntervalS: INTERVAL_S },
      synthetic: { acceptEveryMinutes: 5 },
    });
    expect(periodSweeps(cfg.synthetic.acceptEveryMinutes, INTERVAL_S)).toBe(1);
    const clock = { now: sweepAt(12_000).getTime() };
    const checks = async (input: RunInput): Promise<Report> => {
      const at = new Date(clock.now).toISOString();
      const results = (input.filters?.tenantIds ?? []).map((tenantId) =>
        simulated('enhancement.round_trip', tenantId, tenantId === 'acme' ? 'fail' : 'pass'),
      );
      return { runId: 'r', startedAt: at, finishedAt: at, tenants: [], results, alerts: [] };
    };
    const { store, runSweep } = deployedPath(cfg, clock, checks);

    const first = await runSweep();
    expect(first.get('acme')?.failing).toBe(false);
    expect((await store.openKeys()).includes('enhancement.round_trip:acme')).toBe(true);
    // The next sweep reads the open incident although it samples nothing.
    const second = await runSweep();
    expect(second.get('acme')).toEqual({ notDue: [], failing: true });
    expect(second.get('globex')).toEqual({ notDue: [], failing: false });
  });
});
