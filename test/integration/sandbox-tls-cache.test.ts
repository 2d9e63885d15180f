/**
 * The sandbox's certificate cache (sandbox/tls.ts) judged on the clock it is given: a cached
 * certificate that is not valid yet (made under another clock: a test run under faketime sharing
 * the temp directory, a machine whose clock was set back) is remade, not served; one the clock
 * says is close to its end is renewed.
 */
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCertificates, type TestCertificates } from '../support/certs.ts';

const DAY_MS = 86_400_000;
let certs: TestCertificates;
let tmp: string;
let cacheDir: string;
let sandboxTls: typeof import('../../sandbox/tls.ts').sandboxTls;
const previousTmpdir = process.env.TMPDIR;

beforeAll(async () => {
  // A private temp directory: the cache lives in tmpdir(), read when the module loads.
  tmp = await mkdtemp(join(tmpdir(), 'canary-tls-cache-'));
  process.env.TMPDIR = tmp;
  cacheDir = join(tmp, 'tenant-canary-sandbox', 'tls');
  certs = await makeTestCertificates();
  ({ sandboxTls } = await import('../../sandbox/tls.ts'));
});
afterAll(async () => {
  if (previousTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previousTmpdir;
  await certs?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

const validity = (pem: string) => {
  const cert = new X509Certificate(pem);
  return { from: Date.parse(cert.validFrom), to: Date.parse(cert.validTo) };
};

describe('the sandbox certificate cache', () => {
  it('remakes a cached certificate that is not valid yet instead of serving it', async () => {
    await mkdir(cacheDir, { recursive: true });
    await copyFile(certs.caFile, join(cacheDir, 'ca.pem'));
    await copyFile(join(certs.dir, 'ca.key'), join(cacheDir, 'ca.key'));
    await writeFile(join(cacheDir, 'receiver.pem'), certs.notYetValid.cert);
    await writeFile(join(cacheDir, 'receiver.key'), certs.notYetValid.key);
    const tls = await sandboxTls(() => {}, process.env);
    // openssl stamps the certificates it makes with its own clock, to the second: judged after the call.
    const after = Date.now();

    expect(tls).toBeDefined();
    expect(tls!.healthy.cert).not.toBe(certs.notYetValid.cert);
    const healthy = validity(tls!.healthy.cert);
    expect(healthy.from).toBeLessThanOrEqual(after);
    expect(healthy.to - after).toBeGreaterThan(300 * DAY_MS);
    expect(validity(tls!.expiringSoon.cert).from).toBeLessThanOrEqual(after);
    expect(await readFile(join(cacheDir, 'receiver.pem'), 'utf8')).toBe(tls!.healthy.cert);
  });

  it('keeps a valid cached certificate, and renews it once the clock it is given says under 30 days are left', async () => {
    const first = await sandboxTls(() => {}, process.env);
    expect((await sandboxTls(() => {}, process.env))!.healthy.cert).toBe(first!.healthy.cert);

    const { to } = validity(first!.healthy.cert);
    const renewed = await sandboxTls(
      () => {},
      process.env,
      () => to - 10 * DAY_MS,
    );

    expect(renewed!.healthy.cert).not.toBe(first!.healthy.cert);
  });
});
