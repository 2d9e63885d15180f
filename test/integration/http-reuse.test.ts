/**
 * What the probe's HTTPS costs through a NAT, proven on a real TLS server on 127.0.0.1 behind the
 * bench's byte-counting proxy (bench/byte-proxy.ts): requests of one client reuse a kept-alive
 * connection (as many connections as requests in flight, no more), a later client (the next Lambda
 * invocation) opens new connections but resumes the TLS session, for fewer bytes than the full
 * handshake, and a cold process's concurrent first requests resume the first one's session
 * instead of each making a full handshake.
 */
import { readFile } from 'node:fs/promises';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ByteProxy, startByteProxy } from '../../bench/byte-proxy.ts';
import { createHttpClient } from '../../functions/adapters/http.ts';
import type { HttpClient, HttpResult } from '../../functions/ports.ts';
import { makeTestCertificates, type TestCertificates } from '../support/certs.ts';
import { sendJson, startServer, startSilentTcpServer, type TestServer } from '../support/servers.ts';

let certs: TestCertificates;
let ca: string;
const running: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  certs = await makeTestCertificates();
  ca = await readFile(certs.caFile, 'utf8');
});
afterAll(async () => {
  await certs.cleanup();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

/** Each TLS connection the server saw, by the client's port, and whether it resumed a session. */
interface Seen {
  port: number;
  resumed: boolean;
}

/** A TLS server answering after `delayMs`, behind a byte-counting proxy; the URL is the proxy's. */
async function proxiedServer(delayMs = 0): Promise<{ url: string; proxy: ByteProxy; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server: TestServer = await startServer((_request, res, req) => {
    const socket = req.socket as TLSSocket;
    if (!seen.some((s) => s.port === socket.remotePort))
      seen.push({ port: socket.remotePort ?? 0, resumed: socket.isSessionReused() });
    setTimeout(() => sendJson(res, 200, { ok: true }), delayMs);
  }, certs.valid);
  const proxy = await startByteProxy({ host: '127.0.0.1', port: server.port });
  running.push(proxy, server);
  return { url: `https://127.0.0.1:${proxy.port}/webhook`, proxy, seen };
}

function post(client: HttpClient, url: string): Promise<HttpResult> {
  return client.request({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ticket_id: 'SYNTH-1', description: 'x'.repeat(200) }),
    timeoutMs: 3000,
    maxBytes: 4096,
  });
}

/** Waits until the proxy has no open connection (a closed client's sockets are destroyed asynchronously). */
async function drained(proxy: ByteProxy): Promise<void> {
  for (let i = 0; i < 100 && proxy.open() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(proxy.open()).toBe(0);
}

const ok = (result: HttpResult) => expect(result.kind, JSON.stringify(result)).toBe('response');

describe('HTTPS through a NAT: connections and TLS sessions reused', () => {
  it('sends N requests to one host on one connection, and concurrent ones on as many as are in flight', async () => {
    const { url, proxy, seen } = await proxiedServer(50);
    const client = createHttpClient({ connectTimeoutMs: 2000, ca });
    try {
      for (let i = 0; i < 8; i++) ok(await post(client, url));
      expect(proxy.peek().connections).toBe(1);
      // Four at once need four sockets (HTTP/1.1: one request at a time on each), the kept one included.
      for (const result of await Promise.all(Array.from({ length: 4 }, () => post(client, url)))) ok(result);
      expect(proxy.peek().connections).toBe(4);
      // And then those four serve what follows: no new connection.
      for (let i = 0; i < 4; i++) ok(await post(client, url));
      for (const result of await Promise.all(Array.from({ length: 4 }, () => post(client, url)))) ok(result);
      expect(proxy.peek().connections).toBe(4);
      expect(seen).toHaveLength(4);
    } finally {
      await client.close();
    }
    await drained(proxy);
  });

  it("resumes the earlier client's TLS session on a new connection, for fewer bytes than the full handshake", async () => {
    const { url, proxy, seen } = await proxiedServer();
    const first = createHttpClient({ connectTimeoutMs: 2000, ca });
    ok(await post(first, url));
    await first.close(); // the invocation ends: its sockets with it
    await drained(proxy);
    const full = proxy.take();
    const second = createHttpClient({ connectTimeoutMs: 2000, ca });
    try {
      ok(await post(second, url));
    } finally {
      await second.close();
    }
    await drained(proxy);
    const resumed = proxy.take();
    // A new connection (sockets never outlive their client), on the session the first one left.
    expect(full.connections).toBe(1);
    expect(resumed.connections).toBe(1);
    expect(seen.map((s) => s.resumed)).toEqual([false, true]);
    // The same request: the resumed exchange sends no certificate and skips the key exchange's signature.
    const fullBytes = full.up + full.down;
    const resumedBytes = resumed.up + resumed.down;
    expect(resumedBytes).toBeLessThan(fullBytes - 300);
    expect(resumed.down).toBeLessThan(full.down / 2);
  });

  it("a cold process's concurrent first requests resume the first handshake's session instead of each making one", async () => {
    const { url, proxy, seen } = await proxiedServer(50);
    // A new origin: no session cached, as in a Lambda container's first invocation.
    const client = createHttpClient({ connectTimeoutMs: 2000, ca });
    try {
      for (const result of await Promise.all(Array.from({ length: 6 }, () => post(client, url)))) ok(result);
    } finally {
      await client.close();
    }
    await drained(proxy);
    const counts = proxy.take();
    expect(counts.connections).toBe(6);
    expect(seen).toHaveLength(6);
    expect(seen.filter((s) => !s.resumed)).toHaveLength(1);
    // One full handshake's certificate flight, five resumed: the five each move far fewer bytes down.
    const [firstConnection, ...others] = counts.perConnection;
    for (const other of others) expect(other.down).toBeLessThan((firstConnection?.down ?? 0) / 2);
  });

  it('holds the others at most half the connect timeout when the first handshake hangs, and lets an abort through at once', async () => {
    const silent = await startSilentTcpServer(); // accepts, never completes a TLS handshake
    running.push(silent);
    const url = `https://127.0.0.1:${silent.port}/webhook`;
    const client = createHttpClient({ connectTimeoutMs: 400, ca });
    try {
      const caller = new AbortController();
      const started = performance.now();
      const first = post(client, url);
      const second = post(client, url);
      const cancelled = client.request({
        method: 'GET',
        url,
        timeoutMs: 3000,
        maxBytes: 1024,
        signal: caller.signal,
      });
      setTimeout(() => caller.abort(), 50);
      const cancelledResult = await cancelled;
      expect(cancelledResult).toMatchObject({ kind: 'timeout', cancelled: true });
      expect(performance.now() - started).toBeLessThan(180); // not held until the wait ends (200 ms)
      // Each ends as its own connect timeout (waited 200 ms, then 400 ms of its own), not at the deadline.
      for (const result of [await first, await second])
        expect(result).toMatchObject({ kind: 'timeout', phase: 'connect' });
      const elapsed = (await second).elapsedMs;
      expect(elapsed).toBeGreaterThanOrEqual(550);
      expect(elapsed).toBeLessThan(1500);
    } finally {
      await client.close();
    }
  });
});
