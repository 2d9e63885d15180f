/**
 * Puts the canary stack in a CDK app, with cdk-nag's AwsSolutions rules in the synth path
 * (a policy-validation plugin: an unacknowledged finding fails the synth).
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { TenantCanaryStack } from './canary-stack.ts';
import type { DeploymentConfig } from './config.ts';
import { suppressReviewedFindings } from './nag.ts';

export function addCanaryStack(app: App, config: DeploymentConfig, embedDir?: string): TenantCanaryStack {
  const { deployment } = config;
  const stack = new TenantCanaryStack(app, deployment.stackName, {
    config,
    ...(embedDir === undefined ? {} : { embedDir }),
    ...(deployment.env ? { env: deployment.env } : {}),
    description: 'tenant-canary: synthetic monitoring of the webhook platform, per tenant, every few minutes',
  });
  suppressReviewedFindings(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
