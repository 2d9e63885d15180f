/**
 * The protocol simulation's script (sim/protocol.ts): seeded randomness, what each tenant's checks
 * say when (episodes), and which faults hit the faulty window.
 */
import type { CheckId } from '../functions/core/catalog.ts';
import type { CheckStatus } from '../functions/core/types.ts';
import { mulberry32 } from './random.ts';

export interface Rng {
  next(): number;
  chance(p: number): boolean;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  shuffle<T>(items: T[]): T[];
}

export function rngOf(seed: number): Rng {
  const next = mulberry32(seed * 2654435761 + 1);
  const rng: Rng = {
    next,
    chance: (p) => next() < p,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
    shuffle(items) {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [items[i], items[j]] = [items[j] as (typeof items)[number], items[i] as (typeof items)[number]];
      }
      return items;
    },
  };
  return rng;
}

export interface Episode {
  checkId: CheckId;
  /** null: every tenant (a platform-wide incident). */
  tenantId: string | null;
  fromSweep: number;
  /** Exclusive; past the end of the run for a lasting failure. */
  toSweep: number;
  status: CheckStatus;
  /** The instant (ms) it starts, inside its first sweep; unset: at the start of `fromSweep`. */
  fromMs?: number;
}

export interface Faults {
  sweepSkipped: number;
  sqsRefused: number;
  duplicateDelivery: number;
  ledgerError: number;
  storeError: number;
  snsThrottled: number;
  snsPartial: number;
  crash: number;
  slowBatch: number;
}

export const NO_FAULTS: Faults = {
  sweepSkipped: 0,
  sqsRefused: 0,
  duplicateDelivery: 0,
  ledgerError: 0,
  storeError: 0,
  snsThrottled: 0,
  snsPartial: 0,
  crash: 0,
  slowBatch: 0,
};

export interface Script {
  tenants: string[];
  brokenSecrets: Set<string>;
  episodes: Episode[];
  faults: Faults;
}

export function tenantIdsOf(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `t-${String(i + 1).padStart(5, '0')}`);
}

/**
 * A seed's script: platform-wide incidents for a few sweeps, some tenants failing for good, some
 * briefly (on sampled, rotated and every-sweep checks), and faults.
 */
export function scriptOf(rng: Rng, tenantCount: number, window: number, tailSweeps: number): Script {
  const tenants = tenantIdsOf(tenantCount);
  const brokenSecrets = new Set(rng.shuffle([...tenants]).slice(0, rng.int(0, 2)));
  const episodes: Episode[] = [];
  const end = window + tailSweeps + 1;
  if (rng.chance(0.7)) {
    const from = rng.int(0, window - 3);
    episodes.push({
      checkId: 'webhook.bad_signature_rejected',
      tenantId: null,
      fromSweep: from,
      toSweep: from + rng.int(1, 4),
      status: 'fail',
    });
  }
  for (let i = 0; i < rng.int(1, 4); i++) {
    episodes.push({
      checkId: rng.pick(['webhook.signed_accepted', 'enhancement.round_trip'] as const),
      tenantId: rng.pick(tenants),
      fromSweep: rng.int(0, window - 2),
      toSweep: end,
      status: rng.chance(0.8) ? 'fail' : 'degraded',
    });
  }
  for (let i = 0; i < rng.int(0, 3); i++) {
    const from = rng.int(0, window - 2);
    episodes.push({
      checkId: 'webhook.signed_accepted',
      tenantId: rng.pick(tenants),
      fromSweep: from,
      toSweep: from + rng.int(1, 3),
      status: 'fail',
    });
  }
  // Failures on a check every sweep runs (neither sampled nor rotated), so the judgement, alert
  // and ledger paths see failing tenants in each sweep, as they did before acceptances were sampled.
  if (rng.chance(0.7)) {
    const from = rng.int(0, window - 3);
    episodes.push({
      checkId: 'rls.cross_tenant_read',
      tenantId: null,
      fromSweep: from,
      toSweep: from + rng.int(1, 4),
      status: 'fail',
    });
  }
  for (let i = 0; i < rng.int(1, 3); i++) {
    const from = rng.int(0, window - 2);
    const lasting = rng.chance(0.5);
    episodes.push({
      // P0 (fires on one failing sweep) and P2 (on two: what counts sweeps).
      checkId: rng.pick(['rls.cross_tenant_read', 'tenant.success_rate'] as const),
      tenantId: rng.pick(tenants),
      fromSweep: from,
      toSweep: lasting ? end : from + rng.int(1, 3),
      status: rng.chance(0.8) ? 'fail' : 'degraded',
    });
  }
  const level = rng.next();
  const faults: Faults = {
    sweepSkipped: 0.05 * level,
    sqsRefused: 0.01 * level,
    duplicateDelivery: 0.03 * level,
    ledgerError: 0.02 * level,
    storeError: 0.03 * level,
    snsThrottled: 0.1 * level,
    snsPartial: 0.05 * level,
    crash: 0.02 * level,
    slowBatch: 0.1 * level,
  };
  return { tenants, brokenSecrets, episodes, faults };
}

/** What a check of a tenant says at a sweep (and instant): the first episode that covers it, else pass. */
export function statusIn(
  script: Script,
  at: { sweep: number; ms: number },
  checkId: CheckId,
  tenantId: string,
): CheckStatus {
  for (const episode of script.episodes) {
    if (episode.checkId !== checkId || at.sweep < episode.fromSweep || at.sweep >= episode.toSweep) continue;
    if (episode.fromMs !== undefined && at.ms < episode.fromMs) continue;
    if (episode.tenantId === null || episode.tenantId === tenantId) return episode.status;
  }
  return 'pass';
}
