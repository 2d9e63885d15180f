/**
 * One real synth: esbuild bundles both functions locally (no Docker, no AWS account), the config
 * is copied into each bundle, and cdk-nag's AwsSolutions rules find nothing unacknowledged.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { addCanaryStack } from '../../lib/app.ts';
import { parseDeploymentConfig } from '../../lib/config.ts';
import { buildStack, exampleConfig } from './support.ts';

const outdir = mkdtempSync(join(tmpdir(), 'canary-synth-'));
let probeBundle = '';

/** The directory of the probe function's asset, from the assembly's asset manifest. */
function probeAssetDir(directory: string): string {
  const manifest = JSON.parse(readFileSync(join(directory, 'TenantCanary.assets.json'), 'utf8')) as {
    files: Record<string, { displayName?: string; source: { path: string } }>;
  };
  const probe = Object.values(manifest.files).find((file) => file.displayName?.startsWith('Probe/'));
  if (!probe) throw new Error('no probe asset in the assembly');
  return join(directory, probe.source.path);
}
afterAll(() => {
  vi.unstubAllEnvs();
  rmSync(outdir, { recursive: true, force: true });
});

describe('cdk synth', () => {
  it('bundles both functions with their config and passes cdk-nag', () => {
    const { app } = buildStack(undefined, { bundle: true, outdir });
    const assembly = app.synth(); // throws ValidationFailed on any unacknowledged cdk-nag finding
    const assets = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
    // The sweep, the probe and (the example configures PagerDuty) the forwarder.
    expect(assets).toHaveLength(3);
    const checked = assets.filter((asset) =>
      readdirSync(join(assembly.directory, asset)).includes('canary-database-ca.pem'),
    );
    expect(checked).toHaveLength(2);
    for (const asset of assets) {
      const dir = join(assembly.directory, asset);
      const code = statSync(join(dir, 'index.mjs')).size;
      expect(code).toBeLessThan(3 * 1024 * 1024);
      expect(readFileSync(join(dir, 'canary-config.json'), 'utf8')).toContain('"secretId"');
      if (!checked.includes(asset)) {
        // The forwarder talks to PagerDuty only: no database CA.
        expect(readdirSync(dir).sort()).toEqual(['canary-config.json', 'index.mjs']);
        continue;
      }
      // The example names the RDS CA bundle: it ships beside the config, which points at it.
      expect(readdirSync(dir).sort()).toEqual(['canary-config.json', 'canary-database-ca.pem', 'index.mjs']);
      expect(readFileSync(join(dir, 'canary-database-ca.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
      expect(readFileSync(join(dir, 'canary-config.json'), 'utf8')).toContain('/var/task/canary-database-ca.pem');
    }
    probeBundle = probeAssetDir(assembly.directory);
  });

  it('produces a probe bundle that loads and answers a malformed event', async () => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
    const bundle = (await import(join(probeBundle, 'index.mjs'))) as {
      handler: (event: unknown, context: unknown) => Promise<unknown>;
    };
    const context = { getRemainingTimeInMillis: () => 60_000 };
    expect(await bundle.handler({ tenant: 'acme-corp' }, context)).toEqual({
      error: 'tenantId is required; unknown field "tenant"',
    });
    expect(await bundle.handler({ requestContext: { http: { method: 'GET' } } }, context)).toMatchObject({
      statusCode: 405,
    });
  });

  it('leaves the Redis client and every static AWS SDK import out of the probe bundle', () => {
    const code = readFileSync(join(probeBundle, 'index.mjs'), 'utf8');
    // The SDK is external (the runtime ships it) and loaded on first use: import("@aws-sdk/...").
    expect(code).not.toMatch(/(?:^|[;}\s])import\s*[{*\w][^;]*?from\s*["']@aws-sdk\//);
    expect(code).toMatch(/import\(["']@aws-sdk\/lib-dynamodb["']\)/);
    // Platform checks (the Redis queue) are the sweep's: no ioredis, no undici.
    expect(code).not.toContain('ioredis');
    expect(code).not.toContain('llhttp');
  });

  it('ships source maps, and turns them on, only when deployment.sourceMaps is true', () => {
    const mapped = mkdtempSync(join(tmpdir(), 'canary-synth-maps-'));
    try {
      const config = exampleConfig() as { deployment: Record<string, unknown> };
      config.deployment.sourceMaps = true;
      const { app, template } = buildStack(config, { bundle: true, outdir: mapped });
      const assembly = app.synth();
      const dir = probeAssetDir(assembly.directory);
      expect(readdirSync(dir)).toContain('index.mjs.map');
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ NODE_OPTIONS: '--enable-source-maps' }) },
      });
    } finally {
      rmSync(mapped, { recursive: true, force: true });
    }
  });

  it('fails the synth on a finding nobody acknowledged', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = addCanaryStack(app, parseDeploymentConfig(exampleConfig()));
    new sqs.Queue(stack, 'UnreviewedQueue');
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3/);
  });
});
