/**
 * What `CanaryFunction` leaves out of the bundles (`EXTERNAL_MODULES`), checked on every handler
 * entry the stack deploys, bundled by esbuild as NodejsFunction bundles it (no synth: fast).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { EXTERNAL_MODULES, PROJECT_ROOT } from '../../lib/canary-function.ts';

/** The `entry` of every canary function in lib/stack/. */
function deployedEntries(): string[] {
  const dir = join(PROJECT_ROOT, 'lib', 'stack');
  const entries = readdirSync(dir)
    .filter((name) => name.endsWith('.ts'))
    .flatMap((name) =>
      [...readFileSync(join(dir, name), 'utf8').matchAll(/entry: '(functions\/handlers\/[\w-]+\.ts)'/g)].map(
        (match) => match[1] as string,
      ),
    );
  return [...new Set(entries)].sort();
}

async function bundle(entry: string): Promise<{ code: string; metafile: Metafile }> {
  const result = await build({
    entryPoints: [join(PROJECT_ROOT, entry)],
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    external: [...EXTERNAL_MODULES],
    minify: true,
    metafile: true,
    write: false,
    outfile: join(tmpdir(), 'canary-bundling-test', 'index.mjs'), // not written (write: false)
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error(`esbuild wrote nothing for ${entry}`);
  return { code: output.text, metafile: result.metafile };
}

describe('the bundles CanaryFunction builds', () => {
  const entries = deployedEntries();

  it('finds the three deployed handlers', () => {
    expect(entries).toEqual([
      'functions/handlers/pagerduty.ts',
      'functions/handlers/probe.ts',
      'functions/handlers/sweep.ts',
    ]);
  });

  it.each(entries)('%s: only pg imports a path written ./native, and no native pg client is bundled', async (entry) => {
    const { code, metafile } = await bundle(entry);
    // `./native` is external so that pg's libpq client stays out; any other module importing a
    // path written so would be left out too, and fail where it is loaded.
    const importers = Object.entries(metafile.inputs)
      .filter(([, input]) => input.imports.some((imported) => imported.original === './native'))
      .map(([path]) => path);
    for (const path of importers) expect(path).toMatch(/(?:^|\/)node_modules\/pg\/lib\/index\.js$/);
    expect(Object.keys(metafile.inputs).filter((path) => path.includes('/pg/lib/native/'))).toEqual([]);
    expect(code).not.toContain('pg-native');
  });
});

describe('the probe Lambda bundle', () => {
  /** Bytes each source file contributes to the bundle (imported but tree-shaken: 0 or a few). */
  async function bytesByInput(entry: string): Promise<Map<string, number>> {
    const { metafile } = await bundle(entry);
    const output = Object.values(metafile.outputs)[0];
    return new Map(Object.entries(output?.inputs ?? {}).map(([path, input]) => [path, input.bytesInOutput]));
  }

  it('carries the tenant probes and none of the platform probes (it runs tenant checks only)', async () => {
    const bytes = await bytesByInput('functions/handlers/probe.ts');
    // Modules only platform checks use: their registry and the probes nothing else imports.
    for (const platformOnly of ['platform.ts', 'health.ts', 'tls.ts', 'capacity.ts', 'policy-reads.ts']) {
      expect(bytes.get(`functions/probes/${platformOnly}`) ?? 0).toBeLessThan(100);
    }
    expect(bytes.get('functions/probes/webhook.ts')).toBeGreaterThan(1000);
    expect(bytes.get('functions/probes/rls.ts')).toBeGreaterThan(1000);
  });

  it('leaves them in the sweep bundle', async () => {
    const bytes = await bytesByInput('functions/handlers/sweep.ts');
    expect(bytes.get('functions/probes/platform.ts')).toBeGreaterThan(500);
    expect(bytes.get('functions/probes/health.ts')).toBeGreaterThan(500);
  });
});
