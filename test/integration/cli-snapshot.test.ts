/**
 * `tenant-canary snapshot [--config FILE] [--json]`: the normalised isolation snapshot and its
 * digest, the same digest `rls.isolation_snapshot` compares, with the contract's exit codes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../functions/core/config.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { runCli } from '../support/cli.ts';

let sandbox: Sandbox;
let dir: string;
const file = (name: string) => join(dir, name);

beforeAll(async () => {
  sandbox = await startSandbox({ redis: 'memory' });
  dir = await mkdtemp(join(tmpdir(), 'canary-snapshot-'));
  await writeFile(file('pinned.json'), JSON.stringify(sandbox.config));
  const { isolationDigest: _pinned, ...database } = sandbox.config.database!;
  await writeFile(file('unpinned.json'), JSON.stringify({ ...sandbox.config, database }));
}, 120_000);

afterAll(async () => {
  await sandbox?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('tenant-canary snapshot', () => {
  it('prints the JSON snapshot and the digest the sandbox pinned, exit 0', async () => {
    const run = await runCli(['snapshot', '--config', file('pinned.json'), '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as {
      digest: string;
      pinned: string;
      matches: boolean;
      snapshot: { tables: { table: string; policies: { command: string; roles: string[] }[] }[] };
    };
    expect(out.digest).toBe(sandbox.config.database!.isolationDigest);
    expect(out).toMatchObject({ pinned: out.digest, matches: true });
    expect(out.snapshot.tables.map((t) => t.table)).toEqual([
      'enhancement_history',
      'system_inventory',
      'tenant_configs',
      'ticket_history',
    ]);
    expect(out.snapshot.tables[0]?.policies[0]).toMatchObject({ command: 'ALL', roles: ['public'] });
  });

  it('tells how to pin when nothing is pinned, and says DIFFERS with exit 1 after a change', async () => {
    const unpinned = await runCli(['snapshot', '--config', file('unpinned.json')]);
    expect(unpinned.code).toBe(0);
    expect(unpinned.stdout).toContain('row-level security on, force off');
    expect(unpinned.stdout).toContain(
      `not pinned: set database.isolationDigest to "${sandbox.config.database!.isolationDigest}"`,
    );
    await sandbox.setFaults(['policy-changed-since-pinned']);
    try {
      const changed = await runCli(['snapshot', '--config', file('pinned.json')]);
      expect(changed.code).toBe(1);
      expect(changed.stdout).toMatch(/DIFFERS from the pinned sha256:[0-9a-f]{64}/);
      expect(changed.stdout).toMatch(
        /USING +\(\(tenant_id\)::text = current_setting\('app.current_tenant_id'::text, true\)\)/,
      );
    } finally {
      await sandbox.setFaults([]);
    }
  });

  it('is a usage error without a database section, and exit 1 when the database cannot be read', async () => {
    const { database: _db, ...noDatabase } = sandbox.config;
    await writeFile(file('nodb.json'), JSON.stringify(noDatabase));
    const none = await runCli(['snapshot', '--config', file('nodb.json')]);
    expect(none).toMatchObject({ code: 2, stdout: '' });
    expect(none.stderr).toMatch(/snapshot needs a config with a database section/);

    const unreachable = {
      ...sandbox.config,
      database: { ...sandbox.config.database, url: 'postgres://canary:s3cret-pw@127.0.0.1:9/x', connectTimeoutMs: 500 },
    };
    await writeFile(file('down.json'), JSON.stringify(unreachable));
    const down = await runCli(['snapshot', '--config', file('down.json')]);
    expect(down.code).toBe(1);
    expect(down.stdout).toBe('');
    expect(down.stderr).toMatch(/the isolation snapshot could not be read/);
    expect(down.stderr).not.toContain('s3cret-pw');
  });

  it('refuses a malformed pinned digest in the config, naming the field', () => {
    expect(() =>
      parseConfig({ ...sandbox.config, database: { ...sandbox.config.database, isolationDigest: 'abc' } }),
    ).toThrow(ConfigError);
    expect(() =>
      parseConfig({ ...sandbox.config, database: { ...sandbox.config.database, isolationDigest: 'abc' } }),
    ).toThrow(/database\.isolationDigest/);
  });
});
