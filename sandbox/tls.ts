/**
 * HTTPS for the sandbox's receiver, so that `api.tls_certificate` has a real certificate to
 * judge: a private CA and leaf certificates for 127.0.0.1 it signs, made with the `openssl` CLI
 * (Node can verify certificates but not issue them). Certificates are cached beside the PGlite
 * cache and remade when fewer than 30 days are left. Without openssl the sandbox speaks HTTP.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { findOnPath } from './queue.ts';

const run = promisify(execFile);
const DAY_MS = 86_400_000;
const CACHE_DIR = join(tmpdir(), 'tenant-canary-sandbox', 'tls');
const RENEW_BEFORE_DAYS = 30;

export interface TlsMaterial {
  key: string;
  cert: string;
}

export interface SandboxTls {
  /** PEM of the private CA: what the canary's `platform.caFile` points at. */
  caFile: string;
  /** Valid for 127.0.0.1 and localhost for a year. */
  healthy: TlsMaterial;
  /** The same names, 3 days left. */
  expiringSoon: TlsMaterial;
}

/** `openssl req` arguments for a new unencrypted P-256 key. */
const NEW_EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

const LEAF_EXTENSIONS = [
  'basicConstraints=CA:FALSE',
  'keyUsage=digitalSignature',
  'extendedKeyUsage=serverAuth',
  'subjectAltName=IP:127.0.0.1,DNS:localhost',
].join('\n');

/**
 * Days `certPem` stays valid at `now`; -Infinity when it is not valid yet (made under another
 * clock, such as a test run under faketime sharing this cache): such a certificate is remade.
 */
function daysLeft(certPem: string, now: number): number {
  const cert = new X509Certificate(certPem);
  if (Date.parse(cert.validFrom) > now) return Number.NEGATIVE_INFINITY;
  return (Date.parse(cert.validTo) - now) / DAY_MS;
}

/**
 * Runs `fn` holding the cache's lock (a directory: mkdir is atomic), so that sandboxes starting
 * together on a fresh machine do not each make a CA and sign with one the other replaced.
 */
async function withCacheLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(CACHE_DIR, 'lock');
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > 20_000 || Date.now() > deadline)
        await rm(lock, { recursive: true, force: true }); // stale
      else await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** The sandbox's certificates, or undefined (and a log line) when openssl is not there. */
export async function sandboxTls(
  log: (line: string) => void,
  env = process.env,
  now: () => number = Date.now,
): Promise<SandboxTls | undefined> {
  const openssl = findOnPath('openssl', env.PATH);
  if (openssl === undefined) {
    log('tls: no openssl on PATH, the receiver speaks plain HTTP (api.tls_certificate is skipped)');
    return undefined;
  }
  await mkdir(CACHE_DIR, { recursive: true });
  return withCacheLock(() => prepare(openssl, now));
}

async function prepare(openssl: string, now: () => number): Promise<SandboxTls> {
  const caFile = join(CACHE_DIR, 'ca.pem');
  const caKey = join(CACHE_DIR, 'ca.key');
  const leafFiles = (name: string) => ({ key: join(CACHE_DIR, `${name}.key`), cert: join(CACHE_DIR, `${name}.pem`) });

  const readLeaf = async (name: string, minDays: number): Promise<TlsMaterial | undefined> => {
    const files = leafFiles(name);
    try {
      const [key, cert, ca] = await Promise.all([
        readFile(files.key, 'utf8'),
        readFile(files.cert, 'utf8'),
        readFile(caFile, 'utf8'),
      ]);
      const leaf = new X509Certificate(cert);
      const issuer = new X509Certificate(ca);
      if (daysLeft(cert, now()) < minDays || !leaf.checkIssued(issuer) || !leaf.verify(issuer.publicKey)) {
        return undefined;
      }
      return { key, cert };
    } catch {
      return undefined;
    }
  };

  /** Writes into a private directory first, then renames: concurrent sandboxes never see half a file. */
  const makeLeaf = async (name: string, days: number): Promise<TlsMaterial> => {
    const work = await mkdtemp(join(CACHE_DIR, 'tmp-'));
    try {
      await writeFile(join(work, 'leaf.ext'), LEAF_EXTENSIONS);
      await run(openssl, [
        'req',
        '-new',
        ...NEW_EC_KEY,
        '-keyout',
        join(work, 'leaf.key'),
        '-out',
        join(work, 'leaf.csr'),
        '-subj',
        '/CN=127.0.0.1',
      ]);
      await run(openssl, [
        'x509',
        '-req',
        '-in',
        join(work, 'leaf.csr'),
        '-CA',
        caFile,
        '-CAkey',
        caKey,
        '-CAcreateserial',
        '-days',
        String(days),
        '-sha256',
        '-extfile',
        join(work, 'leaf.ext'),
        '-out',
        join(work, 'leaf.pem'),
      ]);
      const files = leafFiles(name);
      await rename(join(work, 'leaf.key'), files.key);
      await rename(join(work, 'leaf.pem'), files.cert);
      return { key: await readFile(files.key, 'utf8'), cert: await readFile(files.cert, 'utf8') };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  };

  const caValid = await readFile(caFile, 'utf8')
    .then((pem) => daysLeft(pem, now()) > 365)
    .catch(() => false);
  if (!caValid) {
    const work = await mkdtemp(join(CACHE_DIR, 'tmp-'));
    try {
      await run(openssl, [
        'req',
        '-x509',
        ...NEW_EC_KEY,
        '-keyout',
        join(work, 'ca.key'),
        '-out',
        join(work, 'ca.pem'),
        '-subj',
        '/CN=tenant-canary sandbox CA',
        '-days',
        '3650',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ]);
      await rename(join(work, 'ca.key'), caKey);
      await rename(join(work, 'ca.pem'), caFile);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  const healthy = (await readLeaf('receiver', RENEW_BEFORE_DAYS)) ?? (await makeLeaf('receiver', 365));
  // Three days left: remade whenever the cached one has drifted outside 2–3 days.
  const soon =
    (await readLeaf('expiring', 2).then((c) => (c !== undefined && daysLeft(c.cert, now()) <= 3 ? c : undefined))) ??
    (await makeLeaf('expiring', 3));
  return { caFile, healthy, expiringSoon: soon };
}
