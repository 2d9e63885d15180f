/**
 * A private PostgreSQL 15 cluster for tests that must restart (or reconfigure) the server, which
 * the shared CI server must never be. initdb refuses to run as root, so as root the binaries run
 * as the `postgres` user (as .ci/run does); password auth on loopback only.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inCi } from './services.ts';

const run = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface PgCluster {
  /** Superuser URL (`postgres`, with a password). */
  url: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function postgresUser(): Promise<{ uid: number; gid: number } | null> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return null;
  }
}

/** Why no private cluster can start here, or null when one can (under CI=true a reason is an error). */
export async function cannotStartCluster(): Promise<string | null> {
  let reason: string | null = null;
  if (!existsSync(join(PG_BIN, 'initdb'))) reason = `no PostgreSQL 15 binaries in ${PG_BIN}`;
  else if (process.getuid?.() === 0 && (await postgresUser()) === null)
    reason = 'running as root without a postgres user';
  if (reason !== null && inCi) throw new Error(`CI=true but a private PostgreSQL 15 cluster cannot start: ${reason}`);
  return reason;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export async function startPgCluster(): Promise<PgCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'canary-pg-'));
  const data = join(dir, 'data');
  const password = `t${Math.random().toString(36).slice(2)}`;
  const port = await freePort();
  const owner = process.getuid?.() === 0 ? await postgresUser() : null;
  await chmod(dir, 0o755);
  await writeFile(join(dir, 'pwfile'), `${password}\n`, { mode: 0o600 });
  if (owner) {
    await chown(dir, owner.uid, owner.gid);
    await chown(join(dir, 'pwfile'), owner.uid, owner.gid);
  }
  const pg = (binary: string, args: string[]) => {
    const command = join(PG_BIN, binary);
    return owner
      ? run('su', [
          'postgres',
          '-s',
          '/bin/sh',
          '-c',
          [command, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' '),
        ])
      : run(command, args);
  };
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c fsync=off`;
  const ctl = (action: string) =>
    pg('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-m', 'fast', '-o', options, action]);
  await pg('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=scram-sha-256',
    `--pwfile=${join(dir, 'pwfile')}`,
    '-E',
    'UTF8',
  ]);
  await rm(join(dir, 'pwfile'));
  await ctl('start');
  let stopped = false;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    restart: async () => {
      await ctl('restart');
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
