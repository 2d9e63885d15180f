/**
 * The enhancement queue: the Redis list `enhancement:queue` (LPUSH by the receiver, BRPOP by
 * the worker), on a private `redis-server` the sandbox spawns, on a given Redis, or in memory.
 *
 * A Redis given by URL (or `REDIS_URL`) must not be shared by sandboxes running at the same
 * time: they would consume each other's jobs from the one list. Spawning is preferred.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';

export const QUEUE_KEY = 'enhancement:queue';

/** What the receiver queues, as the platform does (JSON on the list). */
export interface EnhancementJob {
  job_id: string;
  ticket_id: string;
  tenant_id: string;
  description: string;
  priority: string;
  created_at: string;
  correlation_id: string | null;
}

export interface QueueConsumer {
  /** The next job's JSON, or null after `timeoutS` seconds or once closed. */
  pop(timeoutS: number): Promise<string | null>;
  /** Ends a pending pop at once. */
  close(): Promise<void>;
}

export type QueueKind = 'redis-server' | 'url' | 'memory';

export interface JobQueue {
  readonly kind: QueueKind;
  /** For the canary's config; null in memory. */
  readonly url: string | null;
  push(job: EnhancementJob): Promise<void>;
  /** Puts a popped job back at the consuming end (it is the next one out). */
  unpop(raw: string): Promise<void>;
  /** Takes these jobs (as pushed) off the queue wherever they are; resolves to how many were there. */
  remove(jobs: readonly EnhancementJob[]): Promise<number>;
  /** A consumer with its own connection (a blocking pop holds one). */
  consumer(): QueueConsumer;
  ping(timeoutMs: number): Promise<void>;
  depth(): Promise<number>;
  /** Closes connections and stops a spawned redis-server. Idempotent. */
  close(): Promise<void>;
}

/** A Redis by URL (`rediss://user:pw@...` for TLS and an ACL user); `ca`: the PEM its certificate chains to. */
export type RedisOption = 'auto' | 'memory' | { url: string; ca?: string };

export interface QueueOptions {
  redis: RedisOption;
  log: (line: string) => void;
  /** Where `REDIS_URL` and `PATH` are read. @default process.env */
  env?: NodeJS.ProcessEnv;
}

export async function openQueue(options: QueueOptions): Promise<JobQueue> {
  const env = options.env ?? process.env;
  const { redis, log } = options;
  if (redis === 'memory') return new MemoryQueue();
  if (redis !== 'auto') return connectRedis(redis.url, 'url', log, undefined, redis.ca);
  const binary = findOnPath('redis-server', env.PATH);
  if (binary !== undefined) {
    try {
      const server = await spawnRedisServer(binary, log);
      try {
        return await connectRedis(server.url, 'redis-server', log, server.stop);
      } catch (error) {
        await server.stop();
        throw error;
      }
    } catch (error) {
      log(`queue: could not use ${binary}, falling back: ${(error as Error).message}`);
    }
  }
  if (env.REDIS_URL !== undefined && env.REDIS_URL !== '') return connectRedis(env.REDIS_URL, 'url', log);
  log('queue: no redis-server on PATH and no REDIS_URL: queueing in memory');
  return new MemoryQueue();
}

// ---------------------------------------------------------------------------------------------
// In memory

class MemoryQueue implements JobQueue {
  readonly kind = 'memory';
  readonly url = null;
  readonly #items: string[] = [];
  readonly #waiters = new Set<(item: string | null) => boolean>();

  async push(job: EnhancementJob): Promise<void> {
    const item = JSON.stringify(job);
    for (const waiter of this.#waiters) {
      if (waiter(item)) return;
    }
    this.#items.unshift(item); // LPUSH; pop takes from the other end (BRPOP)
  }

  async unpop(raw: string): Promise<void> {
    for (const waiter of this.#waiters) {
      if (waiter(raw)) return;
    }
    this.#items.push(raw);
  }

  async remove(jobs: readonly EnhancementJob[]): Promise<number> {
    const doomed = new Set(jobs.map((job) => JSON.stringify(job)));
    let removed = 0;
    for (let i = this.#items.length - 1; i >= 0; i--) {
      if (doomed.has(this.#items[i]!)) {
        this.#items.splice(i, 1);
        removed += 1;
      }
    }
    return removed;
  }

  consumer(): QueueConsumer {
    const pending = new Set<(item: string | null) => boolean>();
    return {
      pop: (timeoutS) => {
        const item = this.#items.pop();
        if (item !== undefined) return Promise.resolve(item);
        return new Promise((resolve) => {
          const waiter = (value: string | null): boolean => {
            clearTimeout(timer);
            this.#waiters.delete(waiter);
            pending.delete(waiter);
            resolve(value);
            return true;
          };
          const timer = setTimeout(() => waiter(null), timeoutS * 1000);
          this.#waiters.add(waiter);
          pending.add(waiter);
        });
      },
      close: async () => {
        for (const waiter of pending) waiter(null);
      },
    };
  }

  async ping(): Promise<void> {}

  async depth(): Promise<number> {
    return this.#items.length;
  }

  async close(): Promise<void> {
    for (const waiter of this.#waiters) waiter(null);
  }
}

// ---------------------------------------------------------------------------------------------
// Redis

/** host:port of a Redis URL, for logs (a URL may hold a password). */
function redisHost(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return '(unparseable URL)';
  }
}

function redisClient(url: string, name: string, log: (line: string) => void, ca?: string): Redis {
  const client = new Redis(url, {
    ...(ca === undefined ? {} : { tls: { ca: [ca], rejectUnauthorized: true } }),
    lazyConnect: true,
    connectTimeout: 2_000,
    commandTimeout: 3_000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    connectionName: name,
  });
  let lastError = '';
  client.on('error', (error: Error) => {
    if (error.message !== lastError) log(`queue: redis ${name} connection: ${error.message}`);
    lastError = error.message;
  });
  client.on('ready', () => {
    lastError = '';
  });
  return client;
}

async function closeClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([client.quit(), new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))]);
  } catch {
    // already closing
  } finally {
    clearTimeout(timer);
  }
  client.disconnect();
}

