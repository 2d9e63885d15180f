/**
 * `tenant-canary invoke`: a SigV4-signed POST (service `lambda`) from the default credential
 * chain, checked by a local server that verifies the signature with the same library, as a
 * Function URL with AWS_IAM auth does, and refuses a wrong key or a tampered body.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { regionFor, signLambdaPost } from '../../bin/cli/invoke.ts';
import type { Report } from '../../functions/core/types.ts';
import { runCli } from '../support/cli.ts';

const ACCESS_KEY = 'AKIDCANARYTEST';
const SECRET_KEY = 'canary-test-secret-key';
const REGION = 'eu-west-1';

interface Seen {
  body: string;
  verified: boolean;
}
const seen: Seen[] = [];
let server: Server;
let url: string;

const report = (status: 'pass' | 'fail', tenantId: string): Report => ({
  runId: '2026-11-27T10:05:00Z-ab12',
  startedAt: '2026-11-27T10:05:00.000Z',
  finishedAt: '2026-11-27T10:05:03.000Z',
  tenants: [tenantId],
  results: [
    {
      checkId: 'webhook.bad_signature_rejected',
      tenantId,
      status,
      tier: status === 'fail' ? 'P0' : null,
      summary: status === 'fail' ? 'a forged signature got 202' : 'a forged signature got 401',
      durationMs: 41,
      evidence: {},
      runbook: 'Issue 1, Resolution B: Signature Validation Fails',
    },
  ],
  alerts:
    status === 'fail'
      ? [
          {
            state: 'firing',
            tier: 'P0',
            checkId: 'webhook.bad_signature_rejected',
            tenantId,
            dedupKey: `webhook.bad_signature_rejected:${tenantId}`,
          },
        ]
      : [],
});

/** Verifies the request's SigV4 signature as AWS would: same canonical request, same key, same date. */
async function verifySignature(request: IncomingMessage, body: string): Promise<boolean> {
  const authorization = request.headers.authorization ?? '';
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      authorization,
    );
  if (!match) return false;
  const [, accessKey, , region, service, signedHeaders, signature] = match as unknown as string[];
  if (accessKey !== ACCESS_KEY || region !== REGION || service !== 'lambda') return false;
  const amzDate = String(request.headers['x-amz-date'] ?? '');
  const signingDate = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (Number.isNaN(signingDate.getTime()) || Math.abs(Date.now() - signingDate.getTime()) > 5 * 60_000) return false;
  // The signature covers the payload through its hash: the body must be the one that was hashed.
  const payloadHash = request.headers['x-amz-content-sha256'];
  if (payloadHash !== undefined && payloadHash !== createHash('sha256').update(body).digest('hex')) return false;
  const headers: Record<string, string> = {};
  for (const name of (signedHeaders ?? '').split(';')) headers[name] = String(request.headers[name] ?? '');
  const [path, query = ''] = (request.url ?? '/').split('?');
  const expected = await new SignatureV4({
    service: 'lambda',
    region: REGION,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    sha256: Hash.bind(null, 'sha256'),
  }).sign(
    new HttpRequest({
      method: request.method ?? 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: path ?? '/',
      query: Object.fromEntries(new URLSearchParams(query)),
      headers,
      body,
    }),
    { signingDate },
  );
  const expectedSignature = /Signature=([0-9a-f]{64})$/.exec(String(expected.headers.authorization))?.[1] ?? '';
  return (
    expectedSignature.length === 64 && timingSafeEqual(Buffer.from(expectedSignature), Buffer.from(signature ?? ''))
  );
}

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const verified = await verifySignature(request, body);
      seen.push({ body, verified });
      const send = (status: number, json: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(json));
      };
      if (!verified) {
        return send(403, {
          Message:
            'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
        });
      }
      const { tenantId, publish } = JSON.parse(body) as { tenantId: string; publish?: boolean };
      if (tenantId === 'nobody-here')
        return send(404, { error: `tenant "${tenantId}" is not among the canary's tenants` });
      send(200, report(publish ? 'fail' : 'pass', tenantId));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen.length = 0;
  // The default credential chain reads these first.
  vi.stubEnv('AWS_ACCESS_KEY_ID', ACCESS_KEY);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', SECRET_KEY);
  vi.stubEnv('AWS_SESSION_TOKEN', '');
  vi.stubEnv('AWS_PROFILE', '');
});
afterEach(() => {
  vi.unstubAllEnvs();
});

const cliEnv = { NO_COLOR: '1', AWS_REGION: REGION };

