/**
 * The platform's other signed entry points (PLATFORM.md, "Signed entry points"), built right by
 * default:
 * - `POST /webhook/servicedesk/resolved-ticket`: a resolved ticket for the tenant named in the
 *   body, verified with that tenant's own secret (`X-ServiceDesk-Signature`), stored in its
 *   `ticket_history` (synthetic tickets are not stored). The platform's code verifies it with one
 *   platform-wide secret: the `shared-entry-point-secret` fault does the same.
 * - `POST /webhook/agents/{agent_id}/webhook`: triggers an agent (here: nothing runs), verified
 *   with the agent's own secret (`X-Hub-Signature-256: sha256=<hex>`); 404 for an unknown agent.
 *   Built right, it also refuses a `created_at` outside the replay window.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConfigInput } from '../functions/core/config.ts';
import { type SignatureFormat, verifySignature } from '../functions/core/signing.ts';
import type { SandboxDatabase } from './db.ts';
import { parseAwareDatetime } from './payload.ts';
import type { TenantDirectory } from './tenants.ts';

export const RESOLVED_TICKET_PATH = '/webhook/servicedesk/resolved-ticket';
/** The sandbox's one agent (a triage agent); any other agent id is a 404, as on the platform. */
export const SANDBOX_AGENT_ID = '3f1c9a52-6c1e-4d8b-9a57-2b0c4e7d1f60';
export const AGENT_WEBHOOK_PATH = `/webhook/agents/${SANDBOX_AGENT_ID}/webhook`;

/** How the entry points behave; faults change it (faults.ts). */
export interface EntryPointBehaviour {
  /** `tenant`: the named tenant's own secret; `platform`: one platform-wide secret (the platform's code). */
  resolvedTicketSecret: 'tenant' | 'platform';
  /** false: the resolved-ticket entry point takes any signature, or none. */
  verifyResolvedTicket: boolean;
  /** false: the agent webhook takes any signature, or none. */
  verifyAgentWebhook: boolean;
}

export const HEALTHY_ENTRY_POINTS: Readonly<EntryPointBehaviour> = {
  resolvedTicketSecret: 'tenant',
  verifyResolvedTicket: true,
  verifyAgentWebhook: true,
};

/** The secrets only the platform holds: the platform-wide one and the agent's. */
export interface EntryPointSecrets {
  platformWide: string;
  agent: string;
}

export function newEntryPointSecrets(): EntryPointSecrets {
  return { platformWide: randomBytes(24).toString('base64url'), agent: randomBytes(24).toString('base64url') };
}

export interface EntryPointOptions {
  db: SandboxDatabase;
  tenants: TenantDirectory;
  secrets: EntryPointSecrets;
  signatureFormat: SignatureFormat;
  syntheticPrefix: string;
  behaviour: () => Readonly<EntryPointBehaviour>;
  now: () => number;
  replayWindowMs: { maxAge: number; maxAhead: number };
  log: (line: string) => void;
}

type Send = (res: ServerResponse, status: number, body: unknown) => void;
export type PostRoute = (req: IncomingMessage, res: ServerResponse, body: Buffer, send: Send) => Promise<void>;

const RESOLVED_FIELDS = [
  'tenant_id',
  'ticket_id',
  'subject',
  'description',
  'resolution',
  'resolved_date',
  'priority',
  'tags',
] as const;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === '' ? undefined : first;
}

function parseObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const json: unknown = JSON.parse(bytes.toString('utf8'));
    return json !== null && typeof json === 'object' && !Array.isArray(json)
      ? (json as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The two entry points' POST routes, by path. */
export function entryPointRoutes(options: EntryPointOptions): Record<string, PostRoute> {
  const { db, tenants, secrets, signatureFormat, behaviour, log } = options;

  const resolvedTicket: PostRoute = async (req, res, bytes, send) => {
    const mode = behaviour();
    const signature = header(req, 'x-servicedesk-signature');
    if (mode.verifyResolvedTicket && signature === undefined)
      return send(res, 401, { detail: 'Missing signature header' });
    const body = parseObject(bytes);
    const unknown =
      body === undefined
        ? []
        : Object.keys(body).filter((key) => !(RESOLVED_FIELDS as readonly string[]).includes(key));
    if (
      body === undefined ||
      typeof body.tenant_id !== 'string' ||
      typeof body.ticket_id !== 'string' ||
      unknown.length > 0
    ) {
      return send(res, 422, { detail: 'Invalid resolved-ticket payload' });
    }
    const invalid = () => send(res, 401, { detail: 'Invalid webhook signature' });
    const tenant = await tenants.lookup(body.tenant_id);
    if (mode.verifyResolvedTicket) {
      // The platform's code: one secret for every tenant. Built right: the named tenant's own.
      const secret =
        mode.resolvedTicketSecret === 'platform' ? secrets.platformWide : tenant?.active ? tenant.secret : null;
      if (secret === null || !verifySignature(bytes, secret, signature, signatureFormat)) return invalid();
    }
    if (tenant === null || !tenant.active) return invalid();
    send(res, 202, { status: 'accepted', message: 'Resolved ticket queued for storage' });
    if (body.ticket_id.startsWith(options.syntheticPrefix)) return; // synthetic: never stored
    await db
      .admin(
        `INSERT INTO public.ticket_history (tenant_id, ticket_id, subject, description, resolution, priority, resolved_date, source)
         VALUES ($1, $2, $3, $4, $5, $6, now(), 'resolved_webhook') ON CONFLICT (tenant_id, ticket_id) DO NOTHING`,
        [
          body.tenant_id,
          body.ticket_id,
          text(body.subject),
          text(body.description),
          text(body.resolution),
          text(body.priority),
        ],
      )
      .catch((error: Error) => log(`receiver: storing a resolved ticket failed: ${error.message}`));
  };

  const agentWebhook: PostRoute = async (req, res, bytes, send) => {
    const mode = behaviour();
    const signature = header(req, 'x-hub-signature-256');
    if (mode.verifyAgentWebhook && !verifySignature(bytes, secrets.agent, signature, 'sha256-prefixed')) {
      return send(res, 401, { detail: 'Invalid signature' });
    }
    const body = parseObject(bytes);
    if (body === undefined) return send(res, 422, { detail: 'Invalid JSON body' });
    if (mode.verifyAgentWebhook) {
      const created = typeof body.created_at === 'string' ? parseAwareDatetime(body.created_at) : 'invalid';
      const age = typeof created === 'number' ? options.now() - created : Number.NaN;
      if (!(age <= options.replayWindowMs.maxAge && age >= -options.replayWindowMs.maxAhead)) {
        return send(res, 401, { detail: 'Request expired or not yet valid' });
      }
    }
    send(res, 202, { status: 'accepted', run_id: randomUUID() });
  };

  return { [RESOLVED_TICKET_PATH]: resolvedTicket, [AGENT_WEBHOOK_PATH]: agentWebhook };
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value.slice(0, 10_000) : null;
}

/**
 * The canary's description of the two entry points, as the platform is built now (its secret
 * model included). Both take a correctly signed synthetic request (`acceptProbe`): the sandbox
 * never stores a synthetic resolved ticket and runs nothing for its agent, and the accepted
 * request proves the described secret is the one the receiver verifies with.
 */
export function entryPointsConfig(
  behaviour: Readonly<EntryPointBehaviour>,
  secrets: EntryPointSecrets,
  signatureFormat: SignatureFormat,
): NonNullable<ConfigInput['platform']['entryPoints']> {
  return [
    {
      name: 'resolved-ticket',
      path: RESOLVED_TICKET_PATH,
      signatureHeader: 'X-ServiceDesk-Signature',
      signatureFormat,
      secret: behaviour.resolvedTicketSecret === 'platform' ? { value: secrets.platformWide } : 'tenant',
      body: 'resolved-ticket',
      timestamped: false,
      sentBy: 'tenants',
      acceptProbe: true,
    },
    {
      name: 'agent-triage',
      path: AGENT_WEBHOOK_PATH,
      signatureHeader: 'X-Hub-Signature-256',
      signatureFormat: 'sha256-prefixed',
      secret: { value: secrets.agent },
      body: { template: { event: 'canary', ticket_id: '{ticketId}', created_at: '{createdAt}' } },
      timestamped: true,
      replayable: true,
      acceptProbe: true,
      // The platform answers 403 for an inactive agent before it looks at the signature.
      notProvenStatuses: [403, 404, 405],
    },
  ];
}
