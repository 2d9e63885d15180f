/**
 * What the deployed use cases need from the outside world: telemetry, the embedded config, and
 * factories for ports and stores. The Lambda runtime (functions/handlers/runtime.ts) builds the
 * production set; tests build their own.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Config } from '../core/config.ts';
import type {
  AlertPublisher,
  AlertStateStore,
  OpenPorts,
  SecretResolver,
  SweepLedger,
  TenantQueue,
  TenantSource,
} from '../ports.ts';
import type { runChecks } from '../run.ts';

export interface AppDeps {
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
  /**
   * What runs a set of checks (the simulation of the deployed protocol stands in its own, to run
   * thousands of sweeps without a platform). @default runChecks (functions/run.ts)
   */
  checks?: typeof runChecks;
  /**
   * Pings the dead-man's switch outside AWS (deployment.heartbeatUrl) after a judged sweep;
   * throws when the ping failed. Absent: no switch configured.
   */
  heartbeat?(): Promise<void>;
  /** Whether an on-demand caller (Function URL or direct invoke) may ask for alerts to be published (deployment.onDemand.allowUrlPublish). @default false */
  urlPublishAllowed?(): boolean;
}
