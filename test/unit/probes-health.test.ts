import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../functions/adapters/http.ts';
import type { Outcome } from '../../functions/core/types.ts';
import type { HttpClient } from '../../functions/ports.ts';
import { probeHealth } from '../../functions/probes/health.ts';
import { controlsIn, secretPieces } from '../support/hostile-text.ts';
import {
  effectiveTier,
  platformContext,
  resolveTenants,
  type TestConfigExtra,
  testConfig,
} from '../support/probe-context.ts';
import {
  closedPort,
  type Handler,
  hang,
  htmlPage,
  type StreamStats,
  sendJson,
  startServer,
  streamHuge,
  type TestServer,
} from '../support/servers.ts';

const HEALTHY = {
  status: 'healthy',
  service: 'AI Agents',
  dependencies: { database: 'healthy', redis: 'healthy' },
};

let http: HttpClient;
const servers: TestServer[] = [];

async function serve(handler: Handler): Promise<TestServer> {
  const server = await startServer(handler);
  servers.push(server);
  return server;
}

async function check(
  baseUrl: string,
  options: {
    thresholds?: TestConfigExtra['thresholds'];
    healthPath?: string;
    signal?: AbortSignal;
    /** The run's tenants and their signing secrets. @default none */
    secrets?: Record<string, string>;
  } = {},
): Promise<Outcome> {
  const config = testConfig(
    baseUrl,
    { 'acme-corp': 'unused-secret' },
    { thresholds: options.thresholds, platform: options.healthPath ? { healthPath: options.healthPath } : {} },
  );
  const ctx = platformContext(config, http, { signal: options.signal });
  return probeHealth({ ...ctx, tenants: resolveTenants(options.secrets ?? {}) });
}

