import { inspect } from 'node:util';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSecretResolver, SecretError } from '../../functions/adapters/secrets.ts';

const smMock = mockClient(SecretsManagerClient);
afterEach(() => {
  smMock.reset();
  vi.useRealTimers();
});

const SIGNING = 'whsec-0123456789abcdef-very-secret';
const PASSWORD = 'p@ss/word:with?odd#chars';
const clientConfig = { region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-real' } };
const resolver = (maxAgeSeconds?: number) =>
  createSecretResolver({
    env: { GLOBEX_SECRET: 'from-env' },
    clientConfig,
    ...(maxAgeSeconds ? { maxAgeSeconds } : {}),
  });

async function errorOf(promise: Promise<unknown>): Promise<SecretError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SecretError);
    return error as SecretError;
  }
  throw new Error('expected a SecretError');
}

describe('secret resolver: value and env (unchanged)', () => {
  it('resolves a literal value and an environment variable, and names a missing variable', async () => {
    const secrets = resolver();
    expect((await secrets.resolve({ value: 'literal' })).reveal()).toBe('literal');
    expect((await secrets.resolve({ env: 'GLOBEX_SECRET' })).reveal()).toBe('from-env');
    const error = await errorOf(secrets.resolve({ env: 'INITECH_SECRET' }));
    expect(error.message).toBe('environment variable INITECH_SECRET is not set');
    expect(smMock.calls()).toHaveLength(0);
  });
});

describe('secret resolver: Secrets Manager', () => {
  it('reads a whole secret once within maxAge, and again after it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-27T10:00:00Z'));
    smMock.on(GetSecretValueCommand, { SecretId: 'canary/acme' }).resolves({ SecretString: SIGNING });
    const secrets = resolver(60);
    const first = await secrets.resolve({ secretId: 'canary/acme' });
    const second = await secrets.resolve({ secretId: 'canary/acme' });
    expect([first.reveal(), second.reveal()]).toEqual([SIGNING, SIGNING]);
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    vi.setSystemTime(new Date('2026-11-27T10:01:01Z'));
    await secrets.resolve({ secretId: 'canary/acme' });
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(String(first)).toBe('[redacted]');
    expect(inspect(first)).toBe('[redacted]');
  });

  it('shares one call among concurrent reads of a secret, and does not cache a failure', async () => {
    smMock
      .on(GetSecretValueCommand, { SecretId: 'canary/shared' })
      .rejectsOnce(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }))
      .resolves({ SecretString: SIGNING });
    const secrets = resolver();
    const failed = await Promise.allSettled(
      Array.from({ length: 5 }, () => secrets.resolve({ secretId: 'canary/shared' })),
    );
    expect(failed.map((outcome) => outcome.status)).toEqual(Array(5).fill('rejected'));
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    const values = await Promise.all(Array.from({ length: 5 }, () => secrets.resolve({ secretId: 'canary/shared' })));
    expect(values.map((value) => value.reveal())).toEqual(Array(5).fill(SIGNING));
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('reads a binary secret as UTF-8 text', async () => {
    smMock
      .on(GetSecretValueCommand, { SecretId: 'canary/binary' })
      .resolves({ SecretBinary: new TextEncoder().encode(SIGNING) });
    expect((await resolver().resolve({ secretId: 'canary/binary' })).reveal()).toBe(SIGNING);
  });

  it('extracts a jsonKey, reading the secret once for several keys', async () => {
    smMock
      .on(GetSecretValueCommand, { SecretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:tenants' })
      .resolves({ SecretString: JSON.stringify({ acme: SIGNING, globex: 'globex-signing-secret' }) });
    const secrets = resolver();
    const id = 'arn:aws:secretsmanager:eu-west-1:1:secret:tenants';
    expect((await secrets.resolve({ secretId: id, jsonKey: 'acme' })).reveal()).toBe(SIGNING);
    expect((await secrets.resolve({ secretId: id, jsonKey: 'globex' })).reveal()).toBe('globex-signing-secret');
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('names the secret and the key when the key is missing, never the value', async () => {
    smMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ acme: SIGNING }) });
    const error = await errorOf(resolver().resolve({ secretId: 'canary/tenants', jsonKey: 'initech' }));
    expect(error.message).toBe('Secrets Manager secret canary/tenants has no key "initech"');
    expect(error.message).not.toContain(SIGNING);
  });

  it('says a secret is not JSON without quoting it', async () => {
    smMock.on(GetSecretValueCommand).resolves({ SecretString: `{${SIGNING}` });
    const error = await errorOf(resolver().resolve({ secretId: 'canary/tenants', jsonKey: 'acme' }));
    expect(error.message).toBe(
      'Secrets Manager secret canary/tenants is not a JSON object, so its key "acme" cannot be read',
    );
    expect(JSON.stringify({ message: error.message, stack: error.stack, cause: String(error.cause) })).not.toContain(
      SIGNING,
    );
  });

  it('turns AccessDenied and not-found into clear errors naming the secret', async () => {
    smMock.on(GetSecretValueCommand, { SecretId: 'canary/denied' }).rejects(
      new SecretsManagerServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'User is not authorized to perform secretsmanager:GetSecretValue',
      }),
    );
    smMock
      .on(GetSecretValueCommand, { SecretId: 'canary/missing' })
      .rejects(new ResourceNotFoundException({ $metadata: {}, message: "Secrets Manager can't find the secret." }));
    const secrets = resolver();
    const denied = await errorOf(secrets.resolve({ secretId: 'canary/denied' }));
    expect(denied.message).toBe(
      'Secrets Manager secret canary/denied cannot be read: access denied (AccessDeniedException): the role needs secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)',
    );
    expect((denied.cause as Error).name).toBe('AccessDeniedException');
    const missing = await errorOf(secrets.resolve({ secretId: 'canary/missing', jsonKey: 'x' }));
    expect(missing.message).toBe(
      'Secrets Manager secret canary/missing cannot be read: it does not exist (ResourceNotFoundException)',
    );
  });

  it('refuses an empty key value or a non-string one', async () => {
    smMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ acme: '', globex: 42 }) });
    const secrets = resolver();
    expect((await errorOf(secrets.resolve({ secretId: 's', jsonKey: 'acme' }))).message).toBe(
      'key "acme" of Secrets Manager secret s is not a non-empty string',
    );
    expect((await errorOf(secrets.resolve({ secretId: 's', jsonKey: 'globex' }))).message).toMatch(/not a non-empty/);
  });
});

