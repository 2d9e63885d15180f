/**
 * The sandbox's other signed entry points over loopback HTTP (sandbox/entry-points.ts): built
 * right by default, and each fault breaking exactly what it says; the sandbox's config describes
 * the resolved-ticket secret as the running platform verifies it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPorts } from '../../functions/adapters/index.ts';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { runWithPorts } from '../../functions/app/with-ports.ts';
import { type ConfigInput, parseConfig } from '../../functions/core/config.ts';
import { signBody } from '../../functions/core/signing.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ redis: 'memory', tls: false });
}, 60_000);
afterEach(async () => {
  await sandbox.setFaults([]);
});
afterAll(async () => {
  await sandbox?.stop();
});

const secretOf = (tenantId: string) => sandbox.tenants.find((tenant) => tenant.tenantId === tenantId)?.secret ?? '';
const entryPoint = (name: string) => {
  const found = parseConfig(sandbox.config).platform.entryPoints.find((entry) => entry.name === name);
  if (found === undefined) throw new Error(`the sandbox config has no entry point ${name}`);
  return found;
};
const secretValue = (secret: unknown): string =>
  secret !== null && typeof secret === 'object' && 'value' in secret ? String(secret.value) : '';

async function post(path: string, body: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${sandbox.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

const resolvedTicket = (tenantId: string) =>
  JSON.stringify({
    tenant_id: tenantId,
    ticket_id: `SYNTH-${randomUUID().slice(0, 8).toUpperCase()}`,
    subject: 'Printer offline',
    description: 'Printer on floor 2 offline',
    resolution: 'Power-cycled',
    resolved_date: new Date().toISOString(),
    priority: 'low',
    tags: ['printer'],
  });
const agentBody = (createdAt: Date) =>
  JSON.stringify({ event: 'canary', ticket_id: 'SYNTH-1', created_at: createdAt.toISOString() });

describe('the resolved-ticket entry point', () => {
  it("takes a resolved ticket signed with the named tenant's own secret and refuses another tenant's, none, or a changed body", async () => {
    const { path } = entryPoint('resolved-ticket');
    const body = resolvedTicket('acme-corp');
    const sign = (tenantId: string, text = body) => ({
      'X-ServiceDesk-Signature': signBody(text, secretOf(tenantId), 'sha256-prefixed'),
    });
    expect(await post(path, body, sign('acme-corp'))).toBe(202);
    expect(await post(path, body, sign('globex'))).toBe(401);
    expect(await post(path, body)).toBe(401);
    expect(await post(path, body.replace('Printer', 'printer'), sign('acme-corp'))).toBe(401);
    expect(entryPoint('resolved-ticket').secret).toBe('tenant');
  });

  it('with shared-entry-point-secret verifies every tenant with one platform-wide secret, and its config says so', async () => {
    await sandbox.setFaults(['shared-entry-point-secret']);
    const entry = entryPoint('resolved-ticket');
    const shared = secretValue(entry.secret);
    expect(shared).not.toBe('');
    const forGlobex = resolvedTicket('globex');
    // Whoever holds the one secret writes as any tenant; the tenant's own secret no longer works.
    expect(
      await post(entry.path, forGlobex, { 'X-ServiceDesk-Signature': signBody(forGlobex, shared, 'sha256-prefixed') }),
    ).toBe(202);
    expect(
      await post(entry.path, forGlobex, {
        'X-ServiceDesk-Signature': signBody(forGlobex, secretOf('globex'), 'sha256-prefixed'),
      }),
    ).toBe(401);
    await sandbox.setFaults([]);
    expect(entryPoint('resolved-ticket').secret).toBe('tenant');
  });

  it("with shared-entry-point-secret on, a config still saying each tenant's own secret is not proven, not a pass", async () => {
    // The sandbox's entry points carry acceptProbe (it never stores a synthetic ticket): the
    // correctly signed request, signed as the config says, is refused by the platform-wide check.
    const stale: ConfigInput = structuredClone(sandbox.config);
    await sandbox.setFaults(['shared-entry-point-secret']);
    const resolved = stale.platform.entryPoints?.find((entry) => entry.name === 'resolved-ticket');
    expect(resolved).toMatchObject({ secret: 'tenant', acceptProbe: true });
    const judge = (config: ConfigInput) =>
      runWithPorts(openPorts, {
        config: parseConfig(config),
        secrets: createSecretResolver({ env: {} }),
        filters: {
          tenantIds: ['acme-corp'],
          checkIds: ['webhook.entry_points_tenant_bound', 'webhook.entry_points_reject_forgeries'],
        },
      });
    const byCheck = (report: Awaited<ReturnType<typeof judge>>) =>
      Object.fromEntries(report.results.map((result) => [result.checkId, [result.status, result.tier]]));

    const report = await judge(stale);
    expect(byCheck(report)).toEqual({
      'webhook.entry_points_tenant_bound': ['error', 'P2'],
      'webhook.entry_points_reject_forgeries': ['error', 'P2'],
    });
    const bound = report.results.find((result) => result.checkId === 'webhook.entry_points_tenant_bound');
    expect(bound?.summary).toMatch(
      /^not proven: resolved-ticket did not accept a request for acme-corp(, [a-z-]+)* signed with the named tenant's own secret as configured \(HTTP 401\)/,
    );

    // The config describing the fault: tenant_bound fails P0, the forgeries are all refused.
    const described = await judge(sandbox.config);
    expect(byCheck(described)).toEqual({
      'webhook.entry_points_tenant_bound': ['fail', 'P0'],
      'webhook.entry_points_reject_forgeries': ['pass', null],
    });
  }, 60_000);

  it('with resolved-ticket-forgeries-accepted takes a resolved ticket without a signature', async () => {
    await sandbox.setFaults(['resolved-ticket-forgeries-accepted']);
    expect(await post(entryPoint('resolved-ticket').path, resolvedTicket('initech'))).toBe(202);
  });
});

describe('the agent webhook', () => {
  it("takes a fresh request signed with the agent's own secret, refuses a stale, unsigned or forged one, and 404s an unknown agent", async () => {
    const entry = entryPoint('agent-triage');
    const secret = secretValue(entry.secret);
    const fresh = agentBody(new Date());
    const sign = (text: string, key = secret) => ({ 'X-Hub-Signature-256': signBody(text, key, 'sha256-prefixed') });
    expect(await post(entry.path, fresh, sign(fresh))).toBe(202);
    expect(await post(entry.path, fresh, sign(fresh, secretOf('acme-corp')))).toBe(401);
    expect(await post(entry.path, fresh)).toBe(401);
    const stale = agentBody(new Date(Date.now() - 3_600_000));
    expect(await post(entry.path, stale, sign(stale))).toBe(401);
    expect(await post('/webhook/agents/00000000-0000-4000-8000-000000000000/webhook', fresh, sign(fresh))).toBe(404);
  });

  it('with agent-webhook-forgeries-accepted takes an unsigned request', async () => {
    await sandbox.setFaults(['agent-webhook-forgeries-accepted']);
    expect(await post(entryPoint('agent-triage').path, agentBody(new Date()))).toBe(202);
  });
});
