/**
 * The ports: every interface the probes and use cases need from the outside world, and the
 * small pure helpers that go with them. Probes and use cases import this file and core/ only;
 * the adapters (functions/adapters/) implement these interfaces, and the factories that pick
 * an adapter live with whoever picks (the Lambda runtime, the CLI, tests).
 */

import type { PeerCertificate } from 'node:tls';
import type { AlertMessage, IncidentRecord } from './core/alert-policy.ts';
import type { SecretRef, TenantConfig, TenantSourceConfig } from './core/config.ts';
import { errorClass } from './core/errors.ts';
import type { PagerDutyEvent } from './core/pagerduty.ts';
import type { SamplingDecision } from './core/sampling.ts';
import type { Secret } from './core/secret.ts';
import type { CheckResult } from './core/types.ts';

// ---------------------------------------------------------------------------------------------
// What a probe uses

export interface ResolvedTenant {
  tenantId: string;
  signingSecret: Secret;
}

/** Adapters a probe may use; built once per run by the adapters factory (`openPorts`). */
export interface Ports {
  http: HttpClient;
  /** TLS handshakes that report on the certificate instead of refusing it. */
  tls: TlsPort;
  /** The current time (injected so tests and replays control it). */
  now: () => Date;
  /** A fresh UUID v4. */
  uuid: () => string;
  /** Present when the config has a `database` section. */
  pg?: PgPort;
  /** Present when the config has a `redis` section. */
  redis?: RedisPort;
}

/** Ports of one run, with the connections they hold; {@link withPorts} closes them. */
export interface OpenPorts extends Ports {
  close(): Promise<void>;
}

// HTTP

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Deadline for the whole exchange, connect to last body byte. */
  timeoutMs: number;
  /** Bytes of body kept; reading stops (and the connection is dropped) past this. */
  maxBytes: number;
  /** Cancels the request early (the check's budget or the run's). */
  signal?: AbortSignal;
}

export type HttpResult =
  | {
      kind: 'response';
      status: number;
      headers: Record<string, string>;
      /** The body as UTF-8 text, at most maxBytes of it. */
      bodyText: string;
      /**
       * The body parsed as JSON, or undefined when it is not JSON, was truncated, or is beyond the
       * limits for platform JSON (PLATFORM_JSON_MAX_DEPTH and _BYTES in functions/core/limits.ts).
       */
      json: unknown;
      /** Why a body that looks like JSON was not parsed (nested too deep, too large). */
      jsonSkipped?: string;
      /** True when the body was longer than maxBytes. */
      truncated: boolean;
      elapsedMs: number;
    }
  | {
      kind: 'timeout';
      phase: 'connect' | 'response';
      elapsedMs: number;
      message: string;
      /** True when the caller's signal ended the request, not the request's own deadline. */
      cancelled?: boolean;
    }
  | { kind: 'network'; code: string; message: string; elapsedMs: number };

export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResult>;
  /** Requests sent since the client was made (benchmarks count load on the platform). */
  readonly requestCount: number;
  close(): Promise<void>;
}

// TLS

export type TlsHandshake =
  | { kind: 'handshake'; authorized: boolean; authorizationError: string | undefined; cert: PeerCertificate }
  | { kind: 'timeout'; phase: 'connect' | 'handshake' }
  | { kind: 'failed'; phase: 'connect' | 'handshake'; code: string }
  | { kind: 'cancelled' };

export interface TlsHandshakeRequest {
  host: string;
  port: number;
  /** Connect plus handshake. */
  timeoutMs: number;
  /** Ends the attempt early (the check's budget): the answer is `cancelled`. */
  signal: AbortSignal;
}

export interface TlsPort {
  /** Connects and completes a handshake without refusing a bad certificate, then hangs up. */
  handshake(request: TlsHandshakeRequest): Promise<TlsHandshake>;
}

// SQL

/** A row as the driver returns it. */
export type SqlRow = object;

/** What one statement answers (a multi-statement text answers an array of these at run time). */
export interface SqlResult<R extends SqlRow = SqlRow> {
  rows: R[];
  rowCount: number | null;
}

export interface SqlSession {
  query<R extends SqlRow = SqlRow>(sql: string, params?: readonly unknown[]): Promise<SqlResult<R>>;
}