describe('invoke', () => {
  it('signs the request, and prints the report as run does', async () => {
    const run = await runCli(['invoke', '--url', url, '--tenant', 'acme-corp'], { env: cliEnv });

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(seen).toEqual([{ body: '{"tenantId":"acme-corp"}', verified: true }]);
    expect(run.stdout).toContain('tenant-canary run 2026-11-27T10:05:00Z-ab12');
    expect(run.stdout).toContain('Tenant acme-corp');
    expect(run.stdout).toMatch(/✓ pass\s+webhook\.bad_signature_rejected/);
  });

  it('asks the canary to publish, and exits 1 when a check fails', async () => {
    const run = await runCli(['invoke', '--url', url, '--tenant', 'globex', '--publish'], { env: cliEnv });

    expect(seen[0]).toEqual({ body: '{"tenantId":"globex","publish":true}', verified: true });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Alerts sent');
    expect(run.stdout).toContain('[P0] firing   webhook.bad_signature_rejected:globex');
  });

  it('prints only the report with --json', async () => {
    const run = await runCli(['invoke', '--url', url, '--tenant', 'acme-corp', '--json'], { env: cliEnv });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(report('pass', 'acme-corp'));
  });

  it('is refused with a wrong secret key: exit 2, one line on stderr, nothing on stdout', async () => {
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'not-the-key');
    const run = await runCli(['invoke', '--url', url, '--tenant', 'acme-corp'], { env: cliEnv });

    expect(seen).toHaveLength(1);
    expect(seen[0]?.verified).toBe(false);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^tenant-canary: the canary answered 403: The request signature we calculated does not match/,
    );
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a signed request whose body was changed afterwards is rejected', async () => {
    const signed = await signLambdaPost(new URL(url), '{"tenantId":"acme-corp"}', REGION, async () => ({
      accessKeyId: ACCESS_KEY,
      secretAccessKey: SECRET_KEY,
    }));
    const honest = await fetch(url, { method: 'POST', headers: signed.headers, body: '{"tenantId":"acme-corp"}' });
    expect(honest.status).toBe(200);
    const tampered = await fetch(url, { method: 'POST', headers: signed.headers, body: '{"tenantId":"globex"}' });
    expect(tampered.status).toBe(403);
    // Re-hashing the new body does not help: the hash header is itself signed.
    const rehashed = await fetch(url, {
      method: 'POST',
      headers: {
        ...signed.headers,
        'x-amz-content-sha256': createHash('sha256').update('{"tenantId":"globex"}').digest('hex'),
      },
      body: '{"tenantId":"globex"}',
    });
    expect(rehashed.status).toBe(403);
    expect(seen.map((s) => s.verified)).toEqual([true, false, false]);
  });

  it("passes on the canary's own refusal (unknown tenant) with exit 2", async () => {
    const run = await runCli(['invoke', '--url', url, '--tenant', 'nobody-here'], { env: cliEnv });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `tenant-canary: the canary answered 404: tenant "nobody-here" is not among the canary's tenants\n`,
    );
  });

  it('exits 1 when the canary cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const run = await runCli(['invoke', '--url', `http://127.0.0.1:${port}/`, '--tenant', 'acme-corp'], {
      env: cliEnv,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^tenant-canary: the canary at 127\.0\.0\.1:\d+ could not be reached: .*ECONNREFUSED/);
  });

  it('exits 1 with one line when the answer stalls after its headers (the --timeout covers the body)', async () => {
    const sockets = new Set<Socket>();
    const stalling = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.write('{');
        // ...and nothing more.
      });
    });
    stalling.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
    try {
      const port = (stalling.address() as AddressInfo).port;
      const started = performance.now();
      const run = await runCli(
        ['invoke', '--url', `http://127.0.0.1:${port}/`, '--tenant', 'acme-corp', '--timeout', '1'],
        { env: cliEnv },
      );
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        `tenant-canary: the canary at 127.0.0.1:${port} answered 200 but its body could not be read: not complete within 1 s\n`,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => stalling.close(() => resolve()));
    }
  });

  it.each([
    ['streamed without a length', false],
    ['declared by its content-length', true],
  ])('refuses a body larger than 10 MiB (%s), reading no more of it', async (_, declared) => {
    const MiB = 1024 * 1024;
    const total = 64 * MiB;
    let written = 0;
    const huge = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(200, {
          'content-type': 'application/json',
          ...(declared ? { 'content-length': String(total) } : {}),
        });
        const chunk = Buffer.alloc(MiB, 0x20);
        const pump = () => {
          while (written < total && !response.destroyed) {
            written += chunk.length;
            if (!response.write(chunk)) return void response.once('drain', pump);
          }
          if (written >= total) response.end();
        };
        pump();
      });
    });
    await new Promise<void>((resolve) => huge.listen(0, '127.0.0.1', resolve));
    try {
      const port = (huge.address() as AddressInfo).port;
      const run = await runCli(['invoke', '--url', `http://127.0.0.1:${port}/`, '--tenant', 'acme-corp'], {
        env: cliEnv,
      });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe('tenant-canary: the canary answered 200 with a body larger than 10 MiB\n');
      // The client hung up: the server never got to write the whole body.
      expect(written).toBeLessThan(total);
    } finally {
      huge.closeAllConnections();
      await new Promise<void>((resolve) => huge.close(() => resolve()));
    }
  });

  it('refuses bad usage before sending anything', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--url', url, '--tenant', 'Not A Tenant'], cliEnv, /--tenant must match/],
      [['--url', 'http://example.com/', '--tenant', 'acme-corp'], cliEnv, /--url must be an https:\/\/ Function URL/],
      [['--url', 'not a url', '--tenant', 'acme-corp'], cliEnv, /--url must be the Function URL/],
      [['--url', url, '--tenant', 'acme-corp'], { NO_COLOR: '1' }, /no AWS region/],
      [['--url', url, '--tenant', 'acme-corp', '--timeout', '0'], cliEnv, /--timeout must be/],
      [['--tenant', 'acme-corp'], cliEnv, /required option '--url <url>'/],
    ];
    for (const [args, env, message] of cases) {
      const run = await runCli(['invoke', ...args], { env });
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
    expect(seen).toHaveLength(0);
  });

  it('takes the region from a Function URL, else from the environment', () => {
    expect(regionFor(new URL('https://abcdef0123456789.lambda-url.eu-west-1.on.aws/'), {})).toBe('eu-west-1');
    expect(regionFor(new URL('https://abcdef0123456789.lambda-url.us-gov-west-1.on.aws/'), {})).toBe('us-gov-west-1');
    expect(regionFor(new URL('https://canary.example.com/'), { AWS_DEFAULT_REGION: 'ap-south-1' })).toBe('ap-south-1');
    expect(regionFor(new URL('https://canary.example.com/'), {})).toBeUndefined();
  });
});
