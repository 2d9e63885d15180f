/**
 * Where the tenant list comes from: the config's `tenants` (static), or the platform's
 * `tenant_configs` read with a configured read-only query, each tenant's
 * `webhook_signing_secret_encrypted` decrypted with the platform's Fernet key. Rows that cannot
 * be used are skipped with a reason that never quotes the row (ids may be hostile) or a secret.
 */
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import pg from 'pg';
import {
  type Config,
  effectivePgTlsMode,
  TENANT_ID_PATTERN,
  type TenantConfig,
  type TenantSourceConfig,
  unreadableFileError,
} from '../core/config.ts';
import { errorClass, errorMessage } from '../core/errors.ts';
import { FernetError, fernetDecrypt } from '../core/fernet.ts';
import { Secret } from '../core/secret.ts';
import type { SecretResolver, TenantListing, TenantSource } from '../ports.ts';
import { describeTlsFailure, pgHost, pgSslOptions, withoutSslParameters } from './pg-tls.ts';

export const TenantSourceError = errorClass('TenantSourceError', 'source');
export type TenantSourceError = InstanceType<typeof TenantSourceError>;

export interface TenantSourceDeps {
  secrets: SecretResolver;
  /**
   * How long a looked-up tenant (its decrypted secret) is reused: under the sweep interval, so a
   * rotated secret is read again by the next sweep. @default half of run.sweepIntervalS
   */
  lookupTtlMs?: number;
  now?: () => number;
}

const REDACTED = '[redacted]';

/**
 * A `{ value }` secret ref whose value does not print: it is a non-enumerable getter, and
 * JSON and `util.inspect` show `[redacted]`. Run and probes read `ref.value` as usual.
 */
export function redactingValueRef(secret: Secret): { value: string } {
  const ref = {
    toJSON: () => ({ value: REDACTED }),
    [inspect.custom]: () => `{ value: '${REDACTED}' }`,
  };
  Object.defineProperty(ref, 'value', { get: () => secret.reveal(), enumerable: false });
  return ref as unknown as { value: string };
}

export function createTenantSource(config: Config, deps: TenantSourceDeps): TenantSource {
  const source = config.tenantSource;
  if (source.type === 'static') {
    return {
      kind: 'static',
      list: async () => ({ tenants: [...config.tenants], skipped: [] }),
      async lookup(tenantIds) {
        const wanted = new Set(tenantIds);
        return { tenants: config.tenants.filter((tenant) => wanted.has(tenant.tenantId)), skipped: [] };
      },
    };
  }
  const ttlMs = deps.lookupTtlMs ?? (config.run.sweepIntervalS * 1000) / 2;
  const now = deps.now ?? Date.now;
  const cache = new Map<string, { tenant: TenantConfig; at: number }>();
  return {
    kind: 'database',
    list: () => listFromDatabase(source, deps),
    async lookup(tenantIds) {
      const ids = [...new Set(tenantIds)];
      const fresh = (id: string) => {
        const entry = cache.get(id);
        return entry !== undefined && now() - entry.at < ttlMs ? entry.tenant : undefined;
      };
      const missing = ids.filter((id) => fresh(id) === undefined);
      const listing: TenantListing = { tenants: [], skipped: [] };
      if (missing.length > 0) {
        const read = await readFromDatabase(source, deps, missing);
        listing.skipped.push(...read.skipped);
        const at = now();
        for (const tenant of read.tenants) cache.set(tenant.tenantId, { tenant, at });
        // Gone from the source: forget it, so it is not probed from the cache either.
        const found = new Set(read.tenants.map((t) => t.tenantId));
        for (const id of missing) if (!found.has(id)) cache.delete(id);
      }
      for (const id of ids) {
        const tenant = fresh(id);
        if (tenant !== undefined) listing.tenants.push(tenant);
      }
      return listing;
    },
  };
}

type DatabaseSource = Extract<TenantSourceConfig, { type: 'database' }>;

const TENANT_COLUMN = 'tenant_id';
const SECRET_COLUMN = 'webhook_signing_secret_encrypted';

async function listFromDatabase(source: DatabaseSource, deps: TenantSourceDeps): Promise<TenantListing> {
  const listing = await readFromDatabase(source, deps, undefined);
  if (listing.tenants.length === 0) {
    throw new TenantSourceError(
      `tenantSource found no usable tenant (${listing.rows} rows, ${listing.skipped.length} skipped): check the query, and that its role can read every tenant's row (RLS)`,
    );
  }
  const { rows: _rows, ...usable } = listing;
  return usable;
}

/** Every row of the query (`only` undefined), or only the rows of these tenants; each secret decrypted. */
async function readFromDatabase(
  source: DatabaseSource,
  deps: TenantSourceDeps,
  only: readonly string[] | undefined,
): Promise<TenantListing & { rows: number }> {
  let key: string;
  try {
    key = (await deps.secrets.resolve(source.encryptionKey)).reveal();
  } catch (error) {
    throw new TenantSourceError(`tenantSource.encryptionKey cannot be read: ${errorMessage(error)}`, { cause: error });
  }
  let connectionString: string;
  if (source.url !== undefined) {
    connectionString = source.url;
  } else {
    try {
      connectionString = (await deps.secrets.resolveDatabaseUrl(source.secretId as string)).reveal();
    } catch (error) {
      throw new TenantSourceError(`tenantSource.secretId cannot be read: ${errorMessage(error)}`, { cause: error });
    }
  }
  const rows = await queryTenants(source, connectionString, only);

  const listing: TenantListing & { rows: number } = { tenants: [], skipped: [], rows: rows.length };
  const seen = new Set<string>();
  rows.slice(0, source.maxTenants).forEach((row, index) => {
    const outcome = readRow(row, index + 1, key, seen);
    if ('reason' in outcome) listing.skipped.push({ row: index + 1, reason: outcome.reason });
    else {
      seen.add(outcome.tenantId);
      listing.tenants.push(outcome);
    }
  });
  if (rows.length > source.maxTenants) {
    listing.skipped.push({
      row: source.maxTenants + 1,
      reason: `more than tenantSource.maxTenants (${source.maxTenants}) rows: the rest were not read`,
    });
  }
  return listing;
}

