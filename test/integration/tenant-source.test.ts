/**
 * Tenant sources. The database source runs against PGlite (real PostgreSQL in WASM, over the
 * wire protocol) and, when DATABASE_URL is set (CI sets it; with CI=true it must be), against a
 * real PostgreSQL too. Secrets Manager is mocked at the SDK.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  GetSecretValueCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { createTenantSource, TenantSourceError } from '../../functions/adapters/tenant-source.ts';
import { ConfigError, type ConfigInput, parseConfig } from '../../functions/core/config.ts';
import { fernetEncrypt, generateFernetKey } from '../../functions/core/fernet.ts';
import { startPgliteServer } from '../support/pglite.ts';
import { databaseUrl, inCi } from '../support/services.ts';

const smMock = mockClient(SecretsManagerClient);
afterEach(() => smMock.reset());

const KEY = generateFernetKey();
const OTHER_KEY = generateFernetKey();
const SECRETS = {
  'acme-corp': `acme-${randomBytes(12).toString('hex')}`,
  globex: `globex-${randomBytes(12).toString('hex')}`,
};
const HOSTILE_ID = "Evil'; DROP TABLE tenant_configs;--";

interface Backend {
  /** An admin URL of the server. */
  url: string;
  stop(): Promise<void>;
}

const startPglite = (): Promise<Backend> => startPgliteServer();

async function admin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A schema of its own (a shared real server may hold others), with a minimal tenant_configs. */
async function seed(url: string, schema: string): Promise<void> {
  await admin(url, async (client) => {
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(`CREATE TABLE ${schema}.tenant_configs (
      id serial PRIMARY KEY,
      tenant_id text NOT NULL UNIQUE,
      name text NOT NULL,
      webhook_signing_secret_encrypted text,
      is_active boolean NOT NULL DEFAULT true
    )`);
    const rows: [string, string, string | null, boolean][] = [
      ['acme-corp', 'Acme', fernetEncrypt(KEY, SECRETS['acme-corp']), true],
      ['globex', 'Globex', fernetEncrypt(KEY, SECRETS.globex), true],
      ['initech', 'Initech (churned)', fernetEncrypt(KEY, 'initech-secret'), false],
      [HOSTILE_ID, 'Hostile', fernetEncrypt(KEY, 'hostile-secret'), true],
      ['umbrella', 'Umbrella', fernetEncrypt(OTHER_KEY, 'umbrella-secret'), true],
      ['hooli', 'Hooli', null, true],
    ];
    for (const row of rows) {
      await client.query(
        `INSERT INTO ${schema}.tenant_configs (tenant_id, name, webhook_signing_secret_encrypted, is_active) VALUES ($1, $2, $3, $4)`,
        row,
      );
    }
  });
}

const BASE: ConfigInput = {
  platform: { baseUrl: 'https://api.example.com' },
  tenants: [],
};

function rdsSecret(url: string): string {
  const parsed = new URL(url);
  return JSON.stringify({
    engine: 'postgres',
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password) || 'unused',
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    dbname: parsed.pathname.slice(1) || 'postgres',
  });
}

