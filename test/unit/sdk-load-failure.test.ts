/**
 * The AWS SDK is loaded on first use: when it cannot be loaded, the adapters still answer the way
 * their contracts say (never an unhandled rejection in the sweep, an error that names the secret).
 */
import { describe, expect, it, vi } from 'vitest';
import { createSecretResolver, SecretError } from '../../functions/adapters/secrets.ts';
import { createTenantQueue } from '../../functions/adapters/sqs.ts';

vi.mock('@aws-sdk/client-sqs', () => {
  throw new Error('the SDK is not there');
});
vi.mock('@aws-sdk/client-secrets-manager', () => {
  throw new Error('the SDK is not there');
});

describe('an AWS SDK client that cannot be loaded', () => {
  it('makes the tenant queue report every tenant as not queued, without throwing', async () => {
    const queue = createTenantQueue({ queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/q' });
    const outcome = await queue.send([
      { tenantId: 'acme-corp', runId: 'sweep-1' },
      { tenantId: 'globex', runId: 'sweep-1' },
    ]);
    expect(outcome.sent).toBe(0);
    expect(outcome.failed.map((f) => f.tenantId)).toEqual(['acme-corp', 'globex']);
    expect(outcome.failed[0]?.reason).toMatch(/SQS client could not be loaded/);
  });

  it('makes a secret read fail with a SecretError naming the secret', async () => {
    const secrets = createSecretResolver({ env: {} });
    const error = await secrets.resolve({ secretId: 'tenant-canary/probe-db' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretError);
    expect((error as Error).message).toMatch(/^Secrets Manager secret tenant-canary\/probe-db cannot be read/);
  });
});
