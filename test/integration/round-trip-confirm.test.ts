/**
 * enhancement.round_trip with `run.roundTrip: deferred` confirms a failure of the previous
 * sweep's ticket within its run, against the sandbox's real worker and database (PGlite, and the
 * CI PostgreSQL): it follows this run's own accepted ticket when webhook.signed_accepted sent one
 * (no extra request, counted at a loopback relay in front of the webhook), else sends one fresh
 * synthetic ticket; not enhanced either is a `fail` with `confirmedInRun`, enhanced is `degraded`.
 * roundTripTimeoutS is 2 s; the sandbox's workers-slow fault holds a ticket `pending` 4.5 s.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPorts } from '../../functions/adapters/index.ts';
import { type Config, parseConfig } from '../../functions/core/config.ts';
import type { Outcome } from '../../functions/core/types.ts';
import type { OpenPorts } from '../../functions/ports.ts';
import { probeQuality, probeRoundTrip, ROUND_TRIP_SQL } from '../../functions/probes/enhancement.ts';
import type { TenantProbeContext } from '../../functions/probes/types.ts';
import { type AcceptedTicket, probeSignedAccepted } from '../../functions/probes/webhook.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { resolveTenants, tenantContext } from '../support/probe-context.ts';
import { databaseUrl } from '../support/services.ts';

/** A loopback relay in front of the sandbox that counts the webhook POSTs it forwards. */
async function countingRelay(upstream: string): Promise<{ url: string; posts: () => number; stop(): Promise<void> }> {
  const target = new URL(upstream);
  let posts = 0;
  const server: Server = createServer((req, res) => {
    if (req.method === 'POST') posts += 1;
    const forward = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    posts: () => posts,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** webhook.signed_accepted's outcome in a sweep where the tenant's acceptance is not due. */
const NOT_DUE: Outcome = { status: 'skipped', summary: 'not due this sweep' };

const backends = [
  { name: 'PGlite', url: undefined as string | undefined },
  ...(databaseUrl() === undefined ? [] : [{ name: 'PostgreSQL', url: databaseUrl() }]),
];

describe.each(backends)('a deferred round trip confirms a failure within its run ($name)', ({ url }) => {
  let sandbox: Sandbox;
  let relay: Awaited<ReturnType<typeof countingRelay>>;
  let config: Config;
  let ports: OpenPorts;

  beforeAll(async () => {
    sandbox = await startSandbox({
      tenantCount: 4,
      redis: 'memory',
      tls: false,
      workerLatencyMs: { min: 20, max: 60 },
      ...(url === undefined ? {} : { databaseUrl: url }),
    });
    relay = await countingRelay(sandbox.baseUrl);
    const input = structuredClone(sandbox.config);
    config = parseConfig({
      ...input,
      platform: { ...input.platform, baseUrl: relay.url },
      thresholds: { ...input.thresholds, roundTripDegradedS: 1, roundTripTimeoutS: 2 },
      run: { roundTrip: 'deferred', sweepIntervalS: 300 },
    });
    ports = await openPorts(config);
  }, 120_000);

  afterAll(async () => {
    await ports?.close();
    await relay?.stop();
    await sandbox?.stop();
  });

  function contextFor(index: number, accepted: Outcome = NOT_DUE): TenantProbeContext {
    const secrets = Object.fromEntries(sandbox.tenants.map((t) => [t.tenantId, t.secret]));
    const tenantId = sandbox.tenants[index]?.tenantId ?? '';
    return {
      ...tenantContext(config, ports.http, tenantId, resolveTenants(secrets)),
      ports,
      dependency: async () => accepted,
    };
  }

  /** The ticket's enhancement record as the canary reads it (in the tenant's context). */
  async function recordOf(ctx: TenantProbeContext, ticketId: string): Promise<{ status: string } | undefined> {
    const database = config.database!;
    return ports.pg!.inRolledBackTransaction(
      { role: database.probeAsRole, settings: { [database.tenantSetting]: ctx.tenant.tenantId } },
      async (session) =>
        (
          await session.query<{ status: string }>(ROUND_TRIP_SQL, [
            ctx.tenant.tenantId,
            ticketId,
            database.enhancementTextColumn,
          ])
        ).rows[0],
    );
  }

  /** Sends the previous sweep's ticket and waits until its record is `until` (pending: picked up). */
  async function previousTicket(ctx: TenantProbeContext, until: 'pending' | 'failed'): Promise<string> {
    const sent = await probeSignedAccepted(ctx);
    expect(sent.status).toBe('pass');
    const { ticketId } = sent.data as AcceptedTicket;
    for (let i = 0; i < 200 && (await recordOf(ctx, ticketId))?.status !== until; i++) await sleep(50);
    expect((await recordOf(ctx, ticketId))?.status).toBe(until);
    return ticketId;
  }

  /** A previous ticket picked up by a slow worker and still pending past roundTripTimeoutS (2 s). */
  async function overdueTicket(ctx: TenantProbeContext): Promise<string> {
    await sandbox.setFaults(['workers-slow']);
    const ticketId = await previousTicket(ctx, 'pending');
    await sleep(2_300); // pending 4.5 s in all: overdue from 2 s on
    return ticketId;
  }

  it('fails, confirmed, when the previous ticket is overdue and a fresh ticket is not enhanced either (one request)', async () => {
    const ctx = contextFor(0);
    const previous = await overdueTicket(ctx);
    const before = relay.posts();
    const outcome = await probeRoundTrip(ctx);
    expect(relay.posts() - before).toBe(1);
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(
      new RegExp(
        `^synthetic ticket ${previous} is still pending .*; confirmed in this run: synthetic ticket SYNTH-\\S+ is still pending after [23] s$`,
      ),
    );
    expect(outcome.evidence).toMatchObject({
      confirmedInRun: { sentBy: 'enhancement.round_trip', status: 'pending' },
    });
    const confirmation = (outcome.evidence as { confirmedInRun: { ticketId: string } }).confirmedInRun.ticketId;
    expect(confirmation).not.toBe(previous);
    await sandbox.setFaults([]);
  }, 30_000);

  it('is degraded (intermittent) when the previous ticket is overdue but a fresh ticket is enhanced, and quality judges that one', async () => {
    const ctx = contextFor(1);
    const previous = await overdueTicket(ctx);
    await sandbox.setFaults([]);
    const before = relay.posts();
    const outcome = await probeRoundTrip(ctx);
    expect(relay.posts() - before).toBe(1);
    expect(outcome.status).toBe('degraded');
    expect(outcome.summary).toMatch(
      new RegExp(
        `^synthetic ticket ${previous} is still pending .*; but this run's ticket SYNTH-\\S+ was enhanced in [\\d.]+ s: the failure was intermittent$`,
      ),
    );
    expect(outcome.evidence).toMatchObject({ confirmation: { sentBy: 'enhancement.round_trip', status: 'completed' } });
    expect(outcome.evidence).not.toHaveProperty('confirmedInRun');
    expect(outcome.data).toMatchObject({ status: 'completed', textColumnFound: true });
    const quality = await probeQuality({ ...ctx, dependency: async () => outcome });
    expect(quality.status).toBe('pass');
  }, 30_000);

  it("confirms on this run's own accepted ticket when webhook.signed_accepted sent one: no extra request", async () => {
    const ctx = contextFor(2);
    const previous = await overdueTicket(ctx);
    await sandbox.setFaults([]);
    const before = relay.posts();
    const accepted = await probeSignedAccepted(ctx);
    const own = (accepted.data as AcceptedTicket).ticketId;
    const outcome = await probeRoundTrip({ ...ctx, dependency: async () => accepted });
    // The acceptance's request only.
    expect(relay.posts() - before).toBe(1);
    expect(outcome.status).toBe('degraded');
    expect(outcome.summary).toContain(previous);
    expect(outcome.evidence).toMatchObject({
      confirmation: { ticketId: own, sentBy: 'webhook.signed_accepted', status: 'completed' },
    });
  }, 30_000);

  it('fails, confirmed, when the previous enhancement failed and the confirming one fails too', async () => {
    const ctx = contextFor(3);
    await sandbox.setFaults(['enhancements-failing']);
    const previous = await previousTicket(ctx, 'failed');
    const outcome = await probeRoundTrip(ctx);
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(
      new RegExp(
        `^the enhancement of synthetic ticket ${previous} failed: .*; confirmed in this run: synthetic ticket SYNTH-\\S+ failed too: `,
      ),
    );
    expect(outcome.evidence).toMatchObject({ confirmedInRun: { status: 'failed', sentBy: 'enhancement.round_trip' } });
    await sandbox.setFaults([]);
  }, 30_000);
});
