/**
 * The isolation checks against schemas as real projects write them (test/support/schema-corpus.ts):
 * the watched platform as its migrations leave it, the same after its fixes, and schemas after
 * public multi-tenant code. Each fixture says exactly what every isolation check must report;
 * every run must leave every row as it was and advance no sequence. On PGlite (a fresh instance
 * per fixture), and on PostgreSQL 15 when DATABASE_URL is set (CI): a database and suffixed
 * roles per fixture, dropped after.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { openPorts } from '../../functions/adapters/index.ts';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { runWithPorts } from '../../functions/app/with-ports.ts';
import type { CheckId } from '../../functions/core/catalog.ts';
import { parseConfig } from '../../functions/core/config.ts';
import type { CheckResult } from '../../functions/core/types.ts';
import { startPgliteServer } from '../support/pglite.ts';
import { CORPUS, type CorpusFixture, ROLE_TOKENS, type RoleToken } from '../support/schema-corpus.ts';
import { databaseUrl } from '../support/services.ts';

/** Every check that reads the tenant tables (and the probe-role check their verdicts rest on). */
const CHECKS: CheckId[] = [
  'rls.tables_enabled',
  'rls.policies_present',
  'rls.app_role_enforced',
  'canary.probe_role_safe',
  'rls.no_context_denied',
  'rls.cross_tenant_read',
  'rls.cross_tenant_write',
  'rls.views_respect_rls',
  'rls.partitions_covered',
  'rls.definer_functions',
  'rls.context_scope',
  'rls.context_function',
  'rls.isolation_snapshot',
];

interface Engine {
  /** A database holding the fixture, its superuser URL, and the role names used. */
  open(fixture: CorpusFixture): Promise<{ url: string; roles: Record<RoleToken, string>; close(): Promise<void> }>;
}

const withRoles = (sql: string, roles: Record<RoleToken, string>) =>
  ROLE_TOKENS.reduce((text, token) => text.replaceAll(`{${token}}`, roles[token]), sql);

async function execute(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const pglite: Engine = {
  async open(fixture) {
    const server = await startPgliteServer();
    const roles = Object.fromEntries(ROLE_TOKENS.map((t) => [t, `corpus_${t}`])) as Record<RoleToken, string>;
    try {
      await execute(server.url, withRoles(fixture.sql, roles));
    } catch (error) {
      await server.stop();
      throw error;
    }
    return { url: server.url, roles, close: () => server.stop() };
  },
};

function postgres(adminUrl: string): Engine {
  return {
    async open(fixture) {
      const suffix = randomBytes(4).toString('hex');
      const database = `corpus_${suffix}`;
      const roles = Object.fromEntries(ROLE_TOKENS.map((t) => [t, `corpus_${t}_${suffix}`])) as Record<
        RoleToken,
        string
      >;
      const url = new URL(adminUrl);
      url.pathname = `/${database}`;
      const close = async () => {
        await execute(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await execute(adminUrl, ROLE_TOKENS.map((t) => `DROP ROLE IF EXISTS ${roles[t]};`).join('\n'));
      };
      await execute(adminUrl, `CREATE DATABASE ${database}`);
      try {
        await execute(url.toString(), withRoles(fixture.sql, roles));
      } catch (error) {
        await close();
        throw error;
      }
      return { url: url.toString(), roles, close };
    },
  };
}

/** Every row of every table and the state of every sequence, as the superuser sees them. */
async function traces(url: string): Promise<{ rows: string[]; sequences: string[] }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN; SET LOCAL ROLE NONE');
    const tables = await client.query<{ t: string }>(
      `SELECT c.oid::regclass::text AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'
       ORDER BY 1`,
    );
    const rows: string[] = [];
    for (const { t } of tables.rows) {
      const result = await client.query<{ row: string }>(`SELECT to_jsonb(x)::text AS row FROM ${t} x ORDER BY 1`);
      rows.push(...result.rows.map((r) => `${t} ${r.row}`));
    }
    const sequences = await client.query<{ s: string }>(
      `SELECT schemaname || '.' || sequencename || ' ' || COALESCE(last_value::text, 'unused') AS s
       FROM pg_sequences ORDER BY 1`,
    );
    await client.query('ROLLBACK');
    return { rows, sequences: sequences.rows.map((r) => r.s) };
  } finally {
    await client.end();
  }
}

/** `{ containing: [...] }` in an expectation: an array holding objects that match these. */
function matcher(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(matcher);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (Object.keys(record).length === 1 && Array.isArray(record.containing)) {
      return expect.arrayContaining(
        (record.containing as Record<string, unknown>[]).map((item) =>
          expect.objectContaining(matcher(item) as object),
        ),
      );
    }
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, matcher(v)]));
  }
  if (typeof value === 'string' && value.startsWith('through ')) return expect.stringContaining(value);
  return value;
}

function corpusSuite(name: string, engine: Engine) {
  describe(`isolation checks on real-world schemas (${name})`, () => {
    for (const fixture of CORPUS) {
      describe(fixture.name, () => {
        let results: CheckResult[];
        let before: Awaited<ReturnType<typeof traces>>;
        let after: Awaited<ReturnType<typeof traces>>;

        beforeAll(async () => {
          const db = await engine.open(fixture);
          try {
            const config = parseConfig({
              platform: { baseUrl: 'http://127.0.0.1:9' },
              database: {
                url: db.url,
                appRole: db.roles.app,
                probeAsRole: db.roles.probe,
                connectTimeoutMs: 5_000,
                statementTimeoutMs: 10_000,
                ...fixture.database,
              },
              tenants: fixture.tenants.map((tenantId) => ({ tenantId, signingSecret: { value: 'unused' } })),
            });
            before = await traces(db.url);
            const report = await runWithPorts(openPorts, {
              config,
              secrets: createSecretResolver({ env: {} }),
              filters: { tenantIds: [], checkIds: CHECKS },
            });
            results = report.results;
            after = await traces(db.url);
          } finally {
            await db.close();
          }
        }, 120_000);

        it('discovers every tenant table, with how it was found', () => {
          const enabled = results.find((r) => r.checkId === 'rls.tables_enabled')!;
          const found = Object.fromEntries(
            (enabled.evidence.tables as { table: string; found: string; path?: string[] }[]).map((t) => [
              t.table,
              t.found === 'fk' ? t.path : t.found,
            ]),
          );
          expect(found).toEqual(fixture.discovered);
        });

        for (const [checkId, expected] of Object.entries(fixture.expect)) {
          it(`${checkId}: ${expected.status}${expected.tier ? ` ${expected.tier}` : ''}`, () => {
            const mine = results.filter((r) => r.checkId === checkId);
            expect(mine.length, checkId).toBeGreaterThan(0);
            for (const result of mine) {
              const said = `${result.tenantId ?? 'platform'}: ${result.summary}`;
              expect(result.status, said).toBe(expected.status);
              if (expected.tier !== undefined) expect(result.tier, said).toBe(expected.tier);
              for (const name of expected.names ?? []) expect(result.summary, said).toContain(name);
              if (expected.evidence) expect(result.evidence, said).toMatchObject(matcher(expected.evidence) as object);
            }
          });
        }

        it('changes no row and advances no sequence', () => {
          expect(after.rows).toEqual(before.rows);
          expect(after.sequences).toEqual(before.sequences);
        });
      });
    }
  });
}

corpusSuite('PGlite', pglite);
const realUrl = databaseUrl();
if (realUrl) corpusSuite('PostgreSQL', postgres(realUrl));