describe('secret resolver: database URL from an RDS-style secret', () => {
  it('builds a postgres URL with the credentials encoded', async () => {
    smMock.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        engine: 'postgres',
        username: 'canary_probe',
        password: PASSWORD,
        host: 'db.cluster-x.eu-west-1.rds.amazonaws.com',
        port: 5432,
        dbname: 'ai_agents',
      }),
    });
    const url = await resolver().resolveDatabaseUrl('rds!db-1234');
    expect(url.reveal()).toBe(
      `postgres://canary_probe:${encodeURIComponent(PASSWORD)}@db.cluster-x.eu-west-1.rds.amazonaws.com:5432/ai_agents`,
    );
    const parsed = new URL(url.reveal());
    expect(decodeURIComponent(parsed.password)).toBe(PASSWORD);
    expect(JSON.stringify({ url })).toBe('{"url":"[redacted]"}');
  });

  it('defaults port and dbname, and names missing fields without values', async () => {
    smMock.on(GetSecretValueCommand, { SecretId: 'minimal' }).resolves({
      SecretString: JSON.stringify({ username: 'u', password: 'pw-minimal-123', host: '10.0.0.5' }),
    });
    smMock.on(GetSecretValueCommand, { SecretId: 'partial' }).resolves({
      SecretString: JSON.stringify({ username: 'u', password: PASSWORD }),
    });
    smMock.on(GetSecretValueCommand, { SecretId: 'hostile' }).resolves({
      SecretString: JSON.stringify({ username: 'u', password: PASSWORD, host: 'evil.example/x?y=@z' }),
    });
    const secrets = resolver();
    expect((await secrets.resolveDatabaseUrl('minimal')).reveal()).toBe(
      'postgres://u:pw-minimal-123@10.0.0.5:5432/postgres',
    );
    const partial = await errorOf(secrets.resolveDatabaseUrl('partial'));
    expect(partial.message).toMatch(/^Secrets Manager secret partial lacks "host" \(an RDS-style JSON secret/);
    expect(partial.message).not.toContain(PASSWORD);
    const hostile = await errorOf(secrets.resolveDatabaseUrl('hostile'));
    expect(hostile.message).toBe('Secrets Manager secret hostile has a "host" that is not a host name or IP address');
  });
});
