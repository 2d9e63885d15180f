/**
 * Usage and config errors: exit 2, one line on stderr naming the problem, nothing on stdout.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_IDS } from '../../functions/core/catalog.ts';
import { runCli } from '../support/cli.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'canary-usage-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const goodConfig = () => ({
  platform: { baseUrl: 'http://127.0.0.1:9' },
  tenants: [{ tenantId: 'acme-corp', signingSecret: { value: 'do-not-print-me-123' } }],
});

async function configFile(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function expectUsageError(run: { code: number; stdout: string; stderr: string }, fragment: string) {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(run.stderr).toContain(fragment);
}

describe('config errors', () => {
  it('names a missing field', async () => {
    const { platform: _platform, ...noPlatform } = goodConfig();
    expectUsageError(await runCli(['run', '--config', await configFile('a.json', noPlatform)]), 'platform is required');
  });

  it('names a field of the wrong type', async () => {
    const config = { ...goodConfig(), thresholds: { requestTimeoutMs: 'soon' } };
    expectUsageError(
      await runCli(['run', '--config', await configFile('b.json', config)]),
      'thresholds.requestTimeoutMs must be a positive integer',
    );
  });

  it('refuses a tenant id carrying SQL', async () => {
    const config = goodConfig();
    config.tenants[0]!.tenantId = "acme'; drop table x;--";
    expectUsageError(
      await runCli(['run', '--config', await configFile('c.json', config)]),
      'tenants[0].tenantId must match ^[a-z0-9-]{1,100}$',
    );
  });

  it('reports invalid JSON with its position and without quoting the file', async () => {
    const run = await runCli([
      'run',
      '--config',
      await configFile('d.json', '{"tenants": [{"signingSecret": {"value": "do-not-print-me-123"}}'),
    ]);
    expectUsageError(run, 'd.json is not valid JSON');
    expect(run.stderr).not.toContain('do-not-print-me-123');
  });

  it('reports a config file that does not exist', async () => {
    expectUsageError(await runCli(['run', '--config', join(dir, 'missing.json')]), 'could not be read (ENOENT)');
  });

  it('refuses an unknown --check and an unknown --tenant', async () => {
    const file = await configFile('e.json', goodConfig());
    expectUsageError(
      await runCli(['run', '--config', file, '--check', 'api.healthz']),
      '--check "api.healthz" is not a check id',
    );
    expectUsageError(
      await runCli(['run', '--config', file, '--tenant', 'nobody']),
      '--tenant "nobody" is not in the config',
    );
  });

  it('refuses an unknown command and an unknown option', async () => {
    expectUsageError(await runCli(['fly']), "unknown command 'fly'");
    expectUsageError(await runCli(['run', '--colour']), "unknown option '--colour'");
  });

  it('refuses an unknown sandbox fault', async () => {
    expectUsageError(await runCli(['sandbox', '--fault', 'meteor']), '--fault "meteor" is not a fault');
  });
});

describe('credentials in URLs', () => {
  it('an unreachable sandbox database is one line, exit 2, without its password', async () => {
    const run = await runCli(['run', '--sandbox-database', 'postgres://postgres:Secr3tPw@127.0.0.1:1/postgres']);
    expectUsageError(run, 'the sandbox could not start');
    expect(run.stderr).not.toContain('Secr3tPw');
  });

  it('an invalid sandbox Redis URL is one line, exit 2, without its password', async () => {
    const run = await runCli(['run', '--sandbox-redis', 'redis://:RedisPw1@127.0.0.1:99999/0']);
    expectUsageError(run, '--sandbox-redis does not parse as a URL');
    expect(run.stderr).not.toContain('RedisPw1');
  });

  it('an invalid tenantSource.url is one line, exit 2, without the URL or its password', async () => {
    const file = await configFile('bad-tenant-source.json', {
      ...goodConfig(),
      tenants: [],
      tenantSource: {
        type: 'database',
        url: 'postgres://ro:TenantSrcPw7@127.0.0.1:99999/db',
        encryptionKey: { value: 'not-used-before-the-url-is-read' },
      },
    });
    const run = await runCli(['run', '--config', file]);
    expect(run).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'tenant-canary: tenantSource.url does not parse as a URL (percent-encode any /, ?, #, @, : or % in the user name or password)\n',
    });
  });

  it('the run header shows the platform URL without its credentials', async () => {
    const file = await configFile('basic-auth.json', {
      ...goodConfig(),
      platform: { baseUrl: 'http://apiuser:BasicPw99@127.0.0.1:9' },
    });
    const human = await runCli(['run', '--config', file]);
    const json = await runCli(['run', '--config', file, '--json']);
    expect(human.stdout).toContain('against http://127.0.0.1:9');
    for (const channel of [human.stdout, human.stderr, json.stdout, json.stderr]) {
      expect(channel).not.toContain('BasicPw99');
      expect(channel).not.toContain('apiuser');
    }
  });
});

describe('checks', () => {
  it('lists every check of the catalog', async () => {
    const run = await runCli(['checks']);
    expect(run.code).toBe(0);
    for (const id of CHECK_IDS) expect(run.stdout).toContain(id);
    const json = await runCli(['checks', '--json']);
    expect((JSON.parse(json.stdout) as { id: string }[]).map((entry) => entry.id)).toEqual(CHECK_IDS);
  });
});

describe('the installed binary', () => {
  it('exits 2 with one line on stderr and nothing on stdout for a bad config', async () => {
    const config = goodConfig();
    config.tenants[0]!.tenantId = 'Not Valid';
    const file = await configFile('f.json', config);
    const child = spawnSync(process.execPath, ['bin/tenant-canary.js', 'run', '--config', file], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.status).toBe(2);
    expect(child.stdout).toBe('');
    expect(child.stderr.trimEnd().split('\n')).toEqual([
      'tenant-canary: tenants[0].tenantId must match ^[a-z0-9-]{1,100}$ (lowercase letters, digits and -)',
    ]);
  });

  it('prints nothing but the command output through `npm run --silent canary`', () => {
    const child = spawnSync('npm', ['run', '--silent', 'canary', '--', 'checks', '--json'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.status).toBe(0);
    expect(() => JSON.parse(child.stdout)).not.toThrow();
    expect(child.stderr).toBe('');
  });
});
