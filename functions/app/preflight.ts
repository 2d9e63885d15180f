/**
 * `tenant-canary preflight`: everything the checks need, checked before the first sweep and
 * without sending a webhook or writing anything. Each step says ok or what is missing and the
 * fix (the grant, the setting, the permission). Reads only: secrets by reference (never shown),
 * a GET of the health endpoint, a TLS handshake, catalog queries and privilege functions in a
 * rolled-back transaction, and LLEN.
 */
import { type Config, effectivePgTlsMode, type SecretRef } from '../core/config.ts';
import { errorMessage } from '../core/errors.ts';
import {
  type AlertTopicCheck,
  describeDbError,
  describeNoResponse,
  displayUrl,
  endpointUrl,
  type OpenPorts,
  quoteIdent,
  type SecretResolver,
} from '../ports.ts';
import { type DatabaseFacts, probeRoleBypass, readDatabaseFacts } from '../probes/database.ts';
import { readIsolationCatalog } from '../probes/isolation.ts';
import { relationSql } from '../probes/rls.ts';
import { type PortsOpener, withPorts } from './with-ports.ts';

export interface PreflightStep {
  /** What was checked, e.g. `postgres: grants on the tenant tables`. */
  step: string;
  ok: boolean;
  /** What was found: a version, a certificate, what is missing. */
  detail: string;
  /** How to fix it, when not ok. */
  fix?: string;
}

export interface PreflightReport {
  ok: boolean;
  steps: PreflightStep[];
}

const ok = (step: string, detail: string): PreflightStep => ({ step, ok: true, detail });
const missing = (step: string, detail: string, fix: string): PreflightStep => ({ step, ok: false, detail, fix });

/** Every secret reference of the config, by the field that holds it. */
function secretRefs(config: Config): { field: string; ref: SecretRef }[] {
  const refs = config.tenants.map((tenant, i) => ({ field: `tenants[${i}].signingSecret`, ref: tenant.signingSecret }));
  if (config.tenantSource.type === 'database') {
    refs.push({ field: 'tenantSource.encryptionKey', ref: config.tenantSource.encryptionKey });
  }
  if (config.redis?.auth !== undefined) refs.push({ field: 'redis.auth.password', ref: config.redis.auth.password });
  if (config.alerts.pagerduty !== undefined) {
    refs.push({ field: 'alerts.pagerduty.routingKey', ref: config.alerts.pagerduty.routingKey });
  }
  return refs;
}

function describeRef(ref: SecretRef): string {
  if ('value' in ref) return 'an inline value';
  if ('env' in ref) return `environment variable ${ref.env}`;
  return `secret ${ref.secretId}${ref.jsonKey === undefined ? '' : ` (key ${ref.jsonKey})`}`;
}

function fixFor(ref: SecretRef): string {
  if ('env' in ref) return `export ${ref.env} before running the canary`;
  if ('secretId' in ref) {
    return `create ${ref.secretId}${ref.jsonKey === undefined ? '' : ` with the key ${ref.jsonKey}`}, and allow secretsmanager:GetSecretValue on it (and kms:Decrypt on its key) to the canary's role`;
  }
  return 'give a value';
}

async function secretSteps(config: Config, secrets: SecretResolver): Promise<PreflightStep[]> {
  const refs = secretRefs(config);
  const failures: PreflightStep[] = [];
  for (const { field, ref } of refs) {
    try {
      await secrets.resolve(ref);
    } catch (error) {
      failures.push(
        missing(`secret ${field}`, `${describeRef(ref)} cannot be read: ${errorMessage(error)}`, fixFor(ref)),
      );
    }
  }
  if (config.database?.secretId !== undefined) {
    try {
      await secrets.resolveDatabaseUrl(config.database.secretId);
    } catch (error) {
      failures.push(
        missing(
          'secret database.secretId',
          `secret ${config.database.secretId} cannot be read: ${errorMessage(error)}`,
          fixFor({ secretId: config.database.secretId }),
        ),
      );
    }
  }
  const total = refs.length + (config.database?.secretId === undefined ? 0 : 1);
  return failures.length > 0 ? failures : [ok('secrets', `all ${total} secret references are readable`)];
}

