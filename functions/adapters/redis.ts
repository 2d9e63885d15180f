/**
 * Redis for the queue probe: lazy connect, explicit connect and command timeouts, no reconnect
 * loop and no offline queue, so a dead Redis is an answer within seconds, not a hang.
 * The canary only ever reads list lengths; it never reads values (cached tenant configs hold
 * decrypted secrets).
 */
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { errorClass } from '../core/errors.ts';
import type { Secret } from '../core/secret.ts';
import type { RedisPort } from '../ports.ts';
import { trustingAlso } from './tls.ts';

export interface RedisPortOptions {
  url: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** For `rediss://`: a PEM bundle trusted besides the system roots. */
  ca?: string;
  /** `redis.auth`: an ACL user, or none for an AUTH token; the password is only ever sent to Redis. */
  username?: string;
  password?: Secret;
}

export const RedisUnavailableError = errorClass('RedisUnavailableError', 'unavailable');
export type RedisUnavailableError = InstanceType<typeof RedisUnavailableError>;

export function createRedisPort(options: RedisPortOptions): RedisPort {
  let commands = 0;
  const { host, tls, endpoint } = connectionFacts(options);
  let client: Redis | undefined;
  let lastError: Error | undefined;

  const connected = async (): Promise<Redis> => {
    if (client?.status === 'ready') return client;
    client?.disconnect();
    if (endpoint === undefined) {
      throw new RedisUnavailableError('redis.url does not parse as redis://host:port/db or rediss://host:port/db');
    }
    // Options built from the parsed URL, never the URL itself: ioredis lets a URL's query
    // (`?tls=`, `?password=`) override what is passed beside it, which could turn TLS off.
    const login =
      options.password === undefined
        ? endpoint.login
        : { username: options.username, password: options.password.reveal() };
    const redis = new Redis({
      host: endpoint.host,
      port: endpoint.port,
      db: endpoint.db,
      ...(tls === undefined ? {} : { tls }),
      ...(login?.username === undefined ? {} : { username: login.username }),
      ...(login?.password === undefined ? {} : { password: login.password }),
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
      if (/^(WRONGPASS|NOAUTH|NOPERM)/.test(reason)) {
        const who = options.username === undefined ? 'the AUTH token' : `user ${options.username}`;
        throw new RedisUnavailableError(`Redis at ${host} refused the login of ${who}: ${reason}`, { cause: error });
      }
      throw new RedisUnavailableError(
        `Redis at ${host} did not accept a connection within ${options.connectTimeoutMs} ms: ${reason}`,
        { cause: error },
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

/**
 * `host:port` for messages (never the URL: it may hold credentials), and ioredis' TLS options for
 * `rediss://`: SNI for a host name, the system roots plus `ca`, certificates always verified.
 */
interface Endpoint {
  host: string;
  port: number;
  db: number;
  /** Credentials in the URL's userinfo (local use; a deployment refuses them), unless redis.auth is set. */
  login?: { username?: string; password?: string };
}

function connectionFacts(options: RedisPortOptions): { host: string; tls?: ConnectionOptions; endpoint?: Endpoint } {
  let url: URL | undefined;
  try {
    url = new URL(options.url);
  } catch {
    url = undefined;
  }
  const host = url === undefined ? 'the configured URL' : `${url.hostname}:${url.port || '6379'}`;
  const db = url === undefined ? Number.NaN : Number(url.pathname.replace(/^\//, '') || '0');
  // A malformed %-escape in the userinfo (config validation refuses it) makes the URL unusable, not a URIError.
  const username = url === undefined ? undefined : decoded(url.username);
  const password = url === undefined ? undefined : decoded(url.password);
  const endpoint: Endpoint | undefined =
    url === undefined ||
    url.hostname === '' ||
    !Number.isInteger(db) ||
    username === undefined ||
    password === undefined
      ? undefined
      : {
          host: url.hostname.replace(/^\[|\]$/g, ''),
          port: Number(url.port || '6379'),
          db,
          ...(username === '' && password === ''
            ? {}
            : {
                login: {
                  ...(username === '' ? {} : { username }),
                  ...(password === '' ? {} : { password }),
                },
              }),
        };
  if (url?.protocol !== 'rediss:') return { host, ...(endpoint ? { endpoint } : {}) };
  const secureContext = trustingAlso(options.ca);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  return {
    host,
    ...(endpoint ? { endpoint } : {}),
    tls: {
      rejectUnauthorized: true,
      ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
      ...(secureContext ? { secureContext } : {}),
    },
  };
}

/** `decodeURIComponent`, or undefined for a malformed escape (its text is never reported). */
function decoded(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
