/**
 * Connection URLs read as pg and ioredis read them: a password hidden behind an unencoded `#`,
 * `/` or `?` (the host then ends early and the rest becomes a fragment, the database name or a
 * query), a password in the userinfo or a query parameter, and a URL the drivers cannot read.
 * Config validation refuses the ambiguous and unreadable ones for every run, synth also every
 * credential, each with the field's name and never the secret.
 */
import { parse as pgParse } from 'pg-connection-string';
import { describe, expect, it } from 'vitest';
import { createRedisPort } from '../../functions/adapters/redis.ts';
import { ConfigError, parseConfig } from '../../functions/core/config.ts';
import { type ConnectionUrlKind, credentialsInUrl, readConnectionUrl } from '../../functions/core/connection-url.ts';
import { parseDeploymentConfig } from '../../lib/config.ts';
import { exampleConfig } from '../cdk/support.ts';

const SECRET = 'S3cret';

/** The forms of the issue: each parses, by WHATWG URL and pg alike, as host `canary`, port 2024, no password. */
const AMBIGUOUS = [
  `postgres://canary:2024#${SECRET}@db.internal:5432/ai_agents`,
  `postgres://canary:2024/${SECRET}@db.internal:5432/ai_agents`,
  `postgres://canary:2024?x=${SECRET}@db.internal:5432/ai_agents`,
];

