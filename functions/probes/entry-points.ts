/**
 * The signed entry points besides the ticket webhook (`platform.entryPoints`, CONTRACT.md "Signed
 * entry points"):
 * - `webhook.entry_points_reject_forgeries` (tenant): each entry point gets a request for this
 *   tenant with a wrong signature, with none, with its body changed after signing, and signed with
 *   another tenant's secret (when secrets are per tenant); each must be refused (4xx).
 * - `webhook.entry_points_tenant_bound` (platform): judged from the config, which says how the
 *   platform verifies each entry point: one shared secret for a tenant-named body lets any
 *   tenant's sender write as any other. Where `acceptProbe` is on, a correctly signed request
 *   (shared with the tenant check through `once`) proves the configured secret is the one the
 *   receiver verifies with; a refusal leaves the judgement open (error P2).
 *
 * Only requests a correct receiver refuses are sent, unless an entry point sets `acceptProbe`:
 * an accepted resolved ticket lands in the tenant's history, an accepted agent webhook runs an
 * agent. Signing, sending and judging are the ticket webhook's (./webhook.ts).
 */
import type { EntryPointConfig } from '../core/config.ts';
import { signBody } from '../core/signing.ts';
import { syntheticTicket } from '../core/synthetic.ts';
import type { Evidence } from '../core/types.ts';
import { endpointUrl, type ResolvedTenant } from '../ports.ts';
import type { PlatformProbe, ProbeContext, TenantProbe, TenantProbeContext } from './types.ts';
import { judgeRejection, postSigned, wrongSecretFor } from './webhook.ts';

/** The probes sent to each entry point, in the order they are reported. */
export const ENTRY_POINT_PROBES = [
  'wrong-signature',
  'missing-signature',
  'tampered-body',
  'cross-tenant',
  'accepted',
] as const;
export type EntryPointProbe = (typeof ENTRY_POINT_PROBES)[number];

/** Whether a request to the entry point names a tenant (in its body, or its path). */
export function namesTenant(entry: EntryPointConfig): boolean {
  if (entry.path.includes('{tenantId}')) return true;
  return typeof entry.body === 'string' || JSON.stringify(entry.body.template).includes('{tenantId}');
}

export interface BodyValues {
  tenantId: string;
  ticketPrefix: string;
  createdAt: Date;
  /** A fresh UUID v4: the synthetic ticket id is made from it, as the ticket webhook's is. */
  uuid: string;
}

/** The body an entry point is sent, as the exact text that is signed, and the synthetic ticket id it carries. */
export function entryPointBody(entry: EntryPointConfig, values: BodyValues): { body: string; ticketId: string } {
  const ticket = syntheticTicket(values);
  const ticketId = ticket.ticket_id;
  if (entry.body === 'ticket') return { body: JSON.stringify(ticket), ticketId };
  if (entry.body === 'resolved-ticket') {
    const body = JSON.stringify({
      tenant_id: values.tenantId,
      ticket_id: ticketId,
      subject: 'tenant-canary synthetic resolved ticket',
      description:
        'tenant-canary synthetic resolved ticket: an automated check that forged requests are refused. Never store it.',
      resolution: 'No action needed: sent by the canary.',
      resolved_date: ticket.created_at,
      priority: 'low',
      tags: ['tenant-canary', 'synthetic'],
    });
    return { body, ticketId };
  }
  const filled = { tenantId: values.tenantId, ticketId, createdAt: ticket.created_at };
  return { body: JSON.stringify(fillTemplate(entry.body.template, filled)), ticketId };
}

function fillTemplate(value: unknown, values: { tenantId: string; ticketId: string; createdAt: string }): unknown {
  if (typeof value === 'string') {
    return value
      .replaceAll('{tenantId}', values.tenantId)
      .replaceAll('{ticketId}', values.ticketId)
      .replaceAll('{createdAt}', values.createdAt);
  }
  if (Array.isArray(value)) return value.map((item) => fillTemplate(item, values));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [fillTemplate(key, values) as string, fillTemplate(item, values)]),
    );
  }
  return value;
}

