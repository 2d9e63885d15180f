/**
 * The adapters factory: the one place that builds network clients from config. Tests and the
 * Lambda handlers call it (or replace it); nothing builds clients at import time.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type Config, ConfigError } from '../core/config.ts';
import type { Ports } from '../probes/types.ts';
import { createHttpClient } from './http.ts';
import { createPgPort, type PgPort } from './postgres.ts';
import { createRedisPort, type RedisPort } from './redis.ts';

export interface PortsOptions {
  now?: () => Date;
}

export interface OpenPorts extends Ports {
  close(): Promise<void>;
}

export async function openPorts(config: Config, options: PortsOptions = {}): Promise<OpenPorts> {
  const ca = config.platform.caFile === null ? undefined : await readCaFile(config.platform.caFile);
  const http = createHttpClient({
    connectTimeoutMs: Math.min(Math.ceil(config.thresholds.requestTimeoutMs / 2), 3000),
    ca,
  });
  let pg: PgPort | undefined;
  if (config.database?.url !== undefined) {
    pg = createPgPort({
      connectionString: config.database.url,
      connectTimeoutMs: config.database.connectTimeoutMs,
      statementTimeoutMs: config.database.statementTimeoutMs,
      maxConnections: Math.min(config.run.tenantConcurrency, 4),
    });
  }
  let redis: RedisPort | undefined;
  if (config.redis !== undefined) {
    redis = createRedisPort({
      url: config.redis.url,
      connectTimeoutMs: config.redis.connectTimeoutMs,
      commandTimeoutMs: config.redis.commandTimeoutMs,
    });
  }
  return {
    http,
    ...(pg ? { pg } : {}),
    ...(redis ? { redis } : {}),
    now: options.now ?? (() => new Date()),
    uuid: randomUUID,
    async close() {
      await Promise.allSettled([http.close(), pg?.close(), redis?.close()]);
    },
  };
}

async function readCaFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError([`platform.caFile could not be read (${code}): ${path}`], { cause: error });
  }
}
