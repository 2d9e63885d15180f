/**
 * PostgreSQL for probes: one pool per run, explicit connect/statement/idle timeouts, an error
 * listener on the pool, and one way in: a transaction that is always rolled back, with
 * `SET LOCAL ROLE` and transaction-scoped settings only (never session state on a pooled
 * connection). SQL is parameterised; identifiers come only from validated config.
 */
import pg from 'pg';

export interface SqlSession {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<pg.QueryResult<R>>;
}

export interface TransactionOptions {
  /** `SET LOCAL ROLE` to this role first (config `database.probeAsRole`). */
  role: string | null;
  /** Transaction-scoped settings, e.g. the tenant context: `set_config(name, value, true)`. */
  settings?: Readonly<Record<string, string>>;
}

export interface PgPort {
  /** Runs `work` inside BEGIN … ROLLBACK: nothing a probe does is ever committed. */
  inRolledBackTransaction<T>(options: TransactionOptions, work: (session: SqlSession) => Promise<T>): Promise<T>;
  /**
   * SQL statements sent since the port was opened, each statement of a multi-statement query
   * counted (benchmarks and tests count load on the platform).
   */
  readonly statementCount: number;
  /** Queries sent (network round trips) since the port was opened; absent on a port that sends none. */
  readonly roundTripCount?: number;
  /** Connections opened since the port was opened. */
  readonly connectionCount: number;
  close(): Promise<void>;
}

export interface PgPortOptions {
  connectionString: string;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** Connections in the pool (one run probes many tenants; queries are short). */
  maxConnections?: number;
  /** Receives pool errors (a dropped idle connection); never rethrown. */
  onError?: (error: Error) => void;
}

/** Double-quotes an identifier (already validated by the config schema); `a.b` quotes each part. */
export function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}

/** Statements in a query text: `;`-separated, ignoring `;` inside quotes and trailing empties. */
export function countStatements(sql: string): number {
  let count = 0;
  let pending = false;
  let quote: string | null = null;
  for (const char of sql) {
    if (quote !== null) {
      if (char === quote) quote = null;
    } else if (char === "'" || char === '"') {
      quote = char;
      pending = true;
    } else if (char === ';') {
      if (pending) count += 1;
      pending = false;
    } else if (!/\s/.test(char)) {
      pending = true;
    }
  }
  return pending ? count + 1 : count;
}

/** Setting names and values safe to inline in SQL text (no quote, backslash or space can occur). */
const INLINE_NAME = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*$/;
const INLINE_VALUE = /^[A-Za-z0-9_.:@-]{0,200}$/;

export function createPgPort(options: PgPortOptions): PgPort {
  let statements = 0;
  let roundTrips = 0;
  let connections = 0;
  // pg.Pool's connectionTimeoutMillis bounds the wait for a free pooled client as well as the
  // connect: with many tenants queued on a few connections, that wait is not the database being
  // unreachable. So the connect keeps its own timeout (the Client's), and the pool's is longer.
  const connectTimeoutMs = options.connectTimeoutMs;
  class TimedClient extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super({ ...config, connectionTimeoutMillis: connectTimeoutMs });
    }
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 4,
    Client: TimedClient,
    connectionTimeoutMillis: connectTimeoutMs + 2 * options.statementTimeoutMs,
    idleTimeoutMillis: 10_000,
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + 1000,
    idle_in_transaction_session_timeout: Math.max(options.statementTimeoutMs * 2, 10_000),
    application_name: 'tenant-canary',
    allowExitOnIdle: true,
  });
  pool.on('error', (error) => options.onError?.(error));
  pool.on('connect', () => {
    connections += 1;
  });

  return {
    get statementCount() {
      return statements;
    },
    get roundTripCount() {
      return roundTrips;
    },
    get connectionCount() {
      return connections;
    },
    async inRolledBackTransaction(transaction, work) {
      const client = await pool.connect();
      let broken: Error | undefined;
      const session: SqlSession = {
        query: (sql, params) => {
          statements += countStatements(sql);
          roundTrips += 1;
          return client.query(sql, params as unknown[] | undefined);
        },
      };
      try {
        const begin = transaction.role === null ? 'BEGIN' : `BEGIN; SET LOCAL ROLE ${quoteIdent(transaction.role)}`;
        const settings = Object.entries(transaction.settings ?? {});
        if (
          settings.length > 0 &&
          settings.every(([name, value]) => INLINE_NAME.test(name) && INLINE_VALUE.test(value))
        ) {
          // Plain names and values (tenant ids): one round trip for BEGIN, the role and the context.
          const calls = settings.map(([name, value]) => `set_config('${name}', '${value}', true)`).join(', ');
          await session.query(`${begin}; SELECT ${calls}`);
        } else {
          await session.query(begin);
          if (settings.length > 0) {
            const calls = settings.map((_, i) => `set_config($${i * 2 + 1}, $${i * 2 + 2}, true)`).join(', ');
            await session.query(`SELECT ${calls}`, settings.flat());
          }
        }
        return await work(session);
      } finally {
        try {
          statements += 1;
          roundTrips += 1;
          await client.query('ROLLBACK');
        } catch (error) {
          broken = error as Error;
        }
        // A connection whose rollback failed is not trusted again.
        client.release(broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
}

/** The SQLSTATE of a PostgreSQL error, if it is one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** A one-line description of a database error, safe to report (no connection string). */
export function describeDbError(error: unknown): string {
  if (error instanceof Error) {
    const state = sqlState(error);
    return state ? `${error.message} (SQLSTATE ${state})` : error.message;
  }
  return String(error);
}
