/**
 * The one HTTP adapter. Every request has an explicit connect timeout, an overall deadline,
 * a response-size cap, follows no redirects, and never throws for what the server does:
 * a hang, a reset, a huge or non-JSON body all come back as an {@link HttpResult}.
 */

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Deadline for the whole exchange, connect to last body byte. */
  timeoutMs: number;
  /** Bytes of body kept; reading stops (and the connection is dropped) past this. */
  maxBytes: number;
  /** Cancels the request early (the check's budget or the run's). */
  signal?: AbortSignal;
}

export type HttpResult =
  | {
      kind: 'response';
      status: number;
      headers: Record<string, string>;
      /** The body as UTF-8 text, at most maxBytes of it. */
      bodyText: string;
      /** The body parsed as JSON, or undefined when it is not JSON or was truncated. */
      json: unknown;
      /** True when the body was longer than maxBytes. */
      truncated: boolean;
      elapsedMs: number;
    }
  | { kind: 'timeout'; phase: 'connect' | 'response'; elapsedMs: number; message: string }
  | { kind: 'network'; code: string; message: string; elapsedMs: number };

export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResult>;
  /** Requests sent since the client was made (benchmarks count load on the platform). */
  readonly requestCount: number;
  close(): Promise<void>;
}

export interface HttpClientOptions {
  connectTimeoutMs: number;
  /** PEM bundle of a private CA, trusted in addition to the system's. */
  ca?: string;
}