async function connectRedis(
  url: string,
  kind: 'redis-server' | 'url',
  log: (line: string) => void,
  stopServer?: () => Promise<void>,
  ca?: string,
): Promise<JobQueue> {
  const commands = redisClient(url, 'sandbox-receiver', log, ca);
  try {
    await commands.connect();
    await commands.ping();
  } catch (error) {
    commands.disconnect();
    throw new Error(`cannot reach Redis at ${redisHost(url)}: ${(error as Error).message}`, { cause: error });
  }
  log(`queue: Redis at ${redisHost(url)} (${kind}), list ${QUEUE_KEY}`);
  const consumers = new Set<Redis>();
  let closed: Promise<void> | undefined;
  return {
    kind,
    url,
    push: async (job) => {
      await commands.lpush(QUEUE_KEY, JSON.stringify(job));
    },
    unpop: async (raw) => {
      await commands.rpush(QUEUE_KEY, raw);
    },
    remove: async (jobs) => {
      if (jobs.length === 0) return 0;
      const pipeline = commands.pipeline();
      for (const job of jobs) pipeline.lrem(QUEUE_KEY, 0, JSON.stringify(job));
      const replies = (await pipeline.exec()) ?? [];
      return replies.reduce((sum, [error, count]) => {
        if (error) throw error;
        return sum + Number(count);
      }, 0);
    },
    consumer: () => {
      const blocking = redisClient(url, 'sandbox-worker', log, ca);
      consumers.add(blocking);
      let connecting: Promise<void> | undefined;
      let stopped = false;
      return {
        pop: async (timeoutS) => {
          if (stopped) return null;
          connecting ??= blocking.connect();
          try {
            await connecting;
            const reply = await blocking.brpop(QUEUE_KEY, timeoutS);
            return reply === null ? null : reply[1];
          } catch (error) {
            if (stopped) return null;
            if (blocking.status === 'end') connecting = undefined;
            throw error;
          }
        },
        close: async () => {
          stopped = true;
          consumers.delete(blocking);
          blocking.disconnect(); // rejects a pending BRPOP now rather than after its timeout
        },
      };
    },
    ping: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          commands.ping(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`Redis ping timed out after ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    depth: () => commands.llen(QUEUE_KEY),
    close: () => {
      closed ??= (async () => {
        for (const consumer of consumers) consumer.disconnect();
        consumers.clear();
        await closeClient(commands);
        await stopServer?.();
      })();
      return closed;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A private redis-server

export function findOnPath(command: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Spawned servers, killed if the process exits without stopping its sandboxes. */
const liveServers = new Set<ChildProcess>();
let exitHookInstalled = false;

function killLiveServers(): void {
  for (const child of liveServers) child.kill('SIGKILL');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: true on +PONG. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      reply += data.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

async function spawnRedisServer(
  binary: string,
  log: (line: string) => void,
): Promise<{ url: string; stop: () => Promise<void> }> {
  if (!exitHookInstalled) {
    process.once('exit', killLiveServers);
    exitHookInstalled = true;
  }
  let lastOutput = '';
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--protected-mode', 'yes', '--daemonize', 'no', '--loglevel', 'warning');
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    liveServers.add(child);
    let output = '';
    const keep = (data: Buffer) => {
      output = (output + data.toString('utf8')).slice(-2_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let gone = false;
    const exitedPromise = new Promise<void>((resolve) => {
      const onGone = () => {
        gone = true;
        liveServers.delete(child);
        resolve();
      };
      child.once('exit', onGone);
      child.once('error', (error) => {
        output += `\n${error.message}`;
        onGone();
      });
    });
    const deadline = Date.now() + 5_000;
    let ready = false;
    while (!ready && !gone && Date.now() < deadline) {
      ready = await pingOnce(port);
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const stop = async () => {
      if (!gone) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exitedPromise;
        clearTimeout(killer);
      }
      await exitedPromise;
    };
    if (ready) {
      log(`queue: started redis-server pid ${child.pid} on 127.0.0.1:${port}`);
      return { url: `redis://127.0.0.1:${port}/0`, stop };
    }
    await stop();
    lastOutput = output.trim();
    if (!/address already in use/i.test(output)) break; // a port race is worth a retry; nothing else is
  }
  throw new Error(`redis-server did not start: ${lastOutput.split('\n').slice(-3).join(' | ') || 'no output'}`);
}