export interface TransactionOptions {
  /** `SET LOCAL ROLE` to this role first (config `database.probeAsRole`). */
  role: string | null;
  /** Transaction-scoped settings, e.g. the tenant context: `set_config(name, value, true)`. */
  settings?: Readonly<Record<string, string>>;
  /**
   * The work runs the platform's own SQL (its context function): after the ROLLBACK the connection
   * is reset with `DISCARD ALL` before it goes back to the pool, so nothing that function left for
   * the session (a session advisory lock, a prepared statement, a temporary table) outlives the probe.
   */
  resetSession?: boolean;
}

/** What a committed read-only transaction left on its connection (see {@link PgPort.inCommittedReadOnlyTransaction}). */
export interface AfterCommit {
  /** Each watched setting as the connection held it right after COMMIT (null: never set). */
  afterCommit: Record<string, string | null>;
  /** The same after the canary RESET them (the connection is closed when any still holds a value). */
  afterReset: Record<string, string | null>;
}

export interface PgPort {
  /** Runs `work` inside BEGIN … ROLLBACK: nothing a probe does is ever committed. */
  inRolledBackTransaction<T>(options: TransactionOptions, work: (session: SqlSession) => Promise<T>): Promise<T>;
  /**
   * Runs `work` inside BEGIN READ ONLY … COMMIT (PostgreSQL refuses every write in it), then, in
   * the same message as the COMMIT so no other client of a shared backend runs in between, reads
   * the `watch` settings on that connection and RESETs them. The connection is then closed, never
   * reused (what else the committed work set for the session is unknown). For probes of what
   * outlives a transaction on a pooled connection; `work` throwing rolls back instead.
   */
  inCommittedReadOnlyTransaction(
    options: TransactionOptions & { watch: readonly string[] },
    work: (session: SqlSession) => Promise<void>,
  ): Promise<AfterCommit>;
  /**
   * SQL statements sent since the port was opened, each statement of a multi-statement query
   * counted (benchmarks and tests count load on the platform).
   */
  readonly statementCount: number;
  /** Queries sent (network round trips) since the port was opened; absent on a port that sends none. */
  readonly roundTripCount?: number;
  /** Connections opened since the port was opened. */
  readonly connectionCount: number;
  close(): Promise<void>;
}

// Redis

export interface QueueLength {
  key: string;
  length: number;
}

export interface RedisPort {
  /** `LLEN` of each key, in one round trip. */
  listLengths(keys: readonly string[]): Promise<QueueLength[]>;
  readonly commandCount: number;
  close(): Promise<void>;
}

// Secrets

export interface SecretResolver {
  /** `abandoned` aborts when the reader stops waiting (its time limit); the read may still settle. */
  resolve(ref: SecretRef, abandoned?: AbortSignal): Promise<Secret>;
  /**
   * A postgres:// URL from an RDS-style JSON secret (`username`, `password`, `host`, `port`,
   * `dbname`), as Secrets Manager's RDS rotation writes it (config `database.secretId`).
   */
  resolveDatabaseUrl(secretId: string): Promise<Secret>;
}

// ---------------------------------------------------------------------------------------------
// What the use cases use besides

export interface PublishOutcome {
  /** Ids of the messages SNS accepted. */
  delivered: string[];
  /** Messages SNS did not accept, with a reason (an error code, never message content). */
  failed: { id: string; reason: string }[];
}

export interface AlertPublisher {
  publish(messages: readonly AlertMessage[]): Promise<PublishOutcome>;
}

/** What became of one PagerDuty event (functions/adapters/pagerduty.ts sends them). */
export type PagerDutySendOutcome =
  | { ok: true; attempts: number; status: number }
  | { ok: false; attempts: number; permanent: boolean; reason: string };

export interface PagerDutySender {
  send(event: PagerDutyEvent): Promise<PagerDutySendOutcome>;
}

/** Whether an alert topic exists and may be used, without publishing to it (preflight --publish). */
export interface AlertTopicCheck {
  /** What was found (`2 confirmed subscriptions`), or throws with the reason. */
  check(topicArn: string): Promise<string>;
}

export interface VersionedIncident {
  record: IncidentRecord;
  /** Incremented by every write; the condition of the next one. */
  version: number;
}

