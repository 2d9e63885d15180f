/**
 * The sandbox's PostgreSQL: PGlite served over the wire protocol (default), or a fresh database
 * with per-instance roles on a real PostgreSQL server. Either way the platform's code (receiver,
 * worker) talks to it with `pg` over TCP, exactly like the canary.
 *
 * PGlite is one backend multiplexed over every socket connection: session state (SET ROLE,
 * session set_config) would leak between connections, everyone is superuser `postgres`, and an
 * open transaction holds the backend for its connection. So every operation here is one short
 * transaction with `SET LOCAL ROLE` and a transaction-scoped tenant setting, and no code holds a
 * transaction open while it waits on another connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';
import { TENANT_ID_PATTERN } from '../functions/core/config.ts';
import { dropRolesSql, quoteIdent, rolesSql, type SchemaRoles, schemaSql, TENANT_SETTING } from './schema.ts';

export interface CanaryDatabaseAccess {
  /** Where the canary logs in (it holds the probe's password on a real PostgreSQL). */
  url: string;
  appRole: string;
  probeAsRole: string | null;
  /**
   * `database.tls` for the canary when the server was given with TLS (`sslmode` and
   * `sslrootcert` in its URL): verified against that CA. Absent: plain TCP on loopback.
   */
  tls?: { mode: 'verify-full'; caFile: string };
}

export interface SandboxDatabase {
  readonly kind: 'pglite' | 'postgres';
  readonly roles: SchemaRoles;
  readonly canary: CanaryDatabaseAccess;
  /**
   * Runs `fn` in one short transaction as the application role with the tenant context set for
   * that transaction only (RLS applies). Commits when `fn` resolves, rolls back when it throws.
   */
  withTenant<T>(tenantId: string, fn: (client: pg.ClientBase) => Promise<T>): Promise<T>;
  /** `SELECT 1` as the application, within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  /**
   * Opens `count` more connections as the application and holds them idle until the returned
   * function closes them: a leaking pool. Absent on PGlite, whose one backend has no connection
   * count to exhaust.
   */
  holdConnections?(count: number): Promise<() => Promise<void>>;
  /** A statement as a superuser in the sandbox database (seed, faults). Bypasses RLS. */
  admin(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  /** Closes every connection; drops the database and roles on a real PostgreSQL. Idempotent. */
  stop(): Promise<void>;
}

export interface DatabaseOptions {
  /** Superuser URL of a real PostgreSQL server; absent = PGlite. */
  databaseUrl?: string;
  log: (line: string) => void;
}

const CONNECT_TIMEOUT_MS = 5_000;
const QUERY_TIMEOUT_MS = 15_000;
/** Connections opened at once by holdConnections. */
const HOLD_BATCH = 16;

export async function startDatabase(options: DatabaseOptions): Promise<SandboxDatabase> {
  return options.databaseUrl === undefined ? startPglite(options.log) : startPostgres(options.databaseUrl, options.log);
}

function poolFor(connectionString: string, max: number, log: (line: string) => void, name: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 10_000,
    query_timeout: QUERY_TIMEOUT_MS,
  });
  // An idle client whose server went away: the pool drops it; without a listener it would crash the process.
  pool.on('error', (error) => log(`db: idle ${name} connection failed: ${error.message}`));
  return pool;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One transaction on one pooled connection: `prelude`, `fn`, COMMIT; ROLLBACK if anything throws. */
