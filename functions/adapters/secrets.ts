/**
 * Resolves secret references from config into {@link Secret}s. Errors name the reference
 * (an env variable name, a secret id), never a value.
 */
import type { SecretRef } from '../core/config.ts';
import { Secret } from '../core/secret.ts';

export class SecretError extends Error {
  override name = 'SecretError';
}

export interface SecretResolver {
  resolve(ref: SecretRef): Promise<Secret>;
}

export interface SecretResolverOptions {
  env: Readonly<Record<string, string | undefined>>;
}

export function createSecretResolver(options: SecretResolverOptions): SecretResolver {
  return {
    async resolve(ref) {
      if ('value' in ref) return new Secret(ref.value);
      if ('env' in ref) {
        const value = options.env[ref.env];
        if (value === undefined || value === '') throw new SecretError(`environment variable ${ref.env} is not set`);
        return new Secret(value);
      }
      throw new SecretError(
        `Secrets Manager secret ${ref.secretId} cannot be read: this build resolves only "value" and "env" secrets`,
      );
    },
  };
}
