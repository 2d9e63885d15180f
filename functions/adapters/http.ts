/**
 * The one HTTP adapter, on Node's own `http`/`https` (no dependency to bundle). Every request has
 * an explicit connect timeout, an overall deadline, a response-size cap, follows no redirects
 * (Node's client never does), and never throws for what the server does: a hang, a reset, a
 * huge or non-JSON body all come back as an {@link HttpResult}.
 */
import { type ClientRequest, Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { parsePlatformJson } from '../core/json.ts';
import type { HttpClient, HttpRequest, HttpResult } from '../ports.ts';
import { trustingAlso } from './tls.ts';

export interface HttpClientOptions {
  connectTimeoutMs: number;
  /** PEM bundle of a private CA, trusted in addition to the system's. */
  ca?: string;
}

/** Idle keep-alive sockets are closed after this long (the platform's own idle timeout may be shorter). */
const IDLE_SOCKET_MS = 4_000;
/**
 * Requests to an origin that has no TLS session yet wait at most this long (and at most half the
 * connect timeout) for the first one's handshake, so that they resume its session instead of each
 * making a full handshake: once per origin and process (a Lambda container's first invocation).
 */
const FIRST_HANDSHAKE_WAIT_MS = 1_000;

/** Why a request ended before its response did, as a code {@link classifyError} reads. */
class ExchangeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Agents {
  http: HttpAgent;
  https: HttpsAgent;
  /** Clients open on these agents: the last to close takes every idle socket with it. */
  open: number;
  /** By https origin: settled once its first handshake has left a session to resume (or could not). */
  firstHandshakes: Map<string, Promise<void>>;
}

/** An origin whose first handshake is done: requests to it go at once. */
const settledHandshake: Promise<void> = Promise.resolve();

/** The first request to an https origin: it lets the others go once its handshake is done. */
interface FirstHandshake {
  watch(socket: Socket): void;
  release(): void;
}

/** What a request tells its client: the requests in flight and the sockets it used. */
interface ClientTracking {
  claim(socket: Socket): void;
  track(request: ClientRequest): void;
  closed(): boolean;
}

/**
 * One agent pair per CA bundle and process, so that the TLS session cache outlives a client: a
 * Lambda container opens a client per invocation, and the next invocation resumes its TLS
 * sessions instead of a full handshake with certificate verification (most of an invocation's
 * CPU, see bench/README.md). Sockets never outlive their client (see `close`); only sessions do.
 */
const sharedAgents = new Map<string, Agents>();
/** The client a socket last served: `close()` destroys its own idle sockets, never another client's. */
const socketOwner = new WeakMap<Socket, object>();

function agentsFor(ca: string | undefined): Agents {
  const key = ca ?? '';
  let agents = sharedAgents.get(key);
  if (agents === undefined) {
    const secureContext = trustingAlso(ca);
    agents = {
      http: new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
      https: new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS, ...(secureContext ? { secureContext } : {}) }),
      open: 0,
      firstHandshakes: new Map(),
    };
    if (sharedAgents.size >= 8) sharedAgents.clear(); // a handful of bundles at most
    sharedAgents.set(key, agents);
  }
  return agents;
}

/**
 * Builds the client. Keep-alive within the client's life; `close()` ends its requests in flight
 * and its idle sockets, and the last client of the agents closes every idle socket, so a
 * container frozen between invocations never wakes up to a socket the server closed meanwhile.
 */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const agents = agentsFor(options.ca);
  agents.open += 1;
  const self = {};
  const inFlight = new Set<ClientRequest>();
  let requestCount = 0;
  let closed = false;
  const tracking: ClientTracking = {
    claim: (socket) => socketOwner.set(socket, self),
    closed: () => closed,
    track(request) {
      inFlight.add(request);
      request.once('close', () => inFlight.delete(request));
    },
  };

  return {
    get requestCount() {
      return requestCount;
    },
    request(request) {
      requestCount += 1;
      if (closed) return Promise.resolve(clientClosed(0));
      return send(agents, options, request, tracking);
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      agents.open -= 1;
      // Its requests end whether or not they have a socket yet (one destroyed before it gets
      // one would hand that socket back to the pool, so idle sockets are swept below as well).
      for (const request of inFlight) request.destroy();
      inFlight.clear();
      for (const agent of [agents.http, agents.https]) {
        for (const list of Object.values(agent.freeSockets)) {
          for (const socket of list ?? []) {
            if (agents.open === 0 || socketOwner.get(socket) === self) socket.destroy();
          }
        }
      }
      return Promise.resolve();
    },
  };
}

const clientClosed = (elapsedMs: number): HttpResult => ({
  kind: 'network',
  code: 'CLIENT_CLOSED',
  message: 'the HTTP client is closed',
  elapsedMs,
});