/** One row: a tenant, or why it is skipped (naming the tenant only once its id is known to be safe). */
function readRow(
  row: Record<string, unknown>,
  rowNumber: number,
  key: string,
  seen: ReadonlySet<string>,
): TenantConfig | { reason: string } {
  const tenantId = row[TENANT_COLUMN];
  if (typeof tenantId !== 'string' || !TENANT_ID_PATTERN.test(tenantId)) {
    return { reason: `row ${rowNumber}: ${TENANT_COLUMN} is not a valid tenant id (must match ^[a-z0-9-]{1,100}$)` };
  }
  const where = `row ${rowNumber} (tenant ${tenantId})`;
  if (seen.has(tenantId)) return { reason: `${where}: repeats an earlier row` };
  const token = row[SECRET_COLUMN];
  if (typeof token !== 'string' || token === '') return { reason: `${where}: ${SECRET_COLUMN} is empty` };
  let secret: string;
  try {
    secret = fernetDecrypt(key, token);
  } catch (error) {
    if (error instanceof FernetError && error.reason === 'key') {
      throw new TenantSourceError(`tenantSource.encryptionKey is not a Fernet key: ${error.message}`);
    }
    const why = error instanceof FernetError ? error.reason : 'error';
    return { reason: `${where}: ${SECRET_COLUMN} cannot be decrypted (${why})` };
  }
  if (secret === '') return { reason: `${where}: the decrypted signing secret is empty` };
  return { tenantId, signingSecret: redactingValueRef(new Secret(secret)) };
}

async function queryTenants(
  source: DatabaseSource,
  connectionString: string,
  only: readonly string[] | undefined,
): Promise<Record<string, unknown>[]> {
  const mode = effectivePgTlsMode(source.tls, connectionString);
  const ca = source.tls.caFile === null ? undefined : await readCa(source.tls.caFile);
  let client: pg.Client;
  try {
    // pg parses the URL here: a malformed one (a port out of range) throws before any connection.
    client = new pg.Client({
      connectionString: withoutSslParameters(connectionString),
      ssl: pgSslOptions(mode, ca),
      connectionTimeoutMillis: source.connectTimeoutMs,
      statement_timeout: source.statementTimeoutMs,
      query_timeout: source.statementTimeoutMs + 1000,
      application_name: 'tenant-canary-tenant-source',
    });
  } catch (error) {
    // Neither the URL nor the parser's error (it may hold the URL) goes into the message or the cause.
    const what =
      source.url !== undefined
        ? 'tenantSource.url is'
        : `the connection URL made from Secrets Manager secret ${source.secretId} (tenantSource.secretId) is`;
    throw new TenantSourceError(`${what} not a valid PostgreSQL connection URL (${pgReason(error)})`);
  }
  client.on('error', () => {}); // a dropped connection surfaces through the pending query
  try {
    await client.connect();
    // Read-only: a configured query can never write. The limit is a parameter.
    await client.query('BEGIN TRANSACTION READ ONLY');
    // A batch's tenants: the same query, narrowed to their ids (one parameter, any count).
    const result = await client.query(
      only === undefined
        ? { text: `SELECT * FROM (${source.query}) AS tenant_source LIMIT $1`, values: [source.maxTenants + 1] }
        : {
            text: `SELECT * FROM (${source.query}) AS tenant_source WHERE ${TENANT_COLUMN}::text = ANY($1::text[]) LIMIT $2`,
            values: [[...only], source.maxTenants + 1],
          },
    );
    await client.query('ROLLBACK');
    const columns = new Set(result.fields.map((field) => field.name));
    if (!columns.has(TENANT_COLUMN) || !columns.has(SECRET_COLUMN)) {
      throw new TenantSourceError(`tenantSource.query must return the columns ${TENANT_COLUMN} and ${SECRET_COLUMN}`);
    }
    return result.rows as Record<string, unknown>[];
  } catch (error) {
    if (error instanceof TenantSourceError) throw error;
    const tls = describeTlsFailure(error, pgHost(connectionString), mode);
    if (tls !== undefined) {
      throw new TenantSourceError(`tenantSource: ${tls.replaceAll('database.tls', 'tenantSource.tls')}`, {
        cause: error,
      });
    }
    throw new TenantSourceError(`tenantSource query failed: ${pgReason(error)}`, { cause: error });
  } finally {
    await client.end().catch(() => {});
  }
}

async function readCa(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw unreadableFileError('tenantSource.tls.caFile', error, { path });
  }
}

/** A pg error said safely: the server's message (it names objects, never a password) or a system code. */
function pgReason(error: unknown): string {
  if (error instanceof pg.DatabaseError) return `${error.message} (SQLSTATE ${error.code ?? '?'})`;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return code;
  if (error instanceof Error && /timeout/i.test(error.message)) return 'timed out';
  return error instanceof Error ? error.name : 'error';
}
