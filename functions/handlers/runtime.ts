/**
 * What the Lambda handlers share: the embedded config, the environment the stack sets, and the
 * one factory that builds clients (lazily, once per container, never at import time). Tests
 * build {@link LambdaDeps} themselves and pass them to the handler factories.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import * as z from 'zod';
import { type OpenPorts, openPorts as openNetworkPorts } from '../adapters/index.ts';
import { createSecretResolver, type SecretResolver } from '../adapters/secrets.ts';
import { type AlertPublisher, createSnsPublisherFromConfig } from '../adapters/sns.ts';
import type { TenantQueue } from '../adapters/sqs.ts';
import { type AlertStateStore, openStateStore } from '../adapters/state-store.ts';
import type { SweepLedger } from '../adapters/sweep-ledger.ts';
import { createTenantSource, type TenantSource } from '../adapters/tenant-source.ts';
import { type Config, ConfigError, parseConfig } from '../core/config.ts';
import { EMBEDDED_CONFIG_FILE, LAMBDA_ENV } from '../core/lambda-env.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../core/telemetry.ts';
import { TIERS } from '../core/types.ts';

export { EMBEDDED_CONFIG_FILE, LAMBDA_ENV };

const required = (name: string) => z.string({ error: `${name} is not set` }).min(1, { error: `${name} is empty` });

const envSchema = z.object({
  [LAMBDA_ENV.configFile]: z.string().min(1).default(EMBEDDED_CONFIG_FILE),
  [LAMBDA_ENV.stateTable]: required(LAMBDA_ENV.stateTable),
  [LAMBDA_ENV.sweepTable]: required(LAMBDA_ENV.sweepTable),
  [LAMBDA_ENV.topic.P0]: required(LAMBDA_ENV.topic.P0),
  [LAMBDA_ENV.topic.P1]: required(LAMBDA_ENV.topic.P1),
  [LAMBDA_ENV.topic.P2]: required(LAMBDA_ENV.topic.P2),
  [LAMBDA_ENV.topic.P3]: required(LAMBDA_ENV.topic.P3),
  [LAMBDA_ENV.queueUrl]: z.string().min(1).optional(),
});

export interface LambdaSettings {
  configPath: string;
  stateTable: string;
  sweepTable: string;
  topics: Record<(typeof TIERS)[number], string>;
  /** The sweep's queue; the probe has none. */
  queueUrl?: string;
}

/** Reads the stack's environment variables; a missing one is a {@link ConfigError} naming it. */
export function readLambdaSettings(env: Readonly<Record<string, string | undefined>>): LambdaSettings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((issue) => issue.message));
  const values = parsed.data as Record<string, string | undefined>;
  const file = values[LAMBDA_ENV.configFile] as string;
  const root = env.LAMBDA_TASK_ROOT ?? process.cwd();
  const queueUrl = values[LAMBDA_ENV.queueUrl];
  return {
    configPath: isAbsolute(file) ? file : join(root, file),
    stateTable: values[LAMBDA_ENV.stateTable] as string,
    sweepTable: values[LAMBDA_ENV.sweepTable] as string,
    topics: Object.fromEntries(TIERS.map((tier) => [tier, values[LAMBDA_ENV.topic[tier]] as string])) as Record<
      (typeof TIERS)[number],
      string
    >,
    ...(queueUrl === undefined ? {} : { queueUrl }),
  };
}

/** The config the stack bundled with the function, with the topics the stack created. */
export async function loadEmbeddedConfig(settings: LambdaSettings): Promise<Config> {
  let text: string;
  try {
    text = await readFile(settings.configPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError([`the embedded config ${settings.configPath} cannot be read (${code})`], { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError([`the embedded config ${settings.configPath} is not valid JSON`]);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError([`the embedded config ${settings.configPath} is not a JSON object`]);
  }
  const input = json as Record<string, unknown>;
  const alerts = (input.alerts ?? {}) as Record<string, unknown>;
  return parseConfig({ ...input, alerts: { ...alerts, topics: settings.topics } });
}

/** Everything a handler needs from the outside world; tests pass their own. */
export interface LambdaDeps {
  logger: Logger;
  metrics: Metrics;
  config(): Promise<Config>;
  secrets: SecretResolver;
  openPorts(config: Config): Promise<OpenPorts>;
  tenantSource(config: Config): TenantSource;
  stateStore(): Promise<AlertStateStore>;
  /** Where probes record results so a whole sweep is judged at once. */
  sweepLedger(): Promise<SweepLedger>;
  publisher(config: Config): AlertPublisher;
  /** The sweep's fan-out queue. */
  tenantQueue(): Promise<TenantQueue>;
  now(): Date;
}

export function createTelemetry(): { logger: Logger; metrics: Metrics } {
  return {
    logger: new Logger({ serviceName: SERVICE_NAME }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME }),
  };
}

/** The production wiring: clients built on first use and kept for the container's life. */
export function createLambdaDeps(env: Readonly<Record<string, string | undefined>> = process.env): LambdaDeps {
  const { logger, metrics } = createTelemetry();
  let settings: LambdaSettings | undefined;
  const settingsOf = () => {
    settings ??= readLambdaSettings(env);
    return settings;
  };
  let config: Promise<Config> | undefined;
  let store: Promise<AlertStateStore> | undefined;
  let queue: Promise<TenantQueue> | undefined;
  let ledger: Promise<SweepLedger> | undefined;
  let publisher: AlertPublisher | undefined;
  const secrets = createSecretResolver({ env });
  return {
    logger,
    metrics,
    config() {
      config ??= loadEmbeddedConfig(settingsOf()).catch((error: unknown) => {
        config = undefined; // a later invocation tries again
        throw error;
      });
      return config;
    },
    secrets,
    openPorts: (current) => openNetworkPorts(current, { secrets }),
    tenantSource: (current) => createTenantSource(current, { secrets }),
    stateStore() {
      store ??= openStateStore({ kind: 'dynamodb', tableName: settingsOf().stateTable });
      return store;
    },
    sweepLedger() {
      ledger ??= (async () => {
        const { createSweepLedger } = await import('../adapters/sweep-ledger.ts');
        return createSweepLedger({ tableName: settingsOf().sweepTable });
      })();
      return ledger;
    },
    publisher(current) {
      publisher ??= createSnsPublisherFromConfig(current);
      return publisher;
    },
    tenantQueue() {
      queue ??= (async () => {
        const queueUrl = settingsOf().queueUrl;
        if (queueUrl === undefined) throw new ConfigError([`${LAMBDA_ENV.queueUrl} is not set`]);
        const { createTenantQueue } = await import('../adapters/sqs.ts');
        return createTenantQueue({ queueUrl });
      })();
      return queue;
    },
    now: () => new Date(),
  };
}
