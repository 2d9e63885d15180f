/**
 * How long a sweep takes to drain through the probe queue at the default quotas: a seeded,
 * deterministic event simulation of the SQS event source as AWS documents it, fed with measured
 * invocation times.
 *
 * - The sweep queues its tenants with `SendMessageBatch` (10 a call, `sendConcurrency` calls at
 *   once, each `sendMs`), so the first batches are visible before the last are sent.
 * - The event source starts with 5 concurrent batches and, while messages wait, adds up to 300
 *   concurrent invocations a minute (one every 200 ms), never more than the mapping's
 *   `maxConcurrency` nor the account's concurrency (1,000 by default).
 * - Each poller takes up to `batchSize` visible messages, the invocation lasts a duration drawn
 *   from the measured ones (times a seeded jitter of ±10 %), then polls again at once.
 *
 * The drain time is from the sweep's start to the end of the last invocation.
 */

import { mulberry32 } from './random.ts';

export interface DrainOptions {
  tenants: number;
  batchSize: number;
  maxConcurrency: number;
  /** Measured wall times of a probe invocation of `batchSize` tenants, ms. */
  invocationMs: readonly number[];
  /** One SendMessageBatch call, ms. @default 20 */
  sendMs?: number;
  /** SendMessageBatch calls in flight (functions/adapters/sqs.ts). @default 8 */
  sendConcurrency?: number;
  /** The account's concurrent executions (the default quota). @default 1000 */
  accountConcurrency?: number;
  seed?: number;
  /** Each message's `DelaySeconds` (the sweep's pacing, functions/core/budget.ts). @default 0 each */
  delaysS?: readonly number[];
  /**
   * Requests each tenant run sends the platform's API, from its invocation's start (see
   * `requestSpreadMs`). With `platformRequests`, at time 0 (the sweep's own checks). @default 0 each
   */
  requests?: readonly number[];
  platformRequests?: number;
  /**
   * A tenant run's requests do not leave at its invocation's start: each is sent at a random
   * instant of this many ms after it (its checks start together, then connect, sign and queue).
   * @default REQUEST_SPREAD_MS
   */
  requestSpreadMs?: number;
}

/**
 * How far into an invocation its tenants' requests reach the platform: the real paced sweep of
 * bench/paced-run.ts (2026-12-07) saw a slot's requests arrive 8–57 ms after its invocation
 * started and spread over up to about 350 ms. Counting them all at the start instead, slots a
 * second apart never share a sliding second, and the peak reads half of what the platform sees.
 */
export const REQUEST_SPREAD_MS = 350;

export interface DrainOutcome {
  drainMs: number;
  invocations: number;
  /** The most invocations that ran at once. */
  peakConcurrency: number;
  /** When the last message was queued, ms after the start. */
  queuedMs: number;
  /** The most requests the platform's API received in any one second (a sliding window of 1,000 ms). */
  peakRps: number;
}

const START_CONCURRENCY = 5;
const SCALE_STEP_MS = 200; // 300 more a minute

export function simulateDrain(options: DrainOptions): DrainOutcome {
  if (options.invocationMs.length === 0) throw new Error('simulateDrain needs at least one measured invocation time');
  const random = mulberry32(options.seed ?? 1);
  const sendMs = options.sendMs ?? 20;
  const sendConcurrency = options.sendConcurrency ?? 8;
  const cap = Math.min(options.maxConcurrency, options.accountConcurrency ?? 1000);
  const spreadMs = options.requestSpreadMs ?? REQUEST_SPREAD_MS;
  // Visible times of the messages: calls of 10 go out `sendConcurrency` at a time.
  const calls = Math.ceil(options.tenants / 10);
  const visibleAt: number[] = [];
  const sentAt: number[] = [];
  for (let call = 0; call < calls; call++) {
    const at = (Math.floor(call / sendConcurrency) + 1) * sendMs;
    for (let i = 0; i < Math.min(10, options.tenants - call * 10); i++) {
      sentAt.push(at);
      visibleAt.push(at + (options.delaysS?.[visibleAt.length] ?? 0) * 1000);
    }
  }
  const queuedMs = sentAt.at(-1) ?? 0;
  // The event source takes messages in the order they become visible (a stable sort keeps the queue's order).
  const order = visibleAt.map((_, i) => i).sort((a, b) => (visibleAt[a] as number) - (visibleAt[b] as number) || a - b);
  const sorted = order.map((i) => visibleAt[i] as number);
  /** Requests and when they were sent, for the peak. */
  const sends: { at: number; count: number }[] = [];
  if ((options.platformRequests ?? 0) > 0) sends.push({ at: 0, count: options.platformRequests ?? 0 });
  let next = 0; // index of the next message to hand out (they become visible in order)
  const running: number[] = []; // end times
  let now = 0;
  let allowed = START_CONCURRENCY;
  let lastScale = 0;
  let invocations = 0;
  let peak = 0;
  let end = 0;
  while (next < sorted.length || running.length > 0) {
    // Finished invocations free their slot.
    for (let i = running.length - 1; i >= 0; i--) if ((running[i] as number) <= now) running.splice(i, 1);
    // The event source scales while messages wait.
    if (next < sorted.length && now - lastScale >= SCALE_STEP_MS) {
      allowed = Math.min(cap, allowed + Math.floor((now - lastScale) / SCALE_STEP_MS));
      lastScale = now;
    }
    while (running.length < Math.min(allowed, cap) && next < sorted.length && (sorted[next] as number) <= now) {
      for (let taken = 0; taken < options.batchSize; taken++) {
        if (next >= sorted.length || (sorted[next] as number) > now) break;
        const count = options.requests?.[order[next] as number] ?? 0;
        for (let request = 0; request < count; request++) sends.push({ at: now + random() * spreadMs, count: 1 });
        next += 1;
      }
      const base = options.invocationMs[Math.floor(random() * options.invocationMs.length)] as number;
      const takes = base * (0.9 + 0.2 * random()); // a partial last batch is not assumed faster
      running.push(now + takes);
      end = Math.max(end, now + takes);
      invocations += 1;
    }
    peak = Math.max(peak, running.length);
    // Advance to the next event: an invocation ending, a message becoming visible, a scaling step.
    const candidates = [...running];
    if (next < sorted.length) {
      candidates.push(Math.max(now + 1, sorted[next] as number));
      if (allowed < cap) candidates.push(lastScale + SCALE_STEP_MS);
    }
    const upcoming = candidates.filter((t) => t > now);
    if (upcoming.length === 0) break;
    now = Math.min(...upcoming);
  }
  return { drainMs: end, invocations, peakConcurrency: peak, queuedMs, peakRps: peakInAnySecond(sends) };
}

/** The most requests inside any window of 1,000 ms (sliding: [t, t + 1000) from each send). */
export function peakInAnySecond(sends: readonly { at: number; count: number }[]): number {
  const sorted = [...sends].sort((a, b) => a.at - b.at);
  let peak = 0;
  let sum = 0;
  let first = 0;
  for (const send of sorted) {
    sum += send.count;
    while ((sorted[first] as { at: number }).at <= send.at - 1000) {
      sum -= (sorted[first] as { count: number }).count;
      first += 1;
    }
    peak = Math.max(peak, sum);
  }
  return peak;
}
