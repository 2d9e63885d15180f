import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../functions/adapters/http.ts';
import type { HttpClient, HttpResult } from '../../functions/ports.ts';
import { makeTestCertificates, type TestCertificates } from '../support/certs.ts';
import {
  closedPort,
  hang,
  htmlPage,
  type StreamStats,
  sendJson,
  startServer,
  startSilentTcpServer,
  streamHuge,
  type TestServer,
} from '../support/servers.ts';

const MB = 1024 * 1024;

let client: HttpClient;
const servers: TestServer[] = [];

async function serve(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const server = await startServer(...args);
  servers.push(server);
  return server;
}

function expectKind<K extends HttpResult['kind']>(result: HttpResult, kind: K): Extract<HttpResult, { kind: K }> {
  expect(result.kind, JSON.stringify(result)).toBe(kind);
  return result as Extract<HttpResult, { kind: K }>;
}

beforeAll(() => {
  client = createHttpClient({ connectTimeoutMs: 1000 });
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterAll(async () => {
  await client.close();
});

describe('createHttpClient', () => {
  it('returns the status, headers and parsed JSON of an ordinary answer', async () => {
    const server = await serve((_request, res) => sendJson(res, 200, { status: 'healthy' }, { 'x-trace': 'abc' }));

    const result = expectKind(
      await client.request({ method: 'GET', url: `${server.url}/health`, timeoutMs: 2000, maxBytes: 1024 }),
      'response',
    );

    expect(result.status).toBe(200);
    expect(result.headers['x-trace']).toBe('abc');
    expect(result.json).toEqual({ status: 'healthy' });
    expect(result.bodyText).toBe('{"status":"healthy"}');
    expect(result.truncated).toBe(false);
    expect(server.received[0]?.url).toBe('/health');
  });

  it('sends the method, headers and exact body bytes it is given', async () => {
    const server = await serve((_request, res) => sendJson(res, 202, { ok: true }));
    const body = '{"a":"é","b":1}';

    await client.request({
      method: 'POST',
      url: `${server.url}/webhook`,
      headers: { 'content-type': 'application/json', 'x-servicedesk-signature': 'sha256=00' },
      body,
      timeoutMs: 2000,
      maxBytes: 1024,
    });

    const received = server.received[0];
    expect(received?.method).toBe('POST');
    expect(received?.body).toBe(body);
    expect(received?.headers['x-servicedesk-signature']).toBe('sha256=00');
    expect(received?.headers['content-type']).toBe('application/json');
  });

  it('returns a non-JSON body as text with json undefined', async () => {
    const html = await serve(htmlPage(502));
    const badJson = await serve((_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status": "heal');
    });

    const page = expectKind(
      await client.request({ method: 'GET', url: html.url, timeoutMs: 2000, maxBytes: 1024 }),
      'response',
    );
    const broken = expectKind(
      await client.request({ method: 'GET', url: badJson.url, timeoutMs: 2000, maxBytes: 1024 }),
      'response',
    );

    expect(page.status).toBe(502);
    expect(page.bodyText).toContain('Bad gateway');
    expect(page.json).toBeUndefined();
    expect(broken.bodyText).toBe('{"status": "heal');
    expect(broken.json).toBeUndefined();
  });

  it('keeps a body of exactly maxBytes whole and truncates one byte more', async () => {
    const server = await serve((request, res) => sendJson(res, 200, { pad: 'x'.repeat(Number(request.url.slice(1))) }));
    const size = (pad: number) => JSON.stringify({ pad: 'x'.repeat(pad) }).length;

    const exact = expectKind(
      await client.request({ method: 'GET', url: `${server.url}/100`, timeoutMs: 2000, maxBytes: size(100) }),
      'response',
    );
    const over = expectKind(
      await client.request({ method: 'GET', url: `${server.url}/101`, timeoutMs: 2000, maxBytes: size(100) }),
      'response',
    );

    expect(exact.truncated).toBe(false);
    expect(exact.json).toEqual({ pad: 'x'.repeat(100) });
    expect(over.truncated).toBe(true);
    expect(over.bodyText).toHaveLength(size(100));
    expect(over.json).toBeUndefined();
  });

  it('gives up on a server that accepts and never answers at the deadline', async () => {
    const server = await serve(hang);
    const started = performance.now();

    const result = expectKind(
      await client.request({ method: 'GET', url: server.url, timeoutMs: 500, maxBytes: 1024 }),
      'timeout',
    );
    const wallMs = performance.now() - started;

    expect(result.phase).toBe('response');
    expect(result.cancelled).toBeUndefined();
    expect(wallMs).toBeGreaterThanOrEqual(490);
    expect(wallMs).toBeLessThan(500 + 250);
    console.info(`hang: timeoutMs 500, returned after ${Math.round(wallMs)} ms`);
  });

  it('times out in the connect phase when the TLS handshake never completes', async () => {
    const silent = await startSilentTcpServer();
    const fast = createHttpClient({ connectTimeoutMs: 300 });
    try {
      const started = performance.now();
      const result = expectKind(
        await fast.request({
          method: 'GET',
          url: `https://127.0.0.1:${silent.port}/`,
          timeoutMs: 3000,
          maxBytes: 1024,
        }),
        'timeout',
      );
      expect(result.phase).toBe('connect');
      expect(performance.now() - started).toBeLessThan(300 + 250);
    } finally {
      await fast.close();
      await silent.close();
    }
  });

  it('enforces the deadline even while still connecting', async () => {
    const silent = await startSilentTcpServer();
    const slowConnect = createHttpClient({ connectTimeoutMs: 10_000 });
    try {
      const started = performance.now();
      const result = expectKind(
        await slowConnect.request({
          method: 'GET',
          url: `https://127.0.0.1:${silent.port}/`,
          timeoutMs: 300,
          maxBytes: 1024,
        }),
        'timeout',
      );
      expect(result.phase).toBe('response');
      expect(performance.now() - started).toBeLessThan(300 + 250);
    } finally {
      await slowConnect.close();
      await silent.close();
    }
  });

  it('stops reading a 200 MB body at maxBytes, drops the connection and keeps memory bounded', async () => {
    const stats: { current?: StreamStats } = {};
    const server = await serve(streamHuge(200 * MB, stats));
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 5);
    const started = performance.now();

    const result = expectKind(
      await client.request({ method: 'GET', url: server.url, timeoutMs: 10_000, maxBytes: MB }),
      'response',
    );
    const wallMs = performance.now() - started;
    const stopped = await Promise.race([
      stats.current?.stopped.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 2000)),
    ]);
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    const growthMb = (rssPeak - rssBefore) / MB;
    const writtenMb = (stats.current?.bytesWritten ?? 0) / MB;

    expect(result.truncated).toBe(true);
    expect(result.bodyText.length).toBe(MB);
    expect(result.json).toBeUndefined();
    expect(wallMs).toBeLessThan(2000);
    expect(stopped).toBe(true);
    expect(writtenMb).toBeLessThan(64);
    expect(growthMb).toBeLessThan(64);
    console.info(
      `200 MB stream: returned after ${Math.round(wallMs)} ms, server wrote ${writtenMb.toFixed(1)} MB before the client left, peak RSS growth ${growthMb.toFixed(1)} MB`,
    );
  });

  it('returns a 302 as it is and does not follow it', async () => {
    const server = await serve((request, res) => {
      if (request.url === '/elsewhere') return sendJson(res, 200, { followed: true });
      res.writeHead(302, { location: '/elsewhere' });
      res.end();
    });

    const result = expectKind(
      await client.request({ method: 'GET', url: `${server.url}/health`, timeoutMs: 2000, maxBytes: 1024 }),
      'response',
    );

    expect(result.status).toBe(302);
    expect(result.headers.location).toBe('/elsewhere');
    expect(server.received.map((request) => request.url)).toEqual(['/health']);
  });

  it('reports a refused connection as a network error', async () => {
    const port = await closedPort();

    const result = expectKind(
      await client.request({ method: 'GET', url: `http://127.0.0.1:${port}/`, timeoutMs: 2000, maxBytes: 1024 }),
      'network',
    );

    expect(result.code).toBe('ECONNREFUSED');
    expect(result.message).toContain('ECONNREFUSED');
  });

  it("stops as soon as the caller's signal aborts", async () => {
    const server = await serve(hang);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();

    const result = expectKind(
      await client.request({
        method: 'GET',
        url: server.url,
        timeoutMs: 10_000,
        maxBytes: 1024,
        signal: controller.signal,
      }),
      'timeout',
    );

    expect(result.cancelled).toBe(true);
    expect(performance.now() - started).toBeLessThan(600);
  });

  it('does not send anything when the signal is already aborted', async () => {
    const server = await serve(hang);

    const result = await client.request({
      method: 'GET',
      url: server.url,
      timeoutMs: 2000,
      maxBytes: 1024,
      signal: AbortSignal.abort(),
    });

    expect(result).toMatchObject({ kind: 'timeout', cancelled: true });
    expect(server.received).toHaveLength(0);
  });

  it('reports a connection reset in the middle of the body as a network error', async () => {
    const server = await serve((_request, res, req) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"status":');
      setTimeout(() => req.socket.resetAndDestroy(), 50);
    });

    const result = expectKind(
      await client.request({ method: 'GET', url: server.url, timeoutMs: 2000, maxBytes: 4096 }),
      'network',
    );

    expect(result.code).toBe('ECONNRESET');
  });

  it('reports a connection closed before the promised length as a network error', async () => {
    const server = await serve((_request, res, req) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 50);
    });

    const result = expectKind(
      await client.request({ method: 'GET', url: server.url, timeoutMs: 2000, maxBytes: 4096 }),
      'network',
    );

    expect(result.code).toBe('ECONNRESET');
  });

  it('reuses a kept-alive connection, and a reused one is not held to the connect timeout', async () => {
    const remotePorts = new Set<number>();
    const server = await serve((_request, res, req) => {
      remotePorts.add(req.socket.remotePort ?? 0);
      setTimeout(() => sendJson(res, 200, { ok: true }), 80);
    });
    const tight = createHttpClient({ connectTimeoutMs: 50 });
    try {
      for (let i = 0; i < 3; i++) {
        // Each answer takes longer than the connect timeout: a timer left running on a reused
        // socket would end the request as a connect timeout.
        expectKind(
          await tight.request({ method: 'GET', url: server.url, timeoutMs: 2000, maxBytes: 1024 }),
          'response',
        );
      }
      expect(remotePorts.size).toBe(1);
    } finally {
      await tight.close();
    }
  });

  it('refuses a URL that is not http or https without sending anything', async () => {
    const result = expectKind(
      await client.request({ method: 'GET', url: 'ftp://127.0.0.1/file', timeoutMs: 1000, maxBytes: 1024 }),
      'network',
    );
    expect(result.code).toBe('ERR_INVALID_PROTOCOL');
  });

  it('counts requests and never throws once closed', async () => {
    const server = await serve((_request, res) => sendJson(res, 200, {}));
    const own = createHttpClient({ connectTimeoutMs: 1000 });

    await own.request({ method: 'GET', url: server.url, timeoutMs: 2000, maxBytes: 1024 });
    await own.request({ method: 'GET', url: server.url, timeoutMs: 2000, maxBytes: 1024 });
    expect(own.requestCount).toBe(2);
    await own.close();
    await own.close();
    const afterClose = await own.request({ method: 'GET', url: server.url, timeoutMs: 2000, maxBytes: 1024 });

    expect(afterClose.kind).toBe('network');
    expect(own.requestCount).toBe(3);
  });

  describe('with a private CA', () => {
    let certs: TestCertificates;
    /** The private CA's PEM, trusted by the clients of these tests. */
    let ca: string;
    beforeAll(async () => {
      certs = await makeTestCertificates();
      ca = await readFile(certs.caFile, 'utf8');
    });
    afterAll(async () => {
      await certs.cleanup();
    });

    it('rejects a certificate from an unknown CA and trusts it once the CA is given', async () => {
      const server = await serve((_request, res) => sendJson(res, 200, { status: 'healthy' }), certs.valid);
      const trusting = createHttpClient({ connectTimeoutMs: 1000, ca });
      try {
        const untrusted = expectKind(
          await client.request({ method: 'GET', url: server.url, timeoutMs: 2000, maxBytes: 1024 }),
          'network',
        );
        const trusted = expectKind(
          await trusting.request({ method: 'GET', url: server.url, timeoutMs: 2000, maxBytes: 1024 }),
          'response',
        );

        expect(untrusted.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
        expect(trusted.json).toEqual({ status: 'healthy' });
      } finally {
        await trusting.close();
      }
    });

    it("resumes the TLS session of an earlier client (the next invocation's), but never reuses its sockets", async () => {
      const seen: { port: number; resumed: boolean }[] = [];
      const server = await serve((_request, res, req) => {
        const socket = req.socket as import('node:tls').TLSSocket;
        seen.push({ port: socket.remotePort ?? 0, resumed: socket.isSessionReused() });
        sendJson(res, 200, { ok: true });
      }, certs.valid);
      const get = (c: HttpClient) => c.request({ method: 'GET', url: server.url, timeoutMs: 2000, maxBytes: 1024 });
      const first = createHttpClient({ connectTimeoutMs: 1000, ca });
      expectKind(await get(first), 'response');
      expectKind(await get(first), 'response'); // kept alive: the same socket
      await first.close();
      const second = createHttpClient({ connectTimeoutMs: 1000, ca });
      try {
        expectKind(await get(second), 'response');
      } finally {
        await second.close();
      }
      expect(seen).toHaveLength(3);
      expect(seen[1]!.port).toBe(seen[0]!.port);
      // A new connection (the first client's sockets died with it), on the session it left.
      expect(seen[2]!.port).not.toBe(seen[0]!.port);
      expect(seen[2]!.resumed).toBe(true);
    });

    it('ends a request started in the same tick as close, and leaves no idle socket after the last client', async () => {
      const ports: number[] = [];
      const server = await serve((_request, res, req) => {
        ports.push(req.socket.remotePort ?? 0);
        sendJson(res, 200, { ok: true });
      }, certs.valid);
      const get = (c: HttpClient) => c.request({ method: 'GET', url: server.url, timeoutMs: 2000, maxBytes: 1024 });
      const a = createHttpClient({ connectTimeoutMs: 1000, ca });
      expectKind(await get(a), 'response'); // leaves an idle kept-alive socket
      const late = get(a);
      await a.close(); // same tick: the request has no socket yet
      expect((await late).kind).not.toBe('response');
      const b = createHttpClient({ connectTimeoutMs: 1000, ca });
      try {
        expectKind(await get(b), 'response');
      } finally {
        await b.close();
      }
      // b opened a connection of its own: nothing a's life left behind was reused.
      expect(new Set(ports).size).toBe(ports.length);
    });

    it('hands an idle socket to another client safely even when its first client closes in that tick', async () => {
      const server = await serve((_request, res) => sendJson(res, 200, { ok: true }), certs.valid);
      const get = (c: HttpClient) => c.request({ method: 'GET', url: server.url, timeoutMs: 2000, maxBytes: 1024 });
      const a = createHttpClient({ connectTimeoutMs: 1000, ca });
      const b = createHttpClient({ connectTimeoutMs: 1000, ca });
      try {
        expectKind(await get(a), 'response');
        const taken = get(b); // takes a's idle socket
        await a.close();
        expectKind(await taken, 'response');
      } finally {
        await b.close();
      }
    });

    it("closing one client leaves another's request on the shared agent alone", async () => {
      const server = await serve((_request, res) => {
        setTimeout(() => sendJson(res, 200, { ok: true }), 200);
      }, certs.valid);
      const a = createHttpClient({ connectTimeoutMs: 1000, ca });
      const b = createHttpClient({ connectTimeoutMs: 1000, ca });
      try {
        const pending = b.request({ method: 'GET', url: server.url, timeoutMs: 3000, maxBytes: 1024 });
        const inFlightOfA = a.request({ method: 'GET', url: server.url, timeoutMs: 3000, maxBytes: 1024 });
        await new Promise((resolve) => setTimeout(resolve, 50));
        await a.close();
        expect((await inFlightOfA).kind).toBe('network'); // its own request ends with it
        expectKind(await pending, 'response');
      } finally {
        await b.close();
      }
    });
  });
});
