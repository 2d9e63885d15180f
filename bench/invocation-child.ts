/**
 * One real probe invocation, as Lambda runs it: the probe function's bundle from the synthesised
 * asset, imported by plain Node, its handler fed SQS batches of sandbox tenants with the stack's
 * settings (the embedded config beside it, the alert-state and sweep tables on dynalite, every
 * other AWS endpoint on a closed loopback port: nothing leaves the machine). Its stdout (log
 * lines and EMF) is captured and counted.
 *
 * Input (argv[2], JSON): {@link InvocationChildInput}. Output: one JSON line, {@link InvocationChildOutput}.
 */

import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { createSweepLedger } from '../functions/adapters/sweep-ledger.ts';
import type { ConfigInput } from '../functions/core/config.ts';
import { EMBEDDED_CONFIG_FILE, LAMBDA_ENV } from '../functions/core/lambda-env.ts';
import { sweepIdAt } from '../functions/core/tables.ts';
import { sqsRecord } from '../sim/sqs-record.ts';
import { stateTableShape, sweepTableShape } from '../test/support/dynamo.ts';
import { type ByteCounts, type ByteProxy, startByteProxy } from './byte-proxy.ts';
import { benchLambdaContext } from './lambda-context.ts';

export interface InvocationChildInput {
  /** The probe asset's bundle (index.mjs). */
  bundle: string;
  /** A directory in the repository tree (so the external AWS SDK resolves from node_modules). */
  taskRoot: string;
  /** The config to embed: the sandbox's, with the deployed run settings. */
  config: ConfigInput;
  batchSize: number;
  memoryMb: number;
  /** Milliseconds to wait after the priming invocation, for the worker to enhance its tickets. */
  primeWaitMs: number;
  /** Measured rounds (each: every tenant alone, then the batch). */
  rounds: number;
}

export interface InvocationChildOutput {
  batch: number;
  /** Wall ms of each measured batch invocation. */
  batchMs: number[];
  /** Per round, the slowest tenant of the batch probed alone (a batch of one), ms. */
  aloneMaxMs: number[];
  /** CPU ms of each batch invocation (user + system, this process). */
  batchCpuMs: number[];
  /** Wall ms of the first (cold: bundle just imported, SDK clients loaded on first use) invocation. */
  firstMs: number;
  importMs: number;
  /** Bytes and lines the handler wrote to stdout per batch invocation: log lines and EMF lines. */
  logLines: number;
  logBytes: number;
  emfLines: number;
  emfBytes: number;
  failedRecords: number;
  peakRssMb: number;
  /** What crossed the loopback proxies per invocation (bench/byte-proxy.ts): the NAT's data. */
  network: {
    /** The container's first invocation (a batch): every TLS handshake full. */
    cold: NetworkSample;
    /** Each measured (warm) batch invocation. */
    batch: NetworkSample[];
    /** Each warm invocation of one tenant (every round, every tenant of the batch). */
    alone: NetworkSample[];
  };
}

/** One invocation's traffic through the proxies. */
export interface NetworkSample {
  /** The platform's API (HTTPS, through the proxy in front of the sandbox): bytes both ways. */
  apiUp: number;
  apiDown: number;
  apiConnections: number;
  /** TLS handshakes the process made in the invocation (tls.connect), and how many resumed a session. */
  tlsHandshakes: number;
  tlsResumed: number;
  /** Bytes of each API connection (both ways), in the order opened. */
  apiPerConnection: number[];
  /** DynamoDB (plain HTTP to dynalite: its TLS is not in these bytes), both ways, and its connections. */
  awsBytes: number;
  awsConnections: number;
  /** DynamoDB calls (HTTP requests through its proxy). */
  awsRequests: number;
}

type Handler = (event: unknown, context: unknown) => Promise<{ batchItemFailures?: unknown[] }>;

/** dynalite in a process of its own: its CPU is DynamoDB's, not the invocation's. */
async function startDynalite(): Promise<{ endpoint: string; stop(): void }> {
  const script =
    "const d = require('dynalite')({ createTableMs: 0 }); d.listen(0, '127.0.0.1', () => console.log(d.address().port));";
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`dynalite exited (${code})`)));
  });
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** BENCH_PROFILE_BATCH=FILE: a V8 CPU profile of the last measured batch invocation alone. */
async function startProfile(): Promise<{ stop(file: string): Promise<void> }> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/**
 * The network the invocation sees, counted: a byte-counting proxy in front of the platform's API
 * (the config's `platform.baseUrl` is pointed at it; its certificate names 127.0.0.1, as the
 * proxy's address does) and one in front of dynalite, and every TLS handshake of the process
 * (the bundle's `node:https` calls `tls.connect`), resumed or not.
 */
