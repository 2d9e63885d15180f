/**
 * The sandbox: a reference implementation of the watched platform (PLATFORM.md) that the canary
 * runs against locally, in tests, drills and benchmarks. A real webhook receiver on loopback, a
 * real queue (a private redis-server when there is one), a worker that records enhancements, and
 * PostgreSQL with row-level security (PGlite, or a real server), plus switchable faults.
 *
 * Never deployed; functions/ never imports it.
 */
import { readFile } from 'node:fs/promises';
import { createPgPort } from '../functions/adapters/postgres.ts';
import type { ConfigInput } from '../functions/core/config.ts';
import { errorClass } from '../functions/core/errors.ts';
import { generateFernetKey } from '../functions/core/fernet.ts';
import type { SignatureFormat } from '../functions/core/signing.ts';
import { isolationDigest, readIsolationSnapshot } from '../functions/probes/isolation.ts';
import { type SandboxDatabase, startDatabase } from './db.ts';
import { type EntryPointSecrets, entryPointRoutes, entryPointsConfig, newEntryPointSecrets } from './entry-points.ts';
import {
  type Behaviour,
  behaviourFor,
  cannotCause,
  type ExpectedResult,
  expectedResults,
  FaultSwitchboard,
  isSandboxFaultName,
  SANDBOX_CONNECTIONS_MAX_RATIO,
  SANDBOX_ROUND_TRIP,
  type SandboxFaultName,
  type SandboxKind,
} from './faults.ts';
import { type JobQueue, openQueue, QUEUE_KEY, type RedisOption } from './queue.ts';
import {
  REPLAY_MAX_AGE_MS,
  REPLAY_MAX_AHEAD_MS,
  type Receiver,
  type ReceiverBehaviour,
  startReceiver,
} from './receiver.ts';
import { CONTEXT_FUNCTION, ENHANCEMENT_TEXT_COLUMN, TENANT_SETTING, TENANT_TABLES } from './schema.ts';
import { seedDatabase } from './seed.ts';
import { sandboxTenants, seedTenants, TenantDirectory } from './tenants.ts';
import { type SandboxTls, sandboxTls, type TlsMaterial } from './tls.ts';
import { EnhancementWorker } from './worker.ts';

/** The sandbox config's platform.requestBudgetRps: the schema's most (the sandbox has no ingress limit). */
const SANDBOX_REQUEST_BUDGET_RPS = 10_000;

export {
  type ExpectedResult,
  FAULT_TARGET_TENANT,
  type FaultExpectation,
  SANDBOX_FAULTS,
  type SandboxFault,
  type SandboxFaultName,
} from './faults.ts';

export interface SandboxOptions {
  /** Faults switched on from the start. @default [] */
  faults?: SandboxFaultName[];
  /** acme-corp, globex, initech, then tenant-004 ... @default 3 */
  tenantCount?: number;
  /** The signature format the receiver demands. @default 'sha256-prefixed' */
  signatureFormat?: SignatureFormat;
  /** Superuser URL of a real PostgreSQL server (a fresh database and roles are made and dropped); absent = PGlite. */
  databaseUrl?: string;
  /**
   * `auto`: a private redis-server if one is on PATH, else `REDIS_URL`, else in memory.
   * A Redis given by URL must not be shared by sandboxes running at the same time.
   * @default 'auto'
   */
  redis?: RedisOption;
  /** Simulated enhancement time, uniform. @default { min: 150, max: 400 } */
  workerLatencyMs?: { min: number; max: number };
  /** Jobs the worker processes at once (benchmarks raise it so the canary, not the worker, is measured). @default 8 */
  workerConcurrency?: number;
  /** Serve HTTPS with a private CA (needs openssl on PATH; otherwise HTTP). @default true */
  tls?: boolean;
  /** Diagnostic lines (never secrets). @default silent */
  log?: (line: string) => void;
}

export interface Sandbox {
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /**
   * A canary config (functions/core/config.ts) pointing at this sandbox as it runs now: a fault
   * that changes how the platform is built (`shared-entry-point-secret`) changes it, as an
   * operator would describe that platform.
   */
  readonly config: ConfigInput;
  tenants: readonly { tenantId: string; secret: string }[];
  info: SandboxKind;
  faults(): readonly SandboxFaultName[];
  /** Why this sandbox cannot cause `fault` (it needs a real PostgreSQL, or HTTPS), or null. */
  cannotCause(fault: SandboxFaultName): string | null;
  /** What `fault` must make the canary report against this sandbox. */
  expectedFor(fault: SandboxFaultName): ExpectedResult[];
  /** Switches to exactly these faults (reverting the others); one it cannot cause is refused. */
  setFaults(faults: readonly SandboxFaultName[]): Promise<void>;
  /** Idempotent; leaves no process, socket, timer or temporary database behind. */
  stop(): Promise<void>;
}

