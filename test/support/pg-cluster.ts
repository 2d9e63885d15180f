/**
 * A private PostgreSQL 15 cluster for tests that must restart (or reconfigure) the server, which
 * the shared CI server must never be. initdb refuses to run as root, so as root the binaries run
 * as the `postgres` user (as .ci/run does); password auth on loopback only.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { closedPort } from './servers.ts';
import { inCi } from './services.ts';

const run = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface PgCluster {
  /** Superuser URL (`postgres`, with a password). */
  url: string;
  restart(): Promise<void>;
  /** With `tls`: serve this certificate from now on (written, then the server reloads). */
  useCertificate(material: { cert: string; key: string }): Promise<void>;
  stop(): Promise<void>;
}

export interface PgClusterOptions {
  /** Serve TLS with this certificate, and accept only `hostssl` connections on TCP. */
  tls?: { cert: string; key: string };
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

export async function startPgCluster(clusterOptions: PgClusterOptions = {}): Promise<PgCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'canary-pg-'));
  const data = join(dir, 'data');
  const password = `t${Math.random().toString(36).slice(2)}`;
  const port = await closedPort();
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
  const tlsOptions = clusterOptions.tls
    ? ` -c ssl=on -c ssl_cert_file=${join(data, 'server.crt')} -c ssl_key_file=${join(data, 'server.key')}`
    : '';
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c fsync=off${tlsOptions}`;
  /** Writes a file into the data directory, owned by the server's user. */
  const writeData = async (name: string, text: string, mode: number) => {
    await writeFile(join(data, name), text, { mode });
    await chmod(join(data, name), mode);
    if (owner) await chown(join(data, name), owner.uid, owner.gid);
  };
  const writeCertificate = async (material: { cert: string; key: string }) => {
    await writeData('server.crt', material.cert, 0o644);
    await writeData('server.key', material.key, 0o600);
  };
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
  if (clusterOptions.tls) {
    await writeCertificate(clusterOptions.tls);
    // TCP only with TLS: a client that does not encrypt is refused by the server itself.
    await writeData('pg_hba.conf', 'local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n', 0o600);
  }
  await ctl('start');
  let stopped = false;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    restart: async () => {
      await ctl('restart');
    },
    useCertificate: async (material) => {
      await writeCertificate(material);
      await pg('pg_ctl', ['-D', data, 'reload']);
      await new Promise((resolve) => setTimeout(resolve, 500)); // the postmaster rereads on SIGHUP
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
