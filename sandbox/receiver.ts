/**
 * The webhook receiver (the platform's FastAPI app): `POST /webhook/servicedesk`, `GET /health`,
 * `GET /api/v1/ready`, on node:http bound to 127.0.0.1. The order of its decisions follows the
 * platform: signature header present, body valid, tenant known and active, HMAC over the raw
 * bytes, created_at inside the replay window, then LPUSH.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { type SignatureFormat, verifySignature } from '../functions/core/signing.ts';
import type { SandboxDatabase } from './db.ts';
import { type EntryPointBehaviour, HEALTHY_ENTRY_POINTS, type PostRoute } from './entry-points.ts';
import { parseWebhookPayload } from './payload.ts';
import type { JobQueue } from './queue.ts';
import type { TenantDirectory } from './tenants.ts';
import type { TlsMaterial } from './tls.ts';

/** How the receiver behaves; faults change it (see faults.ts). */
export interface ReceiverBehaviour extends EntryPointBehaviour {
  /** `down`: 503 with the database unhealthy; `hangs`: never answers; `huge-body`: 200 with ~200 MB. */
  health: 'real' | 'down' | 'hangs' | 'huge-body';
  /** false: any signature, or none, is accepted. */
  verifySignatures: boolean;
  /** false: `created_at` may be any time. */
  checkReplayWindow: boolean;
  /** false: only the age is checked; `created_at` may lie any time ahead. */
  checkFutureWindow: boolean;
}

export const HEALTHY_RECEIVER: Readonly<ReceiverBehaviour> = {
  health: 'real',
  verifySignatures: true,
  checkReplayWindow: true,
  checkFutureWindow: true,
  ...HEALTHY_ENTRY_POINTS,
};

export const WEBHOOK_PATH = '/webhook/servicedesk';
export const HEALTH_PATH = '/health';
export const READY_PATH = '/api/v1/ready';
export const MAX_BODY_BYTES = 256 * 1024;
export const REPLAY_MAX_AGE_MS = 300_000;
export const REPLAY_MAX_AHEAD_MS = 30_000;
export const HUGE_BODY_BYTES = 200 * 1024 * 1024;
/** Per dependency ping of /health; under the canary's request timeout, over a loaded machine's stalls. */
const DEPENDENCY_TIMEOUT_MS = 3_000;
const SERVICE = 'AI Agents';

export interface ReceiverOptions {
  db: SandboxDatabase;
  queue: JobQueue;
  tenants: TenantDirectory;
  signatureFormat: SignatureFormat;
  behaviour: () => Readonly<ReceiverBehaviour>;
  log: (line: string) => void;
  /** @default Date.now */
  now?: () => number;
  /** Serve HTTPS with this key and certificate (PEM); absent: plain HTTP. */
  tls?: TlsMaterial;
  /** More POST routes (the other signed entry points, entry-points.ts), by exact path. */
  postRoutes?: Readonly<Record<string, PostRoute>>;
}

export interface Receiver {
  baseUrl: string;
  /** HTTPS only: the certificate new connections are shown from now on. */
  setCertificate(material: TlsMaterial): void;
  /** Closes the server and every connection, including held ones. Idempotent. */
  stop(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

type BodyResult = { kind: 'ok'; bytes: Buffer } | { kind: 'too-large' } | { kind: 'aborted' };

/** The raw body, up to `limit` bytes. Past that the rest is read and dropped (the answer is 413). */
function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.resolve({ kind: 'too-large' });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (result: BodyResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) settle({ kind: 'too-large' });
      else chunks.push(chunk);
    });
    req.on('end', () => settle({ kind: 'ok', bytes: Buffer.concat(chunks) }));
    req.on('error', () => settle({ kind: 'aborted' }));
    req.on('close', () => settle({ kind: 'aborted' }));
  });
}