export interface IncidentWrite {
  record: IncidentRecord;
  /** The version read; null: the key must not exist yet. */
  expectedVersion: number | null;
}

export interface SaveResult {
  /** New version of each written key. */
  written: Map<string, number>;
  /** Keys whose stored version was not the expected one: nothing was written for them. */
  conflicts: string[];
}

export interface AlertStateStore {
  /** The stored records of these keys (absent keys are missing from the map). */
  load(keys: readonly string[]): Promise<Map<string, VersionedIncident>>;
  /**
   * The keys of every open incident ({@link isOpenIncident}), to {@link load} with the keys of a
   * run's failing results instead of every key the run touches. May also name incidents that
   * have just come to rest (the DynamoDB index is eventually consistent); load reads them as they are.
   */
  openKeys(): Promise<string[]>;
  /** Writes each record if its key is still at `expectedVersion`. */
  save(writes: readonly IncidentWrite[]): Promise<SaveResult>;
}

/** A store that cannot be read or written (not a conflict: those are a {@link SaveResult}). */
/** A store that cannot be read or written (not a conflict: those are a {@link SaveResult}). */
export const StateStoreError = errorClass('StateStoreError', 'state');
export type StateStoreError = InstanceType<typeof StateStoreError>;

export interface SweepTenantResults {
  tenantId: string;
  results: readonly CheckResult[];
}

/** A sweep as the ledger holds it. */
export interface SweepStatus {
  sweepId: string;
  /** Tenants handed out, by count: listed at open, minus those withdrawn (SQS refused them). */
  expected: number;
  /** Tenants counted in (a tenant delivered again in another batch may be counted twice). */
  reported: number;
  openedAt: string;
  /** Past this instant the sweep is judged with what it has, and its messages are not probed. */
  deadline: string;
  /** Set once, by the judgement that closed it. */
  judgedAt: string | null;
  /** Whether that judgement saw every expected tenant. */
  complete: boolean | null;
  /** A judge holds the sweep until then. */
  leaseUntil: string | null;
}

/** The right to judge a sweep, until `until` (then anyone may take it over). */
export interface SweepLease {
  sweepId: string;
  token: string;
  until: string;
}

export interface ReportOutcome {
  /** False: this batch was recorded before (delivered again whole), or the sweep is unknown. */
  recorded: boolean;
  /** The count says every tenant may be in: try to claim it and judge. */
  mayBeComplete: boolean;
  /** The sweep was already judged: these results came too late to count. */
  late: boolean;
}

/**
 * The fan-in of a sweep (functions/app/judge-sweep.ts has the protocol): the sweep opens it
 * with its tenants and a drain deadline, probes record results and count themselves in, and a
 * sweep is judged once, under a lease, by whoever sees it complete or past its deadline.
 */
export interface SweepLedger {
  /** Opens a sweep that hands out these tenants, judged with what it has after `deadline`. */
  open(sweepId: string, tenantIds: readonly string[], deadline: Date, now: Date): Promise<void>;
  /** Tenants that were never handed out (SQS refused them): they are no longer expected. */
  withdraw(sweepId: string, tenantIds: readonly string[], now: Date): Promise<void>;
  /**
   * Records these tenants' results (one probe invocation's: one item, one counter update) and
   * counts them in. A tenant recorded twice keeps its first results.
   */
  report(sweepId: string, tenants: readonly SweepTenantResults[], now: Date): Promise<ReportOutcome>;
  /** The sweep, or undefined when it was never opened (or has expired). */
  status(sweepId: string): Promise<SweepStatus | undefined>;
  /** Every sweep not yet judged, oldest first (ids sort by time). */
  pending(): Promise<SweepStatus[]>;
  /** A lease on an unjudged sweep whose lease is free or expired; null if someone holds it or it is judged. */
  claim(sweepId: string, now: Date, leaseMs: number): Promise<SweepLease | null>;
  /** The tenants the sweep handed out (listed, not withdrawn). */
  expectedTenants(sweepId: string): Promise<string[]>;
  /** Every recorded tenant's results. */
  results(sweepId: string): Promise<SweepTenantResults[]>;
  /** Marks the sweep judged, if the lease is still this one; false when it was lost (taken over). */
  finish(lease: SweepLease, outcome: { complete: boolean }, now: Date): Promise<boolean>;
  /** Gives the lease up (judging failed or was not due): the sweep stays judgeable. */
  release(lease: SweepLease): Promise<void>;
}