const resolver = () =>
  createSecretResolver({
    env: {},
    clientConfig: { region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-real' } },
  });

function databaseSuite(name: string, start: () => Promise<Backend>) {
  describe(`database tenant source (${name})`, () => {
    let backend: Backend;
    const schema = `canary_source_${randomBytes(4).toString('hex')}`;
    const query = `SELECT tenant_id, webhook_signing_secret_encrypted FROM ${schema}.tenant_configs WHERE is_active ORDER BY id`;

    beforeAll(async () => {
      backend = await start();
      await seed(backend.url, schema);
    });
    afterAll(async () => {
      if (!backend) return;
      await admin(backend.url, (client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => {});
      await backend.stop();
    });

    const source = (overrides: Record<string, unknown> = {}) =>
      createTenantSource(
        parseConfig({
          ...BASE,
          tenantSource: {
            type: 'database',
            secretId: 'canary/tenant-source-db',
            query,
            encryptionKey: { secretId: 'canary/tenant-encryption', jsonKey: 'TENANT_ENCRYPTION_KEY' },
            ...overrides,
          },
        }),
        { secrets: resolver() },
      );

    const mockSecrets = () => {
      smMock
        .on(GetSecretValueCommand, { SecretId: 'canary/tenant-source-db' })
        .resolves({ SecretString: rdsSecret(backend.url) });
      smMock
        .on(GetSecretValueCommand, { SecretId: 'canary/tenant-encryption' })
        .resolves({ SecretString: JSON.stringify({ TENANT_ENCRYPTION_KEY: KEY }) });
    };

    it('lists the active tenants with their decrypted signing secrets', async () => {
      mockSecrets();
      const listing = await source().list();
      expect(listing.tenants.map((t) => t.tenantId)).toEqual(['acme-corp', 'globex']);
      expect(listing.tenants.map((t) => ('value' in t.signingSecret ? t.signingSecret.value : null))).toEqual([
        SECRETS['acme-corp'],
        SECRETS.globex,
      ]);
      // Usable as config tenants: the run resolves `{ value }` refs as usual.
      const secrets = resolver();
      const [first] = listing.tenants;
      expect((await secrets.resolve(first!.signingSecret)).reveal()).toBe(SECRETS['acme-corp']);
    });

    it('skips unusable rows with a reason that never quotes a hostile id or a secret', async () => {
      mockSecrets();
      const listing = await source().list();
      expect(listing.skipped).toEqual([
        { row: 3, reason: 'row 3: tenant_id is not a valid tenant id (must match ^[a-z0-9-]{1,100}$)' },
        { row: 4, reason: 'row 4 (tenant umbrella): webhook_signing_secret_encrypted cannot be decrypted (hmac)' },
        { row: 5, reason: 'row 5 (tenant hooli): webhook_signing_secret_encrypted is empty' },
      ]);
      const shown = `${JSON.stringify(listing)}\n${inspect(listing, { depth: 10 })}`;
      for (const secret of [...Object.values(SECRETS), KEY, 'hostile-secret', 'DROP TABLE']) {
        expect(shown).not.toContain(secret);
      }
      expect(shown).toContain('[redacted]');
    });

    it('reads through a plain URL too', async () => {
      smMock
        .on(GetSecretValueCommand, { SecretId: 'canary/tenant-encryption' })
        .resolves({ SecretString: JSON.stringify({ TENANT_ENCRYPTION_KEY: KEY }) });
      const listing = await source({ url: backend.url, secretId: undefined }).list();
      expect(listing.tenants).toHaveLength(2);
    });

    it('runs the query read-only: writing queries fail and write nothing', async () => {
      mockSecrets();
      const count = async () =>
        (
          await admin(backend.url, (c) =>
            c.query(`SELECT count(*)::int AS n, max(id) AS id FROM ${schema}.tenant_configs`),
          )
        ).rows[0];
      const before = await count();
      // A data-modifying CTE cannot even run inside the wrapping subquery.
      const deleting = `WITH gone AS (DELETE FROM ${schema}.tenant_configs RETURNING tenant_id, webhook_signing_secret_encrypted) SELECT * FROM gone`;
      await expect(source({ query: deleting }).list()).rejects.toThrow(
        /^tenantSource query failed: .*\(SQLSTATE 0A000\)$/,
      );
      // A write hidden in a function call is stopped by the read-only transaction.
      const sequence = `SELECT tenant_id, webhook_signing_secret_encrypted FROM ${schema}.tenant_configs WHERE nextval('${schema}.tenant_configs_id_seq') > 0`;
      const error = await source({ query: sequence })
        .list()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TenantSourceError);
      expect((error as Error).message).toMatch(
        /^tenantSource query failed: .*read-only transaction \(SQLSTATE 25006\)$/,
      );
      expect(await count()).toEqual(before);
      expect(before.n).toBe(6);
    });

    it('names the missing columns of a wrong query', async () => {
      mockSecrets();
      await expect(source({ query: `SELECT tenant_id FROM ${schema}.tenant_configs` }).list()).rejects.toThrow(
        'tenantSource.query must return the columns tenant_id and webhook_signing_secret_encrypted',
      );
    });

    it('says which secret it cannot read, without its value', async () => {
      smMock.on(GetSecretValueCommand, { SecretId: 'canary/tenant-encryption' }).rejects(
        new SecretsManagerServiceException({
          name: 'AccessDeniedException',
          $fault: 'client',
          $metadata: {},
          message: 'not authorized',
        }),
      );
      await expect(source().list()).rejects.toThrow(
        /^tenantSource\.encryptionKey cannot be read: Secrets Manager secret canary\/tenant-encryption cannot be read: access denied/,
      );
    });

    it('refuses a wrong Fernet key for every row rather than listing no one', async () => {
      smMock
        .on(GetSecretValueCommand, { SecretId: 'canary/tenant-source-db' })
        .resolves({ SecretString: rdsSecret(backend.url) });
      smMock
        .on(GetSecretValueCommand, { SecretId: 'canary/tenant-encryption' })
        .resolves({ SecretString: JSON.stringify({ TENANT_ENCRYPTION_KEY: generateFernetKey() }) });
      await expect(source().list()).rejects.toThrow(/^tenantSource found no usable tenant \(5 rows, 5 skipped\)/);
    });

    if (name !== 'PGlite') {
      // PGlite runs in this thread and does not enforce statement_timeout: real servers only.
      it('stops a slow query at the statement timeout', async () => {
        mockSecrets();
        const slow = `SELECT tenant_id, webhook_signing_secret_encrypted FROM ${schema}.tenant_configs, pg_sleep(5)`;
        const started = Date.now();
        await expect(source({ query: slow, statementTimeoutMs: 300 }).list()).rejects.toThrow(
          /^tenantSource query failed: canceling statement due to statement timeout \(SQLSTATE 57014\)$/,
        );
        expect(Date.now() - started).toBeLessThan(3000);
      });
    }
  });
}

databaseSuite('PGlite', startPglite);

// A real PostgreSQL when DATABASE_URL is set; with CI=true a missing one fails here.
if (process.env.DATABASE_URL || inCi) {
  databaseSuite('PostgreSQL from DATABASE_URL', async () => {
    const url = databaseUrl();
    if (!url) throw new Error('DATABASE_URL is not set');
    return { url, stop: async () => {} };
  });
}

describe('static tenant source and tenantSource config', () => {
  it('lists the config tenants as they are', async () => {
    const config = parseConfig({ ...BASE, tenants: [{ tenantId: 'acme-corp', signingSecret: { env: 'ACME' } }] });
    const listing = await createTenantSource(config, { secrets: resolver() }).list();
    expect(listing).toEqual({ tenants: [{ tenantId: 'acme-corp', signingSecret: { env: 'ACME' } }], skipped: [] });
  });

  const issuesOf = (input: unknown): string[] => {
    try {
      parseConfig(input);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return [...(error as ConfigError).issues];
    }
    throw new Error('expected a ConfigError');
  };

  it('needs tenants only for the static source', () => {
    expect(issuesOf(BASE)).toEqual(['tenants must list at least one tenant']);
    const database = { type: 'database', url: 'postgres://reader:pw@db/ai_agents', encryptionKey: { env: 'KEY' } };
    expect(parseConfig({ ...BASE, tenantSource: database }).tenantSource).toMatchObject({
      type: 'database',
      statementTimeoutMs: 3000,
      connectTimeoutMs: 5000,
      maxTenants: 10000,
    });
  });

  it.each([
    [{ type: 'ldap' }, 'tenantSource.type must be "static" or "database"'],
    [{ type: 'database', encryptionKey: { env: 'KEY' } }, 'tenantSource needs exactly one of "url" or "secretId"'],
    [
      { type: 'database', url: 'mysql://x', encryptionKey: { env: 'KEY' } },
      'tenantSource.url must be a postgres:// or postgresql:// URL',
    ],
    [
      { type: 'database', url: 'postgres://x', encryptionKey: { env: 'KEY' }, query: 'DELETE FROM tenant_configs' },
      'tenantSource.query must be a single SELECT (or WITH ... SELECT) statement',
    ],
    [
      { type: 'database', url: 'postgres://x', encryptionKey: { env: 'KEY' }, query: 'SELECT 1; DROP TABLE t' },
      'tenantSource.query must be a single statement without ";"',
    ],
    [
      { type: 'database', url: 'postgres://x' },
      'tenantSource.encryptionKey must be one of {"value": ...}, {"env": "NAME"} or {"secretId": "...", "jsonKey"?: "..."}',
    ],
    [
      { type: 'database', url: 'postgres://x', encryptionKey: { env: 'KEY' }, statementTimeoutMs: 0 },
      'tenantSource.statementTimeoutMs must be a positive integer',
    ],
  ])('rejects %j', (tenantSource, expected) => {
    expect(issuesOf({ ...BASE, tenants: [{ tenantId: 'a', signingSecret: { value: 'x' } }], tenantSource })).toEqual([
      expected,
    ]);
  });
});
