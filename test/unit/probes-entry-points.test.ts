/**
 * The signed entry points' checks against real HTTP servers on 127.0.0.1: what is sent (headers,
 * bodies, signatures over the exact bytes), how each answer is judged, and that no request a
 * correct receiver would accept is sent unless `acceptProbe` is on.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../functions/adapters/http.ts';
import { type ConfigInput, parseConfig } from '../../functions/core/config.ts';
import { Secret } from '../../functions/core/secret.ts';
import { verifySignature } from '../../functions/core/signing.ts';
import type { HttpClient, ResolvedTenant } from '../../functions/ports.ts';
import {
  entryPointBody,
  namesTenant,
  probeEntryPointsRejectForgeries,
  probeEntryPointsTenantBound,
  tamperOneByte,
} from '../../functions/probes/entry-points.ts';
import type { EntryPointSecret } from '../../functions/probes/types.ts';
import { platformContext, resolveTenants, tenantContext } from '../support/probe-context.ts';
import {
  type Handler,
  hang,
  type ReceivedRequest,
  sendJson,
  startServer,
  type TestServer,
} from '../support/servers.ts';

const SECRETS = { 'acme-corp': 'acme-signing-secret-7f3a9c', globex: 'globex-signing-secret-2b8d41' };
const SHARED = 'platform-wide-secret-91c0d5';
const TENANTS = resolveTenants(SECRETS);
const NOW = new Date('2026-12-01T10:00:00.000Z');

type EntryPointInput = NonNullable<ConfigInput['platform']['entryPoints']>[number];

const RESOLVED: EntryPointInput = {
  name: 'resolved-ticket',
  path: '/webhook/servicedesk/resolved-ticket',
  signatureHeader: 'X-ServiceDesk-Signature',
  body: 'resolved-ticket',
};
const AGENT: EntryPointInput = {
  name: 'agent-triage',
  path: '/webhook/agents/3f1c/webhook',
  signatureHeader: 'X-Hub-Signature-256',
  secret: { value: SHARED },
  body: { template: { event: 'canary', ticket_id: '{ticketId}', created_at: '{createdAt}' } },
  timestamped: true,
  replayable: true,
};

let http: HttpClient;
const servers: TestServer[] = [];

beforeAll(() => {
  http = createHttpClient({ connectTimeoutMs: 1000 });
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(async () => {
  await http.close();
});

async function serve(handler: Handler): Promise<TestServer> {
  const server = await startServer(handler);
  servers.push(server);
  return server;
}

function configFor(baseUrl: string, entryPoints: EntryPointInput[], secrets: Record<string, string> = SECRETS) {
  return parseConfig({
    platform: { baseUrl, entryPoints },
    tenants: Object.entries(secrets).map(([tenantId, value]) => ({ tenantId, signingSecret: { value } })),
    thresholds: { requestTimeoutMs: 1_000 },
  });
}

const sharedSecrets = (entries: EntryPointInput[]): Map<string, EntryPointSecret> =>
  new Map(
    entries.flatMap((entry) =>
      entry.secret === undefined || entry.secret === 'tenant' || !('value' in entry.secret)
        ? []
        : [[entry.name, { ok: true, secret: new Secret(entry.secret.value) }] as const],
    ),
  );

async function rejectForgeries(
  server: { url: string },
  entries: EntryPointInput[],
  options: { tenantId?: string; tenants?: ResolvedTenant[]; secrets?: Record<string, string> } = {},
) {
  const config = configFor(server.url, entries, options.secrets);
  const ctx = tenantContext(config, http, options.tenantId ?? 'acme-corp', options.tenants ?? TENANTS, {
    now: () => NOW,
  });
  return probeEntryPointsRejectForgeries({ ...ctx, entryPointSecrets: sharedSecrets(entries) });
}

/** A receiver built right: the header is required and verified over the raw bytes with `secretOf(body)`. */
function verifyingReceiver(header: string, secretOf: (body: Record<string, unknown>) => string | undefined): Handler {
  return (request, res) => {
    const signature = request.headers[header.toLowerCase()];
    if (typeof signature !== 'string') return sendJson(res, 401, { detail: 'Missing signature header' });
    const body = JSON.parse(request.body) as Record<string, unknown>;
    const secret = secretOf(body);
    if (secret === undefined || !verifySignature(request.body, secret, signature, 'sha256-prefixed')) {
      return sendJson(res, 401, { detail: 'Invalid webhook signature' });
    }
    sendJson(res, 202, { status: 'accepted' });
  };
}
const perTenant = verifyingReceiver('X-ServiceDesk-Signature', (body) =>
  typeof body.tenant_id === 'string' ? SECRETS[body.tenant_id as keyof typeof SECRETS] : undefined,
);