async function inTransaction<T>(pool: pg.Pool, prelude: string, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(prelude);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

function tenantTransactions(pool: pg.Pool, appRole: string): SandboxDatabase['withTenant'] {
  const role = quoteIdent(appRole);
  return (tenantId, fn) => {
    // The tenant id is inlined so that BEGIN, the role and the context take one round trip.
    if (!TENANT_ID_PATTERN.test(tenantId)) return Promise.reject(new Error('tenant ids match ^[a-z0-9-]{1,100}$'));
    const prelude = `BEGIN; SET LOCAL ROLE ${role}; SELECT set_config('${TENANT_SETTING}', '${tenantId}', true);`;
    return inTransaction(pool, prelude, fn);
  };
}

/**
 * Superuser statements. `SET LOCAL ROLE NONE` undoes a session-wide SET ROLE that a careless
 * client may have leaked into PGlite's one shared backend.
 */
function adminStatements(pool: pg.Pool): SandboxDatabase['admin'] {
  return (sql, params) => inTransaction(pool, 'BEGIN; SET LOCAL ROLE NONE;', (client) => client.query(sql, params));
}

// ---------------------------------------------------------------------------------------------
// PGlite

const PGLITE_ROLES: SchemaRoles = {
  owner: 'sandbox_owner',
  appUser: 'app_user',
  app: 'aiagents',
  probe: 'canary_probe',
};
const CACHE_DIR = join(tmpdir(), 'tenant-canary-sandbox');

async function pgliteVersion(): Promise<string> {
  try {
    const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
    const pkg = JSON.parse(await readFile(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version?: unknown };
    return String(pkg.version);
  } catch {
    return 'unknown';
  }
}

async function hasSchema(db: PGlite): Promise<boolean> {
  const result = await db.query<{ ok: boolean }>(
    `SELECT to_regclass('public.enhancement_history') IS NOT NULL AND to_regprocedure('public.set_tenant_context(varchar)') IS NOT NULL AS ok`,
  );
  return result.rows[0]?.ok === true;
}

/**
 * A PGlite with roles and schema. `PGlite.create()` runs initdb (~4.5 s here); loading a data
 * directory dumped after the schema was built takes about a third of that, so the dump is cached
 * in the temp directory, keyed by a hash of the PGlite version and the setup SQL.
 */
async function openPgliteWithSchema(log: (line: string) => void): Promise<PGlite> {
  const setupSql = `${rolesSql(PGLITE_ROLES)}\n${schemaSql(PGLITE_ROLES)}`;
  const key = createHash('sha256')
    .update(`${await pgliteVersion()}\n${setupSql}`)
    .digest('hex')
    .slice(0, 16);
  const file = join(CACHE_DIR, `pglite-${key}.tar.gz`);
  const cached = await readFile(file).catch(() => undefined);
  if (cached !== undefined) {
    try {
      const db = await PGlite.create({ loadDataDir: new Blob([cached], { type: 'application/x-gzip' }) });
      if (await hasSchema(db)) return db;
      await db.close();
    } catch (error) {
      log(`db: ignoring unusable PGlite cache ${file}: ${(error as Error).message}`);
    }
  }
  const db = await PGlite.create();
  await db.exec(setupSql);
  await db.exec('CHECKPOINT');
  try {
    const dump = await db.dumpDataDir('gzip');
    await mkdir(CACHE_DIR, { recursive: true });
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(partial, new Uint8Array(await dump.arrayBuffer()));
    await rename(partial, file); // atomic: concurrent sandboxes never read half a file
    for (const name of await readdir(CACHE_DIR)) {
      if (/^pglite-[0-9a-f]{16}\.tar(\.gz)?$/.test(name) && join(CACHE_DIR, name) !== file) {
        await rm(join(CACHE_DIR, name), { force: true });
      }
    }
  } catch (error) {
    log(`db: could not cache the PGlite data directory: ${(error as Error).message}`);
  }
  return db;
}

async function startPglite(log: (line: string) => void): Promise<SandboxDatabase> {
  const db = await openPgliteWithSchema(log);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 100 });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw error;
  }
  const port = Number(server.getServerConn().split(':').at(-1));
  // The socket server ignores the login user: every connection is superuser `postgres`.
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const appPool = poolFor(url, 8, log, 'app');
  const adminPool = poolFor(url, 2, log, 'admin');
  // Health pings on their own connection: a busy worker must not make /health report the database down.
  const healthPool = poolFor(url, 1, log, 'health');
  let stopped: Promise<void> | undefined;
  return {
    kind: 'pglite',
    roles: PGLITE_ROLES,
    // Every PGlite login is superuser, so the canary probes as its own NOLOGIN role.
    canary: { url, appRole: PGLITE_ROLES.app, probeAsRole: PGLITE_ROLES.probe },
    withTenant: tenantTransactions(appPool, PGLITE_ROLES.app),
    ping: async (timeoutMs) => {
      await withTimeout(healthPool.query('SELECT 1'), timeoutMs, 'database ping');
    },
    admin: adminStatements(adminPool),
    stop: () => {
      stopped ??= (async () => {
        await Promise.allSettled([appPool.end(), adminPool.end(), healthPool.end()]);
        await server.stop();
        await db.close();
      })();
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Real PostgreSQL

/** The canary's `database.tls` for a server URL that asks for verified TLS with a CA file. */
function canaryTls(url: string): { tls?: { mode: 'verify-full'; caFile: string } } {
  const params = new URL(url).searchParams;
  const caFile = params.get('sslrootcert');
  const mode = params.get('sslmode');
  return caFile !== null && mode !== null && mode !== 'disable' ? { tls: { mode: 'verify-full', caFile } } : {};
}

function urlWith(base: string, changes: { database: string; user?: string; password?: string }): string {
  const url = new URL(base);
  url.pathname = `/${changes.database}`;
  if (changes.user !== undefined) url.username = changes.user;
  if (changes.password !== undefined) url.password = changes.password;
  return url.toString();
}

async function withAdminClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: 60_000,
  });
  client.on('error', () => {}); // surfaced by the failing query instead
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A fresh database `sandbox_<suffix>` and roles with the same suffix (roles are cluster-wide and
 * sandboxes run in parallel). The app and the probe log in as their own roles with passwords.
 */
