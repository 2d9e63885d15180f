/**
 * Resolves secret references from config into {@link Secret}s: a literal value, an environment
 * variable, or a Secrets Manager secret (whole, or one key of its JSON), read with
 * `GetSecretValue` and cached for `maxAgeSeconds` (concurrent reads of one secret share one
 * call). The SDK is loaded on the first read. Errors name the reference (an env variable name, a
 * secret id, a JSON key), never a value.
 */

import type {
  GetSecretValueCommand as GetSecretValue,
  SecretsManagerClient,
  SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { errorClass } from '../core/errors.ts';
import { Secret } from '../core/secret.ts';
import type { SecretResolver } from '../ports.ts';
import { awsClientDefaults, loadOnce } from './aws-client.ts';

export const SecretError = errorClass('SecretError', 'secret');
export type SecretError = InstanceType<typeof SecretError>;

export interface SecretResolverOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** How long a Secrets Manager secret is reused before it is read again. @default 300 */
  maxAgeSeconds?: number;
  /** Settings of the default client (region, credentials). */
  clientConfig?: SecretsManagerClientConfig;
}

const DEFAULT_MAX_AGE_SECONDS = 300;

export function createSecretResolver(options: SecretResolverOptions): SecretResolver {
  const maxAge = options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;
  const sdk = loadOnce<{ client: SecretsManagerClient; Get: typeof GetSecretValue }>(async () => {
    const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    return {
      client: new SecretsManagerClient({ ...awsClientDefaults(), ...options.clientConfig }),
      Get: GetSecretValueCommand,
    };
  });
  const cache = new Map<string, { text: Promise<string>; expiresAt: number }>();
  const fetchSecret = async (secretId: string): Promise<string> => {
    let answer: { SecretString?: string; SecretBinary?: Uint8Array };
    try {
      const { client, Get } = await sdk();
      answer = await client.send(new Get({ SecretId: secretId }));
    } catch (error) {
      throw new SecretError(`Secrets Manager secret ${secretId} cannot be read: ${awsReason(error)}`, { cause: error });
    }
    const value = answer.SecretString ?? answer.SecretBinary;
    if (value === undefined) throw new SecretError(`Secrets Manager secret ${secretId} has no value`);
    const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
    if (text === '') throw new SecretError(`Secrets Manager secret ${secretId} is empty`);
    return text;
  };
  const readSecret = (secretId: string): Promise<string> => {
    const cached = cache.get(secretId);
    if (cached !== undefined && cached.expiresAt > Date.now()) return cached.text;
    const text = fetchSecret(secretId);
    cache.set(secretId, { text, expiresAt: Date.now() + maxAge * 1000 });
    text.catch(() => {
      if (cache.get(secretId)?.text === text) cache.delete(secretId); // a failure is not cached
    });
    return text;
  };

  const readJson = async (secretId: string, why: string): Promise<Record<string, unknown>> => {
    const text = await readSecret(secretId);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // The parser's message can quote the secret: never used.
      parsed = undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new SecretError(`Secrets Manager secret ${secretId} is not a JSON object, so ${why}`);
    }
    return parsed as Record<string, unknown>;
  };

  return {
    async resolve(ref) {
      if ('value' in ref) return new Secret(ref.value);
      if ('env' in ref) {
        const value = options.env[ref.env];
        if (value === undefined || value === '') throw new SecretError(`environment variable ${ref.env} is not set`);
        return new Secret(value);
      }
      if (ref.jsonKey === undefined) return new Secret(await readSecret(ref.secretId));
      const json = await readJson(ref.secretId, `its key "${ref.jsonKey}" cannot be read`);
      const value = json[ref.jsonKey];
      if (value === undefined)
        throw new SecretError(`Secrets Manager secret ${ref.secretId} has no key "${ref.jsonKey}"`);
      if (typeof value !== 'string' || value === '') {
        throw new SecretError(
          `key "${ref.jsonKey}" of Secrets Manager secret ${ref.secretId} is not a non-empty string`,
        );
      }
      return new Secret(value);
    },

    async resolveDatabaseUrl(secretId) {
      const json = await readJson(secretId, 'no database URL can be made from it');
      const missing = ['username', 'password', 'host'].filter(
        (key) => typeof json[key] !== 'string' || json[key] === '',
      );
      if (missing.length > 0) {
        throw new SecretError(
          `Secrets Manager secret ${secretId} lacks ${missing.map((k) => `"${k}"`).join(', ')} (an RDS-style JSON secret has username, password, host, port, dbname)`,
        );
      }
      const host = json.host as string;
      if (!/^[A-Za-z0-9.-]+$|^\[?[0-9A-Fa-f:.]+\]?$/.test(host)) {
        throw new SecretError(`Secrets Manager secret ${secretId} has a "host" that is not a host name or IP address`);
      }
      const port = json.port === undefined ? 5432 : Number(json.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new SecretError(`Secrets Manager secret ${secretId} has a "port" that is not a port number`);
      }
      const dbname = json.dbname ?? json.dbName ?? 'postgres';
      if (typeof dbname !== 'string' || dbname === '') {
        throw new SecretError(`Secrets Manager secret ${secretId} has a "dbname" that is not a non-empty string`);
      }
      const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
      const user = encodeURIComponent(json.username as string);
      const password = encodeURIComponent(json.password as string);
      return new Secret(`postgres://${user}:${password}@${hostPart}:${port}/${encodeURIComponent(dbname)}`);
    },
  };
}

/** The AWS error by its name (its message is AWS's and can be long). */
function awsReason(error: unknown): string {
  const name = error instanceof Error ? error.name : 'unknown error';
  switch (name) {
    case 'ResourceNotFoundException':
      return 'it does not exist (ResourceNotFoundException)';
    case 'AccessDeniedException':
      return 'access denied (AccessDeniedException): the role needs secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)';
    case 'DecryptionFailure':
      return 'its KMS key cannot decrypt it (DecryptionFailure)';
    case 'InvalidRequestException':
      return 'the request was refused (InvalidRequestException): is it scheduled for deletion?';
    default:
      return name;
  }
}
