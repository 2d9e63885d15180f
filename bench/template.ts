/**
 * The stack as `cdk synth` builds it for a config: the CloudFormation template (what the bill
 * prices) and the functions' bundles (what the cold start measures), synthesised in-process with
 * real esbuild bundling and cdk-nag, into a directory of its own.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { addCanaryStack } from '../lib/app.ts';
import { type DeploymentConfig, parseDeploymentConfig } from '../lib/config.ts';

export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export interface SynthesizedStack {
  config: DeploymentConfig;
  resources: Record<string, TemplateResource>;
  /** Each function's asset directory and bundle, by the function's logical id. */
  bundles: Record<string, { dir: string; file: string; bytes: number; mapBytes: number }>;
  directory: string;
}

/** Synthesises `config` (a deployment config object, paths relative to the working directory). */
export function synthesize(config: unknown, outdir = mkdtempSync(join(tmpdir(), 'canary-bench-synth-'))) {
  const parsed = parseDeploymentConfig(config);
  const app = new App({ outdir });
  const stack = addCanaryStack(app, parsed);
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  const template = artifact.template as { Resources: Record<string, TemplateResource> };
  const bundles: SynthesizedStack['bundles'] = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const code = resource.Properties?.Code as { S3Key?: unknown } | undefined;
    if (typeof code?.S3Key !== 'string') continue;
    const dir = join(assembly.directory, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
    const file = ['index.mjs', 'index.js'].map((name) => join(dir, name)).find((path) => existsSync(path));
    if (file === undefined) continue;
    const map = `${file}.map`;
    bundles[id] = {
      dir,
      file,
      bytes: statSync(file).size,
      mapBytes: existsSync(map) ? statSync(map).size : 0,
    };
  }
  return { config: parsed, resources: template.Resources, bundles, directory: assembly.directory };
}

/** The logical id of the function whose id starts with `prefix` (`Probe`, `Sweep`, `PagerDuty`). */
export function functionId(stack: Pick<SynthesizedStack, 'resources'>, prefix: string): string | undefined {
  return Object.entries(stack.resources).find(
    ([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.startsWith(prefix),
  )?.[0];
}

/** Reads a JSON config file (paths inside it stay relative to the working directory). */
export function readConfig(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/** Files in an asset directory (the bundle, its config, CA files, a source map if shipped). */
export function assetFiles(dir: string): string[] {
  return readdirSync(dir).sort();
}