function issuesOf(parse: () => unknown): string[] {
  try {
    parse();
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return [];
}

const canaryWith = (section: Record<string, unknown>) => ({
  platform: { baseUrl: 'https://api.example.com' },
  tenants: [{ tenantId: 'acme-corp', signingSecret: { value: 'unused' } }],
  ...section,
});

const deploymentWith = (section: Record<string, unknown>) => ({ ...exampleConfig(), ...section });

describe('how the drivers read the ambiguous forms', () => {
  it.each(AMBIGUOUS)(
    'pg reads %s as host canary, port 2024 and no password: a password check alone misses it',
    (url) => {
      const read = pgParse(url);
      expect([read.host, read.port, read.password ?? '']).toEqual(['canary', '2024', '']);
      expect(new URL(url).password).toBe('');
      const reading = readConnectionUrl(url, 'postgres');
      expect(reading.ok).toBe(false);
      expect(credentialsInUrl(url, 'postgres')).toHaveLength(1);
    },
  );

  it.each<[string, ConnectionUrlKind, string]>([
    [`postgres://canary:${SECRET}@db.internal:5432/ai_agents`, 'postgres', 'a password after the user name'],
    [`postgres://canary@db.internal:5432/ai_agents?password=${SECRET}`, 'postgres', 'a password query parameter'],
    // pg percent-encodes a space and a malformed escape first, then reads the password.
    [`postgres://canary:S3 cr%zzet@db.internal:5432/ai_agents`, 'postgres', 'a password after the user name'],
    [`redis://:${SECRET}@cache:6379/0`, 'redis', 'a password after the user name'],
    [`rediss://canary@cache:6379/0?password=${SECRET}`, 'redis', 'a password query parameter'],
    [`redis://cache:6379/0?sentinelPassword=${SECRET}`, 'redis', 'a password query parameter'],
  ])('finds the credential in %s', (url, kind, where) => {
    expect(readConnectionUrl(url, kind).ok).toBe(true);
    expect(credentialsInUrl(url, kind)).toEqual([where]);
  });

  it('finds none where there is none', () => {
    expect(credentialsInUrl('postgres://canary@db.internal:5432/ai_agents?sslmode=verify-full', 'postgres')).toEqual(
      [],
    );
    expect(credentialsInUrl('rediss://canary@cache.internal:6379/0', 'redis')).toEqual([]);
    expect(credentialsInUrl('postgresql://[::1]:5432/x', 'postgres')).toEqual([]);
  });
});

describe('config validation (every run)', () => {
  it.each(AMBIGUOUS)('refuses database.url %s naming the field, never the secret', (url) => {
    const issues = issuesOf(() => parseConfig(canaryWith({ database: { url } })));
    expect(issues).toEqual([
      'database.url has an "@" after the host: a password with an unencoded /, ? or # ends the host there (percent-encode them as %2F, %3F, %23)',
    ]);
    expect(issues.join('\n')).not.toContain(SECRET);
  });

  it('refuses the same forms in tenantSource.url and redis.url, and a URL that does not parse', () => {
    const issues = issuesOf(() =>
      parseConfig(
        canaryWith({
          tenants: [],
          tenantSource: {
            type: 'database',
            url: `postgresql://canary:2024/${SECRET}@db.internal/ai_agents`,
            encryptionKey: { env: 'KEY' },
          },
          redis: { url: `rediss://canary:2024?x=${SECRET}@cache:6379/0` },
          database: { url: `postgres://canary:${SECRET}@db.internal:54x32/ai_agents` },
        }),
      ),
    );
    expect(issues).toEqual([
      'database.url does not parse as a URL (percent-encode any /, ?, #, @, : or % in the user name or password)',
      'redis.url has an "@" after the host: a password with an unencoded /, ? or # ends the host there (percent-encode them as %2F, %3F, %23)',
      'tenantSource.url has an "@" after the host: a password with an unencoded /, ? or # ends the host there (percent-encode them as %2F, %3F, %23)',
    ]);
    expect(issues.join('\n')).not.toContain(SECRET);
  });

  it('refuses a URL pg cannot even re-encode (a lone surrogate), instead of throwing', () => {
    expect(issuesOf(() => parseConfig(canaryWith({ database: { url: 'postgres://u:p \ud800w@db/x' } })))).toEqual([
      'database.url does not parse as a URL (percent-encode any /, ?, #, @, : or % in the user name or password)',
    ]);
  });

  it('refuses a Redis password ioredis cannot decode (redis://:S3cr%zzPW@host) without printing it', () => {
    const issues = issuesOf(() => parseConfig(canaryWith({ redis: { url: 'redis://:S3cr%zzPW@host:6379/0' } })));
    expect(issues).toEqual([
      'redis.url has a malformed %-escape in its user name or password (write a literal % as %25)',
    ]);
    expect(issues.join('\n')).not.toContain('zzPW');
  });

  it('refuses a database URL whose escapes pg cannot decode (it would throw URIError on every check)', async () => {
    const { parse } = await import('pg-connection-string');
    for (const url of [
      'postgres://u:p%C3@127.0.0.1/db',
      'postgres://u%E0@127.0.0.1/db',
      'postgres://u@127.0.0.1/d%E0b',
    ]) {
      expect(() => parse(url), url).toThrow(URIError);
      expect(
        issuesOf(() => parseConfig(canaryWith({ database: { url } }))),
        url,
      ).toEqual([
        'database.url has a malformed %-escape in its user name, password or database name (write a literal % as %25)',
      ]);
    }
  });

  it('still takes credentials in a local URL, a fragment-free query and IPv6 hosts', () => {
    const config = parseConfig(
      canaryWith({
        database: { url: 'postgres://canary:pw%23with%2Fhash@127.0.0.1:5432/ai_agents?application_name=x' },
        redis: { url: 'redis://:pw@[::1]:6379/0' },
      }),
    );
    expect(config.database?.url).toContain('127.0.0.1');
  });
});

describe('synth (a deployment)', () => {
  it.each([
    ...AMBIGUOUS,
    `postgres://canary:${SECRET}@db.internal:5432/ai_agents`,
    `postgres://canary@db.internal:5432/ai_agents?password=${SECRET}`,
  ])('refuses database.url %s with one line naming the field, never the secret', (url) => {
    const issues = issuesOf(() => parseDeploymentConfig(deploymentWith({ database: { url } })));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^database\.url /);
    expect(issues.join('\n')).not.toContain(SECRET);
  });

  it.each([
    `rediss://:${SECRET}@cache:6379/0`,
    `rediss://cache:6379/0?password=${SECRET}`,
    `rediss://canary:2024#${SECRET}@cache:6379/0`,
  ])('refuses redis.url %s the same way', (url) => {
    const issues = issuesOf(() => parseDeploymentConfig(deploymentWith({ redis: { url } })));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^redis\.url /);
    expect(issues.join('\n')).not.toContain(SECRET);
  });

  it('takes a URL without a credential', () => {
    expect(
      issuesOf(() =>
        parseDeploymentConfig(deploymentWith({ redis: { url: 'rediss://cache.internal:6379/0?family=6' } })),
      ),
    ).toEqual([]);
  });
});

describe('the Redis adapter given a URL it cannot decode', () => {
  it('answers that the URL does not parse instead of throwing a URIError', async () => {
    const port = createRedisPort({
      url: 'redis://:S3cr%zzPW@127.0.0.1:6379/0',
      connectTimeoutMs: 500,
      commandTimeoutMs: 500,
    });
    try {
      await expect(port.listLengths(['q'])).rejects.toThrow(/^redis\.url does not parse as redis:\/\/host:port\/db/);
    } finally {
      await port.close();
    }
  });
});
