/**
 * The isolation digest a reviewer pins must survive the database restarting: no oids, no
 * session state, nothing but the catalog's names and expressions. PGlite is reopened from its
 * data directory on disk; a private PostgreSQL 15 cluster (never the shared CI server) is
 * restarted with pg_ctl.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPgPort } from '../../functions/adapters/postgres.ts';
import { isolationDigest, readIsolationSnapshot } from '../../functions/probes/isolation.ts';
import { rolesSql, type SchemaRoles, schemaSql, TENANT_TABLES } from '../../sandbox/schema.ts';
import { cannotStartCluster, type PgCluster, startPgCluster } from '../support/pg-cluster.ts';

const clusterUnavailable = await cannotStartCluster();
const ROLES: SchemaRoles = { owner: 'snap_owner', appUser: 'snap_app_user', app: 'snap_app', probe: 'snap_probe' };
const SCOPE = { tenantTables: [...TENANT_TABLES], appRole: ROLES.app, probeAsRole: ROLES.probe };

async function digestAt(url: string): Promise<string> {
  const port = createPgPort({ connectionString: url, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000 });
  try {
    return isolationDigest(await readIsolationSnapshot(port, SCOPE));
  } finally {
    await port.close();
  }
}

describe('the isolation digest across restarts', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('is the same after PGlite is closed and reopened from its data directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canary-pglite-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const serve = async (db: PGlite) => {
      const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 10 });
      await server.start();
      const port = Number(server.getServerConn().split(':').at(-1));
      return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, server };
    };
    const first = await PGlite.create(dir);
    await first.exec(`${rolesSql(ROLES)}\n${schemaSql(ROLES)}`);
    const one = await serve(first);
    const before = await digestAt(one.url);
    expect(await digestAt(one.url)).toBe(before);
    await one.server.stop();
    await first.close();

    const second = await PGlite.create(dir);
    const two = await serve(second);
    try {
      expect(await digestAt(two.url)).toBe(before);
    } finally {
      await two.server.stop();
      await second.close();
    }
  }, 120_000);

  // Without PostgreSQL 15 binaries (not CI: there it is an error) only the PGlite half runs.
  it.runIf(clusterUnavailable === null)(
    'is the same after a PostgreSQL 15 server restarts',
    async () => {
      const cluster: PgCluster = await startPgCluster();
      cleanups.push(() => cluster.stop());
      const admin = new pg.Client({ connectionString: cluster.url });
      await admin.connect();
      await admin.query(rolesSql(ROLES, { app: 'app-pw', probe: 'probe-pw' }));
      await admin.query(schemaSql(ROLES));
      await admin.end();
      const probeUrl = cluster.url.replace(/\/\/postgres:[^@]*@/, '//snap_probe:probe-pw@');
      const before = await digestAt(probeUrl);
      await cluster.restart();
      expect(await digestAt(probeUrl)).toBe(before);
      // The login does not enter the digest beyond the role the probes run as.
      expect(await digestAt(cluster.url)).toBe(before);
    },
    120_000,
  );
});
