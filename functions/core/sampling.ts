/**
 * Sampled acceptances (scheduled sweeps only): each tenant's accepted synthetic ticket (an LLM job
 * on the platform), and with it the round trip and quality that judge it, run once per
 * `synthetic.acceptEveryMinutes` in a stable slot, and every sweep while one of them failed. Pure:
 * the sweep's time is a parameter.
 *
 * Sweeps are numbered by their time (`floor(epoch s / sweepIntervalS)`), and a tenant's slot is a
 * hash of its id over the period's sweeps, so every sweep carries about 1/periodSweeps of the
 * tenants' acceptances and a platform-wide enhancement outage still shows in every sweep.
 * With deferred round trips the round trip (and quality) run in the sweep after the acceptance:
 * that sweep judges the ticket the slot sent.
 */
import type { TenantCheckId } from './catalog.ts';
import type { Config } from './config.ts';

/** The checks that are sampled, in the order they run for one ticket. */
export const SAMPLED_CHECKS = [
  'webhook.signed_accepted',
  'enhancement.round_trip',
  'enhancement.quality',
] as const satisfies readonly TenantCheckId[];
export type SampledCheckId = (typeof SAMPLED_CHECKS)[number];

export function isSampledCheck(checkId: string): checkId is SampledCheckId {
  return (SAMPLED_CHECKS as readonly string[]).includes(checkId);
}

/**
 * The rejection probes: no job on a healthy receiver. Every sweep while the request budget covers
 * them; past that in fair rotation (functions/core/budget.ts), each at least once per period.
 */
export const REJECTION_CHECKS = [
  'webhook.bad_signature_rejected',
  'webhook.missing_signature_rejected',
  'webhook.tampered_body_rejected',
  'webhook.cross_tenant_signature_rejected',
  'webhook.stale_timestamp_rejected',
  'webhook.future_timestamp_rejected',
] as const satisfies readonly TenantCheckId[];
export type RejectionCheckId = (typeof REJECTION_CHECKS)[number];

/**
 * The checks that rotate under the request budget as the rejection probes do: the rejection
 * probes and the entry points' forgeries (several requests each, functions/core/budget.ts).
 */
export const ROTATED_CHECKS = [
  ...REJECTION_CHECKS,
  'webhook.entry_points_reject_forgeries',
] as const satisfies readonly TenantCheckId[];

/** A check a scheduled sweep may leave out for a tenant (sampled or rotated). */
export const PACED_CHECKS = [...SAMPLED_CHECKS, ...ROTATED_CHECKS] as const;
export type PacedCheckId = (typeof PACED_CHECKS)[number];

/** Sweeps in one acceptance period (at least one: a period shorter than the interval samples nothing). */
export function periodSweeps(acceptEveryMinutes: number, sweepIntervalS: number): number {
  return Math.max(1, Math.round((acceptEveryMinutes * 60) / sweepIntervalS));
}

/** The number of the sweep that runs at `at`: consecutive sweeps get consecutive numbers. */
export function sweepIndexAt(at: Date, sweepIntervalS: number): number {
  return Math.floor(at.getTime() / 1000 / sweepIntervalS);
}