async function apiSteps(config: Config, ports: OpenPorts, signal: AbortSignal): Promise<PreflightStep[]> {
  const { platform, thresholds } = config;
  const url = endpointUrl(platform.baseUrl, platform.healthPath);
  const steps: PreflightStep[] = [];
  const base = new URL(platform.baseUrl);
  if (base.protocol === 'https:') {
    const host = base.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = base.port === '' ? 443 : Number(base.port);
    const shake = await ports.tls.handshake({ host, port, timeoutMs: thresholds.requestTimeoutMs, signal });
    const target = `${base.hostname}:${port}`;
    if (shake.kind !== 'handshake') {
      const why =
        shake.kind === 'failed'
          ? `${shake.code} (${shake.phase})`
          : shake.kind === 'timeout'
            ? `timeout (${shake.phase})`
            : 'cancelled';
      steps.push(
        missing(
          'api: TLS handshake',
          `no TLS handshake with ${target}: ${why}`,
          'check the DNS name, the route (NAT or VPC endpoint) and the security group towards the API',
        ),
      );
    } else if (!shake.authorized) {
      steps.push(
        missing(
          'api: TLS handshake',
          `${target} shows a certificate Node does not trust: ${shake.authorizationError ?? 'not authorized'}`,
          'set platform.caFile to the PEM bundle of the CA that signed it, or fix the certificate',
        ),
      );
    } else {
      const days = Math.floor((Date.parse(shake.cert.valid_to) - ports.now().getTime()) / 86_400_000);
      steps.push(
        ok('api: TLS handshake', `${target}: certificate for ${shake.cert.subject?.CN ?? '?'}, ${days} days left`),
      );
    }
  }
  const result = await ports.http.request({
    method: 'GET',
    url,
    headers: { accept: 'application/json' },
    timeoutMs: thresholds.requestTimeoutMs,
    maxBytes: thresholds.maxResponseBytes,
    signal,
  });
  steps.push(
    result.kind === 'response'
      ? ok('api: health endpoint', `GET ${displayUrl(url)} answered HTTP ${result.status} in ${result.elapsedMs} ms`)
      : missing(
          'api: health endpoint',
          `GET ${displayUrl(url)} ${describeNoResponse(result, thresholds.requestTimeoutMs)}`,
          'check platform.baseUrl and that the canary can reach it (from a VPC: a NAT route for a public endpoint)',
        ),
  );
  return steps;
}

/** The fix for a connect error, by what it says. */
function connectFix(message: string): string {
  if (/^TLS to /.test(message))
    return 'set database.tls.caFile (the RDS CA bundle), or connect by the name on the certificate';
  if (/no pg_hba\.conf entry.*no encryption/.test(message))
    return 'the server accepts TLS only: use database.tls.mode verify-full';
  if (/password authentication failed|no pg_hba\.conf entry/.test(message)) {
    return "check the login's password (database.url or database.secretId) and pg_hba.conf";
  }
  return 'check the host and port, the security group and that the database accepts the canary';
}

