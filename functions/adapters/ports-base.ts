/**
 * The adapters factory without Redis: what the probe function opens (its checks never read the
 * queue, platform checks are the sweep's), so its bundle leaves the Redis client out.
 * `./index.ts` adds Redis for everything else. Nothing builds clients at import time.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type Config, effectivePgTlsMode, unreadableFileError } from '../core/config.ts';
import { errorMessage } from '../core/errors.ts';
import type { OpenPorts, PgPort, RedisPort, SecretResolver } from '../ports.ts';
import { createHttpClient } from './http.ts';
import { createPgPort } from './postgres.ts';
import { createSecretResolver } from './secrets.ts';
import { createTlsPort } from './tls.ts';

export interface PortsOptions {
  now?: () => Date;
  /** Reads `database.secretId`. @default a resolver over `process.env` */
  secrets?: SecretResolver;
}

/** Opens the Redis port of `config.redis` (`./index.ts`); without one there is no Redis port. */
export type RedisOpener = (
  redis: NonNullable<Config['redis']>,
  secrets: SecretResolver | undefined,
) => Promise<RedisPort>;

export async function openBasePorts(
  config: Config,
  options: PortsOptions & { redis?: RedisOpener } = {},
): Promise<OpenPorts> {
  const ca = config.platform.caFile === null ? undefined : await readPem('platform.caFile', config.platform.caFile);
  const http = createHttpClient({
    connectTimeoutMs: Math.min(Math.ceil(config.thresholds.requestTimeoutMs / 2), 3000),
    ca,
  });
  const tls = createTlsPort(ca === undefined ? {} : { ca });
  let pg: PgPort | undefined;
  const database = config.database;
  if (database !== undefined) {
    const url = await databaseUrl(database, options.secrets);
    const dbCa = database.tls.caFile === null ? undefined : await readPem('database.tls.caFile', database.tls.caFile);
    pg =
      typeof url === 'string'
        ? createPgPort({
            connectionString: url,
            connectTimeoutMs: database.connectTimeoutMs,
            statementTimeoutMs: database.statementTimeoutMs,
            maxConnections: Math.min(config.run.tenantConcurrency, database.maxConnections),
            tls: { mode: effectivePgTlsMode(database.tls, url), ...(dbCa === undefined ? {} : { ca: dbCa }) },
          })
        : unavailablePgPort(url.reason);
  }
  let redis: RedisPort | undefined;
  if (config.redis !== undefined && options.redis !== undefined)
    redis = await options.redis(config.redis, options.secrets);
  return {
    http,
    tls,
    ...(pg ? { pg } : {}),
    ...(redis ? { redis } : {}),
    now: options.now ?? (() => new Date()),
    uuid: randomUUID,
    async close() {
      await Promise.allSettled([http.close(), pg?.close(), redis?.close()]);
    },
  };
}

/** The connection string of `database`: its `url`, or one made from its `secretId` (RDS-style JSON). */
async function databaseUrl(
  database: NonNullable<Config['database']>,
  secrets: SecretResolver | undefined,
): Promise<string | { reason: string }> {
  if (database.url !== undefined) return database.url;
  const secretId = database.secretId as string;
  try {
    return (await (secrets ?? createSecretResolver({ env: process.env })).resolveDatabaseUrl(secretId)).reveal();
  } catch (error) {
    // Resolver errors name the secret id, never a value.
    return { reason: `database.secretId cannot be read: ${errorMessage(error)}` };
  }
}

/**
 * A database that cannot be reached because its credentials cannot be read: every transaction
 * fails with the reason, so the database checks report `error` with it and the others run.
 */
function unavailablePgPort(reason: string): PgPort {
  return {
    statementCount: 0,
    connectionCount: 0,
    inRolledBackTransaction: async () => {
      throw new Error(reason);
    },
    inCommittedReadOnlyTransaction: async () => {
      throw new Error(reason);
    },
    close: async () => {},
  };
}

/** A PEM bundle named by config field `field`; unreadable is a config error naming the field. */
export async function readPem(field: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw unreadableFileError(field, error, { path });
  }
}