/**
 * `body` changed after signing so that no validator can tell it from the original: the synthetic
 * ticket id's last character (a hex digit: any schema that takes the id takes it), else a space
 * after the opening `{` (the same JSON once parsed). Never a byte of the tenant id or the
 * timestamp: a receiver would refuse those for the tenant or the time, not for the signature.
 */
export function tamperOneByte(body: string, ticketId: string): string {
  const at = ticketId.length > 0 ? body.indexOf(ticketId) : -1;
  if (at >= 0) {
    const last = at + ticketId.length - 1;
    const changed = body.charAt(last) === 'A' ? 'B' : 'A';
    return `${body.slice(0, last)}${changed}${body.slice(last + 1)}`;
  }
  return body.startsWith('{') ? `{ ${body.slice(1)}` : ` ${body}`;
}

interface ProbeVerdict {
  probe: EntryPointProbe;
  status: 'pass' | 'fail' | 'error' | 'skipped';
  summary: string;
  evidence: Evidence;
}

interface EntryPointVerdict {
  name: string;
  status: 'pass' | 'fail' | 'error';
  probes: ProbeVerdict[];
  /** Why the entry point's refusals prove nothing as a whole (every answer the same 403). */
  undecided?: string;
}

/** `webhook.entry_points_reject_forgeries`: every entry point refuses every forgery for this tenant. */
export const probeEntryPointsRejectForgeries: TenantProbe = async (ctx) => {
  const entries = ctx.config.platform.entryPoints;
  if (entries.length === 0) {
    return { status: 'skipped', summary: 'no signed entry points are configured (platform.entryPoints)' };
  }
  const verdicts = await Promise.all(entries.map((entry) => probeEntryPoint(ctx, entry)));
  const evidence: Evidence = {
    entryPoints: verdicts.map((verdict) => ({
      name: verdict.name,
      verdict: verdict.status,
      ...(verdict.undecided === undefined ? {} : { note: verdict.undecided }),
      probes: Object.fromEntries(
        verdict.probes.map((probe) => [probe.probe, { verdict: probe.status, ...probe.evidence }]),
      ),
    })),
  };
  // One clause an entry point: `resolved-ticket accepted a request with a wrong signature (HTTP 202), ...`.
  const accepted = verdicts.flatMap((verdict) => {
    const taken = verdict.probes.filter((probe) => probe.status === 'fail').map((probe) => probe.summary);
    return taken.length === 0 ? [] : [`${verdict.name} accepted ${taken.join(', ')}`];
  });
  if (accepted.length > 0) {
    return {
      status: 'fail',
      tier: 'P0',
      summary: `forged requests for ${ctx.tenant.tenantId} were accepted, so anyone can send them: ${accepted.join('; ')}`,
      evidence,
    };
  }
  const open = verdicts.flatMap((verdict) =>
    verdict.undecided !== undefined
      ? [`${verdict.name}: ${verdict.undecided}`]
      : verdict.probes.filter((probe) => probe.status === 'error').map((probe) => `${verdict.name}: ${probe.summary}`),
  );
  if (open.length > 0) {
    return { status: 'error', tier: 'P2', summary: `not proven: ${open.join('; ')}`, evidence };
  }
  return {
    status: 'pass',
    summary: `every forgery was rejected: ${verdicts.map((verdict) => describePass(verdict)).join('; ')}`,
    evidence,
  };
};

/** `resolved-ticket: 4 forgeries rejected (HTTP 401)`, with the probes not tried and why. */
function describePass(verdict: EntryPointVerdict): string {
  const sent = verdict.probes.filter((probe) => probe.status === 'pass' && probe.probe !== 'accepted');
  const statuses = [...new Set(sent.map((probe) => probe.evidence.status))].join('/');
  const skipped = verdict.probes.filter((probe) => probe.status === 'skipped').map((probe) => probe.summary);
  const accepted = verdict.probes.some((probe) => probe.probe === 'accepted' && probe.status === 'pass')
    ? ', a correct one accepted'
    : '';
  return `${verdict.name} ${sent.length} rejected (HTTP ${statuses})${accepted}${skipped.length > 0 ? `, ${skipped.join(', ')}` : ''}`;
}

