/**
 * The one HTTP adapter. Every request has an explicit connect timeout, an overall deadline,
 * a response-size cap, follows no redirects, and never throws for what the server does:
 * a hang, a reset, a huge or non-JSON body all come back as an {@link HttpResult}.
 */
import { Agent, request as undiciRequest } from 'undici';
import type { HttpClient, HttpRequest, HttpResult } from '../ports.ts';
import { trustingAlso } from './tls.ts';

export interface HttpClientOptions {
  connectTimeoutMs: number;
  /** PEM bundle of a private CA, trusted in addition to the system's. */
  ca?: string;
}

/**
 * Builds the client. One undici Agent (keep-alive) per client; `close()` destroys it and any
 * request still in flight.
 */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const secureContext = trustingAlso(options.ca);
  const agent = new Agent({
    connect: { timeout: options.connectTimeoutMs, ...(secureContext ? { secureContext } : {}) },
    keepAliveTimeout: 4_000,
  });
  let requestCount = 0;
  let closed: Promise<void> | undefined;

  return {
    get requestCount() {
      return requestCount;
    },
    request(request) {
      requestCount += 1;
      return send(agent, options, request);
    },
    close() {
      closed ??= agent.destroy().catch(() => undefined);
      return closed;
    },
  };
}

async function send(agent: Agent, options: HttpClientOptions, request: HttpRequest): Promise<HttpResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const deadline = AbortSignal.timeout(request.timeoutMs);
  const signal = request.signal ? AbortSignal.any([deadline, request.signal]) : deadline;
  try {
    signal.throwIfAborted();
    return await raceAbort(signal, exchange(agent, request, signal, elapsed));
  } catch (error) {
    return classifyError(error, { signal, deadline, caller: request.signal, options, request, elapsedMs: elapsed() });
  }
}

async function exchange(
  agent: Agent,
  request: HttpRequest,
  signal: AbortSignal,
  elapsed: () => number,
): Promise<HttpResult> {
  const response = await undiciRequest(request.url, {
    dispatcher: agent,
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal,
    // Backstops: the deadline signal normally fires first (undici's timers are coarse).
    headersTimeout: request.timeoutMs,
    bodyTimeout: request.timeoutMs,
  });
  const { bytes, truncated } = await readCapped(response.body, request.maxBytes);
  const bodyText = bytes.toString('utf8');
  const headers = flattenHeaders(response.headers);
  return {
    kind: 'response',
    status: response.statusCode,
    headers,
    bodyText,
    json: truncated ? undefined : parseJsonLike(bodyText, headers['content-type']),
    truncated,
    elapsedMs: elapsed(),
  };
}

/**
 * undici only acts on an abort once the socket is connected (a TLS handshake that never
 * completes holds it until the connect timeout), so the deadline is enforced here too. The
 * losing exchange still ends: undici aborts it as soon as it gets the chance.
 */
function raceAbort<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Reads at most `maxBytes`; past that it destroys the stream, which drops the connection. */
async function readCapped(
  body: AsyncIterable<Buffer> & { destroy(error?: Error): unknown },
  maxBytes: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  try {
    for await (const chunk of body) {
      if (size + chunk.length > maxBytes) {
        chunks.push(chunk.subarray(0, maxBytes - size));
        size = maxBytes;
        truncated = true;
        break;
      }
      chunks.push(chunk);
      size += chunk.length;
    }
  } finally {
    if (truncated) body.destroy();
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

function parseJsonLike(text: string, contentType: string | undefined): unknown {
  const trimmed = text.trimStart();
  const looksJson = /\bjson\b/i.test(contentType ?? '') || trimmed.startsWith('{') || trimmed.startsWith('[');
  if (!looksJson || trimmed === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
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
    case 'UND_ERR_CONNECT_TIMEOUT':
      return {
        kind: 'timeout',
        phase: 'connect',
        elapsedMs,
        message: `could not connect within ${ctx.options.connectTimeoutMs} ms`,
      };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return {
        kind: 'timeout',
        phase: 'response',
        elapsedMs,
        message: `no response headers within ${ctx.request.timeoutMs} ms`,
      };
    case 'UND_ERR_BODY_TIMEOUT':
      return {
        kind: 'timeout',
        phase: 'response',
        elapsedMs,
        message: `the body stalled for ${ctx.request.timeoutMs} ms`,
      };
    default:
      return { kind: 'network', code, message: errorMessage(error), elapsedMs };
  }
}

/**
 * The most specific code: undici wraps socket errors (`UND_ERR_SOCKET` "other side closed")
 * and Node's happy-eyeballs connect wraps per-address errors in an AggregateError.
 */
function errorCode(error: unknown): string {
  const own = codeOf(error);
  if (own === undefined || own === 'UND_ERR_SOCKET') {
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
