import { describe, expect, it } from 'vitest';
import { alertSubject, renderAlert, SNS_MAX_BYTES, trimEvidence } from '../../functions/core/alert-message.ts';
import { alertMessage } from '../support/alerts.ts';

const message = alertMessage;

describe('alert subjects', () => {
  it('names tier, target, check and state in under 100 characters', () => {
    expect(alertSubject(message())).toBe('[P0] acme-corp: rls.cross_tenant_read failing');
    expect(alertSubject(message({ state: 'reminder' }))).toBe(
      '[P0] acme-corp: rls.cross_tenant_read still failing (reminder)',
    );
    expect(alertSubject(message({ state: 'resolved' }))).toBe('[P0] acme-corp: rls.cross_tenant_read resolved');
    expect(alertSubject(message({ tier: 'P1', escalatedFrom: 'P2', checkId: 'tenant.success_rate' }))).toBe(
      '[P1] acme-corp: tenant.success_rate failing (escalated from P2)',
    );
    expect(alertSubject(message({ tenantId: null, checkId: 'api.health', dedupKey: 'api.health:*' }))).toBe(
      '[P0] platform: api.health failing',
    );
    expect(
      alertSubject(
        message({ tenantId: null, kind: 'breadth', evidence: { failingTenants: 5, tenantsInRun: 6, tenants: [] } }),
      ),
    ).toBe('[P0] all tenants: rls.cross_tenant_read failing (5 of 6)');
    expect(alertSubject(message({ tenantId: null, kind: 'canary', tier: 'P2' }))).toBe(
      '[P2] canary: rls.cross_tenant_read could not be checked',
    );
  });

  it('cuts a long subject below 100 characters, in printable ASCII', () => {
    const tenantId = 'a'.repeat(100);
    const subject = alertSubject(message({ tenantId, checkId: 'custom.ché\ncheck' }));
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^\[P0\] a+\.\.\.$/);
    expect(alertSubject(message({ checkId: 'x.ché\ncheck' }))).toBe('[P0] acme-corp: x.ch??check failing');
  });
});

describe('alert rendering', () => {
  it('sends the report entry, state, dedupKey, firstFailedAt and first step as JSON, with filter attributes', () => {
    const rendered = renderAlert(message());
    expect(JSON.parse(rendered.body)).toEqual({
      state: 'firing',
      tier: 'P0',
      checkId: 'rls.cross_tenant_read',
      tenantId: 'acme-corp',
      dedupKey: 'rls.cross_tenant_read:acme-corp',
      firstFailedAt: '2026-11-27T10:00:00.000Z',
      sentAt: '2026-11-27T10:05:00.000Z',
      summary: 'In the context of acme-corp, 3 rows of globex are visible in enhancement_history.',
      runbook: 'Issue 4: Data Isolation Concern (Security)',
      runbookUrl: null,
      firstStep: 'Scale workers to zero, then review the policies of the table named in the evidence.',
      escalatedFrom: null,
      note: null,
      evidence: { table: 'enhancement_history', otherTenant: 'globex', rows: 3 },
      evidenceTrimmed: false,
    });
    // With alerts.runbookBaseUrl the section is linked.
    expect(
      JSON.parse(renderAlert(message(), { runbookBaseUrl: 'https://wiki.example.com/guide' }).body).runbookUrl,
    ).toBe('https://wiki.example.com/guide#issue-4-data-isolation-concern-security');
    expect(rendered.attributes).toEqual({
      tier: 'P0',
      checkId: 'rls.cross_tenant_read',
      tenantId: 'acme-corp',
      state: 'firing',
    });
    expect(rendered.trimmed).toBe(false);
    expect(renderAlert(message({ tenantId: null, kind: 'breadth' })).attributes.tenantId).toBe('*');
    expect(renderAlert(message({ tenantId: null, kind: 'check' })).attributes.tenantId).toBe('platform');
  });

  it('trims oversized evidence under 256 KiB, largest fields first, and keeps the headline', () => {
    const huge = message({
      evidence: { body: 'x'.repeat(600_000), status: 500, headers: { 'content-type': 'text/html' } },
    });
    const rendered = renderAlert(huge);
    expect(rendered.bytes).toBeLessThanOrEqual(SNS_MAX_BYTES);
    expect(Buffer.byteLength(rendered.body)).toBeLessThan(SNS_MAX_BYTES);
    const body = JSON.parse(rendered.body);
    expect(body.evidence).toEqual({
      body: '[trimmed: 600002 bytes]',
      status: 500,
      headers: { 'content-type': 'text/html' },
    });
    expect(body.evidenceTrimmed).toBe(true);
    expect(body.summary).toBe(huge.summary);
    expect(rendered.subject).toBe('[P0] acme-corp: rls.cross_tenant_read failing');
  });

  it('falls back to a preview when no single field is to blame, counting multi-byte characters', () => {
    const evidence = Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [`k${i}`, 'é€😀']));
    const rendered = renderAlert(message({ evidence }));
    expect(rendered.bytes).toBeLessThanOrEqual(SNS_MAX_BYTES);
    const body = JSON.parse(rendered.body);
    expect(body.evidence.trimmed).toBe(true);
    expect(body.evidence.preview.length).toBeGreaterThan(1000);
    expect(body.evidence.preview).not.toContain('\uFFFD');
  });

  it('leaves evidence that fits as it is', () => {
    const evidence = { a: 1, b: 'two' };
    expect(trimEvidence(evidence, 1000)).toBe(evidence);
    expect(trimEvidence({ a: 'x'.repeat(100), b: 2 }, 60)).toEqual({ a: '[trimmed: 102 bytes]', b: 2 });
  });
});
