/**
 * The enhancement worker: takes jobs off the queue and records each attempt in
 * `enhancement_history` as the application role in the job's tenant context: a `pending` row at
 * once, then, after a simulated enhancement time, `completed` with text (or `failed`).
 * Synthetic tickets are processed fully; the ServiceDesk Plus write-back is skipped for them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TENANT_ID_PATTERN } from '../functions/core/config.ts';
import type { SandboxDatabase } from './db.ts';
import type { EnhancementJob, JobQueue, QueueConsumer } from './queue.ts';

/** How the worker behaves; faults change it (see faults.ts). */
export interface WorkerBehaviour {
  /** false: nothing is taken off the queue, jobs pile up (workers stopped). */
  consuming: boolean;
  /** Multiplies the simulated enhancement time (slow workers). */
  latencyFactor: number;
  /** Replaces the simulated enhancement time when set (a slowness of known size). */
  fixedLatencyMs: number | null;
  /** How each job ends. */
  outcome: 'completed' | 'failed' | 'empty-output';
}

export const HEALTHY_WORKER: Readonly<WorkerBehaviour> = {
  consuming: true,
  latencyFactor: 1,
  fixedLatencyMs: null,
  outcome: 'completed',
};

export interface WorkerOptions {
  db: SandboxDatabase;
  queue: JobQueue;
  /** Simulated enhancement time, uniform in [min, max]. */
  latencyMs: { min: number; max: number };
  /** Ticket ids with this prefix are never written back. */
  syntheticPrefix: string;
  behaviour: () => Readonly<WorkerBehaviour>;
  log: (line: string) => void;
  /** Jobs processed at once. @default 8 */
  concurrency?: number;
  /** @default Math.random */
  random?: () => number;
}

const POP_TIMEOUT_S = 1;
const TICKET_ID = /^[A-Z0-9-]{1,100}$/;

function parseJob(raw: string): EnhancementJob | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const job = value as Partial<Record<keyof EnhancementJob, unknown>>;
  const strings = ['job_id', 'ticket_id', 'tenant_id', 'description', 'priority', 'created_at'] as const;
  if (!strings.every((key) => typeof job[key] === 'string')) return undefined;
  if (!TENANT_ID_PATTERN.test(job.tenant_id as string) || !TICKET_ID.test(job.ticket_id as string)) return undefined;
  return value as EnhancementJob;
}

interface SimilarTicket {
  ticket_id: string;
  subject: string | null;
  resolution: string | null;
}

function enhancementText(job: EnhancementJob, similar: readonly SimilarTicket[], hosts: number): string {
  const summary = job.description.replace(/\s+/g, ' ').slice(0, 120);
  const lines = [
    `Enhancement for ticket ${job.ticket_id} (${job.priority} priority): "${summary}".`,
    similar.length === 0
      ? 'No similar resolved tickets were found in this tenant history.'
      : `Similar resolved tickets: ${similar.map((t) => `${t.ticket_id} (${t.resolution ?? t.subject ?? 'resolved'})`).join('; ')}.`,
    `${hosts} inventory hosts were checked for context.`,
    'Suggested next step: confirm the affected user and host, then apply the closest matching resolution.',
  ];
  return lines.join(' ');
}