/** ~200 MB of JSON-looking body with no length, written only as fast as the client reads. */
function streamHugeBody(res: ServerResponse, log: (line: string) => void): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write(`{"status":"healthy","service":"${SERVICE}","padding":"`);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  res.once('close', () => {
    if (sent < HUGE_BODY_BYTES) log(`receiver: huge /health body: the client left after ${sent} bytes`);
  });
  const pump = (): void => {
    while (!res.destroyed && sent < HUGE_BODY_BYTES) {
      sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end('"}');
  };
  pump();
}

async function dependencyStatus(check: Promise<void>): Promise<'healthy' | 'unhealthy'> {
  try {
    await check;
    return 'healthy';
  } catch {
    return 'unhealthy';
  }
}

/** A POST route of another entry point: its body read as the webhook's is (the same cap). */
async function postRoute(req: IncomingMessage, res: ServerResponse, post: PostRoute): Promise<void> {
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body.kind === 'aborted') return;
  if (body.kind === 'too-large')
    return sendJson(res, 413, { detail: 'Request body too large' }, { connection: 'close' });
  await post(req, res, body.bytes, sendJson);
}

/** The receiver's own routes' handlers (the entry points' routes come with the options). */
interface Handlers {
  webhook: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  health: (res: ServerResponse) => Promise<void>;
  ready: (res: ServerResponse) => Promise<void>;
}

/**
 * The platform's ticket webhook: signature header present, body valid, tenant known and active,
 * HMAC over the raw bytes, created_at inside the replay window, then LPUSH.
 */
async function receiveWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  options: Pick<ReceiverOptions, 'queue' | 'tenants' | 'signatureFormat' | 'behaviour' | 'log'> & { now: () => number },
): Promise<void> {
  const { queue, tenants, signatureFormat, behaviour, log, now } = options;
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body.kind === 'aborted') return;
  if (body.kind === 'too-large') {
    sendJson(res, 413, { detail: 'Request body too large' }, { connection: 'close' });
    return;
  }
  const mode = behaviour();
  const header = req.headers['x-servicedesk-signature'];
  const signature = Array.isArray(header) ? header[0] : header;
  if (mode.verifySignatures && (signature === undefined || signature === '')) {
    sendJson(res, 401, { detail: 'Missing signature header' });
    return;
  }
  const parsed = parseWebhookPayload(body.bytes);
  if (!parsed.ok) {
    sendJson(res, 422, { detail: parsed.errors });
    return;
  }
  const payload = parsed.payload;
  const invalid = () => sendJson(res, 401, { detail: 'Invalid webhook signature' });
  const tenant = await tenants.lookup(payload.tenant_id);
  if (tenant === null || !tenant.active) return invalid();
  if (mode.verifySignatures) {
    if (tenant.secret === null || !verifySignature(body.bytes, tenant.secret, signature, signatureFormat)) {
      return invalid();
    }
  }
  if (mode.checkReplayWindow) {
    const age = now() - payload.createdAtMs;
    if (age > REPLAY_MAX_AGE_MS || (mode.checkFutureWindow && age < -REPLAY_MAX_AHEAD_MS)) return invalid();
  }
  const jobId = randomUUID();
  try {
    await queue.push({
      job_id: jobId,
      ticket_id: payload.ticket_id,
      tenant_id: payload.tenant_id,
      description: payload.description,
      priority: payload.priority,
      created_at: payload.created_at,
      correlation_id: payload.correlation_id,
    });
  } catch (error) {
    log(`receiver: queue push failed: ${(error as Error).message}`);
    sendJson(res, 503, { detail: 'Queue unavailable, please retry' });
    return;
  }
  sendJson(res, 202, { status: 'accepted', job_id: jobId, message: 'Enhancement job queued successfully' });
}