/**
 * A tenant message: which tenant to probe, and the sweep it belongs to. As sent (the sweep); the
 * probe reads it back as a `ReceivedTenantMessage` (functions/core/events.ts).
 */
export interface TenantMessage {
  tenantId: string;
  /** The sweep's id (`runId` on the wire: deployed messages carry this key). */
  runId: string;
  /** The sweep's drain deadline (ISO): a message delivered after it is dropped, not probed. */
  deadline?: string;
  /** Another tenant of the sweep, whose secret the cross-tenant checks forge with (a batch of one). */
  peer?: string;
  /** Which sampled checks this sweep runs for the tenant (functions/core/sampling.ts). */
  sampling?: SamplingDecision;
  /**
   * Seconds before the message becomes visible (SQS `DelaySeconds`, at most 900): the sweep's
   * pacing under the request budget (functions/core/budget.ts). Not part of the body.
   */
  delaySeconds?: number;
}

export interface EnqueueOutcome {
  sent: number;
  failed: { tenantId: string; reason: string }[];
}

/** A received probe message SQS is to deliver again (a record the probe could not probe). */
export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
}

/** The probe queue: the sweep sends tenants to it; the probe hands back the records it could not probe. */
export interface TenantQueue {
  send(messages: readonly TenantMessage[]): Promise<EnqueueOutcome>;
  /**
   * Makes these records visible again after the queue's retry delay (not the long visibility
   * timeout), so their retries, and after `maxReceiveCount` the dead-letter queue, come while
   * their sweep still matters. Never throws: returns the ids it could not change (those come back
   * after the visibility timeout instead).
   */
  retryLater(records: readonly ReceivedMessage[]): Promise<{ unchanged: string[] }>;
}

export interface SkippedTenant {
  /** 1-based row of the query's answer. */
  row: number;
  /** Why; names the tenant only when its id is valid. */
  reason: string;
}

export interface TenantListing {
  /** Usable tenants, as the config's `tenants` (secrets from the database are redacting refs). */
  tenants: TenantConfig[];
  skipped: SkippedTenant[];
}

export interface TenantSource {
  readonly kind: TenantSourceConfig['type'];
  /** Every usable tenant (the sweep, once a sweep). */
  list(): Promise<TenantListing>;
  /**
   * Only these tenants, with their secrets (a probe batch): one `tenant_id = ANY($1)` query for
   * the database source, answered from a per-container cache while fresh. A tenant the source no
   * longer has is left out.
   */
  lookup(tenantIds: readonly string[]): Promise<TenantListing>;
}

/** The tenant list cannot be read at all (as opposed to single rows, which are skipped). */
// ---------------------------------------------------------------------------------------------
// Pure helpers of the ports

/** Double-quotes an identifier (already validated by the config schema); `a.b` quotes each part. */
export function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}

/** The SQLSTATE of a PostgreSQL error, if it is one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** A one-line description of a database error, safe to report (no connection string). */
export function describeDbError(error: unknown): string {
  if (error instanceof Error) {
    const state = sqlState(error);
    return state ? `${error.message} (SQLSTATE ${state})` : error.message;
  }
  return String(error);
}

/** `baseUrl` + `path`, keeping any path prefix of the base URL (`https://h/api` + `/health`). */
export function endpointUrl(baseUrl: string, path: string): string {
  const url = new URL(baseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

/** A URL safe to report: no user name, password, query or fragment. */
export function displayUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.toString();
  } catch {
    return '(invalid URL)';
  }
}

/** What went wrong when no response came back, as a phrase: "did not answer within 5000 ms". */
export function describeNoResponse(result: Exclude<HttpResult, { kind: 'response' }>, timeoutMs: number): string {
  if (result.kind === 'network') return `could not be reached (${result.code}: ${oneLine(result.message)})`;
  if (result.cancelled) return "did not answer before the check's time budget ran out";
  if (result.phase === 'connect') return `did not accept a connection in time (${result.message})`;
  return `did not answer within ${timeoutMs} ms`;
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}
