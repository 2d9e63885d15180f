/**
 * One deployed sweep, replayed for real at a small scale (issue 24: `platform_rps_peak_1000`
 * checked against a real run): the real sweep (functions/app/sweep.ts) plans and queues every
 * tenant through the real SQS adapter, whose client is a stand-in that keeps each entry with its
 * `DelaySeconds`; an event source run here as AWS documents it hands the messages, once visible, in
 * batches of up to `batchSize` to concurrent invocations of the real probe (functions/app/probe-batch.ts)
 * with real ports against a running sandbox. Alert state and the sweep ledger are in memory.
 *
 * The app's clock starts at `sweepAt` (the sweep's scheduled time, which its sampling reads) and
 * runs in real time; the ports sign with the wall clock, as the sandbox checks it. Counting the
 * platform's requests is the caller's (bench/paced-run.ts: a counting proxy at `platform.baseUrl`).
 */
import { ChangeMessageVisibilityBatchCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { openBasePorts, openPorts } from '../functions/adapters/index.ts';
import { createSecretResolver } from '../functions/adapters/secrets.ts';
import { createTenantQueue } from '../functions/adapters/sqs.ts';
import { createMemoryStateStore } from '../functions/adapters/state-memory.ts';
import { createMemorySweepLedger } from '../functions/adapters/sweep-ledger-memory.ts';
import { createTenantSource } from '../functions/adapters/tenant-source.ts';
import type { AppDeps } from '../functions/app/deps.ts';
import { probeBatch } from '../functions/app/probe-batch.ts';
import { sweep } from '../functions/app/sweep.ts';
import { tenantRequests } from '../functions/core/budget.ts';
import { type ConfigInput, parseConfig } from '../functions/core/config.ts';
import { parseTenantMessage } from '../functions/core/events.ts';
import { scheduledProbeConfig } from '../functions/core/sweep-protocol.ts';
import { mulberry32 } from '../sim/random.ts';
import { sqsRecord } from '../sim/sqs-record.ts';
import { discardedMetrics, silentLogger } from '../test/support/telemetry.ts';
import { benchLambdaContext } from './lambda-context.ts';

export interface PacedSweepInput {
  /** The canary config (its `platform.baseUrl` is where the requests are counted). */
  config: ConfigInput;
  /** The sweep's scheduled time, epoch ms: its sampling and the app's clock start there. */
  sweepAtMs: number;
  /** `planned`: each message waits its DelaySeconds; `none`: the queue ignores them (every tenant at once). */
  pacing: 'planned' | 'none';
  /** The event source's batch size and most concurrent invocations (the stack's). */
  batchSize: number;
  maxConcurrency: number;
  /**
   * Extra delay before the event source sees each message, uniform in [0, this) ms, seeded: the
   * pollers' latency, which AWS does not document (an experiment; the bench runs without). @default 0
   */
  deliveryJitterMs?: number;
}

export interface PacedInvocation {
  /** Start and end, ms after the sweep started. */
  startMs: number;
  endMs: number;
  tenants: number;
  failed: number;
}

export interface PacedSweepOutput {
  pacing: PacedSweepInput['pacing'];
  /** When the sweep started and the last invocation ended, epoch ms (performance.timeOrigin + now). */
  startedAtMs: number;
  endedAtMs: number;
  /** The sweep invocation itself, ms. */
  sweepMs: number;
  /** Each message as the sweep sent it, in order: its DelaySeconds and the requests its tenant run sends. */
  messages: { tenantId: string; delayS: number; requests: number }[];
  invocations: PacedInvocation[];
  /** Tenants the ledger recorded for the sweep, of those it expected. */
  recorded: number;
  expected: number;
  /** Messages never probed (dropped as stale, or still failing when the drain ended). */
  unprobed: number;
}

interface Queued {
  messageId: string;
  body: string;
  visibleAt: number;
  receiveCount: number;
  done: boolean;
  /** The entry's DelaySeconds as sent (whatever the pacing). */
  delayS: number;
}

const START_CONCURRENCY = 5;
const SCALE_STEP_MS = 200;
const epochMs = () => performance.timeOrigin + performance.now();

/** The SQS client the real adapter sends through: every entry kept, with when it becomes visible. */
function fakeSqs(queue: Queued[], pacing: PacedSweepInput['pacing'], jitterMs = 0): SQSClient {
  let seq = 0;
  const random = mulberry32(1);
  const send = async (command: unknown) => {
    if (command instanceof SendMessageBatchCommand) {
      const entries = command.input.Entries ?? [];
      const now = performance.now();
      for (const entry of entries) {
        seq += 1;
        const delayS = pacing === 'planned' ? (entry.DelaySeconds ?? 0) : 0;
        queue.push({
          messageId: `m-${seq}`,
          body: entry.MessageBody ?? '',
          visibleAt: now + delayS * 1000 + random() * jitterMs,
          receiveCount: 0,
          done: false,
          delayS: entry.DelaySeconds ?? 0,
        });
      }
      return { Successful: entries.map((entry) => ({ Id: entry.Id })), Failed: [] };
    }
    if (command instanceof ChangeMessageVisibilityBatchCommand) {
      const entries = command.input.Entries ?? [];
      for (const entry of entries) {
        const message = queue.find((m) => entry.ReceiptHandle?.startsWith(`rh-${m.messageId}-`));
        if (message !== undefined) message.visibleAt = performance.now() + (entry.VisibilityTimeout ?? 0) * 1000;
      }
      return { Successful: entries.map((entry) => ({ Id: entry.Id })), Failed: [] };
    }
    throw new Error('the paced run stands in for SendMessageBatch and ChangeMessageVisibilityBatch only');
  };
  return { send } as unknown as SQSClient;
}

/** The use cases' dependencies: real ports and tenant source, memory state and ledger, the stand-in queue. */
function pacedDeps(
  input: PacedSweepInput,
  queue: Queued[],
  now: () => Date,
): { sweepDeps: AppDeps; probeDeps: AppDeps } {
  const config = parseConfig(input.config);
  const secrets = createSecretResolver({ env: {} });
  const store = createMemoryStateStore();
  const ledger = createMemorySweepLedger();
  const tenantQueue = createTenantQueue({
    queueUrl: 'https://sqs.invalid/probe',
    client: fakeSqs(queue, input.pacing, input.deliveryJitterMs),
  });
  const sources = new Map<unknown, ReturnType<typeof createTenantSource>>();
  const base: AppDeps = {
    logger: silentLogger,
    metrics: discardedMetrics,
    config: async () => config,
    secrets,
    openPorts: (current) => openPorts(current, { secrets }),
    tenantSource(current) {
      const source = sources.get(current.tenantSource) ?? createTenantSource(current, { secrets });
      sources.set(current.tenantSource, source);
      return source;
    },
    stateStore: async () => store,
    sweepLedger: async () => ledger,
    publisher: () => ({ publish: async (messages) => ({ delivered: messages.map((m) => m.id), failed: [] }) }),
    tenantQueue: async () => tenantQueue,
    now,
  };
  // The probe function opens its ports without Redis (functions/handlers/runtime.ts).
  return { sweepDeps: base, probeDeps: { ...base, openPorts: (current) => openBasePorts(current, { secrets }) } };
}

/**
 * The SQS event source: while a message is visible and fewer invocations run than allowed (5 at
 * first, one more every 200 ms, at most `maxConcurrency`), a poller takes up to `batchSize`
 * visible messages, oldest visible first, and invokes the probe; the records it did not report
 * failed are deleted. Resolves when every message is done or `untilMs` (ms after start) passes.
 */
function drain(
  queue: Queued[],
  input: PacedSweepInput,
  started: number,
  invoke: (batch: Queued[]) => Promise<void>,
  untilMs: number,
  /** The sweep: it may still be sending while the first messages are probed. */
  sent: Promise<unknown>,
): Promise<void> {
  let running = 0;
  let sendingDone = false;
  let timer: NodeJS.Timeout | undefined;
  return new Promise<void>((resolve) => {
    const pump = () => {
      clearTimeout(timer);
      const now = performance.now();
      const allowed = Math.min(input.maxConcurrency, START_CONCURRENCY + Math.floor((now - started) / SCALE_STEP_MS));
      const waiting = () =>
        queue.filter((m) => !m.done && m.visibleAt <= now).sort((a, b) => a.visibleAt - b.visibleAt);
      let visible = waiting();
      while (running < allowed && visible.length > 0) {
        const batch = visible.slice(0, input.batchSize);
        for (const message of batch) {
          message.visibleAt = Number.POSITIVE_INFINITY; // in flight
          message.receiveCount += 1;
        }
        running += 1;
        void invoke(batch).finally(() => {
          running -= 1;
          pump();
        });
        visible = waiting();
      }
      const pending = queue.filter((m) => !m.done);
      const over = now - started >= untilMs;
      if (sendingDone && running === 0 && (pending.every((m) => m.visibleAt === Number.POSITIVE_INFINITY) || over)) {
        resolve();
        return;
      }
      if (over) return; // the running invocations pump when they end
      // Blocked by concurrency: again at the next scaling step (an invocation ending pumps too).
      const next =
        visible.length > 0 ? now + SCALE_STEP_MS : Math.min(...pending.map((m) => m.visibleAt), started + untilMs);
      timer = setTimeout(pump, Math.max(0, Math.min(next, started + untilMs) - now));
    };
    const sendingEnds = () => {
      sendingDone = true;
      pump();
    };
    sent.then(sendingEnds, sendingEnds);
    pump();
  });
}

/** Runs one sweep and drains its messages through the real probe; see the file's comment. */
export async function runPacedSweep(input: PacedSweepInput): Promise<PacedSweepOutput> {
  const queue: Queued[] = [];
  const started = performance.now();
  const startedAtMs = epochMs();
  const now = () => new Date(input.sweepAtMs + (performance.now() - started));
  const { sweepDeps, probeDeps } = pacedDeps(input, queue, now);
  const config = scheduledProbeConfig(parseConfig(input.config));
  const invocations: PacedInvocation[] = [];
  const invoke = async (batch: Queued[]) => {
    const event: SQSEvent = {
      Records: batch.map((m) => sqsRecord(m.messageId, m.body, { receiveCount: m.receiveCount })),
    };
    const startMs = performance.now() - started;
    let failed: Set<string>;
    try {
      const response = await probeBatch(
        probeDeps,
        event,
        benchLambdaContext({ logStreamName: 'paced-run' }),
        undefined,
      );
      failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    } catch {
      // A function error: Lambda would deliver the whole batch again after the visibility timeout (past this run).
      failed = new Set(batch.map((m) => m.messageId));
    }
    for (const message of batch) {
      if (!failed.has(message.messageId)) message.done = true;
      // A failed record the probe did not hand back would return after the visibility timeout: past this run.
    }
    invocations.push({ startMs, endMs: performance.now() - started, tenants: batch.length, failed: failed.size });
  };
  let sweepMs = 0;
  const sweepRun = sweep(sweepDeps, undefined, () => 60_000, new Date(input.sweepAtMs)).finally(() => {
    sweepMs = performance.now() - started;
  });
  const untilMs = config.run.sweepIntervalS * 1000 + 10_000;
  await drain(queue, input, started, invoke, untilMs, sweepRun);
  const summary = await sweepRun;
  const ledger = await sweepDeps.sweepLedger();
  const status = await ledger.status(summary.sweepId);
  return {
    pacing: input.pacing,
    startedAtMs,
    endedAtMs: epochMs(),
    sweepMs,
    messages: queue.map((m) => {
      const message = parseTenantMessage(m.body);
      return {
        tenantId: message.tenantId,
        delayS: m.delayS,
        requests: tenantRequests(config, message.sampling),
      };
    }),
    invocations: invocations.sort((a, b) => a.startMs - b.startMs),
    recorded: status?.reported ?? 0,
    expected: status?.expected ?? 0,
    unprobed: queue.filter((m) => !m.done).length,
  };
}
