/**
 * The sweep protocol's pure rules (functions/core/sweep-protocol.ts): a sweep's drain deadline,
 * when a message is too old to probe, the `canary.sweep_complete` result of a judged sweep, and
 * the configs a scheduled and an on-demand probe run with.
 */
import { describe, expect, it } from 'vitest';
import { catalogEntry } from '../../functions/core/catalog.ts';
import { parseConfig } from '../../functions/core/config.ts';
import {
  isStale,
  MISSING_NAMED,
  onDemandConfig,
  scheduledProbeConfig,
  sweepCompleteResult,
  sweepDeadline,
} from '../../functions/core/sweep-protocol.ts';

const base = {
  platform: { baseUrl: 'https://platform.invalid' },
  tenants: [{ tenantId: 'acme', signingSecret: { value: 's' } }],
};

describe('the drain deadline', () => {
  it('is one sweep interval after the sweep opened', () => {
    expect(sweepDeadline(new Date('2026-11-27T10:05:00Z'), 300).toISOString()).toBe('2026-11-27T10:10:00.000Z');
  });

  it('makes a message stale from the deadline on, never before, and never one without a deadline', () => {
    const deadline = '2026-11-27T10:10:00.000Z';
    expect(isStale(deadline, new Date('2026-11-27T10:09:59.999Z'))).toBe(false);
    expect(isStale(deadline, new Date('2026-11-27T10:10:00.000Z'))).toBe(true);
    expect(isStale(deadline, new Date('2026-11-27T11:00:00.000Z'))).toBe(true);
    expect(isStale(undefined, new Date('2099-01-01T00:00:00.000Z'))).toBe(false);
    expect(isStale('not a date', new Date('2026-11-27T10:10:00.000Z'))).toBe(false);
  });
});

describe('canary.sweep_complete', () => {
  const input = { sweepId: 'sweep-1', deadline: '2026-11-27T10:10:00.000Z' };

  it('passes without a tier when every expected tenant was recorded', () => {
    const result = sweepCompleteResult({ ...input, expected: ['a', 'b'], missing: [] });
    expect(result).toMatchObject({ checkId: 'canary.sweep_complete', tenantId: null, status: 'pass', tier: null });
    expect(result.summary).toBe('Sweep sweep-1: all 2 tenants were probed and recorded.');
    expect(result.runbook).toBe(catalogEntry('canary.sweep_complete').runbook);
  });

  it('fails at its catalog tier naming the missing tenants, the first 50 in evidence and the rest counted', () => {
    const expected = Array.from({ length: 60 }, (_, i) => `t-${i}`);
    const missing = expected.slice(0, MISSING_NAMED + 2);
    const result = sweepCompleteResult({ ...input, expected, missing });
    expect(result).toMatchObject({ status: 'fail', tier: catalogEntry('canary.sweep_complete').defaultTier });
    expect(result.summary).toContain('without 52 of 60 tenants (first: t-0, t-1, t-2)');
    expect(result.evidence).toMatchObject({ sweepId: 'sweep-1', expected: 60, missing: 52, missingNotNamed: 2 });
    expect(result.evidence.missingTenants).toHaveLength(MISSING_NAMED);
  });

  it('names every missing tenant when there are few, without a count of unnamed ones', () => {
    const result = sweepCompleteResult({ ...input, expected: ['a', 'b', 'c'], missing: ['c'] });
    expect(result.evidence).toEqual({
      sweepId: 'sweep-1',
      deadline: input.deadline,
      expected: 3,
      missing: 1,
      missingTenants: ['c'],
    });
  });
});

describe('the configs a probe runs with', () => {
  it('schedules deferred round trips when there is a database to read earlier tickets from', () => {
    const withDb = parseConfig({ ...base, database: { url: 'postgres://canary@127.0.0.1:9/db' } });
    expect(withDb.run.roundTrip).toBe('wait');
    expect(scheduledProbeConfig(withDb).run.roundTrip).toBe('deferred');
    // The rest of the config is the same.
    expect({ ...scheduledProbeConfig(withDb), run: withDb.run }).toEqual(withDb);
  });

  it("keeps the config's own choice without a database, and a config already deferred as it is", () => {
    const noDb = parseConfig(base);
    expect(scheduledProbeConfig(noDb)).toBe(noDb);
    const deferred = parseConfig({
      ...base,
      database: { url: 'postgres://canary@127.0.0.1:9/db' },
      run: { roundTrip: 'deferred' },
    });
    expect(scheduledProbeConfig(deferred)).toBe(deferred);
  });

  it('makes an on-demand run wait for its own ticket', () => {
    const deferred = parseConfig({ ...base, run: { roundTrip: 'deferred' } });
    expect(onDemandConfig(deferred).run.roundTrip).toBe('wait');
    const waiting = parseConfig(base);
    expect(onDemandConfig(waiting)).toBe(waiting);
  });
});
