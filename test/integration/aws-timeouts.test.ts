/**
 * Every AWS client the adapters build, pointed at an endpoint that accepts connections and never
 * answers: each call fails with the SDK's TimeoutError in bounded time (connect and request
 * timeouts, at most three attempts) instead of hanging. Real SDK clients, real sockets on 127.0.0.1.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, expect, it } from 'vitest';
import { AWS_MAX_ATTEMPTS, AWS_REQUEST_TIMEOUT_MS } from '../../functions/adapters/aws-client.ts';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { createSnsPublisher } from '../../functions/adapters/sns.ts';
import { createTenantQueue } from '../../functions/adapters/sqs.ts';
import { createDynamoStateStore } from '../../functions/adapters/state-dynamodb.ts';
import { createSweepLedger } from '../../functions/adapters/sweep-ledger.ts';

interface SilentEndpoint {
  url: string;
  /** Connections accepted (one per attempt: a timed-out request's socket is destroyed). */
  connections: () => number;
  close(): Promise<void>;
}

const endpoints: SilentEndpoint[] = [];
afterAll(async () => {
  await Promise.all(endpoints.map((endpoint) => endpoint.close()));
});

async function silentEndpoint(): Promise<SilentEndpoint> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const endpoint: SilentEndpoint = {
    url: `http://127.0.0.1:${address.port}`,
    connections: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  endpoints.push(endpoint);
  return endpoint;
}

const clientConfig = (endpoint: SilentEndpoint) => ({
  endpoint: endpoint.url,
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDCANARYTEST', secretAccessKey: 'canary-test-secret-key' },
});

/** Three attempts of one request timeout, the retry backoff, and slack for a loaded machine. */
const BOUND_MS = AWS_MAX_ATTEMPTS * AWS_REQUEST_TIMEOUT_MS + 8000;

async function settleTime<T>(work: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const start = performance.now();
  try {
    const value = await work();
    return { ms: performance.now() - start, value };
  } catch (error) {
    return { ms: performance.now() - start, error };
  }
}

it('ends every call to a silent endpoint with a TimeoutError, after at most three attempts', async () => {
  const [sm, sns, sqs, state, sweep] = await Promise.all(Array.from({ length: 5 }, silentEndpoint));
  const topic = 'arn:aws:sns:eu-west-1:123456789012:canary';

  const [secret, published, queued, loaded, opened] = await Promise.all([
    settleTime(() =>
      createSecretResolver({ env: {}, clientConfig: clientConfig(sm as SilentEndpoint) }).resolve({
        secretId: 'canary/silent',
      }),
    ),
    settleTime(() =>
      createSnsPublisher({
        topics: { P0: topic, P1: topic, P2: topic, P3: topic },
        clientConfig: clientConfig(sns as SilentEndpoint),
      }).publish([
        {
          id: 'webhook.signed_accepted:t1#1',
          state: 'firing',
          tier: 'P1',
          checkId: 'webhook.signed_accepted',
          tenantId: 't1',
          dedupKey: 'webhook.signed_accepted:t1',
          kind: 'check',
          firstFailedAt: '2026-11-27T10:00:00.000Z',
          createdAt: '2026-11-27T10:05:00.000Z',
          summary: 'The signed synthetic ticket of t1 got 401.',
          evidence: { status: 401 },
          runbook: 'Issue 1, Resolution B: Signature Validation Fails',
          firstStep: 'Compare the signing secrets.',
          escalatedFrom: null,
          note: null,
        },
      ]),
    ),
    settleTime(() =>
      createTenantQueue({
        queueUrl: `${(sqs as SilentEndpoint).url}/123456789012/canary`,
        clientConfig: clientConfig(sqs as SilentEndpoint),
      }).send([{ tenantId: 't1', runId: 'r1' }]),
    ),
    settleTime(() =>
      createDynamoStateStore({ tableName: 'state', clientConfig: clientConfig(state as SilentEndpoint) }).load([
        'webhook.signed_accepted:t1',
      ]),
    ),
    settleTime(() =>
      createSweepLedger({ tableName: 'sweeps', clientConfig: clientConfig(sweep as SilentEndpoint) }).open(
        'sweep-2026-11-27T10:05:00.000Z',
        ['t1'],
        new Date('2026-11-27T10:10:00Z'),
        new Date('2026-11-27T10:05:00Z'),
      ),
    ),
  ]);

  expect(String((secret.error as Error | undefined)?.message)).toBe(
    'Secrets Manager secret canary/silent cannot be read: TimeoutError',
  );
  expect(published.value).toEqual({
    delivered: [],
    failed: [{ id: 'webhook.signed_accepted:t1#1', reason: 'TimeoutError' }],
  });
  expect(queued.value).toEqual({ sent: 0, failed: [{ tenantId: 't1', reason: 'TimeoutError' }] });
  expect(String((loaded.error as Error | undefined)?.message)).toMatch(/^alert state table state: .*\(TimeoutError\)$/);
  expect(String((opened.error as Error | undefined)?.message)).toMatch(/^sweep table sweeps: .*\(TimeoutError\)$/);

  for (const outcome of [secret, published, queued, loaded, opened]) expect(outcome.ms).toBeLessThan(BOUND_MS);
  for (const endpoint of [sm, sns, sqs, state, sweep] as SilentEndpoint[]) {
    expect(endpoint.connections()).toBeGreaterThanOrEqual(1);
    expect(endpoint.connections()).toBeLessThanOrEqual(AWS_MAX_ATTEMPTS);
  }
}, 60_000);