/** FNV-1a (32 bit) of the id: stable across processes and releases, spread well over small ranges. */
export function tenantHash(tenantId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < tenantId.length; i++) {
    hash ^= tenantId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The tenant's acceptance slot in its period: 0 .. sweeps - 1. */
export function acceptanceSlot(tenantId: string, sweeps: number): number {
  return tenantHash(tenantId) % sweeps;
}

/** What one scheduled sweep runs of a tenant's sampled (and rotated) checks. */
export interface SamplingDecision {
  /** Checks not due this sweep, each with the time of its next run (ISO). */
  notDue: { checkId: PacedCheckId; nextAt: string }[];
  /** The tenant's last accepted ticket, round trip or quality failed: everything runs, every sweep. */
  failing: boolean;
}

export interface SamplingInput {
  tenantId: string;
  /** When the sweep runs (its opening time). */
  sweepAt: Date;
  config: Pick<Config, 'run' | 'synthetic'>;
  /** Whether one of the tenant's sampled checks has an open incident (it last failed). */
  failing: boolean;
  /**
   * The rejection probes run every this many sweeps (1: every sweep), each (tenant, check) in its
   * own stable slot (functions/core/budget.ts picks it from the request budget). @default 1
   */
  rotation?: number;
  /** The tenant's rotated checks with an open incident: they run every sweep until it closes. */
  openRejections?: ReadonlySet<string>;
}

/** Which sampled checks of one tenant a scheduled sweep runs ({@link SamplingDecision}). */
export function sampleTenant(input: SamplingInput): SamplingDecision {
  const { tenantId, sweepAt, config, failing } = input;
  const intervalS = config.run.sweepIntervalS;
  const sweeps = periodSweeps(config.synthetic.acceptEveryMinutes, intervalS);
  const index = sweepIndexAt(sweepAt, intervalS);
  const notDue: SamplingDecision['notDue'] = [];
  const skip = (checkId: PacedCheckId, wait: number) => {
    if (wait > 0) notDue.push({ checkId, nextAt: new Date(sweepAt.getTime() + wait * intervalS * 1000).toISOString() });
  };
  if (!failing && sweeps > 1) {
    const slot = acceptanceSlot(tenantId, sweeps);
    // Deferred round trips judge the previous sweep's ticket: they run one sweep after the slot.
    const judgeOffset = config.run.roundTrip === 'deferred' ? 1 : 0;
    for (const checkId of SAMPLED_CHECKS) {
      skip(checkId, sweepsUntil(index, checkId === 'webhook.signed_accepted' ? slot : slot + judgeOffset, sweeps));
    }
  }
  const rotation = Math.max(1, Math.min(input.rotation ?? 1, sweeps));
  if (rotation > 1) {
    for (const checkId of ROTATED_CHECKS) {
      if (input.openRejections?.has(checkId)) continue;
      skip(checkId, sweepsUntil(index, tenantHash(`${checkId}:${tenantId}`) % rotation, rotation));
    }
  }
  return { notDue, failing };
}

/** Sweeps from `index` to the next one whose number is `target` modulo `sweeps` (0: this one). */
function sweepsUntil(index: number, target: number, sweeps: number): number {
  return (((target - index) % sweeps) + sweeps) % sweeps;
}

/**
 * The tenants with an open incident on a sampled check, from the alert state's open keys
 * (`checkId:tenantId`): the deployed canary's record that their last one failed.
 */
export function failingTenants(openKeys: readonly string[]): Set<string> {
  return failingOf(openPacedChecks(openKeys));
}

/** The tenants of {@link openPacedChecks} with a sampled check among their open incidents. */
export function failingOf(open: ReadonlyMap<string, ReadonlySet<string>>): Set<string> {
  return new Set([...open].filter(([, checks]) => [...checks].some(isSampledCheck)).map(([tenantId]) => tenantId));
}

/** Each tenant's sampled or rotated checks with an open incident, from the alert state's open keys. */
export function openPacedChecks(openKeys: readonly string[]): Map<string, Set<PacedCheckId>> {
  const open = new Map<string, Set<PacedCheckId>>();
  for (const key of openKeys) {
    const colon = key.indexOf(':');
    if (colon < 0) continue;
    const checkId = key.slice(0, colon);
    const tenantId = key.slice(colon + 1);
    if (!(PACED_CHECKS as readonly string[]).includes(checkId) || tenantId === '*' || tenantId === '') continue;
    const checks = open.get(tenantId) ?? new Set<PacedCheckId>();
    checks.add(checkId as PacedCheckId);
    open.set(tenantId, checks);
  }
  return open;
}