async function startPostgres(adminUrl: string, log: (line: string) => void): Promise<SandboxDatabase> {
  const suffix = randomBytes(5).toString('hex');
  const database = `sandbox_${suffix}`;
  const roles: SchemaRoles = {
    owner: `sandbox_owner_${suffix}`,
    appUser: `app_user_${suffix}`,
    app: `aiagents_${suffix}`,
    probe: `canary_probe_${suffix}`,
  };
  const passwords = { app: randomBytes(18).toString('base64url'), probe: randomBytes(18).toString('base64url') };
  const probeRole = roles.probe ?? '';

  const drop = async (): Promise<void> => {
    await withAdminClient(adminUrl, async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
      await client.query(dropRolesSql(roles));
    });
  };

  const pools: pg.Pool[] = [];
  try {
    await withAdminClient(adminUrl, async (client) => {
      await client.query(rolesSql(roles, passwords));
      await client.query(`CREATE DATABASE ${quoteIdent(database)}`);
      await client.query(
        `REVOKE ALL ON DATABASE ${quoteIdent(database)} FROM PUBLIC;
         GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(roles.app)}, ${quoteIdent(probeRole)};`,
      );
    });
    const adminPool = poolFor(urlWith(adminUrl, { database }), 2, log, 'admin');
    pools.push(adminPool);
    await adminPool.query(schemaSql(roles));
    const appUrl = urlWith(adminUrl, { database, user: roles.app, password: passwords.app });
    const appPool = poolFor(appUrl, 8, log, 'app');
    pools.push(appPool);
    await appPool.query('SELECT 1'); // fail now, not at the first webhook, if the app cannot log in
    // Health pings on their own connection: a busy worker must not make /health report the database down.
    const healthPool = poolFor(appUrl, 1, log, 'health');
    pools.push(healthPool);
    log(`db: created database ${database} with roles suffixed _${suffix}`);

    let stopped: Promise<void> | undefined;
    return {
      kind: 'postgres',
      roles,
      canary: {
        url: urlWith(adminUrl, { database, user: probeRole, password: passwords.probe }),
        appRole: roles.app,
        probeAsRole: null,
        ...canaryTls(adminUrl),
      },
      withTenant: tenantTransactions(appPool, roles.app),
      ping: async (timeoutMs) => {
        await withTimeout(healthPool.query('SELECT 1'), timeoutMs, 'database ping');
      },
      holdConnections: async (count) => {
        const leak = poolFor(appUrl, Math.max(count, 1), log, 'held');
        pools.push(leak);
        const clients: pg.PoolClient[] = [];
        const release = async () => {
          for (const client of clients.splice(0)) client.release();
          pools.splice(pools.indexOf(leak), 1);
          await leak.end();
        };
        try {
          for (let opened = 0; opened < count; opened += HOLD_BATCH) {
            const batch = Math.min(HOLD_BATCH, count - opened);
            clients.push(...(await Promise.all(Array.from({ length: batch }, () => leak.connect()))));
          }
        } catch (error) {
          await release();
          throw error;
        }
        return release;
      },
      admin: adminStatements(adminPool),
      stop: () => {
        stopped ??= (async () => {
          await Promise.allSettled(pools.map((pool) => pool.end()));
          await drop();
          log(`db: dropped database ${database} and its roles`);
        })();
        return stopped;
      },
    };
  } catch (error) {
    await Promise.allSettled(pools.map((pool) => pool.end()));
    await drop().catch((dropError: Error) => log(`db: cleanup after a failed start failed: ${dropError.message}`));
    throw error;
  }
}
