/**
 * Resolves secret references from config into {@link Secret}s: a literal value, an environment
 * variable, or a Secrets Manager secret (whole, or one key of its JSON), read through the
 * Powertools secrets provider, which caches each secret for `maxAgeSeconds`. Errors name the
 * reference (an env variable name, a secret id, a JSON key), never a value.
 */

import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { errorClass } from '../core/errors.ts';
import { Secret } from '../core/secret.ts';
import type { SecretResolver } from '../ports.ts';
import { awsClientDefaults } from './aws-client.ts';

export const SecretError = errorClass('SecretError', 'secret');
export type SecretError = InstanceType<typeof SecretError>;

export interface SecretResolverOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** How long a Secrets Manager secret is reused before it is read again. @default 300 */
  maxAgeSeconds?: number;
  /** A prepared provider (a handler's shared one). @default one built on first use */
  secretsProvider?: SecretsProvider;
  /** Settings of the default client (region, credentials). */
  clientConfig?: SecretsManagerClientConfig;
}

const DEFAULT_MAX_AGE_SECONDS = 300;

export function createSecretResolver(options: SecretResolverOptions): SecretResolver {
  const maxAge = options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;
  let provider: Promise<SecretsProvider> | undefined =
    options.secretsProvider === undefined ? undefined : Promise.resolve(options.secretsProvider);
  // Loaded and built only when a Secrets Manager reference is resolved: value/env configs need no AWS SDK.
  const secretsProvider = () => {
    provider ??= (async () => {
      const [{ SecretsProvider }, { SecretsManagerClient }] = await Promise.all([
        import('@aws-lambda-powertools/parameters/secrets'),
        import('@aws-sdk/client-secrets-manager'),
      ]);
      return new SecretsProvider({
        awsSdkV3Client: new SecretsManagerClient({ ...awsClientDefaults(), ...options.clientConfig }),
      });
    })();
    return provider;
  };

  const readSecret = async (secretId: string): Promise<string> => {
    let value: string | Uint8Array | undefined;
    try {
      // Raw text, parsed here: a JSON transform's error could quote the value.
      value = await (await secretsProvider()).get(secretId, { maxAge });
    } catch (error) {
      throw new SecretError(`Secrets Manager secret ${secretId} cannot be read: ${awsReason(error)}`, {
        cause: rootCause(error),
      });
    }
    if (value === undefined) throw new SecretError(`Secrets Manager secret ${secretId} has no value`);
    const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
    if (text === '') throw new SecretError(`Secrets Manager secret ${secretId} is empty`);
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

/** The AWS error behind a Powertools error, by its name (its message is AWS's and can be long). */
function awsReason(error: unknown): string {
  const aws = rootCause(error);
  const name = aws instanceof Error ? aws.name : 'unknown error';
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

/** The AWS error a Powertools `GetParameterError` wraps (kept as the cause; never a value). */
function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error && current.cause !== undefined; depth++) {
    if (current.name !== 'GetParameterError') break;
    current = current.cause;
  }
  return current;
}
