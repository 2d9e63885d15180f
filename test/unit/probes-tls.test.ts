import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../functions/adapters/http.ts';
import { openPorts } from '../../functions/adapters/index.ts';
import { createTlsPort } from '../../functions/adapters/tls.ts';
import { withPorts } from '../../functions/app/with-ports.ts';
import { ConfigError } from '../../functions/core/config.ts';
import type { Outcome } from '../../functions/core/types.ts';
import type { HttpClient } from '../../functions/ports.ts';
import { probeTlsCertificate } from '../../functions/probes/tls.ts';
import { makeTestCertificates, type TestCertificates } from '../support/certs.ts';
import { effectiveTier, platformContext, testConfig } from '../support/probe-context.ts';
import {
  closedPort,
  sendJson,
  startServer,
  startSilentTcpServer,
  type TestServer,
  type TlsMaterial,
} from '../support/servers.ts';

const DAY_MS = 86_400_000;

let certs: TestCertificates;
let http: HttpClient;
const servers: TestServer[] = [];

async function serveTls(material: TlsMaterial): Promise<TestServer> {
  const server = await startServer((_request, res) => sendJson(res, 200, { status: 'healthy' }), material);
  servers.push(server);
  return server;
}

async function check(
  baseUrl: string,
  options: { caFile?: string | null; now?: () => Date; certMinDays?: number; requestTimeoutMs?: number } = {},
): Promise<Outcome> {
  const config = testConfig(
    baseUrl,
    { 'acme-corp': 'unused-secret' },
    {
      platform: { caFile: options.caFile === undefined ? certs.caFile : options.caFile },
      thresholds: {
        ...(options.certMinDays ? { certMinDays: options.certMinDays } : {}),
        ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
      },
    },
  );
  const caFile = config.platform.caFile;
  const tls = createTlsPort(caFile === null ? {} : { ca: await readFile(caFile, 'utf8') });
  return probeTlsCertificate(platformContext(config, http, { now: options.now, tls }));
}

