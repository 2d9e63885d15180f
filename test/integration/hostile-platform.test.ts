/**
 * A platform that never answers, or answers with 200 MB, is a check result: the run ends within
 * its budgets and memory stays bounded.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Report } from '../../functions/core/types.ts';
import { runCli } from '../support/cli.ts';

const REQUEST_TIMEOUT_MS = 800;

interface Hostile {
  url: string;
  bytesSent: () => number;
  close: () => Promise<void>;
}

async function listen(server: Server, sockets: Set<Socket>): Promise<string> {
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  return `http://127.0.0.1:${address.port}`;
}

function closer(server: Server, sockets: Set<Socket>) {
  return async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

/** Accepts connections and requests, never answers. */
async function silentServer(): Promise<Hostile> {
  const sockets = new Set<Socket>();
  const server = createServer(() => {});
  const url = await listen(server, sockets);
  return { url, bytesSent: () => 0, close: closer(server, sockets) };
}

/** Answers every request with 200 and a 200 MB body, respecting backpressure. */
async function floodServer(): Promise<Hostile> {
  const sockets = new Set<Socket>();
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const total = 200 * 1024 * 1024;
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(total) });
    let written = 0;
    const pump = () => {
      while (written < total && !res.destroyed) {
        written += chunk.length;
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end();
    };
    res.on('close', () => res.destroy());
    pump();
  });
  const url = await listen(server, sockets);
  return { url, bytesSent: () => sent, close: closer(server, sockets) };
}

let hostile: Hostile | undefined;
let dir: string | undefined;
afterEach(async () => {
  await hostile?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  hostile = undefined;
  dir = undefined;
});

async function runAgainst(
  url: string,
): Promise<{ report: Report; code: number; elapsedMs: number; peakRssGrowthMb: number }> {
  dir = await mkdtemp(join(tmpdir(), 'canary-hostile-'));
  const file = join(dir, 'config.json');
  await writeFile(
    file,
    JSON.stringify({
      platform: { baseUrl: url },
      tenants: ['acme-corp', 'globex', 'initech'].map((tenantId) => ({
        tenantId,
        signingSecret: { value: `${tenantId}-s3cret-value` },
      })),
      thresholds: { requestTimeoutMs: REQUEST_TIMEOUT_MS },
    }),
  );
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  const started = Date.now();
  const run = await runCli(['run', '--config', file, '--json']);
  const elapsedMs = Date.now() - started;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  return {
    report: JSON.parse(run.stdout) as Report,
    code: run.code,
    elapsedMs,
    peakRssGrowthMb: (peak - baseline) / 2 ** 20,
  };
}

describe('a hostile platform', () => {
  it('that never answers: every HTTP check ends within its budget, as fail or error', async () => {
    hostile = await silentServer();
    const { report, code, elapsedMs } = await runAgainst(hostile.url);
    expect(code).toBe(1);
    // All checks run concurrently: the run costs about one request budget, not one per check.
    expect(elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS * 4);
    const health = report.results.find((r) => r.checkId === 'api.health');
    expect(health).toMatchObject({ status: 'fail', tier: 'P0' });
    expect(health?.summary).toMatch(/time|answer/i);
    for (const result of report.results.filter((r) => r.checkId === 'webhook.signed_accepted')) {
      expect(result).toMatchObject({ status: 'fail', tier: 'P1' });
    }
    for (const result of report.results.filter((r) => r.checkId === 'webhook.bad_signature_rejected')) {
      // A receiver that does not answer proves nothing about its signature checking.
      expect(result).toMatchObject({ status: 'error', tier: 'P2' });
    }
  });

  it('that streams 200 MB: bodies are cut at the cap, the run is quick and memory stays bounded', async () => {
    hostile = await floodServer();
    const { report, elapsedMs, peakRssGrowthMb } = await runAgainst(hostile.url);
    expect(elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS * 4);
    expect(report.results.find((r) => r.checkId === 'api.health')).toMatchObject({ status: 'fail', tier: 'P0' });
    // 19 requests at 1 MiB each at most; far from 19 x 200 MB.
    expect(hostile.bytesSent()).toBeLessThan(200 * 1024 * 1024);
    expect(peakRssGrowthMb).toBeLessThan(100);
  });
});
