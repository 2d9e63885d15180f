/**
 * Tenants are read once a sweep, and a probe batch reads only its own tenants' secrets: the
 * sweep and probe-batch use cases with the real database tenant source, against 10,000 tenants
 * in PGlite (and PostgreSQL 15 when DATABASE_URL is set), every statement and row counted on
 * the wire by a relay between them. Probes are stubbed (`AppDeps.checks`) so the test measures
 * the reading, not 10,000 webhook round trips.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSRecord } from 'aws-lambda';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { createMemoryStateStore } from '../../functions/adapters/state-memory.ts';
import { createMemorySweepLedger } from '../../functions/adapters/sweep-ledger-memory.ts';
import { createTenantSource } from '../../functions/adapters/tenant-source.ts';
import type { AppDeps } from '../../functions/app/deps.ts';
import { probeBatch } from '../../functions/app/probe-batch.ts';
import { sweep } from '../../functions/app/sweep.ts';
import { type Config, parseConfig } from '../../functions/core/config.ts';
import { fernetEncrypt, generateFernetKey } from '../../functions/core/fernet.ts';
import type { Report } from '../../functions/core/types.ts';
import type { OpenPorts, TenantMessage, TenantSource } from '../../functions/ports.ts';
import type { RunInput } from '../../functions/run.ts';
import { startWireCounter, type WireCounter } from '../support/pg-wire-counter.ts';
import { startPgliteServer } from '../support/pglite.ts';
import { databaseUrl, inCi } from '../support/services.ts';

const TENANTS = 10_000;
const KEY = generateFernetKey();
const ids = Array.from({ length: TENANTS }, (_, i) => `tenant-${String(i).padStart(5, '0')}`);

const noop = () => {};
const logger = { debug: noop, info: noop, warn: noop, error: noop, createChild: () => logger } as unknown as Logger;
const single = { addDimensions: () => single, addMetric: noop };
const metrics = { addMetric: noop, singleMetric: () => single } as unknown as Metrics;

function backends(): [string, () => Promise<{ url: string; stop(): Promise<void> }>][] {
  const list: [string, () => Promise<{ url: string; stop(): Promise<void> }>][] = [
    ['PGlite', () => startPgliteServer()],
  ];
  const real = databaseUrl();
  if (real !== undefined) list.push(['PostgreSQL', async () => ({ url: real, stop: async () => {} })]);
  else if (inCi) throw new Error('DATABASE_URL must be set in CI');
  return list;
}

describe.each(backends())('10,000 tenants in the database source (%s)', (_name, start) => {
  let backend: { url: string; stop(): Promise<void> };
  let relay: WireCounter;
  const schema = `canary_scale_${randomBytes(4).toString('hex')}`;
  let config: Config;
  let source: TenantSource;
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const probed: string[][] = [];

  beforeAll(async () => {
    backend = await start();
    const client = new pg.Client({ connectionString: backend.url });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(
      `CREATE TABLE ${schema}.tenant_configs (tenant_id text PRIMARY KEY, webhook_signing_secret_encrypted text NOT NULL, is_active boolean NOT NULL DEFAULT true)`,
    );
    await client.query(
      `INSERT INTO ${schema}.tenant_configs (tenant_id, webhook_signing_secret_encrypted) SELECT * FROM unnest($1::text[], $2::text[])`,
      [ids, ids.map((id) => fernetEncrypt(KEY, `secret-of-${id}`))],
    );
    await client.end();
    relay = await startWireCounter(backend.url);
    config = parseConfig({
      platform: { baseUrl: 'https://api.example.com' },
      tenants: [],
      tenantSource: {
        type: 'database',
        url: relay.url,
        tls: { mode: 'disable' },
        query: `SELECT tenant_id, webhook_signing_secret_encrypted FROM ${schema}.tenant_configs WHERE is_active ORDER BY tenant_id`,
        encryptionKey: { value: KEY },
        maxTenants: 20_000,
      },
    });
    // One source for the container, as the Lambda runtime keeps it (its lookup cache with it).
    source = createTenantSource(config, { secrets: createSecretResolver({ env: {} }), now: () => clock });
  }, 120_000);

  afterAll(async () => {
    await relay?.stop();
    if (!backend) return;
    const client = new pg.Client({ connectionString: backend.url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await client.end();
    await backend.stop();
  });

  const queued: TenantMessage[] = [];
  const deps = (): AppDeps => {
    const ledger = createMemorySweepLedger();
    const store = createMemoryStateStore();
    return {
      logger,
      metrics,
      config: async () => config,
      secrets: createSecretResolver({ env: {} }),
      openPorts: async () => ({ close: async () => {} }) as unknown as OpenPorts,
      tenantSource: () => source,
      stateStore: async () => store,
      sweepLedger: async () => ledger,
      publisher: () => ({ publish: async (messages) => ({ delivered: messages.map((m) => m.id), failed: [] }) }),
      tenantQueue: async () => ({
        async send(messages) {
          queued.push(...messages);
          return { sent: messages.length, failed: [] };
        },
        retryLater: async () => ({ unchanged: [] }),
      }),
      now: () => new Date(clock),
      checks: async (input: RunInput): Promise<Report> => {
        probed.push(input.config.tenants.map((t) => t.tenantId));
        const at = new Date(clock).toISOString();
        return { runId: 'stub', startedAt: at, finishedAt: at, tenants: [], results: [], alerts: [] };
      },
    };
  };
  const tenantStatements = () => relay.counts.statements.filter((sql) => sql.includes('tenant_source'));
  const record = (message: TenantMessage, i: number): SQSRecord =>
    ({
      messageId: `m-${i}`,
      body: JSON.stringify(message),
      eventSource: 'aws:sqs',
      attributes: {},
    }) as unknown as SQSRecord;

  it('lists every tenant once a sweep: one statement, 10,000 rows, a message each with a peer', async () => {
    relay.reset();
    const summary = await sweep(deps());
    expect(summary).toMatchObject({ tenants: TENANTS, enqueued: TENANTS });
    expect(tenantStatements()).toHaveLength(1);
    expect(relay.counts.rows).toBe(TENANTS);
    expect(queued).toHaveLength(TENANTS);
    expect(queued[0]).toMatchObject({ tenantId: ids[0], peer: ids[1] });
    // No secret in a message: only ids, the sweep, its deadline, the sampling and the delay.
    expect(Object.keys(queued[0] as object).sort()).toEqual([
      'deadline',
      'delaySeconds',
      'peer',
      'runId',
      'sampling',
      'tenantId',
    ]);
  }, 60_000);

  it("reads only a batch's own tenants (and their peers) with one statement, then from the cache", async () => {
    const batch = queued.slice(0, 10).map(record);
    relay.reset();
    probed.length = 0;
    const answer = await probeBatch(deps(), { Records: batch }, undefined, undefined);
    expect(answer.batchItemFailures).toEqual([]);
    const statements = tenantStatements();
    expect(statements).toHaveLength(1);
    expect(statements[0]).toContain('= ANY($1::text[])');
    // Ten tenants and the tenth's peer: 11 rows read, 11 secrets decrypted, not 10,000.
    expect(relay.counts.rows).toBe(11);
    expect(new Set(probed.flat())).toEqual(new Set(ids.slice(0, 11)));

    // The same tenants again within the TTL (a redelivery): no statement at all.
    relay.reset();
    await probeBatch(deps(), { Records: batch }, undefined, undefined);
    expect(tenantStatements()).toHaveLength(0);
    // Past it (the next sweep), they are read again: a rotated secret is picked up.
    clock += 151_000;
    relay.reset();
    await probeBatch(deps(), { Records: batch }, undefined, undefined);
    expect(tenantStatements()).toHaveLength(1);
    expect(relay.counts.rows).toBe(11);
  }, 60_000);

  it('drops a tenant the source no longer has, without reading the others', async () => {
    const client = new pg.Client({ connectionString: backend.url });
    await client.connect();
    await client.query(`UPDATE ${schema}.tenant_configs SET is_active = false WHERE tenant_id = $1`, [ids[20]]);
    await client.end();
    relay.reset();
    probed.length = 0;
    const batch = queued.slice(20, 30).map(record);
    const answer = await probeBatch(deps(), { Records: batch }, undefined, undefined);
    expect(answer.batchItemFailures).toEqual([]);
    expect(relay.counts.rows).toBe(10); // 21..30 (30 is 29's peer); 20 is gone
    expect(probed.flat()).not.toContain(ids[20]);
  }, 60_000);
});
