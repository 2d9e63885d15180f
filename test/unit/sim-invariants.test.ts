/**
 * The simulation's end-of-run check `noAlertLost` (sim/invariants.ts): a lasting failure of a check
 * must fire, and its prerequisite's alert stands for it only when the prerequisite failed first
 * (by the dependent's next sample: its period and the deferred judgement after it). And
 * `countedOnce`: a firing needs as many failing runs as its tier, a failure confirmed within its
 * run counting as two.
 */
import { describe, expect, it } from 'vitest';
import type { AlertMessage } from '../../functions/core/alert-policy.ts';
import { checkEnd, failingKeys, recordDelivery } from '../../sim/invariants.ts';
import { result } from '../../sim/parts.ts';
import { simConfig } from '../../sim/protocol.ts';
import { type Episode, NO_FAULTS, rngOf, tenantIdsOf } from '../../sim/script.ts';
import { Crash, createState } from '../../sim/state.ts';

const TENANT = 't-00001';
const WINDOW = 12;
const TAIL = 16; // an acceptance period of 12 sweeps and four more

function lasting(checkId: Episode['checkId'], fromSweep: number): Episode {
  return { checkId, tenantId: TENANT, fromSweep, toSweep: Number.MAX_SAFE_INTEGER, status: 'fail' };
}

/** The end check of a run whose only alert is the acceptance's (the prerequisite of the round trip). */
async function endWith(episodes: Episode[]) {
  const tenants = tenantIdsOf(3);
  const sim = createState({
    seed: 1,
    rng: rngOf(1),
    script: { tenants, brokenSecrets: new Set(), episodes, faults: NO_FAULTS },
    holes: new Set(),
    config: simConfig(tenants),
  });
  sim.delivered.set(`webhook.signed_accepted:${TENANT}#1`, { by: new Crash(null) });
  await checkEnd(sim, WINDOW, TAIL);
  return sim.violations.map((v) => `${v.invariant}: ${v.detail}`);
}

describe('noAlertLost: a prerequisite alert stands for its dependent only when it failed first', () => {
  it('accepts the acceptance alert for a round trip whose failure came with or after it', async () => {
    expect(await endWith([lasting('enhancement.round_trip', 2), lasting('webhook.signed_accepted', 2)])).toEqual([]);
    // Up to a period and a sweep after the round trip started failing: its next sample found no ticket to judge.
    expect(await endWith([lasting('enhancement.round_trip', 2), lasting('webhook.signed_accepted', 15)])).toEqual([]);
  });

  it('reports the round trip lost when the acceptance failed only later (its own failure had a sample to fire)', async () => {
    const violations = await endWith([lasting('enhancement.round_trip', 0), lasting('webhook.signed_accepted', 14)]);
    expect(violations).toEqual([
      `noAlertLost: enhancement.round_trip:${TENANT} failed from sweep 0 to the end and never fired`,
    ]);
  });
});

describe('countedOnce: a failure confirmed within its run counts as two failing runs', () => {
  const key = `enhancement.round_trip:${TENANT}`;
  const firing = {
    id: `${key}#1`,
    state: 'firing',
    tier: 'P1',
    checkId: 'enhancement.round_trip',
    tenantId: TENANT,
    dedupKey: key,
    kind: 'check',
    firstFailedAt: '2026-12-01T00:05:00.000Z',
    escalatedFrom: null,
  } as AlertMessage;

  function firedAfterOneSweep(confirmed: boolean) {
    const tenants = tenantIdsOf(3);
    const sim = createState({
      seed: 1,
      rng: rngOf(1),
      script: { tenants, brokenSecrets: new Set(), episodes: [], faults: NO_FAULTS },
      holes: new Set(),
      config: simConfig(tenants),
    });
    const failed = result('enhancement.round_trip', TENANT, 'fail');
    const seen = confirmed
      ? { ...failed, evidence: { ...failed.evidence, confirmedInRun: { status: 'missing' } } }
      : failed;
    sim.failingKeysOf.set('sweep-1', failingKeys([{ results: [seen] }]));
    recordDelivery(sim, firing, new Crash(null));
    return sim.violations.map((v) => `${v.invariant}: ${v.detail}`);
  }

  it('accepts a P1 fired on one sweep that confirmed the failure, and catches one that did not', () => {
    expect(firedAfterOneSweep(true)).toEqual([]);
    expect(firedAfterOneSweep(false)).toEqual([`countedOnce: ${key} fired at P1 after 1 failing run(s), needs 2`]);
  });
});
