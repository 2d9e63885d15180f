/**
 * Small real servers on 127.0.0.1, port 0, for HTTP-level tests. Each records what it received
 * and closes every connection it holds on `close()`.
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { type SignatureFormat, verifySignature } from '../../functions/core/signing.ts';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface TestServer {
  /** `http://127.0.0.1:PORT` (or https). */
  url: string;
  port: number;
  received: ReceivedRequest[];
  close(): Promise<void>;
}

export type Handler = (request: ReceivedRequest, res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

export interface TlsMaterial {
  key: string;
  cert: string;
}

/** An HTTP (or, with `tls`, HTTPS) server that hands each fully-read request to `handler`. */
export async function startServer(handler: Handler, tls?: TlsMaterial): Promise<TestServer> {
  const received: ReceivedRequest[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(request);
      void Promise.resolve(handler(request, res, req)).catch(() => res.destroy());
    });
  };
  const server: Server = tls
    ? createHttpsServer({ key: tls.key, cert: tls.cert }, listener)
    : createHttpServer(listener);
  const port = await listen(server);
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP server that accepts connections and never says anything (nor completes a TLS handshake). */
export async function startSilentTcpServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  const port = await listen(server);
  return {
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function listen(server: NetServer): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

// ---------------------------------------------------------------------------------------------
// Webhook receivers

const TICKET_FIELDS = new Set([
  'event',
  'ticket_id',
  'tenant_id',
  'description',
  'priority',
  'created_at',
  'correlation_id',
]);
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** Why a webhook body breaks the platform's schema (PLATFORM.md), or undefined when it is valid. */
export function ticketSchemaProblem(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'body must be an object';
  const ticket = body as Record<string, unknown>;
  const unknown = Object.keys(ticket).filter((key) => !TICKET_FIELDS.has(key));
  if (unknown.length > 0) return `unknown fields: ${unknown.join(', ')}`;
  if (typeof ticket.event !== 'string' || ticket.event === '') return 'event';
  if (typeof ticket.ticket_id !== 'string' || !/^[A-Z0-9-]{1,100}$/.test(ticket.ticket_id)) return 'ticket_id';
  if (typeof ticket.tenant_id !== 'string' || !/^[a-z0-9-]{1,100}$/.test(ticket.tenant_id)) return 'tenant_id';
  if (typeof ticket.description !== 'string' || ticket.description.length < 1 || ticket.description.length > 10_000)
    return 'description';
  if (!['low', 'medium', 'high', 'critical'].includes(String(ticket.priority))) return 'priority';
  if (
    typeof ticket.created_at !== 'string' ||
    !/(Z|[+-]\d{2}:\d{2})$/.test(ticket.created_at) ||
    Number.isNaN(Date.parse(ticket.created_at))
  )
    return 'created_at';
  if (
    ticket.correlation_id !== undefined &&
    (typeof ticket.correlation_id !== 'string' || !UUID_V4.test(ticket.correlation_id))
  )
    return 'correlation_id';
  return undefined;
}

export interface StrictReceiverOptions {
  /** tenantId → signing secret. */
  secrets: Record<string, string>;
  format?: SignatureFormat;
  now?: () => Date;
  /** False: the replay window is not enforced (the fault `webhook.stale_timestamp_rejected` catches). */
  checkTimestamp?: boolean;
}

/**
 * The platform's receiver as PLATFORM.md describes it: 401 for a missing or invalid signature
 * (over the raw bytes, for the tenant named in the body), for an unknown tenant and for a stale
 * timestamp; 422 for a schema violation; 202 with a job id otherwise.
 */
export function strictReceiver(options: StrictReceiverOptions): Handler {
  const format = options.format ?? 'sha256-prefixed';
  const now = options.now ?? (() => new Date());
  return (request, res) => {
    const header = request.headers['x-servicedesk-signature'];
    if (typeof header !== 'string') return sendJson(res, 401, { detail: 'Missing signature header' });
    let body: unknown;
    try {
      body = JSON.parse(request.body);
    } catch {
      return sendJson(res, 422, { detail: 'body is not JSON' });
    }
    const problem = ticketSchemaProblem(body);
    if (problem) return sendJson(res, 422, { detail: [{ loc: ['body', problem], msg: 'invalid' }] });
    const ticket = body as { tenant_id: string; created_at: string };
    const secret = options.secrets[ticket.tenant_id];
    if (secret === undefined || !verifySignature(request.body, secret, header, format)) {
      return sendJson(res, 401, { detail: 'Invalid webhook signature' });
    }
    const ageMs = now().getTime() - Date.parse(ticket.created_at);
    if (options.checkTimestamp !== false && (ageMs > 300_000 || ageMs < -30_000))
      return sendJson(res, 401, { detail: 'Invalid webhook signature' });
    sendJson(res, 202, { status: 'accepted', job_id: randomUUID(), message: 'Enhancement job queued successfully' });
  };
}

/** Accepts anything: the receiver with signature checks switched off. */
export const acceptEverything: Handler = (_request, res) =>
  sendJson(res, 202, { status: 'accepted', job_id: randomUUID(), message: 'Enhancement job queued successfully' });

/** Always answers `status` with a JSON detail (and `Retry-After` for 429). */
export const answerStatus =
  (status: number, detail = `status ${status}`): Handler =>
  (_request, res) =>
    sendJson(res, status, { detail }, status === 429 ? { 'retry-after': '30' } : {});

/** Reads the request and never answers. */
export const hang: Handler = () => undefined;

/** Answers 200 with an HTML page. */
export const htmlPage =
  (status = 200): Handler =>
  (_request, res) => {
    res.writeHead(status, { 'content-type': 'text/html' });
    res.end('<html><body>Bad gateway</body></html>');
  };

export interface StreamStats {
  bytesWritten: number;
  /** Resolves when the client's connection is gone and the server has stopped writing. */
  stopped: Promise<void>;
}

/**
 * Streams `totalBytes` of JSON-ish filler, honouring backpressure, and stops writing as soon
 * as the client goes away. `stats` reports how much was written.
 */
export function streamHuge(totalBytes: number, stats: { current?: StreamStats }): Handler {
  return (_request, res) => {
    let resolveStopped: () => void = () => undefined;
    const current: StreamStats = {
      bytesWritten: 0,
      stopped: new Promise<void>((resolve) => (resolveStopped = resolve)),
    };
    stats.current = current;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let gone = false;
    res.on('close', () => {
      gone = true;
      resolveStopped();
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"filler":"');
    const pump = () => {
      while (!gone && current.bytesWritten < totalBytes) {
        current.bytesWritten += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      if (!gone) res.end();
    };
    pump();
  };
}