async function databaseSteps(config: Config, ports: OpenPorts): Promise<PreflightStep[]> {
  const database = config.database;
  if (database === undefined) return [ok('postgres', 'no database section: the database checks are skipped')];
  const pg = ports.pg!;
  let login: { user: string; version: string; tls: string | null };
  try {
    login = await pg.inRolledBackTransaction({ role: null }, async (session) => {
      const { rows } = await session.query<{ user: string; version: string; tls: string | null }>(
        `SELECT session_user::text AS user, current_setting('server_version') AS version,
                (SELECT CASE WHEN ssl THEN version ELSE NULL END FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS tls`,
      );
      return rows[0]!;
    });
  } catch (error) {
    const message = describeDbError(error);
    return [missing('postgres: connect', message, connectFix(message))];
  }
  const mode =
    database.url === undefined
      ? (database.tls.mode ?? 'verify-full unless the secret names a loopback host')
      : effectivePgTlsMode(database.tls, database.url);
  const steps = [
    ok(
      'postgres: connect',
      `logged in as ${login.user} to PostgreSQL ${login.version} ${login.tls === null ? 'without TLS' : `over ${login.tls}`} (database.tls.mode ${mode})`,
    ),
  ];
  const role = database.probeAsRole;
  if (role !== null) {
    try {
      await pg.inRolledBackTransaction({ role }, async () => undefined);
      steps.push(ok('postgres: SET ROLE', `${login.user} may SET ROLE ${role}`));
    } catch (error) {
      return [
        ...steps,
        missing(
          'postgres: SET ROLE',
          `${login.user} may not SET ROLE ${role}: ${describeDbError(error)}`,
          `GRANT ${quoteIdent(role)} TO ${quoteIdent(login.user)};`,
        ),
      ];
    }
  }
  let facts: DatabaseFacts;
  try {
    facts = await readDatabaseFacts(pg, config);
    await readIsolationCatalog(pg, config, facts.tables);
    steps.push(ok('postgres: catalog', 'the catalog views the RLS checks read are readable'));
    const bypass = probeRoleBypass(facts);
    steps.push(
      bypass === null
        ? ok('postgres: probe role', `${facts.probeRole.name} is subject to row-level security`)
        : missing(
            'postgres: probe role',
            `${bypass}: the RLS probes would prove nothing`,
            'give the canary a login that is not superuser, has no BYPASSRLS and owns no tenant table (or set probeAsRole)',
          ),
    );
  } catch (error) {
    steps.push(
      missing(
        'postgres: catalog',
        `the catalog could not be read: ${describeDbError(error)}`,
        'the canary needs only the default PUBLIC access to pg_catalog; check it was not revoked',
      ),
    );
    return steps;
  }
  steps.push(...grantSteps(config, facts));
  return steps;
}

/**
 * What the probe role may do on the tenant tables (configured and discovered, as the run's one
 * catalog statement read them) and the context function (by its declared argument type). Tables
 * tied to a tenant table by foreign key only are read probed, never written: SELECT is enough there.
 */
function grantSteps(config: Config, facts: DatabaseFacts): PreflightStep[] {
  const database = config.database!;
  const role = facts.probeRole.name;
  const steps: PreflightStep[] = [];
  const absent = facts.tables.filter((t) => !t.exists).map((t) => t.name);
  if (absent.length > 0) {
    steps.push(
      missing(
        'postgres: tenant tables',
        `${absent.join(', ')} not found`,
        "check database.tenantTables (and the login's search_path)",
      ),
    );
  }
  const present = facts.tables.filter((t) => t.exists);
  const lacking = present
    .map((t) => {
      const needs = t.found === 'fk' ? (['SELECT'] as const) : (['SELECT', 'INSERT', 'UPDATE'] as const);
      const can = {
        SELECT: t.probePrivileges.select,
        INSERT: t.probePrivileges.insert,
        UPDATE: t.probePrivileges.update,
      };
      return { table: t.name, sql: relationSql(t), found: t.found, lacks: needs.filter((p) => !can[p]) };
    })
    .filter((t) => t.lacks.length > 0);
  const discovered = present.filter((t) => !t.configured).length;
  const counted = `${present.length} tenant tables${discovered > 0 ? ` (${discovered} of them discovered)` : ''}`;
  if (lacking.length > 0) {
    steps.push(
      missing(
        'postgres: grants on the tenant tables',
        `${role} lacks ${lacking.map((t) => `${t.lacks.join(', ')} on ${t.table}`).join('; ')}: without them the read and write probes only prove the canary may not touch the table, not that RLS refuses (their writes are always rolled back); those tables are reported "not proven" (error), never "refused"`,
        `${lacking
          .map((t) => `GRANT ${t.lacks.join(', ')} ON ${t.sql} TO ${quoteIdent(role)};`)
          .join(
            ' ',
          )} (granting the application's NOLOGIN role, e.g. app_user, covers only the tables it holds grants on)`,
      ),
    );
  } else if (absent.length === 0) {
    steps.push(
      ok(
        'postgres: grants on the tenant tables',
        `${role} may read all ${counted}, and INSERT and UPDATE those with the tenant column (under RLS)`,
      ),
    );
  }
  const fn = database.contextFunction;
  if (fn !== null) {
    const found = facts.contextFunction;
    const argType = found === null || found.argType === 'character varying' ? 'varchar' : found.argType;
    const name = `${fn}(${argType})`;
    if (found === null) {
      steps.push(
        missing(
          'postgres: context function',
          `${fn} (one argument) not found`,
          'check database.contextFunction, or set it to null',
        ),
      );
    } else if (!found.canExecute) {
      steps.push(
        missing(
          'postgres: context function',
          `${role} may not execute ${name}`,
          `GRANT EXECUTE ON FUNCTION ${quoteIdent(fn)}(${argType}) TO ${quoteIdent(role)};`,
        ),
      );
    } else {
      steps.push(ok('postgres: context function', `${role} may execute ${name}`));
    }
  }
  return steps;
}

