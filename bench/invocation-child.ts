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
import { pathToFileURL } from 'node:url';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { createSweepLedger } from '../functions/adapters/sweep-ledger.ts';
import type { ConfigInput } from '../functions/core/config.ts';
import { EMBEDDED_CONFIG_FILE, LAMBDA_ENV } from '../functions/core/lambda-env.ts';
import { sweepIdAt } from '../functions/core/tables.ts';
import { sqsRecord } from '../sim/sqs-record.ts';
import { stateTableShape, sweepTableShape } from '../test/support/dynamo.ts';

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

function lambdaContext(memoryMb: number) {
  return {
    functionName: 'TenantCanary-Probe',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:TenantCanary-Probe',
    memoryLimitInMB: String(memoryMb),
    awsRequestId: crypto.randomUUID(),
    logGroupName: '/aws/lambda/TenantCanary-Probe',
    logStreamName: '2026/12/01/[$LATEST]0123456789abcdef0123456789abcdef',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 200_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
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

async function main(input: InvocationChildInput): Promise<InvocationChildOutput> {
  mkdirSync(input.taskRoot, { recursive: true });
  copyFileSync(input.bundle, join(input.taskRoot, 'index.mjs'));
  writeFileSync(join(input.taskRoot, 'package.json'), '{"type":"module"}\n');
  writeFileSync(join(input.taskRoot, EMBEDDED_CONFIG_FILE), JSON.stringify(input.config));

  const dynamo = await startDynalite();
  const endpoint = dynamo.endpoint;
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
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
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
  const invoke = async (ids: readonly string[]): Promise<{ ms: number; cpuMs: number }> => {
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
    const cpu = process.cpuUsage();
    const started = performance.now();
    const answer = await handler(event, lambdaContext(input.memoryMb));
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    failedRecords += answer.batchItemFailures?.length ?? 0;
    return { ms, cpuMs: (used.user + used.system) / 1000 };
  };

  const first = await invoke(batch); // cold: sends the tickets the deferred round trips judge next
  await new Promise((resolve) => setTimeout(resolve, input.primeWaitMs));
  await invoke(batch); // warm-up
  const batchMs: number[] = [];
  const batchCpuMs: number[] = [];
  const aloneMaxMs: number[] = [];
  let peakRss = process.memoryUsage().rss;
  for (let round = 0; round < input.rounds; round++) {
    let slowest = 0;
    for (const id of batch) slowest = Math.max(slowest, (await invoke([id])).ms);
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
    batchCpuMs.push(measured.cpuMs);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  process.stdout.write = original;
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
  };
}

const output = await main(JSON.parse(process.argv[2] ?? '{}') as InvocationChildInput);
process.stdout.write(`${JSON.stringify(output)}\n`);
process.exit(0);