async function countedNetwork(config: ConfigInput, dynamoEndpoint: string) {
  const api = new URL(String(config.platform?.baseUrl));
  if (api.protocol !== 'https:') throw new Error(`the sandbox serves ${api.protocol}: the NAT bytes need its TLS`);
  const apiProxy = await startByteProxy({ host: api.hostname, port: Number(api.port) });
  const dynamo = new URL(dynamoEndpoint);
  const awsProxy = await startByteProxy({ host: dynamo.hostname, port: Number(dynamo.port) });
  // Whether each handshake resumed a session, read when it completes (a closed socket says false).
  const handshakes: { resumed?: boolean }[] = [];
  const connectTls = tls.connect;
  tls.connect = ((...args: Parameters<typeof tls.connect>) => {
    const socket: TLSSocket = connectTls(...args);
    const handshake: { resumed?: boolean } = {};
    handshakes.push(handshake);
    socket.once('secureConnect', () => {
      handshake.resumed = socket.isSessionReused();
    });
    return socket;
  }) as typeof tls.connect;
  const proxied = new URL(api.href);
  proxied.port = String(apiProxy.port);
  const base = proxied.href.replace(/\/$/, '');
  const settle = async (proxy: ByteProxy) => {
    // The client closes its sockets as the invocation ends: let the last bytes and closes through.
    for (let i = 0; i < 40 && proxy.open() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  return {
    config: { ...config, platform: { ...config.platform, baseUrl: base } } as ConfigInput,
    awsEndpoint: `http://127.0.0.1:${awsProxy.port}`,
    /** Starts an invocation's window: what crossed before it is not its own. */
    start() {
      apiProxy.take();
      awsProxy.take();
      handshakes.length = 0;
    },
    async sample(): Promise<NetworkSample> {
      await settle(apiProxy);
      await settle(awsProxy);
      const apiBytes: ByteCounts = apiProxy.take();
      const aws = awsProxy.take();
      const tlsResumed = handshakes.filter((handshake) => handshake.resumed === true).length;
      return {
        apiUp: apiBytes.up,
        apiDown: apiBytes.down,
        apiConnections: apiBytes.connections,
        tlsHandshakes: handshakes.length,
        tlsResumed,
        apiPerConnection: apiBytes.perConnection.map((c) => c.up + c.down),
        awsBytes: aws.up + aws.down,
        awsConnections: aws.connections,
        awsRequests: aws.requests,
      };
    },
    async close() {
      tls.connect = connectTls;
      await Promise.all([apiProxy.close(), awsProxy.close()]);
    },
  };
}

async function main(input: InvocationChildInput): Promise<InvocationChildOutput> {
  const dynamo = await startDynalite();
  const endpoint = dynamo.endpoint;
  const network = await countedNetwork(input.config, endpoint);
  mkdirSync(input.taskRoot, { recursive: true });
  copyFileSync(input.bundle, join(input.taskRoot, 'index.mjs'));
  writeFileSync(join(input.taskRoot, 'package.json'), '{"type":"module"}\n');
  writeFileSync(join(input.taskRoot, EMBEDDED_CONFIG_FILE), JSON.stringify(network.config));
  const nowhere = `http://127.0.0.1:${await closedPort()}`;
  Object.assign(process.env, {
    LAMBDA_TASK_ROOT: input.taskRoot,
    [LAMBDA_ENV.configFile]: EMBEDDED_CONFIG_FILE,
    [LAMBDA_ENV.stateTable]: 'canary-state',
    [LAMBDA_ENV.sweepTable]: 'canary-sweeps',
    [LAMBDA_ENV.topic.P0]: 'arn:aws:sns:eu-west-1:123456789012:canary-p0',
    [LAMBDA_ENV.topic.P1]: 'arn:aws:sns:eu-west-1:123456789012:canary-p1',
    [LAMBDA_ENV.topic.P2]: 'arn:aws:sns:eu-west-1:123456789012:canary-p2',
    [LAMBDA_ENV.topic.P3]: 'arn:aws:sns:eu-west-1:123456789012:canary-p3',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
    AWS_SECRET_ACCESS_KEY: 'local-only',
    AWS_ENDPOINT_URL: nowhere,
    // The handler's DynamoDB calls through the counting proxy; the bench's own ledger calls go direct.
    AWS_ENDPOINT_URL_DYNAMODB: network.awsEndpoint,
    POWERTOOLS_SERVICE_NAME: 'TenantCanary',
    POWERTOOLS_METRICS_NAMESPACE: 'TenantCanary',
    POWERTOOLS_LOG_LEVEL: 'INFO',
  });
  const client = new DynamoDBClient({ endpoint });
  await client.send(new CreateTableCommand({ TableName: 'canary-state', ...stateTableShape }));
  await client.send(new CreateTableCommand({ TableName: 'canary-sweeps', ...sweepTableShape }));
  const ledger = createSweepLedger({ tableName: 'canary-sweeps', client });

  const tenants = (input.config.tenants ?? []).map((tenant) => tenant.tenantId);
  const batch = tenants.slice(0, input.batchSize);
  if (batch.length < input.batchSize) throw new Error(`the sandbox has ${tenants.length} tenants, fewer than a batch`);

  // stdout is the handler's: every line is counted, none printed (the result goes out at the end).
  const original = process.stdout.write.bind(process.stdout);
  let counting = false;
  const counted = { logLines: 0, logBytes: 0, emfLines: 0, emfBytes: 0 };
  process.stdout.write = ((chunk: string | Uint8Array) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (counting) {
      for (const line of text.split('\n').filter((l) => l !== '')) {
        const bytes = Buffer.byteLength(line) + 1;
        if (line.includes('"_aws"')) {
          counted.emfLines += 1;
          counted.emfBytes += bytes;
        } else {
          counted.logLines += 1;
          counted.logBytes += bytes;
        }
      }
    }
    return true;
  }) as typeof process.stdout.write;

  const importStarted = performance.now();
  const { handler } = (await import(pathToFileURL(join(input.taskRoot, 'index.mjs')).href)) as { handler: Handler };
  const importMs = performance.now() - importStarted;

  let clock = Date.now();
  let failedRecords = 0;
  /** One invocation with `ids`, in a sweep of its own that expects more tenants (it is not the last batch). */
  const invoke = async (ids: readonly string[]): Promise<{ ms: number; cpuMs: number; net: NetworkSample }> => {
    clock += 1000;
    const now = new Date(clock);
    const sweepId = sweepIdAt(now);
    const deadline = new Date(clock + 300_000);
    await ledger.open(sweepId, [...ids, ...Array.from({ length: 990 }, (_, i) => `elsewhere-${i}`)], deadline, now);
    const event: SQSEvent = {
      Records: ids.map((tenantId, index) =>
        sqsRecord(
          `m-${clock}-${index}`,
          JSON.stringify({
            tenantId,
            runId: sweepId,
            deadline: deadline.toISOString(),
            peer: tenants[(tenants.indexOf(tenantId) + 1) % tenants.length],
          }),
          { sentAt: clock },
        ),
      ),
    };
    network.start();
    const cpu = process.cpuUsage();
    const started = performance.now();
    const answer = await handler(event, benchLambdaContext({ memoryMb: input.memoryMb }));
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    failedRecords += answer.batchItemFailures?.length ?? 0;
    return { ms, cpuMs: (used.user + used.system) / 1000, net: await network.sample() };
  };

  const first = await invoke(batch); // cold: sends the tickets the deferred round trips judge next
  await new Promise((resolve) => setTimeout(resolve, input.primeWaitMs));
  await invoke(batch); // warm-up
  const batchMs: number[] = [];
  const batchCpuMs: number[] = [];
  const aloneMaxMs: number[] = [];
  const batchNet: NetworkSample[] = [];
  const aloneNet: NetworkSample[] = [];
  let peakRss = process.memoryUsage().rss;
  for (let round = 0; round < input.rounds; round++) {
    let slowest = 0;
    for (const id of batch) {
      const alone = await invoke([id]);
      slowest = Math.max(slowest, alone.ms);
      aloneNet.push(alone.net);
    }
    aloneMaxMs.push(slowest);
    const logsBefore = { ...counted };
    counting = round === input.rounds - 1;
    const session = process.env.BENCH_PROFILE_BATCH && round === input.rounds - 1 ? await startProfile() : undefined;
    const measured = await invoke(batch);
    if (session) await session.stop(process.env.BENCH_PROFILE_BATCH as string);
    counting = false;
    if (round === input.rounds - 1 && counted.logBytes === logsBefore.logBytes) {
      throw new Error('the probe handler wrote no log lines: the log figures would be wrong');
    }
    batchMs.push(measured.ms);
    batchNet.push(measured.net);
    batchCpuMs.push(measured.cpuMs);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  process.stdout.write = original;
  await network.close();
  dynamo.stop();
  return {
    batch: batch.length,
    batchMs,
    aloneMaxMs,
    batchCpuMs,
    firstMs: first.ms,
    importMs,
    ...counted,
    failedRecords,
    peakRssMb: peakRss / 2 ** 20,
    network: { cold: first.net, batch: batchNet, alone: aloneNet },
  };
}

const output = await main(JSON.parse(process.argv[2] ?? '{}') as InvocationChildInput);
process.stdout.write(`${JSON.stringify(output)}\n`);
process.exit(0);
