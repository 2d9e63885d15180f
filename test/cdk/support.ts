/** Builds the canary stack for assertions, with bundling skipped (fast) unless asked for. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addCanaryStack } from '../../lib/app.ts';
import type { TenantCanaryStack } from '../../lib/canary-stack.ts';
import { parseDeploymentConfig } from '../../lib/config.ts';

/** The small example with a static tenant list: most stack assertions are about it. */
export const EXAMPLE_PATH = join(import.meta.dirname, '../../examples/static.json');
/** The example a 1,000-tenant platform deploys: tenants from its database, deferred round trips. */
export const PLATFORM_EXAMPLE_PATH = join(import.meta.dirname, '../../examples/platform.json');

export function exampleConfig(): Record<string, unknown> {
  return JSON.parse(readFileSync(EXAMPLE_PATH, 'utf8')) as Record<string, unknown>;
}

export function platformExampleConfig(): Record<string, unknown> {
  return JSON.parse(readFileSync(PLATFORM_EXAMPLE_PATH, 'utf8')) as Record<string, unknown>;
}

export interface Built {
  app: App;
  stack: TenantCanaryStack;
  template: Template;
  embedDir: string;
}

export function buildStack(
  config: unknown = exampleConfig(),
  options: { bundle?: boolean; outdir?: string } = {},
): Built {
  const app = new App({
    ...(options.outdir ? { outdir: options.outdir } : {}),
    // Skip esbuild in assertion tests; one test synthesises with real bundling.
    context: options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] },
  });
  const embedDir = mkdtempSync(join(tmpdir(), 'canary-embed-test-'));
  const stack = addCanaryStack(app, parseDeploymentConfig(config), embedDir);
  return { app, stack, template: Template.fromStack(stack), embedDir };
}