const received = (server: TestServer, path: string): ReceivedRequest[] =>
  server.received.filter((request) => request.url === path);

describe('webhook.entry_points_reject_forgeries', () => {
  it('sends four forgeries to an entry point verified per tenant and passes when each gets 4xx', async () => {
    const server = await serve(perTenant);
    const outcome = await rejectForgeries(server, [RESOLVED]);

    expect(outcome.status).toBe('pass');
    expect(outcome.summary).toBe('every forgery was rejected: resolved-ticket 4 rejected (HTTP 401)');
    const requests = received(server, RESOLVED.path);
    expect(requests).toHaveLength(4);
    const bodies = requests.map((request) => JSON.parse(request.body) as Record<string, unknown>);
    for (const body of bodies) {
      expect(body).toMatchObject({ tenant_id: 'acme-corp', priority: 'low', resolved_date: NOW.toISOString() });
      expect(body.ticket_id).toMatch(/^SYNTH-[0-9A-F]{16}$/);
    }
    const signature = (request: ReceivedRequest) => request.headers['x-servicedesk-signature'] as string | undefined;
    expect(requests.filter((request) => signature(request) === undefined)).toHaveLength(1);
    // Exactly one is correctly signed by another tenant (globex), none by acme-corp's secret over what was sent.
    const byGlobex = requests.filter((r) => verifySignature(r.body, SECRETS.globex, signature(r), 'sha256-prefixed'));
    expect(byGlobex).toHaveLength(1);
    expect(requests.some((r) => verifySignature(r.body, SECRETS['acme-corp'], signature(r), 'sha256-prefixed'))).toBe(
      false,
    );
  });

  it('signs the tampered request with the right secret over a body one byte away from what is sent', async () => {
    const server = await serve(perTenant);
    await rejectForgeries(server, [RESOLVED]);
    const tampered = received(server, RESOLVED.path).find((request) => {
      const signature = request.headers['x-servicedesk-signature'];
      if (typeof signature !== 'string') return false;
      const body = JSON.parse(request.body) as { ticket_id: string };
      const last = body.ticket_id.at(-1) as string;
      // Undo the one-byte change: the original body verifies with acme-corp's own secret.
      return ['A', 'B', ...'0123456789CDEF'].some(
        (candidate) =>
          candidate !== last &&
          verifySignature(
            request.body.replace(body.ticket_id, `${body.ticket_id.slice(0, -1)}${candidate}`),
            SECRETS['acme-corp'],
            signature,
            'sha256-prefixed',
          ),
      );
    });
    expect(tampered).toBeDefined();
  });

  it('fails P0 naming the entry point and the probe when a request without a signature is accepted', async () => {
    const server = await serve((request, res) =>
      request.headers['x-hub-signature-256'] === undefined
        ? sendJson(res, 202, { status: 'accepted' })
        : sendJson(res, 401, { detail: 'Invalid signature' }),
    );
    const outcome = await rejectForgeries(server, [AGENT]);

    expect(outcome).toMatchObject({ status: 'fail', tier: 'P0' });
    expect(outcome.summary).toBe(
      'forged requests for acme-corp were accepted, so anyone can send them: agent-triage accepted a request without X-Hub-Signature-256 (HTTP 202)',
    );
    expect(outcome.evidence?.entryPoints).toEqual([
      expect.objectContaining({
        name: 'agent-triage',
        verdict: 'fail',
        probes: expect.objectContaining({
          'missing-signature': expect.objectContaining({ verdict: 'fail', status: 202 }),
          'wrong-signature': expect.objectContaining({ verdict: 'pass', status: 401 }),
          'cross-tenant': { verdict: 'skipped' },
        }),
      }),
    ]);
  });

  it("fails P0 when the entry point takes a request for this tenant signed with another tenant's secret", async () => {
    // Any tenant's secret verifies any body: the tenant named in the body is not the one looked up.
    const server = await serve((request, res) => {
      const signature = request.headers['x-servicedesk-signature'];
      const ok = Object.values(SECRETS).some((secret) =>
        verifySignature(request.body, secret, typeof signature === 'string' ? signature : undefined, 'sha256-prefixed'),
      );
      sendJson(res, ok ? 202 : 401, ok ? { status: 'accepted' } : { detail: 'Invalid webhook signature' });
    });
    const outcome = await rejectForgeries(server, [RESOLVED]);

    expect(outcome).toMatchObject({ status: 'fail', tier: 'P0' });
    expect(outcome.summary).toContain(
      "resolved-ticket accepted a request for acme-corp signed with globex's secret (HTTP 202)",
    );
  });

  it('sends three forgeries to an entry point with one shared secret (no cross-tenant request) and uses that secret', async () => {
    // Refuses as a receiver built right does, but echoes its secret and the signature it got back.
    const verify = verifyingReceiver('X-Hub-Signature-256', () => SHARED);
    const server = await serve((request, res, req) => {
      if (verifySignature(request.body, SHARED, request.headers['x-hub-signature-256'] as string, 'sha256-prefixed')) {
        return verify(request, res, req);
      }
      sendJson(res, 401, {
        detail: `Invalid signature ${String(request.headers['x-hub-signature-256'])}: expected one made with ${SHARED}`,
      });
    });
    const outcome = await rejectForgeries(server, [AGENT]);

    expect(outcome.status).toBe('pass');
    expect(outcome.summary).toBe(
      "every forgery was rejected: agent-triage 3 rejected (HTTP 401), another tenant's secret not tried (one secret for every tenant)",
    );
    const requests = received(server, AGENT.path);
    expect(requests).toHaveLength(3);
    const bodies = requests.map((request) => JSON.parse(request.body) as Record<string, unknown>);
    for (const body of bodies) {
      expect(Object.keys(body)).toEqual(['event', 'ticket_id', 'created_at']);
      expect(body).toMatchObject({ event: 'canary', created_at: NOW.toISOString() });
    }
    // The echo reached the evidence, scrubbed.
    const details = JSON.stringify(outcome.evidence);
    expect(details).toContain('Invalid signature');
    expect(details).toContain('expected one made with');
    expect(JSON.stringify(outcome)).not.toContain(SHARED);
  });

  it('signs with bare hex when signatureFormat is "hex" (a receiver taking only bare hex accepts the correct one)', async () => {
    const server = await serve((request, res) => {
      const signature = request.headers['x-signature'];
      if (typeof signature !== 'string') return sendJson(res, 401, { detail: 'Missing signature' });
      if (signature.startsWith('sha256=')) return sendJson(res, 401, { detail: 'Bad signature format' });
      const ok = verifySignature(request.body, SHARED, signature, 'hex');
      sendJson(res, ok ? 202 : 401, ok ? { status: 'accepted' } : { detail: 'Invalid signature' });
    });
    const hex: EntryPointInput = {
      ...AGENT,
      signatureHeader: 'X-Signature',
      signatureFormat: 'hex',
      acceptProbe: true,
    };
    const outcome = await rejectForgeries(server, [hex]);
    expect(outcome.status).toBe('pass');
    expect(outcome.summary).toContain('agent-triage 3 rejected (HTTP 401), a correct one accepted');
    const signatures = received(server, AGENT.path).flatMap((request) => {
      const value = request.headers['x-signature'];
      return typeof value === 'string' ? [value] : [];
    });
    expect(signatures).toHaveLength(3);
    for (const signature of signatures) expect(signature).toMatch(/^[0-9a-f]{64}$/);
  });

  it('tampers without touching the tenant: a receiver that validates the tenant but ignores the signature accepts it', async () => {
    // The template names only the tenant: the tampered body must still name acme-corp.
    const server = await serve((request, res) => {
      const body = JSON.parse(request.body) as { tenant?: unknown };
      if (body.tenant !== 'acme-corp' && body.tenant !== 'globex')
        return sendJson(res, 401, { detail: 'Unknown tenant' });
      sendJson(res, 202, { status: 'accepted' });
    });
    const tenantOnly: EntryPointInput = {
      name: 'tenant-only',
      path: '/hooks/tenant-only',
      signatureHeader: 'X-Signature',
      body: { template: { tenant: '{tenantId}' } },
    };
    const outcome = await rejectForgeries(server, [tenantOnly]);
    expect(outcome).toMatchObject({ status: 'fail', tier: 'P0' });
    expect(outcome.summary).toContain('a request changed after signing (HTTP 202)');
    expect(outcome.evidence?.entryPoints).toEqual([
      expect.objectContaining({
        probes: expect.objectContaining({ 'tampered-body': expect.objectContaining({ verdict: 'fail', status: 202 }) }),
      }),
    ]);
    for (const request of received(server, tenantOnly.path)) {
      expect(JSON.parse(request.body)).toEqual({ tenant: 'acme-corp' });
    }
  });

  it('skips the cross-tenant request with one tenant and still judges the rest', async () => {
    const one = { 'acme-corp': SECRETS['acme-corp'] };
    const server = await serve(perTenant);
    const outcome = await rejectForgeries(server, [RESOLVED], { tenants: resolveTenants(one), secrets: one });
    expect(outcome.status).toBe('pass');
    expect(outcome.summary).toContain('resolved-ticket 3 rejected (HTTP 401)');
    expect(outcome.summary).toContain('no other tenant with its own secret');
    expect(received(server, RESOLVED.path)).toHaveLength(3);
  });

  it.each([
    [404, /HTTP 404.*the target was not found, so whether a forgery is rejected is not proven/],
    [405, /HTTP 405.*no POST route at the entry point's path, so whether a forgery is rejected is not proven/],
    [503, /failed \(HTTP 503.*so whether it is rejected is unknown/],
    [429, /rate-limited \(HTTP 429\)/],
  ])('is an error P2 "not proven", never a pass, when every answer is %i', async (status, summary) => {
    const server = await serve((_request, res) => sendJson(res, status, { detail: `status ${status}` }));
    const outcome = await rejectForgeries(server, [RESOLVED]);
    expect(outcome).toMatchObject({ status: 'error', tier: 'P2' });
    expect(outcome.summary).toMatch(/^not proven: resolved-ticket: /);
    expect(outcome.summary).toMatch(summary);
  });

  it('is an error P2 when the entry point does not answer in time', async () => {
    const server = await serve(hang);
    const outcome = await rejectForgeries(server, [RESOLVED]);
    expect(outcome).toMatchObject({ status: 'error', tier: 'P2' });
    expect(outcome.summary).toMatch(/entry point resolved-ticket .*1000 ms/);
  });

  it('fails P0 on one entry point even when another is not proven, naming only the accepting one', async () => {
    const server = await serve((request, res) =>
      request.url === AGENT.path ? sendJson(res, 202, {}) : sendJson(res, 404, { detail: 'Not Found' }),
    );
    const outcome = await rejectForgeries(server, [RESOLVED, AGENT]);
    expect(outcome).toMatchObject({ status: 'fail', tier: 'P0' });
    expect(outcome.summary).toContain(
      'agent-triage accepted a request with a wrong signature (HTTP 202), a request without X-Hub-Signature-256 (HTTP 202), a request changed after signing (HTTP 202)',
    );
    expect(outcome.summary).not.toContain('resolved-ticket');
  });

  it('expands {tenantId} in the path and the template for the probed tenant', async () => {
    const server = await serve((_request, res) => sendJson(res, 401, { detail: 'no' }));
    const entry: EntryPointInput = {
      name: 'per-tenant',
      path: '/hooks/{tenantId}/resolved',
      signatureHeader: 'X-Signature',
      body: { template: { tenant: '{tenantId}', id: '{ticketId}', nested: ['{tenantId}-x', 3] } },
    };
    await rejectForgeries(server, [entry], { tenantId: 'globex' });
    expect(new Set(server.received.map((request) => request.url))).toEqual(new Set(['/hooks/globex/resolved']));
    const body = JSON.parse(server.received[0]?.body ?? '{}') as Record<string, unknown>;
    expect(body).toMatchObject({ tenant: 'globex', nested: ['globex-x', 3] });
  });

  it('encodes the tenant id as one path segment', async () => {
    const server = await serve((_request, res) => sendJson(res, 401, { detail: 'no' }));
    const odd = { 'acme corp/eu?x#1': 'odd-secret-44a1' };
    const entry: EntryPointInput = {
      name: 'per-tenant',
      path: '/hooks/{tenantId}/resolved',
      signatureHeader: 'X-Signature',
      body: { template: { tenant: '{tenantId}' } },
    };
    const ctx = tenantContext(configFor(server.url, [entry]), http, 'acme corp/eu?x#1', resolveTenants(odd), {
      now: () => NOW,
    });
    await probeEntryPointsRejectForgeries(ctx);
    expect(new Set(server.received.map((request) => request.url))).toEqual(
      new Set(['/hooks/acme%20corp%2Feu%3Fx%231/resolved']),
    );
  });

  it('sends a correctly signed request only with acceptProbe, and its refusal makes the rejections unproven', async () => {
    const accepting: EntryPointInput = { ...AGENT, acceptProbe: true };
    const healthy = await serve(verifyingReceiver('X-Hub-Signature-256', () => SHARED));
    const passed = await rejectForgeries(healthy, [accepting]);
    expect(passed.status).toBe('pass');
    expect(passed.summary).toContain('agent-triage 3 rejected (HTTP 401), a correct one accepted');
    expect(received(healthy, AGENT.path)).toHaveLength(4);

    const refusesAll = await serve(verifyingReceiver('X-Hub-Signature-256', () => 'some-other-secret'));
    const unproven = await rejectForgeries(refusesAll, [accepting]);
    expect(unproven).toMatchObject({ status: 'error', tier: 'P2' });
    expect(unproven.summary).toContain('a correctly signed request was not accepted (HTTP 401)');
  });

  it('still sends the wrong and missing signatures when the shared secret could not be read; the rest is an error naming the reference', async () => {
    const reason = 'Secrets Manager secret prod/agent-triage was not read within 10000 ms';
    const unread = async (server: TestServer, entry: EntryPointInput) => {
      const ctx = tenantContext(configFor(server.url, [entry]), http, 'acme-corp', TENANTS, { now: () => NOW });
      return probeEntryPointsRejectForgeries({
        ...ctx,
        entryPointSecrets: new Map([['agent-triage', { ok: false, reason }]]),
      });
    };
    const refusing = await serve((_request, res) => sendJson(res, 401, { detail: 'Invalid signature' }));
    const outcome = await unread(refusing, { ...AGENT, acceptProbe: true });
    expect(outcome).toMatchObject({ status: 'error', tier: 'P2' });
    expect(outcome.summary).toContain(`no request changed after signing was sent: ${reason}`);
    expect(outcome.summary).toContain(`no correctly signed request was sent: ${reason}`);
    expect(outcome.evidence?.entryPoints).toEqual([
      expect.objectContaining({
        probes: expect.objectContaining({
          'wrong-signature': expect.objectContaining({ verdict: 'pass', status: 401 }),
          'missing-signature': expect.objectContaining({ verdict: 'pass', status: 401 }),
          'tampered-body': { verdict: 'error' },
          accepted: { verdict: 'error' },
        }),
      }),
    ]);
    expect(received(refusing, AGENT.path)).toHaveLength(2);
    expect(received(refusing, AGENT.path).filter((r) => r.headers['x-hub-signature-256'] === undefined)).toHaveLength(
      1,
    );

    // What was sent is still judged: an accepted forgery fails P0 although the secret is unknown.
    const accepting = await serve((_request, res) => sendJson(res, 202, { status: 'accepted' }));
    const failed = await unread(accepting, AGENT);
    expect(failed).toMatchObject({ status: 'fail', tier: 'P0' });
    expect(failed.summary).toContain('agent-triage accepted a request with a wrong signature (HTTP 202)');
  });

  it('treats the statuses of notProvenStatuses as not proven (an inactive agent answers 403 before the signature)', async () => {
    const server = await serve((_request, res) => sendJson(res, 403, { detail: 'Agent is not active' }));
    const outcome = await rejectForgeries(server, [{ ...AGENT, notProvenStatuses: [403, 404, 405] }]);
    expect(outcome).toMatchObject({ status: 'error', tier: 'P2' });
    expect(outcome.summary).toMatch(/^not proven: agent-triage: /);
    expect(outcome.summary).not.toContain('add 403');
  });

  it('is not proven when every request got the same 403 with the same body, even without 403 in notProvenStatuses', async () => {
    const server = await serve((_request, res) => sendJson(res, 403, { detail: 'Agent is not active' }));
    const outcome = await rejectForgeries(server, [AGENT]);
    expect(outcome).toMatchObject({ status: 'error', tier: 'P2' });
    expect(outcome.summary).toBe(
      'not proven: agent-triage: every request got the same HTTP 403 (Agent is not active), as a target refusing before any signature check does (an inactive agent), so whether a forgery is rejected is not proven (add 403 to its notProvenStatuses, or turn on acceptProbe)',
    );
    expect(outcome.evidence?.entryPoints).toEqual([
      expect.objectContaining({
        verdict: 'error',
        probes: expect.objectContaining({ 'wrong-signature': expect.objectContaining({ verdict: 'error' }) }),
      }),
    ]);

    // 403s that differ, or with a correct request accepted, are refusals of the signature.
    const differing = await serve((request, res) =>
      sendJson(res, 403, {
        detail: request.headers['x-hub-signature-256'] === undefined ? 'Missing signature' : 'Invalid signature',
      }),
    );
    expect((await rejectForgeries(differing, [AGENT])).status).toBe('pass');
    const verify = verifyingReceiver('X-Hub-Signature-256', () => SHARED);
    const controlled = await serve((request, res, req) =>
      verifySignature(request.body, SHARED, request.headers['x-hub-signature-256'] as string, 'sha256-prefixed')
        ? verify(request, res, req)
        : sendJson(res, 403, { detail: 'Forbidden' }),
    );
    const passed = await rejectForgeries(controlled, [{ ...AGENT, acceptProbe: true }]);
    expect(passed.status).toBe('pass');
    expect(passed.summary).toContain('agent-triage 3 rejected (HTTP 403), a correct one accepted');
  });

  it('is skipped when no entry point is configured', async () => {
    const server = await serve(perTenant);
    expect((await rejectForgeries(server, [])).status).toBe('skipped');
    expect(server.received).toHaveLength(0);
  });
});

describe('webhook.entry_points_tenant_bound', () => {
  const judge = (entries: EntryPointInput[]) =>
    probeEntryPointsTenantBound(platformContext(configFor('http://127.0.0.1:9', entries), http, { now: () => NOW }));
  const judgeAgainst = (server: { url: string }, entries: EntryPointInput[]) =>
    probeEntryPointsTenantBound({
      ...platformContext(configFor(server.url, entries), http, { now: () => NOW }),
      tenants: TENANTS,
      entryPointSecrets: sharedSecrets(entries),
    });

  it('fails P0 for a tenant-named entry point verified with one shared secret, naming it and explaining why', async () => {
    const outcome = await judge([{ ...RESOLVED, secret: { value: SHARED } }, AGENT]);
    expect(outcome).toMatchObject({ status: 'fail', tier: 'P0' });
    expect(outcome.summary).toBe(
      "resolved-ticket verifies the tenant named in the body with one shared secret, not that tenant's own: any tenant's sender can write as any other tenant; replayable (no timestamp checked): resolved-ticket",
    );
    expect(outcome.evidence?.explanation).toMatch(/any tenant's sender can sign a request naming another tenant/);
    expect(JSON.stringify(outcome)).not.toContain(SHARED);
  });

  it("passes when every tenant-named entry point uses the tenant's own secret, listing the replayable ones", async () => {
    const outcome = await judge([
      RESOLVED,
      { ...AGENT, timestamped: false, replayable: false, body: { template: {} } },
    ]);
    expect(outcome.status).toBe('pass');
    expect(outcome.summary).toBe(
      "resolved-ticket (as configured): verified with the named tenant's own secret; replayable (no timestamp checked): resolved-ticket, agent-triage",
    );
    expect(outcome.evidence?.replayable).toEqual(['resolved-ticket', 'agent-triage']);
  });

  it('with acceptProbe proves the configured secret by a correctly signed request, sent once for both checks', async () => {
    const server = await serve(perTenant);
    const accepting: EntryPointInput = { ...RESOLVED, acceptProbe: true };
    const config = configFor(server.url, [accepting]);
    const platform = platformContext(config, http, { now: () => NOW });
    const outcome = await probeEntryPointsTenantBound({ ...platform, tenants: TENANTS });
    expect(outcome.status).toBe('pass');
    expect(outcome.summary).toBe(
      "resolved-ticket (a correctly signed request for acme-corp accepted): verified with the named tenant's own secret; replayable (no timestamp checked): resolved-ticket",
    );
    expect(received(server, RESOLVED.path)).toHaveLength(1);
    // The tenant check of the same run reads the same answer: no second correctly signed request.
    const tenant = tenantContext(config, http, 'acme-corp', TENANTS, { now: () => NOW });
    const forgeries = await probeEntryPointsRejectForgeries({ ...tenant, once: platform.once });
    expect(forgeries.status).toBe('pass');
    expect(forgeries.summary).toContain('a correct one accepted');
    expect(received(server, RESOLVED.path)).toHaveLength(5);
  });

  it("with one tenant's secret out of step, proves the config by another tenant's request: tenant_bound passes, the tenant check says why", async () => {
    // The platform holds another secret for acme-corp (webhook.signed_accepted's finding, not these checks').
    const platformSecrets: Record<string, string> = { ...SECRETS, 'acme-corp': 'rotated-on-the-platform-only' };
    const server = await serve(
      verifyingReceiver('X-ServiceDesk-Signature', (body) => platformSecrets[String(body.tenant_id)]),
    );
    const accepting: EntryPointInput = { ...RESOLVED, acceptProbe: true };
    const config = configFor(server.url, [accepting]);
    const platform = platformContext(config, http, { now: () => NOW });
    const bound = await probeEntryPointsTenantBound({ ...platform, tenants: TENANTS });
    expect(bound.status).toBe('pass');
    expect(bound.summary).toMatch(/^resolved-ticket \(a correctly signed request for globex accepted\)/);

    const tenant = tenantContext(config, http, 'acme-corp', TENANTS, { now: () => NOW });
    const forgeries = await probeEntryPointsRejectForgeries({ ...tenant, once: platform.once });
    expect(forgeries.status).toBe('pass');
    expect(forgeries.summary).toContain(
      "a correct one for acme-corp refused (HTTP 401) while one for globex was accepted: acme-corp's signing secret does not match the platform's (webhook.signed_accepted)",
    );
    // One correct request each for acme-corp and globex, shared by both checks, plus acme-corp's 4 forgeries.
    expect(received(server, RESOLVED.path)).toHaveLength(6);
  });

  it('is an error P2, not a pass, when the receiver refuses a request signed with the secret the config names', async () => {
    // The config says each tenant's own secret; the receiver verifies with one shared secret.
    const server = await serve(verifyingReceiver('X-ServiceDesk-Signature', () => SHARED));
    const outcome = await judgeAgainst(server, [{ ...RESOLVED, acceptProbe: true }]);
    expect(outcome).toMatchObject({ status: 'error', tier: 'P2' });
    expect(outcome.summary).toBe(
      "not proven: resolved-ticket did not accept a request for acme-corp, globex signed with the named tenant's own secret as configured (HTTP 401): the config does not describe how the platform verifies it, so whether it is tenant-bound is not proven",
    );

    // Described as it is (one shared secret), it fails P0.
    const described = await judgeAgainst(server, [{ ...RESOLVED, acceptProbe: true, secret: { value: SHARED } }]);
    expect(described).toMatchObject({ status: 'fail', tier: 'P0' });
    expect(JSON.stringify(described)).not.toContain(SHARED);
  });

  it('fails P2 for an entry point without a timestamp that the config says triggers work', async () => {
    const outcome = await judge([RESOLVED, { ...AGENT, timestamped: false, body: { template: { id: '{ticketId}' } } }]);
    expect(outcome).toMatchObject({ status: 'fail', tier: 'P2' });
    expect(outcome.summary).toBe(
      'agent-triage checks no timestamp and triggers work: a captured request can be replayed forever',
    );
  });

  it('does not judge a shared secret the platform sends with itself, nor one whose request names no tenant', async () => {
    const budgetAlerts: EntryPointInput = {
      name: 'budget-alerts',
      path: '/api/v1/budget-alerts',
      signatureHeader: 'X-Webhook-Signature',
      secret: { value: SHARED },
      body: { template: { user_id: '{tenantId}' } },
      sentBy: 'platform',
      timestamped: false,
    };
    const outcome = await judge([budgetAlerts, AGENT]);
    expect(outcome.status).toBe('pass');
    expect(outcome.summary).toMatch(/^no entry point sent by the tenants names a tenant/);
  });

  it('is skipped when no entry point is configured', async () => {
    expect((await judge([])).status).toBe('skipped');
  });
});

describe('entry point bodies', () => {
  const values = {
    tenantId: 'acme-corp',
    ticketPrefix: 'SYNTH-',
    createdAt: NOW,
    uuid: '01234567-89ab-4cde-8f01-23456789abcd',
  };
  const entry = (input: EntryPointInput) => configFor('http://127.0.0.1:9', [input]).platform.entryPoints[0]!;

  it('changes exactly one byte when tampering, keeping valid JSON', () => {
    const { body, ticketId } = entryPointBody(entry(RESOLVED), values);
    expect(ticketId).toBe('SYNTH-0123456789AB4CDE');
    const tampered = tamperOneByte(body, ticketId);
    expect(tampered).toHaveLength(body.length);
    expect([...body].filter((char, i) => char !== tampered[i])).toHaveLength(1);
    expect(() => JSON.parse(tampered)).not.toThrow();
    // Without the ticket id: a space after the opening brace, the same JSON once parsed.
    expect(tamperOneByte('{"tenant":"acme-corp"}', 'NOPE')).toBe('{ "tenant":"acme-corp"}');
    expect(tamperOneByte('{"a":1}', '')).toBe('{ "a":1}');
  });

  it('knows which requests name a tenant', () => {
    expect(namesTenant(entry(RESOLVED))).toBe(true);
    expect(namesTenant(entry(AGENT))).toBe(false);
    expect(namesTenant(entry({ ...AGENT, path: '/t/{tenantId}/hook' }))).toBe(true);
  });
});
