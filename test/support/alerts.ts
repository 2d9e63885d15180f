/** An alert message as the alert policy hands it to the publishers: a P0 isolation breach of acme-corp. */
import type { AlertMessage } from '../../functions/core/alert-policy.ts';

export const alertMessage = (overrides: Partial<AlertMessage> = {}): AlertMessage => ({
  id: 'rls.cross_tenant_read:acme-corp#1',
  state: 'firing',
  tier: 'P0',
  checkId: 'rls.cross_tenant_read',
  tenantId: 'acme-corp',
  dedupKey: 'rls.cross_tenant_read:acme-corp',
  kind: 'check',
  firstFailedAt: '2026-11-27T10:00:00.000Z',
  createdAt: '2026-11-27T10:05:00.000Z',
  summary: 'In the context of acme-corp, 3 rows of globex are visible in enhancement_history.',
  evidence: { table: 'enhancement_history', otherTenant: 'globex', rows: 3 },
  runbook: 'Issue 4: Data Isolation Concern (Security)',
  firstStep: 'Scale workers to zero, then review the policies of the table named in the evidence.',
  escalatedFrom: null,
  note: null,
  ...overrides,
});