beforeAll(async () => {
  certs = await makeTestCertificates();
  http = createHttpClient({ connectTimeoutMs: 1000 });
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterAll(async () => {
  await http.close();
  await certs.cleanup();
});

describe('probeTlsCertificate', () => {
  it('is skipped for an http base URL', async () => {
    const outcome = await check('http://127.0.0.1:1');

    expect(outcome).toEqual({
      status: 'skipped',
      summary: 'the base URL is http, so there is no certificate to check',
    });
  });

  it('passes for a certificate from the CA in caFile with a year left, by IP address and by host name', async () => {
    const server = await serveTls(certs.valid);

    const byIp = await check(server.url);
    const byName = await check(`https://localhost:${server.port}`);

    for (const outcome of [byIp, byName]) {
      expect(outcome.status, outcome.summary).toBe('pass');
      expect(outcome.evidence).toMatchObject({
        subject: 'CN=valid',
        issuer: 'CN=tenant-canary test CA',
        validTo: new Date(new X509Certificate(certs.valid.cert).validTo).toISOString(),
      });
      expect(outcome.evidence?.daysLeft).toBeGreaterThanOrEqual(364);
    }
    expect(byName.summary).toMatch(/^the certificate of localhost:\d+ is trusted and valid for 36\d more days/);
  });

  it('reports P0 for a certificate no trusted CA issued', async () => {
    const server = await serveTls(certs.valid);

    const outcome = await check(server.url, { caFile: null });

    expect(outcome.status).toBe('fail');
    expect(effectiveTier('api.tls_certificate', outcome)).toBe('P0');
    expect(outcome.summary).toContain(
      'is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE, issued by CN=tenant-canary test CA)',
    );
    expect(outcome.evidence).toMatchObject({ verifyError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', subject: 'CN=valid' });
  });

  it('reports P0 for an expired certificate', async () => {
    const server = await serveTls(certs.expired);

    const outcome = await check(server.url);

    expect(outcome.status).toBe('fail');
    expect(effectiveTier('api.tls_certificate', outcome)).toBe('P0');
    expect(outcome.summary).toContain('expired on 2020-02-01');
    expect(outcome.evidence?.daysLeft).toBeLessThan(0);
  });

  it('reports P0 for a certificate made out to another host', async () => {
    const server = await serveTls(certs.wrongHost);

    const outcome = await check(`https://localhost:${server.port}`);

    expect(outcome.status).toBe('fail');
    expect(effectiveTier('api.tls_certificate', outcome)).toBe('P0');
    expect(outcome.summary).toContain('is for DNS:wrong.example, not for this host');
  });

  it('reports P2 for a valid certificate with fewer than certMinDays left', async () => {
    const server = await serveTls(certs.soon);

    const outcome = await check(server.url, { certMinDays: 14 });

    expect(outcome).toMatchObject({ status: 'fail', tier: 'P2' });
    expect(outcome.evidence?.daysLeft).toBeGreaterThanOrEqual(2);
    expect(outcome.evidence?.daysLeft).toBeLessThanOrEqual(3);
    expect(outcome.summary).toMatch(
      /expires in [23] days \(\d{4}-\d{2}-\d{2}\), under thresholds\.certMinDays \(14\): renew it$/,
    );
  });

  it('counts the days left from the injected clock', async () => {
    const server = await serveTls(certs.valid);
    const validTo = new Date(new X509Certificate(certs.valid.cert).validTo);

    const outcome = await check(server.url, { now: () => new Date(validTo.getTime() - 5 * DAY_MS - 1000) });

    expect(outcome).toMatchObject({ status: 'fail', tier: 'P2', evidence: { daysLeft: 5 } });
  });

  it('reports an error, not a certificate failure, when nothing listens', async () => {
    const port = await closedPort();

    const outcome = await check(`https://127.0.0.1:${port}`);

    expect(outcome).toMatchObject({ status: 'error', tier: 'P2', evidence: { error: 'ECONNREFUSED' } });
    expect(outcome.summary).toContain('(ECONNREFUSED), so its certificate was not checked');
  });

  it('reports an error at the timeout when the TLS handshake never completes', async () => {
    const silent = await startSilentTcpServer();
    const started = performance.now();
    try {
      const outcome = await check(`https://127.0.0.1:${silent.port}`, { requestTimeoutMs: 300 });

      expect(performance.now() - started).toBeLessThan(300 + 300);
      expect(outcome).toMatchObject({ status: 'error', tier: 'P2', evidence: { error: 'timeout (handshake)' } });
      expect(outcome.summary).toContain('the TLS handshake did not finish within 300 ms');
    } finally {
      await silent.close();
    }
  });

  it('reports an error when the server does not speak TLS', async () => {
    const plain = await startServer((_request, res) => sendJson(res, 200, {}));
    servers.push(plain);

    const outcome = await check(`https://127.0.0.1:${plain.port}`);

    expect(outcome).toMatchObject({ status: 'error', tier: 'P2' });
    expect(outcome.summary).toContain('the TLS handshake with 127.0.0.1:');
  });
});

describe('the TLS port that openPorts builds', () => {
  it('trusts platform.caFile: the certificate check passes through it, and fails without it', async () => {
    const server = await serveTls(certs.valid);
    const outcomeWith = async (caFile: string | null) => {
      const config = testConfig(server.url, { 'acme-corp': 'unused-secret' }, { platform: { caFile } });
      return withPorts(openPorts, config, (ports) =>
        probeTlsCertificate(platformContext(config, ports.http, { tls: ports.tls })),
      );
    };

    expect(await outcomeWith(certs.caFile)).toMatchObject({ status: 'pass' });
    expect(await outcomeWith(null)).toMatchObject({
      status: 'fail',
      evidence: { verifyError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
    });
  });

  it('refuses a platform.caFile that cannot be read with a config error naming the field and the path', async () => {
    const missing = join(certs.dir, 'missing.pem');
    const config = testConfig(
      'https://127.0.0.1:1',
      { 'acme-corp': 'unused-secret' },
      { platform: { caFile: missing } },
    );

    const opened = openPorts(config);

    await expect(opened).rejects.toBeInstanceOf(ConfigError);
    await expect(opened).rejects.toThrow(`platform.caFile could not be read (ENOENT): ${missing}`);
  });
});