const SYNTHETIC_PREFIX = 'SYNTH-';

function checkOptions(options: SandboxOptions): void {
  const count = options.tenantCount ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 10_000) {
    throw new RangeError('tenantCount must be an integer from 1 to 10000');
  }
  const latency = options.workerLatencyMs;
  if (latency !== undefined && !(latency.min >= 0 && latency.max >= latency.min && Number.isFinite(latency.max))) {
    throw new RangeError('workerLatencyMs needs 0 <= min <= max');
  }
  const workers = options.workerConcurrency;
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1 && workers <= 1000)) {
    throw new RangeError('workerConcurrency must be an integer from 1 to 1000');
  }
  const unknown = (options.faults ?? []).filter((name) => !isSandboxFaultName(name));
  if (unknown.length > 0) throw new RangeError(`unknown sandbox fault ${unknown.join(', ')}`);
}

/** Starts the whole platform on loopback. Everything it started is stopped again if it fails. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  checkOptions(options);
  const log = options.log ?? (() => {});
  const signatureFormat = options.signatureFormat ?? 'sha256-prefixed';
  const tenants = sandboxTenants(options.tenantCount ?? 3);
  const encryptionKey = generateFernetKey(); // the sandbox's TENANT_ENCRYPTION_KEY
  const started = performance.now();

  const cleanups: (() => Promise<void>)[] = [];
  const cleanUp = () => runCleanups(cleanups);

  try {
    const { db, queue, tls } = await startDependencies(options, log, cleanups);
    let certificate: 'healthy' | 'expiring-soon' = 'healthy';
    const material = () => (tls === undefined ? undefined : certificate === 'healthy' ? tls.healthy : tls.expiringSoon);
    let receiver: Receiver | undefined;
    const kind: SandboxKind = { database: db.kind, redis: queue.kind, tls: tls !== undefined };
    const refuseUncausable = (faults: readonly SandboxFaultName[]) => refuseFaults(faults, kind);
    refuseUncausable(options.faults ?? []);

    await seedDatabase({ query: (sql, params) => db.admin(sql, params) }, seedTenants(tenants, encryptionKey));
    const directory = new TenantDirectory(db, encryptionKey);
    const secrets = new Map(tenants.map((tenant) => [tenant.tenantId, tenant.secret]));
    const entryPointSecrets = newEntryPointSecrets();

    let behaviour: Behaviour = behaviourFor([]);
    let worker: EnhancementWorker | undefined;
    const switchboard = new FaultSwitchboard(
      {
        db,
        roles: db.roles,
        tenants: directory,
        queue,
        useCertificate: (which) => {
          if (tls === undefined)
            throw new Error('the sandbox speaks plain HTTP (no openssl): no certificate to change');
          certificate = which;
          const next = material();
          if (receiver !== undefined && next !== undefined) receiver.setCertificate(next);
        },
        canarySecret: (tenantId) => {
          const secret = secrets.get(tenantId);
          if (secret === undefined) throw new Error(`the sandbox has no tenant ${tenantId}`);
          return secret;
        },
      },
      (next) => {
        behaviour = next;
        worker?.notify();
      },
    );
    // Pinned before any fault, as a reviewer pins the healthy platform's after a migration.
    const isolationDigestPinned = await healthyIsolationDigest(db);
    await switchboard.set(options.faults ?? []);

    worker = new EnhancementWorker({
      db,
      queue,
      latencyMs: options.workerLatencyMs ?? { min: 150, max: 400 },
      ...(options.workerConcurrency === undefined ? {} : { concurrency: options.workerConcurrency }),
      syntheticPrefix: SYNTHETIC_PREFIX,
      behaviour: () => behaviour.worker,
      log,
    });
    worker.start();
    const runningWorker = worker;
    cleanups.push(() => runningWorker.stop());

    receiver = await startSandboxReceiver({
      db,
      queue,
      directory,
      entryPointSecrets,
      signatureFormat,
      behaviour: () => behaviour.receiver,
      tls: material(),
      log,
    });
    const runningReceiver = receiver;
    cleanups.push(() => runningReceiver.stop());

    const configParts: ConfigParts = {
      baseUrl: receiver.baseUrl,
      signatureFormat,
      tls: tls === undefined ? undefined : { caFile: tls.caFile },
      db,
      queue,
      tenants,
      isolationDigest: isolationDigestPinned,
      entryPointSecrets,
    };

    log(
      `sandbox: ready at ${receiver.baseUrl} (${db.kind}, queue ${queue.kind}, ${tenants.length} tenants) ` +
        `in ${Math.round(performance.now() - started)} ms`,
    );

    let stopped: Promise<void> | undefined;
    return {
      baseUrl: receiver.baseUrl,
      get config() {
        return sandboxConfig(configParts, behaviour.receiver);
      },
      tenants: tenants.map(({ tenantId, secret }) => ({ tenantId, secret })),
      info: kind,
      faults: () => switchboard.active(),
      cannotCause: (fault) => cannotCause(fault, kind),
      expectedFor: (fault) =>
        expectedResults(
          fault,
          kind,
          tenants.map((t) => t.tenantId),
        ),
      setFaults: async (faults) => {
        if (stopped !== undefined) throw new Error('the sandbox is stopped');
        refuseUncausable(faults);
        await switchboard.set(faults);
        log(`sandbox: faults now [${switchboard.active().join(', ')}]`);
      },
      stop: () => {
        stopped ??= cleanUp().then(() => log('sandbox: stopped'));
        return stopped;
      },
    };
  } catch (error) {
    await cleanUp().catch((cleanupError: unknown) => log(`sandbox: cleanup after a failed start: ${cleanupError}`));
    const message = error instanceof Error ? error.message : String(error);
    throw new SandboxStartError(`the sandbox could not start: ${withoutCredentials(message, options)}`, {
      cause: error,
    });
  }
}

/** Runs `cleanups` last first, each even when one before it failed; then throws every failure at once. */
async function runCleanups(cleanups: (() => Promise<void>)[]): Promise<void> {
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup().catch((error: unknown) => errors.push(error));
  }
  if (errors.length > 0) throw new AggregateError(errors, 'the sandbox did not stop cleanly');
}

