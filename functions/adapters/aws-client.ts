/**
 * Settings every AWS SDK client here is built with: a connect and a request timeout (the SDK's
 * defaults have neither, so an endpoint that accepts and never answers hangs a call forever),
 * and bounded retries in standard mode. A call that hangs ends within about
 * `maxAttempts × (connect or request timeout)` plus the retry backoff.
 */
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** Time to open a TCP (and TLS) connection to an AWS endpoint. */
export const AWS_CONNECT_TIMEOUT_MS = 3000;
/** Time for one call, from sending it to the end of the answer. */
export const AWS_REQUEST_TIMEOUT_MS = 5000;
/** Attempts per call, the first included. */
export const AWS_MAX_ATTEMPTS = 3;

export interface AwsClientDefaults {
  retryMode: 'standard';
  maxAttempts: number;
  requestHandler: NodeHttpHandler;
}

/** A fresh request handler (one per client) and the retry settings; spread a client's own config after them. */
export function awsClientDefaults(maxAttempts: number = AWS_MAX_ATTEMPTS): AwsClientDefaults {
  return {
    retryMode: 'standard',
    maxAttempts: Math.min(Math.max(1, maxAttempts), AWS_MAX_ATTEMPTS),
    requestHandler: new NodeHttpHandler({
      connectionTimeout: AWS_CONNECT_TIMEOUT_MS,
      requestTimeout: AWS_REQUEST_TIMEOUT_MS,
      // Without it a request over its timeout only logs a warning and goes on waiting.
      throwOnRequestTimeout: true,
    }),
  };
}

/**
 * `load`, run on the first call and shared by every call after it; a failure is not kept, so the
 * next call tries again. The AWS SDK clients are loaded this way: the SDK is external to the
 * bundles (the Lambda runtime ships it), and a static import would load it at every INIT.
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };
}
