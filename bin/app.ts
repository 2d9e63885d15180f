#!/usr/bin/env node
/**
 * CDK app entry: `npx cdk synth -c config=examples/platform.json`. The config is validated
 * before anything is built; each problem is printed with its field, and the synth stops.
 */
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../functions/core/config.ts';
import { addCanaryStack } from '../lib/app.ts';
import { loadDeploymentConfig } from '../lib/config.ts';

const app = new App();
const configPath: unknown = app.node.tryGetContext('config');
if (typeof configPath !== 'string' || configPath === '') {
  process.stderr.write('tenant-canary: pass the deployment config: cdk synth -c config=examples/platform.json\n');
  process.exit(2);
}
try {
  addCanaryStack(app, loadDeploymentConfig(configPath));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`tenant-canary: ${configPath} is not a valid deployment config:\n`);
  for (const issue of error.issues) process.stderr.write(`  - ${issue}\n`);
  process.exit(2);
}
app.synth();