async function send(
  agents: Agents,
  options: HttpClientOptions,
  request: HttpRequest,
  tracking: ClientTracking,
): Promise<HttpResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const deadline = AbortSignal.timeout(request.timeoutMs);
  const signal = request.signal ? AbortSignal.any([deadline, request.signal]) : deadline;
  try {
    signal.throwIfAborted();
    const gate = firstHandshake(agents, options, request.url);
    if (gate.wait !== undefined) {
      await untilSettledOrAborted(gate.wait, signal);
      signal.throwIfAborted();
      if (tracking.closed()) return clientClosed(elapsed()); // closed while it waited: nothing was sent
    }
    const first = gate.first;
    try {
      return await exchange(agents, options, request, signal, elapsed, tracking, first);
    } finally {
      first?.release();
    }
  } catch (error) {
    return classifyError(error, { signal, deadline, caller: request.signal, options, request, elapsedMs: elapsed() });
  }
}

/** Resolves when `promise` settles or `signal` aborts, whichever is first. */
async function untilSettledOrAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  let onAbort = () => {};
  const aborted = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
  });
  await Promise.race([promise, aborted]);
  signal.removeEventListener('abort', onAbort);
}

/**
 * Concurrent requests to an https origin this process has no TLS session for would each make a
 * full handshake (certificates and all). The first one goes ahead (`first`, to be watched); the
 * others `wait` until its handshake has left a session in the agent's cache (its `session`
 * event), it ended, or a short while passed ({@link FIRST_HANDSHAKE_WAIT_MS}), then resume that
 * session. Once per origin and process: afterwards nothing waits, not even a tick (the agent
 * keeps the latest session of each origin).
 */
function firstHandshake(
  agents: Agents,
  options: HttpClientOptions,
  url: string,
): { first?: FirstHandshake; wait?: Promise<void> } {
  let origin: string;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:') return {};
    origin = parsed.host;
  } catch {
    return {}; // exchange reports the bad URL
  }
  const pending = agents.firstHandshakes.get(origin);
  if (pending === settledHandshake) return {};
  if (pending !== undefined) return { wait: pending };
  let resolveWait = () => {};
  const wait = new Promise<void>((resolve) => {
    resolveWait = resolve;
  });
  agents.firstHandshakes.set(origin, wait);
  const release = () => {
    clearTimeout(timer);
    // Only this gate's own entry (the agents may have been replaced meanwhile).
    if (agents.firstHandshakes.get(origin) === wait) agents.firstHandshakes.set(origin, settledHandshake);
    resolveWait();
  };
  const timer = setTimeout(release, Math.min(FIRST_HANDSHAKE_WAIT_MS, options.connectTimeoutMs / 2));
  timer.unref();
  return {
    first: {
      release,
      watch(socket) {
        // A kept-alive socket has no handshake to wait for; a new one lets the others go with its session.
        if (!socket.connecting) release();
        socket.once('session', release);
        socket.once('close', release);
      },
    },
  };
}

/**
 * One request and its response, read up to `maxBytes`. Settles once: on the last body byte, on
 * the cap (the socket is dropped), on a connect timeout, on an error or when `signal` aborts
 * (the request and its socket are destroyed at once, in any phase, TLS handshake included).
 */
