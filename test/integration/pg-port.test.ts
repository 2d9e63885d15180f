/**
 * The pg port against the sandbox's PostgreSQL: transaction-scoped settings in the same round
 * trip as BEGIN when they are plain, parameters when they are not, and the counters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgPort } from '../../functions/adapters/postgres.ts';
import { type Config, parseConfig } from '../../functions/core/config.ts';
import type { PgPort } from '../../functions/ports.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';

let sandbox: Sandbox;
let config: Config;
let port: PgPort;

beforeAll(async () => {
  sandbox = await startSandbox({ tenantCount: 2, redis: 'memory' });
  config = parseConfig(sandbox.config);
  port = createPgPort({ connectionString: config.database!.url!, connectTimeoutMs: 3000, statementTimeoutMs: 3000 });
});
afterAll(async () => {
  await port?.close();
  await sandbox?.stop();
});

const read = (settings: Record<string, string>) =>
  port.inRolledBackTransaction({ role: config.database!.probeAsRole, settings }, async (session) => {
    const result = await session.query<{ tenant: string | null; other: string | null; role: string }>(
      "SELECT current_setting('app.current_tenant_id', true) AS tenant, current_setting('tenant_canary.other', true) AS other, current_user::text AS role",
    );
    return result.rows[0]!;
  });

describe('pg port transactions', () => {
  it('sets plain settings with BEGIN and the role in one round trip', async () => {
    const before = { statements: port.statementCount, roundTrips: port.roundTripCount ?? 0 };
    const row = await read({ 'app.current_tenant_id': 'acme-corp', 'tenant_canary.other': 'globex' });
    expect(row).toEqual({ tenant: 'acme-corp', other: 'globex', role: config.database!.probeAsRole ?? row.role });
    // BEGIN; SET LOCAL ROLE; SELECT set_config(...) | the query | ROLLBACK
    expect((port.roundTripCount ?? 0) - before.roundTrips).toBe(3);
    expect(port.statementCount - before.statements).toBe(config.database!.probeAsRole === null ? 4 : 5);
  });

  it('passes any other value as a parameter, never inlined', async () => {
    const before = port.roundTripCount ?? 0;
    const value = "o'brien; DROP TABLE tenant_configs; --\\";
    const row = await read({ 'app.current_tenant_id': value });
    expect(row.tenant).toBe(value);
    expect((port.roundTripCount ?? 0) - before).toBe(4);
  });

  it('leaves nothing behind: the settings were transaction-scoped', async () => {
    const row = await port.inRolledBackTransaction({ role: null }, async (session) => {
      const result = await session.query<{ tenant: string | null }>(
        "SELECT NULLIF(current_setting('app.current_tenant_id', true), '') AS tenant",
      );
      return result.rows[0]!;
    });
    expect(row.tenant).toBeNull();
  });
});

describe('pg port timeouts', () => {
  it('gives up on a server that accepts but never answers within connectTimeoutMs', async () => {
    const { createServer } = await import('node:net');
    const held: import('node:net').Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address() as import('node:net').AddressInfo;
    const mute = createPgPort({
      connectionString: `postgres://nobody@127.0.0.1:${address.port}/none`,
      connectTimeoutMs: 300,
      statementTimeoutMs: 5000,
    });
    const started = Date.now();
    try {
      await expect(mute.inRolledBackTransaction({ role: null }, async () => 1)).rejects.toThrow();
      // The connect's own timeout, not the longer wait allowed for a free pooled connection.
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await mute.close();
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('lets work queue for a pooled connection longer than the connect timeout', async () => {
    const small = createPgPort({
      connectionString: config.database!.url!,
      connectTimeoutMs: 300,
      statementTimeoutMs: 3000,
      maxConnections: 1,
    });
    try {
      // Two transactions on one connection: the second waits ~600 ms, twice the connect timeout.
      const hold = (ms: number) =>
        small.inRolledBackTransaction({ role: null }, async (session) => {
          await session.query('SELECT pg_sleep($1)', [ms / 1000]);
          return ms;
        });
      await expect(Promise.all([hold(600), hold(10)])).resolves.toEqual([600, 10]);
      expect(small.connectionCount).toBe(1);
    } finally {
      await small.close();
    }
  });
});