export class EnhancementWorker {
  readonly #options: WorkerOptions;
  readonly #concurrency: number;
  readonly #random: () => number;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #consumer: QueueConsumer | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(options: WorkerOptions) {
    this.#options = options;
    this.#concurrency = options.concurrency ?? 8;
    this.#random = options.random ?? Math.random;
  }

  start(): void {
    if (this.#loop !== undefined) return;
    this.#consumer = this.#options.queue.consumer();
    this.#loop = this.#run(this.#consumer);
  }

  /** Call after the behaviour changed, so a stopped worker resumes at once. */
  notify(): void {
    this.#wake?.();
  }

  /** Ends the pending pop, abandons simulated work in progress, and waits for every query. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#abort.abort();
    this.#wake?.();
    await this.#consumer?.close();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
  }

  async #run(consumer: QueueConsumer): Promise<void> {
    while (!this.#stopping) {
      if (!this.#options.behaviour().consuming) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
        continue;
      }
      if (this.#inFlight.size >= this.#concurrency) {
        await Promise.race(this.#inFlight);
        continue;
      }
      let raw: string | null;
      try {
        raw = await consumer.pop(POP_TIMEOUT_S);
      } catch (error) {
        if (this.#stopping) break;
        this.#options.log(`worker: queue pop failed: ${(error as Error).message}`);
        await this.#pause(500);
        continue;
      }
      if (raw === null || this.#stopping) continue;
      if (!this.#options.behaviour().consuming) {
        // Switched off while this pop was pending: the job stays queued, as with stopped workers.
        await this.#options.queue.unpop(raw).catch((error: Error) => {
          this.#options.log(`worker: could not put a job back on the queue: ${error.message}`);
        });
        continue;
      }
      const task = this.#handle(raw).finally(() => this.#inFlight.delete(task));
      this.#inFlight.add(task);
    }
  }

  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#abort.signal }).catch(() => {});
  }

  async #handle(raw: string): Promise<void> {
    const { db, log, latencyMs, syntheticPrefix } = this.#options;
    const job = parseJob(raw);
    if (job === undefined) {
      log('worker: dropped a malformed job');
      return;
    }
    try {
      const started = await db.withTenant(job.tenant_id, async (client) => {
        const tenant = await client.query<{ is_active: boolean }>(
          'SELECT is_active FROM tenant_configs WHERE tenant_id = $1',
          [job.tenant_id],
        );
        if (tenant.rows[0]?.is_active !== true) return undefined;
        const similar = await client.query<SimilarTicket>(
          `SELECT ticket_id, subject, resolution FROM ticket_history
           WHERE resolved_date IS NOT NULL ORDER BY resolved_date DESC LIMIT 3`,
        );
        const hosts = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM system_inventory');
        const hostCount = hosts.rows[0]?.n ?? 0;
        const synthetic = job.ticket_id.startsWith(syntheticPrefix);
        const context = {
          job_id: job.job_id,
          correlation_id: job.correlation_id,
          similar_tickets: similar.rows.map((row) => row.ticket_id),
          inventory_hosts: hostCount,
          write_back: synthetic ? 'skipped: synthetic ticket' : 'simulated: the sandbox has no ServiceDesk Plus',
        };
        const inserted = await client.query<{ id: string }>(
          `INSERT INTO enhancement_history (tenant_id, ticket_id, status, context_gathered, created_at)
           VALUES ($1, $2, 'pending', $3::json, now()) RETURNING id`,
          [job.tenant_id, job.ticket_id, JSON.stringify(context)],
        );
        return { id: inserted.rows[0]?.id, text: enhancementText(job, similar.rows, hostCount) };
      });
      if (started?.id === undefined) {
        log(`worker: dropped job ${job.job_id}: tenant ${job.tenant_id} is unknown or inactive`);
        return;
      }
      const behaviour = this.#options.behaviour();
      const ms =
        behaviour.fixedLatencyMs ??
        (latencyMs.min + this.#random() * (latencyMs.max - latencyMs.min)) * behaviour.latencyFactor;
      await sleep(ms, undefined, { signal: this.#abort.signal });
      const outcome = this.#options.behaviour().outcome;
      await db.withTenant(job.tenant_id, async (client) => {
        const elapsed = `round(extract(epoch FROM now() - created_at) * 1000)::int`;
        if (outcome === 'failed') {
          await client.query(
            `UPDATE enhancement_history SET status = 'failed', error_message = $2, completed_at = now(),
               processing_time_ms = ${elapsed} WHERE id = $1`,
            [started.id, 'LLM provider returned 503 Service Unavailable'],
          );
        } else {
          await client.query(
            `UPDATE enhancement_history SET status = 'completed', llm_output = $2, completed_at = now(),
               processing_time_ms = ${elapsed} WHERE id = $1`,
            [started.id, outcome === 'empty-output' ? '' : started.text],
          );
        }
      });
    } catch (error) {
      if (this.#abort.signal.aborted) return; // stopping: the sandbox and its rows are going away
      log(`worker: job ${job.job_id} for ${job.tenant_id} failed: ${(error as Error).message}`);
    }
  }
}
