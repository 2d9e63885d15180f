import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBinary, runCli } from '../support/cli.ts';

const MALFORMED_REDIS = 'redis://:S3cr%zzPW@127.0.0.1:6379/0';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'canary-bad-urls-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function configWith(name: string, section: Record<string, unknown>): Promise<string> {
  const file = join(dir, name);
  await writeFile(
    file,
    JSON.stringify({
      platform: { baseUrl: 'http://127.0.0.1:9' },
      tenants: [{ tenantId: 'acme-corp', signingSecret: { value: 'unused' } }],
      ...section,
    }),
  );
  return file;
}

describe('a malformed Redis URL', () => {
  it('is exit 2 with one line naming redis.url, not a URIError (the binary)', async () => {
    const file = await configWith('redis.json', { redis: { url: MALFORMED_REDIS } });
    for (const command of [['run'], ['preflight']]) {
      const { code, stdout, stderr } = await runBinary([...command, '--config', file]);
      expect(stdout).toBe('');
      expect(stderr.trimEnd().split('\n')).toEqual([
        'tenant-canary: redis.url has a malformed %-escape in its user name or password (write a literal % as %25)',
      ]);
      expect(stderr).not.toContain('zzPW');
      expect(code).toBe(2);
    }
  }, 60_000);

  it('is refused as --sandbox-redis too, naming the option', async () => {
    const { code, stdout, stderr } = await runCli(['run', '--sandbox-redis', MALFORMED_REDIS]);
    expect([code, stdout]).toEqual([2, '']);
    expect(stderr).toBe(
      'tenant-canary: --sandbox-redis has a malformed %-escape in its user name or password (write a literal % as %25)\n',
    );
  });
});

describe('a database URL whose password hides behind an unencoded #, / or ?', () => {
  it.each([
    'postgres://canary:2024#S3cret@db.internal:5432/ai_agents',
    'postgres://canary:2024/S3cret@db.internal:5432/ai_agents',
    'postgres://canary:2024?x=S3cret@db.internal:5432/ai_agents',
  ])('%s is exit 2 naming database.url, never the secret', async (url) => {
    const file = await configWith('db.json', { database: { url } });
    for (const command of ['run', 'preflight', 'snapshot']) {
      const { code, stdout, stderr } = await runCli([command, '--config', file]);
      expect([code, stdout]).toEqual([2, '']);
      expect(stderr).toMatch(/^tenant-canary: database\.url has an "@" after the host: [^\n]+\n$/);
      expect(stderr).not.toContain('S3cret');
    }
  });

  it('is exit 2 from the binary, without a stack trace', async () => {
    const file = await configWith('db-bin.json', {
      database: { url: 'postgres://canary:2024#S3cret@db.internal:5432/ai_agents' },
    });
    const { code, stdout, stderr } = await runBinary(['run', '--config', file]);
    expect([code, stdout]).toEqual([2, '']);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).not.toContain('S3cret');
  }, 60_000);
});
