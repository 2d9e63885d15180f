/**
 * The check catalog: the single table that the CLI's `checks`, the docs, the run planner and
 * the tests all read. Ids are a public contract: add checks, never rename one.
 *
 * `runbook` names the section of the platform's troubleshooting guide an on-call engineer
 * opens first; `firstStep` is the first diagnostic step from that section, sent with alerts.
 */
import type { Tier } from './types.ts';

/** `sweep`: decided by the deployed sweep protocol itself, not by a probe (never in a CLI run). */
export type CheckScope = 'platform' | 'tenant' | 'sweep';

export interface CatalogEntry {
  readonly id: string;
  readonly scope: CheckScope;
  /** What a pass proves, in one sentence. */
  readonly proves: string;
  /** Tier of a plain `fail` (a probe may name a different one for a specific failure). */
  readonly defaultTier: Tier;
  readonly runbook: string;
  readonly firstStep: string;
  /** Another check whose output this one needs (it runs first, even when not requested). */
  readonly needs?: string;
}

const RUNBOOK = {
  notReceiving: 'Issue 1: Tickets Not Receiving Enhancements',
  webhookNotReaching: 'Issue 1, Resolution A: Webhook Not Reaching API',
  signature: 'Issue 1, Resolution B: Signature Validation Fails',
  queueBackup: 'Issue 1, Resolution C: Workers Not Processing (Queue Backup)',
  tenantJobs: 'Issue 1, Resolution D: Workers Not Picking Up Tenant Jobs',
  quality: 'Issue 2: Enhancement Quality Poor',
  performance: 'Issue 3: Performance Degradation',
  isolation: 'Issue 4: Data Isolation Concern (Security)',
  health: 'Quick Diagnostics, Step 2: Check Tenant Health',
  canary: 'tenant-canary README: A sweep is judged once',
} as const;

