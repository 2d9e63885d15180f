/**
 * Redis for the queue probe: lazy connect, explicit connect and command timeouts, no reconnect
 * loop and no offline queue, so a dead Redis is an answer within seconds, not a hang.
 * The canary only ever reads list lengths; it never reads values (cached tenant configs hold
 * decrypted secrets).
 */
import { Redis } from 'ioredis';
import { errorClass } from '../core/errors.ts';
import type { RedisPort } from '../ports.ts';

export interface RedisPortOptions {
  url: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export const RedisUnavailableError = errorClass('RedisUnavailableError', 'unavailable');
export type RedisUnavailableError = InstanceType<typeof RedisUnavailableError>;

export function createRedisPort(options: RedisPortOptions): RedisPort {
  let commands = 0;
  let client: Redis | undefined;
  let lastError: Error | undefined;

  const connected = async (): Promise<Redis> => {
    if (client?.status === 'ready') return client;
    client?.disconnect();
    const redis = new Redis(options.url, {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs,
      commandTimeout: options.commandTimeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      reconnectOnError: () => false,
    });
    redis.on('error', (error: Error) => {
      lastError = error;
    });
    client = redis;
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      const reason = lastError?.message ?? (error as Error).message;
      throw new RedisUnavailableError(
        `Redis did not accept a connection within ${options.connectTimeoutMs} ms: ${reason}`,
        {
          cause: error,
        },
      );
    }
    return redis;
  };

  return {
    get commandCount() {
      return commands;
    },
    async listLengths(keys) {
      const redis = await connected();
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.llen(key);
      commands += keys.length;
      const replies = (await pipeline.exec()) ?? [];
      return keys.map((key, index) => {
        const [error, value] = replies[index] ?? [new Error('no reply'), null];
        if (error) throw new Error(`LLEN ${key} failed: ${error.message}`, { cause: error });
        return { key, length: Number(value) };
      });
    },
    async close() {
      if (!client) return;
      const redis = client;
      client = undefined;
      if (redis.status === 'ready') {
        await redis.quit().catch(() => redis.disconnect());
      } else {
        redis.disconnect();
      }
    },
  };
}
