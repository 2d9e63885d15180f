/**
 * The entry points through the run (functions/run.ts) against a real HTTP server on 127.0.0.1:
 * a shared secret read through the secret resolver and scrubbed from the report, and another
 * tenant's secret read for a one-tenant run so the cross-tenant forgery is still sent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openPorts } from '../../functions/adapters/index.ts';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { runWithPorts } from '../../functions/app/with-ports.ts';
import { parseConfig } from '../../functions/core/config.ts';
import { verifySignature } from '../../functions/core/signing.ts';
import { sendJson, startServer, type TestServer } from '../support/servers.ts';

const SECRETS = { 'acme-corp': 'acme-secret-5d1e0b', globex: 'globex-secret-a94c27' };
const AGENT_SECRET = 'agent-secret-c3f9e2-shared';
const servers: TestServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('a run with signed entry points', () => {
  it("reads the shared secret by reference, signs with it, keeps it out of the report, and forges with another tenant's secret for one tenant", async () => {
    // Refuses everything and echoes the signature header back: the report must not carry the secret.
    const server = await startServer((request, res) =>
      sendJson(res, 401, {
        detail: `Invalid signature ${String(request.headers['x-hub-signature-256'])} ${AGENT_SECRET}`,
      }),
    );
    servers.push(server);
    const config = parseConfig({
      platform: {
        baseUrl: server.url,
        entryPoints: [
          {
            name: 'resolved-ticket',
            path: '/webhook/servicedesk/resolved-ticket',
            signatureHeader: 'X-ServiceDesk-Signature',
            body: 'resolved-ticket',
          },
          {
            name: 'agent-triage',
            path: '/webhook/agents/a1/webhook',
            signatureHeader: 'X-Hub-Signature-256',
            secret: { env: 'AGENT_WEBHOOK_SECRET' },
            body: { template: { ticket_id: '{ticketId}' } },
          },
        ],
      },
      tenants: Object.entries(SECRETS).map(([tenantId, value]) => ({ tenantId, signingSecret: { value } })),
      thresholds: { requestTimeoutMs: 2_000 },
    });

    const report = await runWithPorts(openPorts, {
      config,
      secrets: createSecretResolver({ env: { AGENT_WEBHOOK_SECRET: AGENT_SECRET } }),
      filters: { tenantIds: ['acme-corp'], checkIds: ['webhook.entry_points_reject_forgeries'], platform: false },
    });

    expect(report.results.map((r) => [r.checkId, r.tenantId, r.status])).toEqual([
      ['webhook.entry_points_reject_forgeries', 'acme-corp', 'pass'],
    ]);
    const agent = server.received.filter((r) => r.url === '/webhook/agents/a1/webhook');
    expect(agent).toHaveLength(3);
    // Exactly one (the tampered request) was signed with the shared secret, over the body before
    // the change (the ticket id's last character); none verifies over the body as it was sent.
    const signature = (r: (typeof agent)[number]) => r.headers['x-hub-signature-256'] as string | undefined;
    const signedBeforeTheChange = agent.filter((r) => {
      const { ticket_id: ticketId } = JSON.parse(r.body) as { ticket_id: string };
      return [...'0123456789ABCDEF'].some(
        (candidate) =>
          candidate !== ticketId.at(-1) &&
          verifySignature(
            r.body.replace(ticketId, `${ticketId.slice(0, -1)}${candidate}`),
            AGENT_SECRET,
            signature(r),
            'sha256-prefixed',
          ),
      );
    });
    expect(signedBeforeTheChange).toHaveLength(1);
    expect(agent.filter((r) => verifySignature(r.body, AGENT_SECRET, signature(r), 'sha256-prefixed'))).toHaveLength(0);
    const resolved = server.received.filter((r) => r.url === '/webhook/servicedesk/resolved-ticket');
    expect(resolved).toHaveLength(4);
    const signedByGlobex = resolved.filter((r) =>
      verifySignature(
        r.body,
        SECRETS.globex,
        r.headers['x-servicedesk-signature'] as string | undefined,
        'sha256-prefixed',
      ),
    );
    expect(signedByGlobex).toHaveLength(1);
    expect(JSON.stringify(report)).not.toContain(AGENT_SECRET);
  });
});