export const CATALOG = [
  // Platform checks, once per sweep.
  {
    id: 'api.health',
    scope: 'platform',
    proves: 'the API answers its health endpoint with status "healthy" in time',
    defaultTier: 'P0',
    runbook: RUNBOOK.webhookNotReaching,
    firstStep: 'Verify the API pods are running and curl the health endpoint from inside the cluster.',
  },
  {
    id: 'api.tls_certificate',
    scope: 'platform',
    proves: 'the HTTPS certificate is trusted, matches the host and is not about to expire',
    defaultTier: 'P0',
    runbook: RUNBOOK.webhookNotReaching,
    firstStep: 'Check the ingress certificate (kubectl get certificate) and its renewal.',
  },
  {
    id: 'rls.tables_enabled',
    scope: 'platform',
    proves: 'row-level security is enabled on every tenant table',
    defaultTier: 'P0',
    runbook: RUNBOOK.isolation,
    firstStep: 'Scale workers to zero, then list relrowsecurity for every tenant table.',
  },
  {
    id: 'rls.policies_present',
    scope: 'platform',
    proves: 'every tenant table has a policy that reads the tenant setting',
    defaultTier: 'P0',
    runbook: RUNBOOK.isolation,
    firstStep: 'List pg_policies for the tenant tables and re-apply the RLS migration if one is missing.',
  },
  {
    id: 'rls.app_role_enforced',
    scope: 'platform',
    proves: "the platform's application role is subject to row-level security",
    defaultTier: 'P0',
    runbook: RUNBOOK.isolation,
    firstStep:
      'Check whether the application role is superuser, has BYPASSRLS, or owns tenant tables without FORCE ROW LEVEL SECURITY.',
  },
  {
    id: 'rls.no_context_denied',
    scope: 'platform',
    proves: 'without a tenant context no tenant row is visible',
    defaultTier: 'P0',
    runbook: RUNBOOK.isolation,
    firstStep: 'Scale workers to zero, then inspect the USING clause of every tenant policy for a fail-open default.',
  },
  {
    id: 'queue.depth',
    scope: 'platform',
    proves: 'the enhancement queue is not backing up',
    defaultTier: 'P2',
    runbook: RUNBOOK.queueBackup,
    firstStep: 'Check the worker pods are running, then watch LLEN of the queue while scaling workers.',
  },
  {
    id: 'db.connections',
    scope: 'platform',
    proves: 'the database has connection headroom',
    defaultTier: 'P1',
    runbook: RUNBOOK.queueBackup,
    firstStep: 'Count pg_stat_activity connections per application and restart workers to reset a leaking pool.',
  },
  {
    id: 'canary.probe_role_safe',
    scope: 'platform',
    proves: "the canary's own database role cannot bypass row-level security, so its RLS probes mean something",
    defaultTier: 'P2',
    runbook: RUNBOOK.isolation,
    firstStep:
      'Give the canary a login role that is not superuser, has no BYPASSRLS and owns no tenant table (or set probeAsRole).',
  },
  {
    id: 'rls.views_respect_rls',
    scope: 'platform',
    proves:
      'no view or materialized view reads a tenant table with the rights of a role that bypasses row-level security',
    defaultTier: 'P0',
    runbook: RUNBOOK.isolation,
    firstStep:
      'Revoke SELECT on the view named in the evidence, then recreate it WITH (security_invoker = true) or drop the materialized view.',
  },
  {
    id: 'rls.partitions_covered',
    scope: 'platform',
    proves: 'every partition and inheritance child of a tenant table has row-level security and a tenant policy',
    defaultTier: 'P0',
    runbook: RUNBOOK.isolation,
    firstStep:
      'Revoke access to the child table named in the evidence, then ENABLE ROW LEVEL SECURITY on it and copy the tenant policy.',
  },
  {
    id: 'rls.definer_functions',
    scope: 'platform',
    proves:
      'no SECURITY DEFINER function that bypasses row-level security is open to the application, and the context function pins its search_path',
    defaultTier: 'P2',
    runbook: RUNBOOK.isolation,
    firstStep:
      'Review each function in the evidence: REVOKE EXECUTE from PUBLIC and the application role, or make it SECURITY INVOKER; SET search_path on the context function.',
  },
  {
    id: 'rls.context_scope',
    scope: 'platform',
    proves: 'the context function sets the tenant for the transaction only, so a pooled connection forgets it',
    defaultTier: 'P2',
    runbook: RUNBOOK.isolation,
    firstStep:
      'Change the context function to set_config(..., true) (transaction scope), or reset the setting whenever a connection returns to the pool.',
  },
  {
    id: 'rls.isolation_snapshot',
    scope: 'platform',
    proves:
      'the isolation configuration (RLS flags, owners, policies, grants, the app role) is the one pinned after review',
    defaultTier: 'P2',
    runbook: RUNBOOK.isolation,
    firstStep:
      'Compare `tenant-canary snapshot` with the pinned one; review the migration that changed it, then pin the new digest.',
  },
  {
    id: 'webhook.entry_points_tenant_bound',
    scope: 'platform',
    proves:
      "every signed entry point the tenants send to that names a tenant verifies it with that tenant's own secret",
    defaultTier: 'P0',
    runbook: RUNBOOK.isolation,
    firstStep:
      "Stop the entry point named in the evidence (or restrict it to the platform's own senders), then verify its signature with the secret of the tenant named in the body.",
  },
  // Tenant checks, for each tenant each sweep.
  {
    id: 'webhook.signed_accepted',
    scope: 'tenant',
    proves: 'a correctly signed synthetic ticket is accepted',
    defaultTier: 'P1',
    runbook: RUNBOOK.signature,
    firstStep: "Compare the tenant's signing secret in tenant_configs with the one the sender uses.",
  },
  {
    id: 'webhook.bad_signature_rejected',
    scope: 'tenant',
    proves: 'a ticket signed with a wrong secret is rejected',
    defaultTier: 'P0',
    runbook: RUNBOOK.signature,
    firstStep: 'Stop webhook processing and review the signature validator: forged tickets are being accepted.',
  },
  {
    id: 'webhook.missing_signature_rejected',
    scope: 'tenant',
    proves: 'a ticket without a signature header is rejected',
    defaultTier: 'P0',
    runbook: RUNBOOK.signature,
    firstStep: 'Stop webhook processing and check that the receiver requires the signature header.',
  },
  {
    id: 'webhook.tampered_body_rejected',
    scope: 'tenant',
    proves: 'a body changed after signing is rejected (the HMAC covers the raw bytes)',
    defaultTier: 'P0',
    runbook: RUNBOOK.signature,
    firstStep: 'Stop webhook processing and check the HMAC is computed over the exact raw body bytes.',
  },
  {
    id: 'webhook.cross_tenant_signature_rejected',
    scope: 'tenant',
    proves: "a ticket for this tenant signed with another tenant's secret is rejected",
    defaultTier: 'P0',
    runbook: RUNBOOK.isolation,
    firstStep: 'Stop webhook processing and check the receiver looks up the secret of the tenant named in the body.',
  },
  {
    id: 'webhook.stale_timestamp_rejected',
    scope: 'tenant',
    proves: 'a correctly signed but old ticket is rejected (replay protection)',
    defaultTier: 'P1',
    runbook: RUNBOOK.signature,
    firstStep: "Check the receiver's created_at window (300 s old, 30 s ahead).",
  },
  {
    id: 'webhook.future_timestamp_rejected',
    scope: 'tenant',
    proves: 'a correctly signed ticket dated in the future is rejected (the replay window is closed ahead)',
    defaultTier: 'P1',
    runbook: RUNBOOK.signature,
    firstStep: 'Check the receiver refuses created_at more than 30 s ahead of its clock (and that its clock is right).',
  },
  {
    id: 'webhook.entry_points_reject_forgeries',
    scope: 'tenant',
    proves:
      "every configured signed entry point rejects a request for this tenant with a wrong signature, none, a body changed after signing, and another tenant's secret",
    defaultTier: 'P0',
    runbook: RUNBOOK.signature,
    firstStep:
      'Stop the entry point named in the summary and review its signature check: it accepted the forged request the summary names.',
  },
  {
    id: 'enhancement.round_trip',
    scope: 'tenant',
    proves: 'the accepted synthetic ticket is enhanced and recorded as completed in time',
    defaultTier: 'P1',
    runbook: RUNBOOK.notReceiving,
    firstStep: 'Check queue depth and worker logs for the tenant (Resolution C and D).',
    needs: 'webhook.signed_accepted',
  },
  {
    id: 'enhancement.quality',
    scope: 'tenant',
    proves: 'the synthetic enhancement has text',
    defaultTier: 'P3',
    runbook: RUNBOOK.quality,
    firstStep: 'Review the latest enhancements and the tenant ticket-history volume.',
    needs: 'enhancement.round_trip',
  },
  {
    id: 'rls.context_function',
    scope: 'tenant',
    proves: "the platform's tenant-context function accepts this tenant and sets the tenant setting",
    defaultTier: 'P1',
    runbook: RUNBOOK.tenantJobs,
    firstStep: 'Run the context function for the tenant by hand and check the tenant is active in tenant_configs.',
  },
  {
    id: 'rls.cross_tenant_read',
    scope: 'tenant',
    proves: "in this tenant's context no other tenant's row is visible",
    defaultTier: 'P0',
    runbook: RUNBOOK.isolation,
    firstStep: 'Scale workers to zero, then review the policies of the table named in the evidence.',
  },
  {
    id: 'rls.cross_tenant_write',
    scope: 'tenant',
    proves: "in this tenant's context rows cannot be written as another tenant",
    defaultTier: 'P0',
    runbook: RUNBOOK.isolation,
    firstStep:
      'Scale workers to zero, then check the WITH CHECK clause of the policy on the table named in the evidence.',
  },
  {
    id: 'tenant.success_rate',
    scope: 'tenant',
    proves: "the tenant's real enhancements of the last 24 h mostly completed",
    defaultTier: 'P2',
    runbook: RUNBOOK.health,
    firstStep: 'List the failed enhancements of the tenant with their error_message.',
  },
  {
    id: 'tenant.latency',
    scope: 'tenant',
    proves: "the tenant's real enhancements of the last 24 h were fast enough",
    defaultTier: 'P2',
    runbook: RUNBOOK.performance,
    firstStep: 'Look for the slowest spans (LLM, ServiceDesk Plus API) in tracing for the tenant.',
  },
  {
    id: 'tenant.history_volume',
    scope: 'tenant',
    proves: 'the tenant has enough ticket history for useful enhancements',
    defaultTier: 'P3',
    runbook: RUNBOOK.quality,
    firstStep: 'Import the tenant ticket history (populate-ticket-history, 90 days, resolved only).',
  },
  // Decided by the deployed sweep protocol when it judges a sweep.
  {
    id: 'canary.sweep_complete',
    scope: 'sweep',
    proves: 'every tenant a sweep handed out was probed and recorded before its drain deadline',
    defaultTier: 'P2',
    runbook: RUNBOOK.canary,
    firstStep:
      "Look up the missing tenants in the probe function's logs and the dead-letter queue; if sweeps do not drain, raise deployment.probe.maxConcurrency.",
  },
] as const satisfies readonly CatalogEntry[];

export type CheckId = (typeof CATALOG)[number]['id'];
export type PlatformCheckId = Extract<(typeof CATALOG)[number], { scope: 'platform' }>['id'];
export type TenantCheckId = Extract<(typeof CATALOG)[number], { scope: 'tenant' }>['id'];

export const CHECK_IDS: readonly CheckId[] = CATALOG.map((entry) => entry.id);

const BY_ID = new Map<string, CatalogEntry>(CATALOG.map((entry) => [entry.id, entry]));

export function isCheckId(value: string): value is CheckId {
  return BY_ID.has(value);
}

export function catalogEntry(id: CheckId): CatalogEntry {
  const entry = BY_ID.get(id);
  if (!entry) throw new Error(`unknown check id ${id}`);
  return entry;
}

/** Position in the catalog: results are reported in this order. */
export function catalogIndex(id: CheckId): number {
  return CHECK_IDS.indexOf(id);
}