/** The route table: by exact path, then method (404, 405 with `allow`). The handling, or undefined when answered. */
function route(
  req: IncomingMessage,
  res: ServerResponse,
  handlers: Handlers,
  postRoutes: Readonly<Record<string, PostRoute>>,
): Promise<void> | undefined {
  const path = new URL(req.url ?? '/', 'http://sandbox').pathname; // the query string is ignored
  const routes: Record<string, { method: string; handle: () => Promise<void> }> = {
    [WEBHOOK_PATH]: { method: 'POST', handle: () => handlers.webhook(req, res) },
    [HEALTH_PATH]: { method: 'GET', handle: () => handlers.health(res) },
    [READY_PATH]: { method: 'GET', handle: () => handlers.ready(res) },
    ...Object.fromEntries(
      Object.entries(postRoutes).map(([path, post]) => [
        path,
        { method: 'POST', handle: () => postRoute(req, res, post) },
      ]),
    ),
  };
  const found = routes[path];
  if (found === undefined) {
    sendJson(res, 404, { detail: 'Not Found' });
    return undefined;
  }
  if (req.method !== found.method) {
    sendJson(res, 405, { detail: 'Method Not Allowed' }, { allow: found.method });
    return undefined;
  }
  return found.handle();
}

export async function startReceiver(options: ReceiverOptions): Promise<Receiver> {
  const { db, queue, behaviour, log } = options;
  const now = options.now ?? Date.now;
  const sockets = new Set<Socket>();
  const inFlight = new Set<Promise<void>>();

  async function dependencies(): Promise<{ database: string; redis: string }> {
    const [database, redis] = await Promise.all([
      dependencyStatus(db.ping(DEPENDENCY_TIMEOUT_MS)),
      dependencyStatus(queue.ping(DEPENDENCY_TIMEOUT_MS)),
    ]);
    return { database: behaviour().health === 'down' ? 'unhealthy' : database, redis };
  }

  async function health(res: ServerResponse): Promise<void> {
    const mode = behaviour().health;
    if (mode === 'hangs') return; // the response is never written; stop() destroys the socket
    if (mode === 'huge-body') {
      streamHugeBody(res, log);
      return;
    }
    const deps = await dependencies();
    const healthy = deps.database === 'healthy' && deps.redis === 'healthy';
    sendJson(res, healthy ? 200 : 503, {
      status: healthy ? 'healthy' : 'unhealthy',
      service: SERVICE,
      dependencies: deps,
    });
  }

  async function ready(res: ServerResponse): Promise<void> {
    const deps = await dependencies();
    const isReady = deps.database === 'healthy' && deps.redis === 'healthy';
    sendJson(res, isReady ? 200 : 503, { status: isReady ? 'ready' : 'not_ready', service: SERVICE, checks: deps });
  }

  const handlers: Handlers = {
    webhook: (req, res) => receiveWebhook(req, res, { ...options, now }),
    health: (res) => health(res),
    ready: (res) => ready(res),
  };

  const timeouts = { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 };
  const server: HttpServer = options.tls ? createHttpsServer({ ...timeouts, ...options.tls }) : createServer(timeouts);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    res.once('close', () => {
      const path = (req.url ?? '/').split('?')[0];
      const ms = Math.round(performance.now() - started);
      log(`receiver: ${req.method} ${path} ${res.headersSent ? res.statusCode : 'no response'} ${ms} ms`);
    });
    const handling = route(req, res, handlers, options.postRoutes ?? {});
    if (handling === undefined) return;
    const task = handling
      .catch((error: Error) => {
        log(`receiver: ${req.method} ${req.url?.split('?')[0]} failed: ${error.message}`);
        sendJson(res, 500, { detail: 'Internal Server Error' });
      })
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const baseUrl = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  log(`receiver: listening on ${baseUrl}`);

  let stopped: Promise<void> | undefined;
  return {
    baseUrl,
    setCertificate: (material) => {
      if (!(server instanceof HttpsServer)) throw new Error('the receiver speaks plain HTTP: no certificate to set');
      server.setSecureContext(material);
    },
    stop: () => {
      stopped ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        await closed;
        await Promise.allSettled([...inFlight]);
      })();
      return stopped;
    },
  };
}