/** Throws for the first of `faults` this sandbox cannot cause. */
function refuseFaults(faults: readonly SandboxFaultName[], kind: SandboxKind): void {
  for (const fault of faults) {
    const reason = cannotCause(fault, kind);
    if (reason !== null) throw new Error(`this sandbox cannot cause ${fault}: it ${reason}`);
  }
}

/** The database, the queue and the TLS material, at once; what started is added to `cleanups` even if another failed. */
async function startDependencies(
  options: SandboxOptions,
  log: (line: string) => void,
  cleanups: (() => Promise<void>)[],
): Promise<{ db: SandboxDatabase; queue: JobQueue; tls: SandboxTls | undefined }> {
  const [dbResult, queueResult, tlsResult] = await Promise.allSettled([
    startDatabase({ databaseUrl: options.databaseUrl, log }),
    openQueue({ redis: options.redis ?? 'auto', log }),
    options.tls === false ? Promise.resolve(undefined) : sandboxTls(log),
  ]);
  if (queueResult.status === 'fulfilled') cleanups.push(() => queueResult.value.close());
  if (dbResult.status === 'fulfilled') cleanups.push(() => dbResult.value.stop());
  if (dbResult.status === 'rejected') throw dbResult.reason;
  if (queueResult.status === 'rejected') throw queueResult.reason;
  if (tlsResult.status === 'rejected') throw tlsResult.reason;
  return { db: dbResult.value, queue: queueResult.value, tls: tlsResult.value };
}

/** The webhook receiver with the other signed entry points' routes, behaving as `behaviour()` says now. */
function startSandboxReceiver(parts: {
  db: SandboxDatabase;
  queue: JobQueue;
  directory: TenantDirectory;
  entryPointSecrets: EntryPointSecrets;
  signatureFormat: SignatureFormat;
  behaviour: () => Readonly<ReceiverBehaviour>;
  tls: TlsMaterial | undefined;
  log: (line: string) => void;
}): Promise<Receiver> {
  const { db, directory, signatureFormat, behaviour, log } = parts;
  return startReceiver({
    ...(parts.tls === undefined ? {} : { tls: parts.tls }),
    db,
    queue: parts.queue,
    tenants: directory,
    signatureFormat,
    behaviour,
    postRoutes: entryPointRoutes({
      db,
      tenants: directory,
      secrets: parts.entryPointSecrets,
      signatureFormat,
      syntheticPrefix: SYNTHETIC_PREFIX,
      behaviour,
      now: Date.now,
      replayWindowMs: { maxAge: REPLAY_MAX_AGE_MS, maxAhead: REPLAY_MAX_AHEAD_MS },
      log,
    }),
    log,
  });
}

