/**
 * The adapters factory: the one place that builds network clients from config. Tests, the CLI
 * and the sweep function call it (or replace it); the probe function opens
 * {@link openBasePorts} (no Redis). Nothing builds clients at import time.
 */
import type { Config } from '../core/config.ts';
import { errorMessage } from '../core/errors.ts';
import type { Secret } from '../core/secret.ts';
import type { OpenPorts, RedisPort, SecretResolver } from '../ports.ts';
import { openBasePorts, type PortsOptions, readPem } from './ports-base.ts';
import { createRedisPort } from './redis.ts';
import { createSecretResolver } from './secrets.ts';

export { openBasePorts, type PortsOptions } from './ports-base.ts';

export function openPorts(config: Config, options: PortsOptions = {}): Promise<OpenPorts> {
  return openBasePorts(config, { ...options, redis: redisPort });
}

/** The Redis port of `redis`, with its CA and login read first; an unreadable password makes queue.depth an error. */
async function redisPort(redis: NonNullable<Config['redis']>, secrets: SecretResolver | undefined): Promise<RedisPort> {
  const ca = redis.tls.caFile === null ? undefined : await readPem('redis.tls.caFile', redis.tls.caFile);
  let password: Secret | undefined;
  if (redis.auth !== undefined) {
    try {
      password = await (secrets ?? createSecretResolver({ env: process.env })).resolve(redis.auth.password);
    } catch (error) {
      return unavailableRedisPort(`redis.auth.password cannot be read: ${errorMessage(error)}`);
    }
  }
  return createRedisPort({
    url: redis.url,
    connectTimeoutMs: redis.connectTimeoutMs,
    commandTimeoutMs: redis.commandTimeoutMs,
    ...(ca === undefined ? {} : { ca }),
    ...(redis.auth?.username === undefined ? {} : { username: redis.auth.username }),
    ...(password === undefined ? {} : { password }),
  });
}

function unavailableRedisPort(reason: string): RedisPort {
  return {
    commandCount: 0,
    listLengths: async () => {
      throw new Error(reason);
    },
    close: async () => {},
  };
}