async function probeEntryPoint(ctx: TenantProbeContext, entry: EntryPointConfig): Promise<EntryPointVerdict> {
  const { tenant } = ctx;
  const secret = entrySecret(ctx, tenant, entry);
  const unread = (probe: EntryPointProbe): Promise<ProbeVerdict> =>
    Promise.resolve({
      probe,
      status: 'error',
      summary: `its secret could not be read, so ${probe === 'accepted' ? 'no correctly signed request' : 'no request changed after signing'} was sent: ${secret.ok ? '' : secret.reason}`,
      evidence: {},
    });
  const sign = (body: string, key: string): string => signBody(body, key, entry.signatureFormat);
  const sends: Promise<ProbeVerdict>[] = [
    // A forger's random secret: the entry point's own is not needed to make it.
    forge(ctx, entry, 'wrong-signature', `a request with a wrong signature`, (body) =>
      sign(body, wrongSecretFor(secret.ok ? secret.value : '')),
    ),
    forge(ctx, entry, 'missing-signature', `a request without ${entry.signatureHeader}`, () => undefined),
    secret.ok
      ? forge(ctx, entry, 'tampered-body', 'a request changed after signing', (body) => sign(body, secret.value), true)
      : unread('tampered-body'),
  ];
  const other = ctx.tenants.find(
    (candidate) =>
      candidate.tenantId !== tenant.tenantId && candidate.signingSecret.reveal() !== tenant.signingSecret.reveal(),
  );
  if (entry.secret !== 'tenant') {
    sends.push(skip('cross-tenant', "another tenant's secret not tried (one secret for every tenant)"));
  } else if (other === undefined) {
    sends.push(skip('cross-tenant', "another tenant's secret not tried (no other tenant with its own secret)"));
  } else {
    sends.push(
      forge(
        ctx,
        entry,
        'cross-tenant',
        `a request for ${tenant.tenantId} signed with ${other.tenantId}'s secret`,
        (body) => sign(body, other.signingSecret.reveal()),
      ).then((verdict) => ({ ...verdict, evidence: { ...verdict.evidence, signedAsTenant: other.tenantId } })),
    );
  }
  if (entry.acceptProbe) sends.push(secret.ok ? acceptControl(ctx, entry) : unread('accepted'));
  const probes = await Promise.all(sends);
  const undecided = sameRefusal(entry, probes);
  if (undecided !== undefined) {
    const open = probes.map((probe): ProbeVerdict => (probe.status === 'pass' ? { ...probe, status: 'error' } : probe));
    return {
      name: entry.name,
      status: open.some((probe) => probe.status === 'fail') ? 'fail' : 'error',
      probes: open,
      undecided,
    };
  }
  const status = probes.some((probe) => probe.status === 'fail')
    ? 'fail'
    : probes.some((probe) => probe.status === 'error')
      ? 'error'
      : 'pass';
  return { name: entry.name, status, probes };
}

/**
 * Every request refused with the same 403 and the same body, and no correctly signed one
 * accepted: an answer given before any signature is looked at (an inactive agent), so the
 * refusals prove nothing. The reason, or undefined.
 */
function sameRefusal(entry: EntryPointConfig, probes: readonly ProbeVerdict[]): string | undefined {
  if (probes.some((probe) => probe.probe === 'accepted' && probe.status === 'pass')) return undefined;
  const answered = probes.filter((probe) => probe.probe !== 'accepted' && typeof probe.evidence.status === 'number');
  if (answered.length < 2 || !answered.every((probe) => probe.evidence.status === 403)) return undefined;
  const details = new Set(answered.map((probe) => String(probe.evidence.detail ?? '')));
  if (details.size !== 1) return undefined;
  const [detail] = details;
  return `every request got the same HTTP 403${detail === '' ? '' : ` (${detail})`}, as a target refusing before any signature check does (an inactive agent), so whether a forgery is rejected is not proven${entry.notProvenStatuses.includes(403) ? '' : ' (add 403 to its notProvenStatuses, or turn on acceptProbe)'}`;
}

