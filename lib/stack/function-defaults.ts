/**
 * What every canary function of one stack shares, in one place: the embedded config, the log
 * retention, source maps and the metric `service`; runtime, architecture, memory and bundling
 * are `CanaryFunction`'s own defaults.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { SERVICE_NAME } from '../../functions/core/telemetry.ts';
import { CanaryFunction, type CanaryFunctionProps, writeEmbedDir } from '../canary-function.ts';
import type { DeploymentConfig } from '../config.ts';

export interface FunctionDefaults {
  /** The directory with the embedded config (and CA bundles) every function copies into its bundle. */
  embedDir: string;
  logRetention: logs.RetentionDays;
  sourceMaps: boolean;
  /** The metric `service` of this stack's functions (one per stack). */
  service: string;
}

/** Writes the embedded files and gathers the stack's function defaults from config. */
export function functionDefaults(stack: Stack, config: DeploymentConfig, embedDir?: string): FunctionDefaults {
  const dir = embedDir ?? mkdtempSync(join(tmpdir(), 'tenant-canary-embed-'));
  writeEmbedDir(dir, config.embedded, config.caFiles);
  return {
    embedDir: dir,
    logRetention: config.deployment.logRetentionDays as logs.RetentionDays,
    sourceMaps: config.deployment.sourceMaps,
    // One metric `service` per stack: two canaries in one account never satisfy each other's heartbeat.
    service: `${SERVICE_NAME}/${stack.stackName}`,
  };
}

/** A canary function with the stack's defaults; `props.environment` adds to the metric service's. */
export function canaryFunction(
  stack: Stack,
  id: string,
  defaults: FunctionDefaults,
  props: Omit<CanaryFunctionProps, 'embedDir' | 'logRetention' | 'sourceMaps'>,
): CanaryFunction {
  return new CanaryFunction(stack, id, {
    ...props,
    embedDir: defaults.embedDir,
    logRetention: defaults.logRetention,
    sourceMaps: defaults.sourceMaps,
    environment: { POWERTOOLS_SERVICE_NAME: defaults.service, ...props.environment },
  });
}
