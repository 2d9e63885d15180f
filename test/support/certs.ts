/**
 * Test certificates made with the `openssl` CLI at test time: a private CA and leaf certificates
 * it signs (valid, expired, expiring soon, for the wrong host), in a temp directory.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TlsMaterial } from './servers.ts';

const run = promisify(execFile);
const OPENSSL = '/usr/bin/openssl';

export interface TestCertificates {
  dir: string;
  /** Path of the private CA's PEM (what `platform.caFile` points at). */
  caFile: string;
  /** Valid for localhost and 127.0.0.1 for 365 days. */
  valid: TlsMaterial;
  /** Valid for localhost and 127.0.0.1, expired in 2020. */
  expired: TlsMaterial;
  /** Valid for localhost and 127.0.0.1, 3 days left. */
  soon: TlsMaterial;
  /** Valid for 365 days, but only for wrong.example. */
  wrongHost: TlsMaterial;
  /** Valid for localhost and 127.0.0.1 from 400 days after it was made (made under a clock ahead), for 365 days. */
  notYetValid: TlsMaterial;
  cleanup(): Promise<void>;
}

const LOCAL_NAMES = 'DNS:localhost,IP:127.0.0.1';

export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'canary-certs-'));
  await mkdir(join(dir, 'newcerts'));
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  await writeFile(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      `database = ${join(dir, 'index.txt')}`,
      `new_certs_dir = ${join(dir, 'newcerts')}`,
      `serial = ${join(dir, 'serial')}`,
      'default_md = sha256',
      'policy = any_name',
      'unique_subject = no',
      'email_in_dn = no',
      '[any_name]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.pem');
  await run(OPENSSL, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    caFile,
    '-subj',
    '/CN=tenant-canary test CA',
    '-days',
    '3650',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);

  const leaf = async (name: string, altNames: string, validity: string[]): Promise<TlsMaterial> => {
    const key = join(dir, `${name}.key`);
    const csr = join(dir, `${name}.csr`);
    const cert = join(dir, `${name}.pem`);
    const ext = join(dir, `${name}.ext`);
    await writeFile(
      ext,
      `[leaf]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${altNames}\n`,
    );
    await run(OPENSSL, [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      `/CN=${name}`,
    ]);
    await run(OPENSSL, [
      'ca',
      '-batch',
      '-notext',
      '-config',
      join(dir, 'ca.cnf'),
      '-cert',
      caFile,
      '-keyfile',
      caKey,
      '-in',
      csr,
      '-out',
      cert,
      '-extfile',
      ext,
      '-extensions',
      'leaf',
      ...validity,
    ]);
    return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
  };

  // One after another: `openssl ca` updates its serial and index files.
  const valid = await leaf('valid', LOCAL_NAMES, ['-days', '365']);
  const expired = await leaf('expired', LOCAL_NAMES, ['-startdate', '20200101000000Z', '-enddate', '20200201000000Z']);
  const soon = await leaf('soon', LOCAL_NAMES, ['-days', '3']);
  const wrongHost = await leaf('wrong-host', 'DNS:wrong.example', ['-days', '365']);
  const ahead = (days: number) => generalizedTime(new Date(Date.now() + days * 86_400_000));
  const notYetValid = await leaf('not-yet-valid', LOCAL_NAMES, ['-startdate', ahead(400), '-enddate', ahead(765)]);
  return {
    dir,
    caFile,
    valid,
    expired,
    soon,
    wrongHost,
    notYetValid,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** `YYYYMMDDHHMMSSZ`, as `openssl ca -startdate/-enddate` take it. */
function generalizedTime(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace(/[-:T]/g, '')}Z`;
}