const skip = async (probe: EntryPointProbe, summary: string): Promise<ProbeVerdict> => ({
  probe,
  status: 'skipped',
  summary,
  evidence: {},
});

type ReadSecret = { ok: true; value: string } | { ok: false; reason: string };

/** The secret a correct request for `tenant` is signed with: the tenant's own, or the shared one as read. */
function entrySecret(ctx: ProbeContext, tenant: ResolvedTenant, entry: EntryPointConfig): ReadSecret {
  if (entry.secret === 'tenant') return { ok: true, value: tenant.signingSecret.reveal() };
  const read = ctx.entryPointSecrets?.get(entry.name);
  if (read === undefined) return { ok: false, reason: 'it was not read in this run' };
  return read.ok ? { ok: true, value: read.secret.reveal() } : read;
}

interface Sent {
  ticketId: string;
  result: Awaited<ReturnType<typeof postSigned>>;
}

/** Sends one request for `tenant`: `signature(body)` is its header (undefined: none); `tamper` changes the body after signing. */
async function send(
  ctx: ProbeContext,
  tenant: ResolvedTenant,
  entry: EntryPointConfig,
  signature: (body: string) => string | undefined,
  tamper = false,
): Promise<Sent> {
  const { body, ticketId } = entryPointBody(entry, {
    tenantId: tenant.tenantId,
    ticketPrefix: ctx.config.synthetic.ticketPrefix,
    createdAt: ctx.ports.now(),
    uuid: ctx.ports.uuid(),
  });
  const value = signature(body);
  const { platform } = ctx.config;
  const path = entry.path.replaceAll('{tenantId}', encodeURIComponent(tenant.tenantId));
  const secrets = [tenant.signingSecret.reveal()];
  const shared = entry.secret === 'tenant' ? undefined : ctx.entryPointSecrets?.get(entry.name);
  if (shared?.ok) secrets.push(shared.secret.reveal());
  const result = await postSigned(ctx, {
    url: endpointUrl(platform.internalBaseUrl ?? platform.baseUrl, path),
    body: tamper ? tamperOneByte(body, ticketId) : body,
    ...(value === undefined ? {} : { signature: { header: entry.signatureHeader, value } }),
    ticketId,
    secrets,
  });
  return { ticketId, result };
}

async function forge(
  ctx: TenantProbeContext,
  entry: EntryPointConfig,
  probe: EntryPointProbe,
  what: string,
  signature: (body: string) => string | undefined,
  tamper = false,
): Promise<ProbeVerdict> {
  const { result } = await send(ctx, ctx.tenant, entry, signature, tamper);
  const outcome = judgeRejection(ctx, result, {
    what,
    consequence: 'the entry point does not check its signature',
    receiver: `entry point ${entry.name}`,
    notProven: entry.notProvenStatuses,
  });
  return {
    probe,
    status: outcome.status === 'fail' ? 'fail' : outcome.status === 'pass' ? 'pass' : 'error',
    summary: outcome.status === 'fail' ? `${what} (HTTP ${result.evidence.status})` : outcome.summary,
    evidence: result.evidence,
  };
}

/**
 * The control of `acceptProbe: true`: a correctly signed synthetic request for `tenant` must be
 * accepted, or the entry point's rejections prove nothing (it refuses everything: a wrong secret
 * in the config, or a target that is not there). Sent once a run per entry point and tenant:
 * `webhook.entry_points_tenant_bound` reads the same answer.
 */
function acceptProbe(ctx: ProbeContext, tenant: ResolvedTenant, entry: EntryPointConfig): Promise<ProbeVerdict> {
  return ctx.once(`entry-point-accept:${entry.name}:${tenant.tenantId}`, async () => {
    const secret = entrySecret(ctx, tenant, entry);
    if (!secret.ok) {
      return {
        probe: 'accepted',
        status: 'error',
        summary: `its secret could not be read, so no correctly signed request was sent: ${secret.reason}`,
        evidence: {},
      };
    }
    const { result } = await send(ctx, tenant, entry, (body) => signBody(body, secret.value, entry.signatureFormat));
    const status = result.evidence.status;
    if (typeof status === 'number' && status >= 200 && status < 300) {
      return {
        probe: 'accepted',
        status: 'pass',
        summary: `a correctly signed request was accepted (HTTP ${status})`,
        evidence: result.evidence,
      };
    }
    return {
      probe: 'accepted',
      status: 'error',
      summary: `a correctly signed request was not accepted (${status === null ? String(result.evidence.error) : `HTTP ${status}`}), so its rejections prove nothing: check the entry point's secret, signatureHeader and signatureFormat`,
      evidence: result.evidence,
    };
  });
}

