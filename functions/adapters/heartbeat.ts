/**
 * The dead-man's switch outside AWS (deployment.heartbeatUrl): a GET after each judged sweep.
 * The URL is often itself the credential (healthchecks.io, Cronitor): it is never put in an
 * error or a log line, only the outcome is.
 */
import type { SecretRef } from '../core/config.ts';
import { LAMBDA_ENV } from '../core/lambda-env.ts';
import type { SecretResolver } from '../ports.ts';
import { createHttpClient } from './http.ts';

export function createHeartbeatPing(
  target: { url: string } | { secret: SecretRef },
  secrets: SecretResolver,
): () => Promise<void> {
  return async () => {
    const url = 'url' in target ? target.url : (await secrets.resolve(target.secret)).reveal();
    // A client per ping: a socket kept from the last sweep may have died while the container was frozen.
    const http = createHttpClient({ connectTimeoutMs: 3_000 });
    try {
      const result = await http.request({ method: 'GET', url, timeoutMs: 5_000, maxBytes: 1024 });
      if (result.kind !== 'response') throw new Error(`the heartbeat URL did not answer (${result.kind})`);
      if (result.status >= 300) throw new Error(`the heartbeat URL answered HTTP ${result.status}`);
    } finally {
      await http.close();
    }
  };
}

/** The external heartbeat of the stack's environment (a URL, or a secret holding one), if any. */
export function heartbeatOf(
  env: Readonly<Record<string, string | undefined>>,
  secrets: SecretResolver,
): { heartbeat?: () => Promise<void> } {
  const url = env[LAMBDA_ENV.heartbeatUrl];
  const secretId = env[LAMBDA_ENV.heartbeatSecretId];
  const jsonKey = env[LAMBDA_ENV.heartbeatJsonKey];
  if (url) return { heartbeat: createHeartbeatPing({ url }, secrets) };
  if (secretId)
    return { heartbeat: createHeartbeatPing({ secret: { secretId, ...(jsonKey ? { jsonKey } : {}) } }, secrets) };
  return {};
}