beforeAll(() => {
  http = createHttpClient({ connectTimeoutMs: 1000 });
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterAll(async () => {
  await http.close();
});

describe('probeHealth', () => {
  it('passes when the API answers 200 with status "healthy"', async () => {
    const server = await serve((_request, res) => sendJson(res, 200, HEALTHY));

    const outcome = await check(server.url);

    expect(outcome.status).toBe('pass');
    expect(outcome.evidence).toMatchObject({
      url: `${server.url}/health`,
      status: 200,
      reportedStatus: 'healthy',
      dependencies: { database: 'healthy', redis: 'healthy' },
    });
    expect(outcome.evidence?.elapsedMs).toEqual(expect.any(Number));
    expect(server.received.map((request) => `${request.method} ${request.url}`)).toEqual(['GET /health']);
  });

  it('requests the configured path under the base URL and reports the URL without credentials', async () => {
    const server = await serve((_request, res) => sendJson(res, 200, HEALTHY));

    const outcome = await check(`${server.url.replace('http://', 'http://ops:hunter2@')}/api?token=abc`, {
      healthPath: '/api/v1/health',
    });

    expect(outcome.status).toBe('pass');
    expect(server.received[0]?.url).toBe('/api/api/v1/health');
    expect(outcome.evidence?.url).toBe(`${server.url}/api/api/v1/health`);
    expect(JSON.stringify(outcome)).not.toContain('hunter2');
  });

  it('reports P0 naming the unhealthy dependency when the API answers 503', async () => {
    const server = await serve((_request, res) =>
      sendJson(res, 503, { status: 'unhealthy', dependencies: { database: 'healthy', redis: 'unhealthy' } }),
    );

    const outcome = await check(server.url);

    expect(outcome.status).toBe('fail');
    expect(effectiveTier('api.health', outcome)).toBe('P0');
    expect(outcome.summary).toBe('the health endpoint answered HTTP 503; unhealthy: redis (unhealthy)');
    expect(outcome.evidence).toMatchObject({ status: 503, dependencies: { database: 'healthy', redis: 'unhealthy' } });
  });

  it('fails when the API answers 200 but reports another status', async () => {
    const server = await serve((_request, res) =>
      sendJson(res, 200, { status: 'degraded', dependencies: { database: { status: 'down', latencyMs: 5000 } } }),
    );

    const outcome = await check(server.url);

    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toBe(
      'the health endpoint reports status "degraded", not "healthy"; unhealthy: database (down)',
    );
  });

  it('strips escape sequences from the status and the dependency names and states', async () => {
    const server = await serve((_request, res) =>
      sendJson(res, 503, {
        status: '\u001b[2K\u001b[1G\u001b[32mhealthy\u001b[8m',
        dependencies: { '\u001b[8mdatabase': '\u001b]0;pwned\u0007down', 'redis\u202e': '\u009b2Kunhealthy' },
      }),
    );

    const outcome = await check(server.url);

    expect(outcome.status).toBe('fail');
    expect(controlsIn(JSON.stringify(outcome))).toEqual([]);
    expect(JSON.stringify(outcome)).not.toContain('\\u001b');
    expect(outcome.evidence).toMatchObject({
      reportedStatus: 'healthy',
      dependencies: { database: 'down', redis: 'unhealthy' },
    });
    expect(outcome.summary).toBe(
      'the health endpoint answered HTTP 503; unhealthy: database (down), redis (unhealthy)',
    );
  });

  it('scrubs a signing secret the health body echoes before cutting the text to 100 characters', async () => {
    const secret = 'Ac"me\\S3cr3t-7QxZpL';
    // The secret straddles the 100-character cut of the status and of a dependency name.
    const server = await serve((_request, res) =>
      sendJson(res, 200, {
        status: `${'s'.repeat(90)}${secret}`,
        dependencies: { [`${'d'.repeat(92)}${secret}`]: 'down' },
      }),
    );

    const outcome = await check(server.url, { secrets: { 'acme-corp': secret } });

    expect(outcome.status).toBe('fail');
    expect(String(outcome.evidence?.reportedStatus).length).toBeLessThanOrEqual(100);
    const text = JSON.stringify(outcome);
    for (const piece of secretPieces(secret)) expect(text).not.toContain(piece);
  });

  it('does not read a JSON body nested thousands deep, and says so', async () => {
    const server = await serve((_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"status":"healthy","dependencies":${'['.repeat(5_000)}${']'.repeat(5_000)}}`);
    });

    const outcome = await check(server.url);

    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toBe(
      'the health endpoint answered HTTP 200 with JSON the canary does not read (JSON nested deeper than 64 levels, not parsed)',
    );
  });

  it('fails when the JSON has no status field', async () => {
    const server = await serve((_request, res) => sendJson(res, 200, { ok: true }));

    const outcome = await check(server.url);

    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('has no "status" field');
  });

  it('fails when the body is not JSON', async () => {
    const server = await serve(htmlPage(200));

    const outcome = await check(server.url);

    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toBe('the health endpoint answered HTTP 200 but not with JSON (content-type text/html)');
  });

  it('fails on a redirect without following it', async () => {
    const server = await serve((request, res) => {
      if (request.url === '/login') return sendJson(res, 200, HEALTHY);
      res.writeHead(302, { location: '/login' });
      res.end();
    });

    const outcome = await check(server.url);

    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('HTTP 302');
    expect(server.received).toHaveLength(1);
  });

  it('fails quickly when the body is larger than maxResponseBytes', async () => {
    const stats: { current?: StreamStats } = {};
    const server = await serve(streamHuge(200 * 1024 * 1024, stats));
    const started = performance.now();

    const outcome = await check(server.url, { thresholds: { maxResponseBytes: 64 * 1024 } });

    expect(performance.now() - started).toBeLessThan(2000);
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toBe(
      'the health endpoint answered HTTP 200 with a body over 65536 bytes (thresholds.maxResponseBytes)',
    );
  });

  it('fails at the request timeout when the API never answers', async () => {
    const server = await serve(hang);
    const started = performance.now();

    const outcome = await check(server.url, { thresholds: { requestTimeoutMs: 400 } });

    expect(performance.now() - started).toBeLessThan(400 + 300);
    expect(outcome.status).toBe('fail');
    expect(effectiveTier('api.health', outcome)).toBe('P0');
    expect(outcome.summary).toBe(`the health endpoint ${server.url}/health did not answer within 400 ms`);
    expect(outcome.evidence).toMatchObject({ status: null, error: 'timeout (response)' });
  });

  it('fails when nothing listens', async () => {
    const port = await closedPort();

    const outcome = await check(`http://127.0.0.1:${port}`);

    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('could not be reached (ECONNREFUSED');
    expect(outcome.evidence).toMatchObject({ status: null, error: 'ECONNREFUSED' });
  });

  it("reports an error, not an outage, when the check's budget runs out first", async () => {
    const server = await serve(hang);

    const outcome = await check(server.url, { signal: AbortSignal.timeout(100) });

    expect(outcome).toMatchObject({ status: 'error', tier: 'P2' });
  });
});
