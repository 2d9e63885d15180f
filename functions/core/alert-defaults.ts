/**
 * The alert policy's defaults (the guide's escalation rules), in one place: the policy's options
 * when no config says otherwise (functions/core/alert-policy.ts) and the defaults of the config's
 * `alerts` section. Pure data, importing nothing, so the config schema can read it too.
 */
export const DEFAULT_ALERT_POLICY = {
  /** Consecutive failing runs before an incident fires. */
  fireAfterRuns: { P0: 1, P1: 2, P2: 2, P3: 2 },
  /** Consecutive passing runs before a firing incident resolves. */
  resolveAfterRuns: 2,
  /** Minutes between reminders while firing; null: none. */
  reminderMinutes: { P0: 15, P1: 30, P2: 120, P3: null },
  /** Minutes at a tier after which the incident is re-sent one tier higher; null: never. */
  escalateAfterMinutes: { P0: null, P1: null, P2: 60, P3: null },
  /** A platform-wide incident when a tenant check fails for this many and this share of the run's tenants. */
  breadth: { minTenants: 3, minRatio: 0.5 },
  maintenance: [],
} as const;