async function redisSteps(config: Config, ports: OpenPorts): Promise<PreflightStep[]> {
  const redis = config.redis;
  if (redis === undefined) return [ok('redis', 'no redis section: queue.depth is skipped')];
  try {
    const lengths = await ports.redis!.listLengths(redis.queueKeys);
    return [ok('redis', `LLEN allowed on ${lengths.map((l) => `${l.key} (${l.length})`).join(', ')}`)];
  } catch (error) {
    const message = errorMessage(error);
    const fix = /WRONGPASS|NOAUTH/.test(message)
      ? 'check redis.auth: the user name, and the password its secret holds'
      : /NOPERM/.test(message)
        ? `allow the ACL user LLEN on the queue keys (e.g. +llen ${redis.queueKeys.map((k) => `~${k}`).join(' ')})`
        : /certificate|self-signed|verify/i.test(message)
          ? 'set redis.tls.caFile to the PEM bundle of the CA that signed the server certificate'
          : 'check redis.url (rediss:// for in-transit encryption), the route and the security group';
    return [missing('redis', message, fix)];
  }
}

export interface PreflightInput {
  config: Config;
  open: PortsOpener;
  secrets: SecretResolver;
  /** With it, each of `alerts.topics` is checked too (`preflight --publish`). */
  topics?: AlertTopicCheck;
  signal?: AbortSignal;
}

async function topicSteps(config: Config, topics: AlertTopicCheck): Promise<PreflightStep[]> {
  const arns = config.alerts.topics;
  if (arns === undefined) {
    return [missing('sns', 'alerts.topics is not set', 'add one SNS topic ARN per tier to alerts.topics to publish')];
  }
  const steps: PreflightStep[] = [];
  for (const [tier, arn] of Object.entries(arns)) {
    try {
      steps.push(ok(`sns: ${tier} topic`, `${arn}: ${await topics.check(arn)}`));
    } catch (error) {
      steps.push(
        missing(
          `sns: ${tier} topic`,
          `${arn} cannot be used: ${errorMessage(error)}`,
          'create the topic in that account and region, and allow sns:GetTopicAttributes and sns:Publish on it',
        ),
      );
    }
  }
  return steps;
}

export async function preflight(input: PreflightInput): Promise<PreflightReport> {
  const { config } = input;
  const signal = input.signal ?? new AbortController().signal;
  const steps: PreflightStep[] = [ok('config', `valid: ${config.tenants.length} tenant(s) listed`)];
  steps.push(...(await secretSteps(config, input.secrets)));
  await withPorts(input.open, config, async (ports) => {
    steps.push(...(await apiSteps(config, ports, signal)));
    steps.push(...(await databaseSteps(config, ports)));
    steps.push(...(await redisSteps(config, ports)));
  });
  if (input.topics !== undefined) steps.push(...(await topicSteps(config, input.topics)));
  return { ok: steps.every((step) => step.ok), steps };
}