/** At most this many tenants' correctly signed requests are tried before a refusal counts. */
const PROOF_TENANTS = 3;

/**
 * The accepting probe of this tenant. When the entry point is verified per tenant and this
 * tenant's correct request is refused but another tenant's is accepted, the config is right and
 * this tenant's signing secret is the one that does not match (webhook.signed_accepted reports
 * that): the control is `skipped`, saying so, not an error of this check.
 */
async function acceptControl(ctx: TenantProbeContext, entry: EntryPointConfig): Promise<ProbeVerdict> {
  const own = await acceptProbe(ctx, ctx.tenant, entry);
  if (own.status === 'pass' || entry.secret !== 'tenant') return own;
  const peers = ctx.tenants.filter((peer) => peer.tenantId !== ctx.tenant.tenantId);
  const proof = await proveAccepted(ctx, entry, peers.slice(0, PROOF_TENANTS - 1));
  if (proof?.verdict.status !== 'pass') return own;
  return {
    probe: 'accepted',
    status: 'skipped',
    summary: `a correct one for ${ctx.tenant.tenantId} refused (${describeProof(own)}) while one for ${proof.tenantId} was accepted: ${ctx.tenant.tenantId}'s signing secret does not match the platform's (webhook.signed_accepted)`,
    evidence: { ...own.evidence, acceptedFor: proof.tenantId },
  };
}

interface Proof {
  tenantId: string;
  verdict: ProbeVerdict;
}

/**
 * The accepting probes of `tenants`, one after the other, until one is accepted: that one, else
 * the first refusal (undefined: no tenant). A secret that cannot be read stops at the first.
 */
async function proveAccepted(
  ctx: ProbeContext,
  entry: EntryPointConfig,
  tenants: readonly ResolvedTenant[],
): Promise<Proof | undefined> {
  let first: Proof | undefined;
  for (const tenant of tenants) {
    const verdict = await acceptProbe(ctx, tenant, entry);
    if (verdict.status === 'pass') return { tenantId: tenant.tenantId, verdict };
    first ??= { tenantId: tenant.tenantId, verdict };
    if (verdict.evidence.status === undefined) break;
  }
  return first;
}

/** Whose secret verifies `entry`, as the config says. */
const verifiedWith = (entry: EntryPointConfig): string =>
  entry.secret === 'tenant' ? "the named tenant's own secret" : 'the one shared secret';

/**
 * `webhook.entry_points_tenant_bound`: every entry point the tenants send to that names a tenant
 * is verified with that tenant's own secret. Judged as configured; where `acceptProbe` is on, a
 * correctly signed request for one of the run's first tenants proves the configured secret is the
 * one the receiver checks (all refused: error P2, the config does not describe the platform).
 * Entry points without a checked timestamp are listed as replayable; those the config says
 * trigger work (`replayable: true`) are P2.
 */