function exchange(
  agents: Agents,
  options: HttpClientOptions,
  request: HttpRequest,
  signal: AbortSignal,
  elapsed: () => number,
  tracking: ClientTracking,
  first?: FirstHandshake,
): Promise<HttpResult> {
  const url = new URL(request.url);
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') {
    throw new ExchangeError('ERR_INVALID_PROTOCOL', `unsupported protocol ${url.protocol} (http: or https: only)`);
  }
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  return new Promise<HttpResult>((resolve, reject) => {
    let connectTimer: NodeJS.Timeout | undefined;
    let settled = false;
    let req: ClientRequest | undefined;
    const finish = (outcome: { result: HttpResult } | { error: unknown }) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      signal.removeEventListener('abort', onAbort);
      if ('result' in outcome) resolve(outcome.result);
      else {
        req?.destroy();
        reject(outcome.error);
      }
    };
    const onAbort = () => finish({ error: signal.reason });
    const send = secure ? httpsRequest : httpRequest;
    try {
      req = send(url, {
        method: request.method,
        agent: secure ? agents.https : agents.http,
        headers: { ...request.headers, ...(body === undefined ? {} : { 'content-length': String(body.length) }) },
      });
    } catch (error) {
      // An invalid header, say: nothing was sent.
      finish({ error });
      return;
    }
    tracking.track(req);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    req.on('socket', (socket: Socket) => {
      tracking.claim(socket);
      first?.watch(socket);
      // A reused keep-alive socket is connected already; a new one gets the connect timeout
      // until TCP (and, for https, the TLS handshake) is done.
      if (!socket.connecting) return;
      connectTimer = setTimeout(() => {
        finish({
          error: new ExchangeError('CONNECT_TIMEOUT', `could not connect within ${options.connectTimeoutMs} ms`),
        });
      }, options.connectTimeoutMs);
      socket.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });
    req.on('error', (error) => finish({ error }));
    req.on('response', (response: IncomingMessage) => {
      readCapped(response, request.maxBytes).then(
        ({ bytes, truncated }) => {
          if (truncated) req?.destroy(); // drops the connection: the rest is never read
          const bodyText = bytes.toString('utf8');
          const headers = flattenHeaders(response.headers);
          const parsed = truncated ? undefined : parseJsonLike(bodyText, headers['content-type']);
          finish({
            result: {
              kind: 'response',
              status: response.statusCode ?? 0,
              headers,
              bodyText,
              json: parsed?.ok ? parsed.value : undefined,
              ...(parsed?.ok === false && parsed.kind === 'limit' ? { jsonSkipped: parsed.reason } : {}),
              truncated,
              elapsedMs: elapsed(),
            },
          });
        },
        (error: unknown) => finish({ error }),
      );
    });
    req.end(body);
  });
}

/** Reads at most `maxBytes`; a body that ends before its promised length is an error. */
async function readCapped(body: IncomingMessage, maxBytes: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size + chunk.length > maxBytes) {
      chunks.push(chunk.subarray(0, maxBytes - size));
      size = maxBytes;
      truncated = true;
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  if (!truncated && !body.complete) {
    throw new ExchangeError('ERR_RESPONSE_INCOMPLETE', 'the connection closed before the whole body arrived');
  }
  return { bytes: Buffer.concat(chunks, size), truncated };
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The body as JSON when it looks like JSON, within the platform JSON limits (functions/core/limits.ts). */
function parseJsonLike(
  text: string,
  contentType: string | undefined,
): ReturnType<typeof parsePlatformJson> | undefined {
  const trimmed = text.trimStart();
  const looksJson = /\bjson\b/i.test(contentType ?? '') || trimmed.startsWith('{') || trimmed.startsWith('[');
  if (!looksJson || trimmed === '') return undefined;
  return parsePlatformJson(text);
}

interface ErrorContext {
  signal: AbortSignal;
  deadline: AbortSignal;
  caller: AbortSignal | undefined;
  options: HttpClientOptions;
  request: HttpRequest;
  elapsedMs: number;
}

function classifyError(error: unknown, ctx: ErrorContext): HttpResult {
  const { elapsedMs } = ctx;
  if (ctx.signal.aborted) {
    // AbortSignal.any keeps the reason of whichever signal fired first.
    const cancelled =
      ctx.caller?.aborted === true && (!ctx.deadline.aborted || ctx.signal.reason === ctx.caller.reason);
    if (cancelled) {
      return { kind: 'timeout', phase: 'response', elapsedMs, message: 'cancelled by the caller', cancelled: true };
    }
    return {
      kind: 'timeout',
      phase: 'response',
      elapsedMs,
      message: `no complete response within ${ctx.request.timeoutMs} ms`,
    };
  }
  const code = errorCode(error);
  switch (code) {
    case 'CONNECT_TIMEOUT':
      return {
        kind: 'timeout',
        phase: 'connect',
        elapsedMs,
        message: `could not connect within ${ctx.options.connectTimeoutMs} ms`,
      };
    default:
      return { kind: 'network', code, message: errorMessage(error), elapsedMs };
  }
}

/** The most specific code: Node's happy-eyeballs connect wraps per-address errors in an AggregateError. */
function errorCode(error: unknown): string {
  const own = codeOf(error);
  if (own === undefined) {
    const inner = innerError(error);
    const innerCode = inner === undefined ? undefined : codeOf(inner);
    if (innerCode !== undefined) return innerCode;
  }
  if (own !== undefined) return own;
  return error instanceof Error ? error.name : 'UNKNOWN';
}

function codeOf(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

function innerError(error: unknown): unknown {
  if (error instanceof AggregateError) return error.errors[0];
  if (error instanceof Error) return error.cause;
  return undefined;
}

function errorMessage(error: unknown): string {
  if (error instanceof AggregateError) {
    const parts = error.errors.map((inner: unknown) => (inner instanceof Error ? inner.message : String(inner)));
    return parts.length > 0 ? parts.join('; ') : error.message || 'connection failed';
  }
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