/** What the sandbox's canary config is made of. */
interface ConfigParts {
  baseUrl: string;
  signatureFormat: SignatureFormat;
  tls: { caFile: string } | undefined;
  db: SandboxDatabase;
  queue: JobQueue;
  tenants: readonly { tenantId: string; secret: string }[];
  isolationDigest: string;
  entryPointSecrets: EntryPointSecrets;
}

/**
 * A canary config pointing at the sandbox as it runs now: how its entry points verify signatures
 * follows the active faults (`shared-entry-point-secret`), as an operator describes the platform.
 */
function sandboxConfig(parts: ConfigParts, receiver: Readonly<ReceiverBehaviour>): ConfigInput {
  const { db, queue, signatureFormat, tls } = parts;
  return {
    platform: {
      baseUrl: parts.baseUrl,
      signatureFormat,
      ...(tls === undefined ? {} : { caFile: tls.caFile }),
      // The sandbox has no ingress limit (the real platform's is 100 rps): benchmarks and drills run unpaced.
      requestBudgetRps: SANDBOX_REQUEST_BUDGET_RPS,
      entryPoints: entryPointsConfig(receiver, parts.entryPointSecrets, signatureFormat),
    },
    database: {
      url: db.canary.url,
      appRole: db.canary.appRole,
      probeAsRole: db.canary.probeAsRole,
      tenantTables: [...TENANT_TABLES],
      tenantSetting: TENANT_SETTING,
      contextFunction: CONTEXT_FUNCTION,
      enhancementTextColumn: ENHANCEMENT_TEXT_COLUMN,
      connectTimeoutMs: 3_000,
      statementTimeoutMs: 5_000,
      isolationDigest: parts.isolationDigest,
      ...(db.canary.tls === undefined ? {} : { tls: db.canary.tls }),
    },
    ...(queue.url === null ? {} : { redis: { url: queue.url, queueKeys: [QUEUE_KEY] } }),
    tenants: parts.tenants.map((tenant) => ({ tenantId: tenant.tenantId, signingSecret: { value: tenant.secret } })),
    synthetic: { ticketPrefix: SYNTHETIC_PREFIX },
    thresholds: {
      // Loopback answers in milliseconds; the slack is for a loaded CI machine, not the platform.
      requestTimeoutMs: 5_000,
      roundTripDegradedS: SANDBOX_ROUND_TRIP.degradedS,
      roundTripTimeoutS: SANDBOX_ROUND_TRIP.timeoutS,
      dbConnectionsMaxRatio: SANDBOX_CONNECTIONS_MAX_RATIO,
      queueDepthMax: 100,
      successRateMin: 0.95,
      avgLatencyDegradedS: 20,
      p95LatencyDegradedS: 60,
      historyMinTickets: 50,
      enhancementMinChars: 20,
      staleTimestampAgeS: 600,
    },
  };
}

/** The isolation digest the canary reads from this database, read the way `tenant-canary snapshot` does. */
async function healthyIsolationDigest(db: SandboxDatabase): Promise<string> {
  const tls = db.canary.tls;
  const pg = createPgPort({
    connectionString: db.canary.url,
    connectTimeoutMs: 5_000,
    statementTimeoutMs: 10_000,
    ...(tls === undefined ? {} : { tls: { mode: tls.mode, ca: await readFile(tls.caFile, 'utf8') } }),
  });
  try {
    const scope = { tenantTables: [...TENANT_TABLES], appRole: db.canary.appRole, probeAsRole: db.canary.probeAsRole };
    return isolationDigest(await readIsolationSnapshot(pg, scope));
  } finally {
    await pg.close();
  }
}

/** The sandbox could not start (an unreachable PostgreSQL or Redis, a bad URL): one line, no credentials. */
export const SandboxStartError = errorClass('SandboxStartError', 'sandbox');

/** `text` with the passwords of the URLs the sandbox was given (and unparsable URLs whole) masked. */
function withoutCredentials(text: string, options: SandboxOptions): string {
  const urls = [options.databaseUrl, typeof options.redis === 'object' ? options.redis.url : undefined].filter(
    (url): url is string => url !== undefined,
  );
  let clean = text;
  for (const raw of urls) {
    let secrets: string[];
    try {
      const password = new URL(raw).password;
      secrets = password === '' ? [] : [password, decodeURIComponent(password)];
    } catch {
      secrets = [raw];
    }
    for (const secret of secrets) clean = clean.split(secret).join('***');
  }
  return clean;
}