export const probeEntryPointsTenantBound: PlatformProbe = async (ctx) => {
  const entries = ctx.config.platform.entryPoints;
  if (entries.length === 0) {
    return { status: 'skipped', summary: 'no signed entry points are configured (platform.entryPoints)' };
  }
  const bound = entries.filter((entry) => entry.sentBy === 'tenants' && namesTenant(entry));
  const tried = ctx.tenants.slice(0, PROOF_TENANTS);
  const proofs = new Map(
    (
      await Promise.all(
        bound
          .filter((entry) => entry.acceptProbe)
          .map(async (entry) => [entry.name, await proveAccepted(ctx, entry, tried)] as const),
      )
    ).flatMap(([name, proof]) => (proof === undefined ? [] : [[name, proof] as const])),
  );
  const proven = (entry: EntryPointConfig) => proofs.get(entry.name)?.verdict.status === 'pass';
  const refused = bound.filter((entry) => proofs.has(entry.name) && !proven(entry));
  const shared = bound.filter((entry) => entry.secret !== 'tenant' && !refused.includes(entry));
  const replayable = entries.filter((entry) => !entry.timestamped);
  const triggersWork = replayable.filter((entry) => entry.replayable);
  const evidence: Evidence = {
    entryPoints: entries.map((entry) => {
      const proof = proofs.get(entry.name);
      return {
        name: entry.name,
        path: entry.path,
        verifiedWith: entry.secret === 'tenant' ? "each tenant's own secret" : 'one shared secret',
        sentBy: entry.sentBy,
        namesTenant: namesTenant(entry),
        timestamped: entry.timestamped,
        ...(entry.timestamped ? {} : { replayable: entry.replayable ? 'yes, and it triggers work' : 'yes' }),
        judged: proof === undefined ? 'as configured' : `a correctly signed request for ${proof.tenantId}`,
        ...(proof === undefined ? {} : { accepted: { verdict: proof.verdict.status, ...proof.verdict.evidence } }),
      };
    }),
    ...(replayable.length > 0 ? { replayable: replayable.map((entry) => entry.name) } : {}),
  };
  const replayNote =
    replayable.length === 0
      ? ''
      : `; replayable (no timestamp checked): ${replayable.map((entry) => `${entry.name}${entry.replayable ? ' (triggers work)' : ''}`).join(', ')}`;
  const refusedNote = refused
    .map((entry) => {
      const proof = proofs.get(entry.name);
      const tenants = tried.map((tenant) => tenant.tenantId).join(', ');
      const what = `a request for ${tenants} signed with ${verifiedWith(entry)} as configured`;
      const outcome =
        proof !== undefined && proof.verdict.evidence.status === undefined
          ? `${entry.name}: ${proof.verdict.summary}`
          : `${entry.name} did not accept ${what} (${describeProof(proof?.verdict)}): the config does not describe how the platform verifies it`;
      return `${outcome}, so whether it is tenant-bound is not proven`;
    })
    .join('; ');
  if (shared.length > 0) {
    evidence.explanation =
      "These entry points verify every tenant's requests with one secret that every tenant's sender holds: any tenant's sender can sign a request naming another tenant, and the platform takes it as that tenant's (cross-tenant writes).";
    return {
      status: 'fail',
      tier: 'P0',
      summary: `${shared.map((entry) => entry.name).join(', ')} ${shared.length === 1 ? 'verifies' : 'verify'} the tenant named in the body with one shared secret, not that tenant's own: any tenant's sender can write as any other tenant${replayNote}${refusedNote === '' ? '' : `; ${refusedNote}`}`,
      evidence,
    };
  }
  if (refused.length > 0) {
    return { status: 'error', tier: 'P2', summary: `not proven: ${refusedNote}`, evidence };
  }
  if (triggersWork.length > 0) {
    return {
      status: 'fail',
      tier: 'P2',
      summary: `${triggersWork.map((entry) => entry.name).join(', ')} ${triggersWork.length === 1 ? 'checks' : 'check'} no timestamp and ${triggersWork.length === 1 ? 'triggers' : 'trigger'} work: a captured request can be replayed forever`,
      evidence,
    };
  }
  const describeBound = (entry: EntryPointConfig) =>
    `${entry.name} (${proven(entry) ? `a correctly signed request for ${proofs.get(entry.name)?.tenantId} accepted` : 'as configured'})`;
  return {
    status: 'pass',
    summary: `${bound.length === 0 ? 'no entry point sent by the tenants names a tenant' : `${bound.map(describeBound).join(', ')}: verified with the named tenant's own secret`}${replayNote}`,
    evidence,
  };
};

/** `HTTP 401` or the network error of an accepting probe. */
function describeProof(proof: ProbeVerdict | undefined): string {
  if (proof === undefined) return 'not sent';
  const status = proof.evidence.status;
  return typeof status === 'number' ? `HTTP ${status}` : String(proof.evidence.error ?? proof.summary);
}
