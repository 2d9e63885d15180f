/**
 * PostgreSQL for probes: one pool per run, explicit connect/statement/idle timeouts, an error
 * listener on the pool and on every client, and two ways in: a transaction that is always rolled
 * back, and a READ ONLY one that is committed and then cleans the settings it watched off the
 * connection. Both use `SET LOCAL ROLE` and transaction-scoped settings only (never session state
 * on a pooled connection); a transaction that ran the platform's own function is followed by
 * `DISCARD ALL`. A connection that fails mid-transaction (terminated, cut, timed out) is
 * discarded, never reused, and the transaction throws {@link ConnectionLostError} naming the cause,
 * whatever verdict the work reached on it. SQL is parameterised; identifiers come only from
 * validated config.
 */
import pg from 'pg';
import { effectivePgTlsMode, type PgTlsMode } from '../core/config.ts';
import { type PgPort, quoteIdent, type SqlSession, type TransactionOptions } from '../ports.ts';
import { describeTlsFailure, pgHost, pgSslOptions, withoutSslParameters } from './pg-tls.ts';

export interface PgPortOptions {
  connectionString: string;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** Connections in the pool (one run probes many tenants; queries are short). */
  maxConnections?: number;
  /** Receives pool errors (a dropped idle connection); never rethrown. */
  onError?: (error: Error) => void;
  /** TLS as `database.tls` resolved it (default: the mode for the URL's host, system roots only). */
  tls?: { mode: PgTlsMode; ca?: string };
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

/**
 * A probe's connection failed under it: its verdict is unknown, and the connection was discarded.
 * The message names the cause (never the URL); `code` keeps the cause's SQLSTATE, if any.
 */
export class ConnectionLostError extends Error {
  override name = 'ConnectionLostError';
  readonly code: string | undefined;
  constructor(cause: Error) {
    super(`the database connection was lost mid-probe and discarded: ${cause.message}`, { cause });
    this.code =
      (cause as { code?: unknown }).code === undefined ? undefined : String((cause as { code?: unknown }).code);
  }
}

/**
 * Whether an error of a query means the connection is gone or cannot be trusted: not a plain SQL
 * error (severity ERROR), but the socket failing, the server ending the session (FATAL, a
 * connection exception, an administrator's or a crash shutdown), or a reply that never came.
 */
function endsConnection(error: unknown): boolean {
  if (error instanceof pg.DatabaseError) {
    return error.severity === 'FATAL' || error.severity === 'PANIC' || /^(08|57P0[1-3])/.test(error.code ?? '');
  }
  // Anything else but a programming error (a value pg cannot serialise) comes from the socket or pg's timeout.
  return error instanceof Error && !(error instanceof TypeError || error instanceof RangeError);
}

/** BEGIN, the role and the transaction-scoped settings, in one round trip when they are plain. */
async function begin(session: SqlSession, command: string, transaction: TransactionOptions): Promise<void> {
  const opening = transaction.role === null ? command : `${command}; SET LOCAL ROLE ${quoteIdent(transaction.role)}`;
  const settings = Object.entries(transaction.settings ?? {});
  if (settings.length > 0 && settings.every(([name, value]) => INLINE_NAME.test(name) && INLINE_VALUE.test(value))) {
    // Plain names and values (tenant ids): one round trip for BEGIN, the role and the context.
    const calls = settings.map(([name, value]) => `set_config('${name}', '${value}', true)`).join(', ');
    await session.query(`${opening}; SELECT ${calls}`);
    return;
  }
  await session.query(opening);
  if (settings.length > 0) {
    const calls = settings.map((_, i) => `set_config($${i * 2 + 1}, $${i * 2 + 2}, true)`).join(', ');
    await session.query(`SELECT ${calls}`, settings.flat());
  }
}

/** A pg.Client that keeps its own connect timeout and remembers why its connection is gone. */
function timedClientClass(connectTimeoutMs: number) {
  return class TimedClient extends pg.Client {
    /** Why this connection is gone (its socket failed, the server ended it, a reply never came). */
    lost: Error | undefined;
    constructor(config?: pg.ClientConfig) {
      super({ ...config, connectionTimeoutMillis: connectTimeoutMs });
      // pg emits 'error' on a checked-out client whose socket dies; with no listener that is an
      // uncaught exception that ends the process (the pool listens only while the client is idle).
      this.on('error', (error: Error) => {
        this.lost ??= error;
      });
    }
  };
}
type TimedClient = InstanceType<ReturnType<typeof timedClientClass>>;

export function createPgPort(options: PgPortOptions): PgPort {
  let statements = 0;
  let roundTrips = 0;
  let connections = 0;
  // pg.Pool's connectionTimeoutMillis bounds the wait for a free pooled client as well as the
  // connect: with many tenants queued on a few connections, that wait is not the database being
  // unreachable. So the connect keeps its own timeout (the Client's), and the pool's is longer.
  const connectTimeoutMs = options.connectTimeoutMs;
  const lostOf = (client: pg.PoolClient): Error | undefined => (client as unknown as TimedClient).lost;
  const markLost = (client: pg.PoolClient, error: Error): void => {
    (client as unknown as TimedClient).lost ??= error;
  };
  const mode = options.tls?.mode ?? effectivePgTlsMode({}, options.connectionString);
  const host = pgHost(options.connectionString);
  // A URL that cannot be used safely fails every connect with the reason (the checks report it).
  let target: { url: string } | { refused: Error };
  try {
    target = { url: withoutSslParameters(options.connectionString) };
  } catch (error) {
    target = { refused: error as Error };
  }
  const pool = new pg.Pool({
    ...('url' in target ? { connectionString: target.url } : { host: '127.0.0.1', port: 1 }),
    ssl: pgSslOptions(mode, options.tls?.ca),
    max: options.maxConnections ?? 4,
    Client: timedClientClass(connectTimeoutMs),
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
  /** A pooled connection; a refused TLS handshake becomes one sentence naming the host and the fix. */
  const connect = async (): Promise<pg.PoolClient> => {
    if ('refused' in target) throw target.refused;
    try {
      return await pool.connect();
    } catch (error) {
      const tls = describeTlsFailure(error, host, mode);
      throw tls === undefined ? error : new Error(tls, { cause: error });
    }
  };

  const countedSession = (client: pg.PoolClient): SqlSession => ({
    query: async (sql, params) => {
      statements += countStatements(sql);
      roundTrips += 1;
      try {
        return await client.query(sql, params as unknown[] | undefined);
      } catch (error) {
        if (endsConnection(error)) markLost(client, error as Error);
        throw error;
      }
    },
  });

  /**
   * After the work: ROLLBACK (unless the connection is gone), `DISCARD ALL` when asked, then the
   * connection back to the pool, or destroyed when anything failed. A lost connection throws.
   */
  const finish = async (client: pg.PoolClient, rollback: boolean, reset: boolean): Promise<void> => {
    let broken = lostOf(client);
    for (const statement of [...(rollback ? ['ROLLBACK'] : []), ...(reset ? ['DISCARD ALL'] : [])]) {
      if (broken !== undefined) break;
      try {
        statements += 1;
        roundTrips += 1;
        await client.query(statement);
      } catch (error) {
        // ROLLBACK and DISCARD ALL do not fail on a healthy connection.
        markLost(client, error as Error);
        broken = lostOf(client);
      }
    }
    client.release(broken);
    if (broken !== undefined) throw new ConnectionLostError(broken);
  };

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
      const client = await connect();
      const session = countedSession(client);
      let outcome: { value: Awaited<ReturnType<typeof work>> } | { error: unknown };
      try {
        await begin(session, 'BEGIN', transaction);
        outcome = { value: await work(session) };
      } catch (error) {
        outcome = { error };
      }
      // A verdict reached on a connection that died under it is not one: finish throws then.
      await finish(client, true, transaction.resetSession === true);
      if ('error' in outcome) throw outcome.error;
      return outcome.value;
    },
    async inCommittedReadOnlyTransaction(transaction, work) {
      const names = transaction.watch;
      const unsafe = names.find((name) => !INLINE_NAME.test(name));
      if (unsafe !== undefined) throw new Error(`not a plain setting name: ${JSON.stringify(unsafe)}`);
      const client = await connect();
      const session = countedSession(client);
      let broken: Error | undefined;
      try {
        await begin(session, 'BEGIN READ ONLY', transaction);
        await work(session);
        const read = names.map((name, i) => `current_setting('${name}', true) AS "${i}"`).join(', ');
        const reset = names.map((name) => `RESET ${name}`).join('; ');
        const results = (await session.query(`COMMIT; SELECT ${read}; ${reset}; SELECT ${read}`)) as unknown as {
          rows: Record<string, string | null>[];
        }[];
        const values = (result: { rows: Record<string, string | null>[] } | undefined) =>
          Object.fromEntries(names.map((name, i) => [name, result?.rows[0]?.[String(i)] ?? null]));
        const afterCommit = values(results[1]);
        const afterReset = values(results.at(-1));
        // The platform's function ran and committed on this connection: whatever else it set for the
        // session (a role, a search_path) must not reach the next probe, so the connection is closed.
        broken = new Error(
          names.some((name) => (afterReset[name] ?? '') !== '')
            ? 'a watched setting survived RESET'
            : 'a committed probe transaction may have left session state',
        );
        return { afterCommit, afterReset };
      } catch (error) {
        // Closing the connection ends the transaction; one that failed here is not reused.
        broken ??= error as Error;
        const lost = lostOf(client);
        throw lost === undefined ? error : new ConnectionLostError(lost);
      } finally {
        client.release(broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
}
