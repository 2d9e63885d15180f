/**
 * The production wiring of the Lambdas: the one factory that builds clients (lazily, once per
 * container, never at import time) from the embedded config and the stack's environment. Tests
 * build their own {@link AppDeps} and pass them to the handler factories, or call this one
 * with their environment.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { heartbeatOf } from '../adapters/heartbeat.ts';
import { openBasePorts, type PortsOptions } from '../adapters/ports-base.ts';
import { createSecretResolver } from '../adapters/secrets.ts';
import { createSnsPublisherFromConfig } from '../adapters/sns.ts';
import { createTenantSource } from '../adapters/tenant-source.ts';
import type { AppDeps } from '../app/deps.ts';
import { type Config, ConfigError } from '../core/config.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../core/telemetry.ts';
import type { AlertPublisher, AlertStateStore, OpenPorts, SweepLedger, TenantQueue, TenantSource } from '../ports.ts';
import { LAMBDA_ENV, type LambdaSettings, loadEmbeddedConfig, readLambdaSettings } from './settings.ts';

/** Logger and metrics; `service` is the stack's (POWERTOOLS_SERVICE_NAME), so stacks never mix metrics. */
export function createTelemetry(env: Readonly<Record<string, string | undefined>> = process.env): {
  logger: Logger;
  metrics: Metrics;
} {
  const serviceName = env.POWERTOOLS_SERVICE_NAME || SERVICE_NAME;
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName }),
  };
}

/** Opens a run's ports: the probe's without Redis (the default), the sweep's with it (`adapters/index.ts`). */
export type NetworkOpener = (config: Config, options: PortsOptions) => Promise<OpenPorts>;

/** The production wiring: clients built on first use and kept for the container's life. */
export function createLambdaDeps(
  env: Readonly<Record<string, string | undefined>> = process.env,
  openNetworkPorts: NetworkOpener = openBasePorts,
): AppDeps {
  const { logger, metrics } = createTelemetry(env);
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
  let source: { key: Config['tenantSource']; source: TenantSource } | undefined;
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
    tenantSource(current) {
      // One per container and config: its lookup cache (a batch's decrypted secrets) outlives an invocation.
      // Keyed by the tenantSource section: a derived config (scheduled, on demand) shares it.
      if (source?.key !== current.tenantSource) {
        source = { key: current.tenantSource, source: createTenantSource(current, { secrets }) };
      }
      return source.source;
    },
    stateStore() {
      store ??= (async () => {
        const { createDynamoStateStore } = await import('../adapters/state-dynamodb.ts');
        return createDynamoStateStore({ tableName: settingsOf().stateTable });
      })();
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
        const { queueUrl, retryDelaySeconds } = settingsOf();
        if (queueUrl === undefined) throw new ConfigError([`${LAMBDA_ENV.queueUrl} is not set`]);
        const { createTenantQueue } = await import('../adapters/sqs.ts');
        return createTenantQueue({ queueUrl, ...(retryDelaySeconds === undefined ? {} : { retryDelaySeconds }) });
      })();
      return queue;
    },
    now: () => new Date(),
    ...heartbeatOf(env, secrets),
    urlPublishAllowed: () => env[LAMBDA_ENV.urlPublish] === 'true',
  };
}
