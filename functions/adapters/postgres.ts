/**
 * PostgreSQL for probes: one pool per run, explicit connect/statement/idle timeouts, an error
 * listener on the pool, and one way in: a transaction that is always rolled back, with
 * `SET LOCAL ROLE` and transaction-scoped settings only (never session state on a pooled
 * connection). SQL is parameterised; identifiers come only from validated config.
 */
import pg from 'pg';
import { type PgPort, quoteIdent, type SqlSession } from '../ports.ts';

export interface PgPortOptions {
  connectionString: string;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** Connections in the pool (one run probes many tenants; queries are short). */
  maxConnections?: number;
  /** Receives pool errors (a dropped idle connection); never rethrown. */
  onError?: (error: Error) => void;
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
