/**
 * The one construct for a canary Lambda: a `NodejsFunction` with the fixed defaults, bundled
 * locally by esbuild (no Docker) with the validated config copied into the bundle.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { EMBEDDED_CONFIG_FILE } from '../functions/core/lambda-env.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../functions/core/telemetry.ts';

/** The repository root: entries, lock file and esbuild are found from here. */
export const PROJECT_ROOT = join(import.meta.dirname, '..');

/**
 * Import paths esbuild leaves out of every bundle (matched as written in the importing module):
 * - `@aws-sdk/*`: the Node.js 22 runtime ships AWS SDK v3 (the adapters import it on first use).
 * - `./native`: pg's libpq client (`pg/lib/native`, 8 KB minified), which only works with the
 *   `pg-native` addon, never installed here. pg loads it in two places: the `pg.native` getter,
 *   which nothing here reads and which answers `null` on MODULE_NOT_FOUND (as it did when the
 *   bundled client failed to find the addon), and at import when NODE_PG_FORCE_NATIVE is set,
 *   which nothing sets (it failed then too). Only pg imports a path written `./native`
 *   (test/cdk/bundling.test.ts checks every deployed entry).
 */
export const EXTERNAL_MODULES: readonly string[] = ['@aws-sdk/*', './native'];

export interface CanaryFunctionProps {
  /** The handler file, relative to the repository root, e.g. `functions/handlers/probe.ts`. */
  entry: string;
  description: string;
  role: iam.IRole;
  /** A directory holding `canary-config.json` (and the CA bundles, if any) to copy into the bundle. */
  embedDir: string;
  /** Concurrent executions reserved (and capped). @default none */
  reservedConcurrency?: number;
  /** The CA bundle files in `embedDir` to copy too. @default [] */
  caFiles?: readonly string[];
  /** @default Duration.minutes(2) */
  timeout?: Duration;
  /** @default 512 */
  memorySize?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  logRetention?: logs.RetentionDays;
  /** Source map in the asset and `--enable-source-maps` (deployment.sourceMaps). @default false */
  sourceMaps?: boolean;
  vpc?: ec2.IVpc;
  subnets?: ec2.ISubnet[];
  securityGroups?: ec2.ISecurityGroup[];
  environment?: Record<string, string>;
}

/**
 * Node.js 22 on arm64, minified ESM (source maps and `--enable-source-maps` only when asked), its
 * own log group with a retention, X-Ray off (EMF and structured logs say what matters).
 */
export class CanaryFunction extends NodejsFunction {
  readonly logGroupRef: logs.LogGroup;

  constructor(scope: Construct, id: string, props: CanaryFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const copies = [`cp "${join(props.embedDir, EMBEDDED_CONFIG_FILE)}" "{OUT}/${EMBEDDED_CONFIG_FILE}"`];
    for (const name of props.caFiles ?? []) copies.push(`cp "${join(props.embedDir, name)}" "{OUT}/${name}"`);
    super(scope, id, {
      entry: join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.minutes(2),
      memorySize: props.memorySize ?? 512,
      ...(props.reservedConcurrency === undefined ? {} : { reservedConcurrentExecutions: props.reservedConcurrency }),
      role: props.role,
      logGroup,
      ...(props.vpc
        ? { vpc: props.vpc, vpcSubnets: { subnets: props.subnets ?? [] }, securityGroups: props.securityGroups ?? [] }
        : {}),
      environment: {
        ...(props.sourceMaps === true ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME, // the stack passes its own in `environment`
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: props.sourceMaps === true,
        ...(props.sourceMaps === true ? { sourcesContent: false } : {}),
        mainFields: ['module', 'main'],
        // Some dependencies are CommonJS and require() Node built-ins.
        banner:
          "import { createRequire as __canaryRequire } from 'node:module'; const require = __canaryRequire(import.meta.url);",
        externalModules: [...EXTERNAL_MODULES],
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => copies.map((c) => c.replaceAll('{OUT}', outputDir)),
        },
      },
    });
    this.logGroupRef = logGroup;
  }
}

/** Writes the files every canary function embeds into a fresh directory under `outdir`. */
export function writeEmbedDir(
  dir: string,
  embedded: Record<string, unknown>,
  caFiles: Readonly<Record<string, string>> = {},
): void {
  writeFileSync(join(dir, EMBEDDED_CONFIG_FILE), `${JSON.stringify(embedded, null, 2)}\n`);
  for (const [name, pem] of Object.entries(caFiles)) writeFileSync(join(dir, name), pem);
}
