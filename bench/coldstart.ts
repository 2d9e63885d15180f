/**
 * Cold start: the probe handler bundled with the CDK NodejsFunction's esbuild options, its size,
 * and the time a fresh `node` process takes to `import` it (median of several).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Format } from 'esbuild';

export interface BundleOptions {
  format: Format;
  minify: boolean;
  sourcemap: boolean;
  target: string;
  external: string[];
  /** Where these options were read from (the stack), or why the defaults were used. */
  source: string;
}

export interface ColdStart {
  entry: string;
  options: BundleOptions;
  bundleKb: number;
  sourceMapKb: number;
  importMs: number[];
  importMsMedian: number;
  /** Bundles found in cdk.out (when `cdk synth` has run), KB by asset directory. */
  cdkAssets: { asset: string; file: string; kb: number }[];
}

export const HANDLER_ENTRY = 'functions/handlers/probe.ts';

/**
 * The NodejsFunction bundling options of the stack, read from lib/*.ts when it states them;
 * otherwise the CDK defaults for a Node 22 arm64 function with minify and source maps on.
 */
export async function stackBundleOptions(root: string): Promise<BundleOptions> {
  const options: BundleOptions = {
    format: 'cjs',
    minify: true,
    sourcemap: true,
    target: 'node22',
    // NodejsFunction leaves the runtime's AWS SDK v3 out by default.
    external: ['@aws-sdk/*'],
    source: 'CDK NodejsFunction defaults (no bundling options found in lib/)',
  };
  const dir = join(root, 'lib');
  const files = existsSync(dir) ? (await readdir(dir)).filter((name) => name.endsWith('.ts')) : [];
  const text = (await Promise.all(files.map((name) => readFile(join(dir, name), 'utf8')))).join('\n');
  if (!/bundling\s*:/.test(text)) return options;
  const found: string[] = [];
  if (/OutputFormat\.ESM/.test(text)) {
    options.format = 'esm';
    found.push('format esm');
  } else if (/OutputFormat\.CJS/.test(text)) found.push('format cjs');
  if (/minify\s*:\s*false/.test(text)) options.minify = false;
  if (/sourceMap\s*:\s*(false|props\.sourceMaps === true)/.test(text)) options.sourcemap = false;
  const target = /target\s*:\s*['"]([^'"]+)['"]/.exec(text)?.[1];
  if (target !== undefined) options.target = target;
  const externals = /externalModules\s*:\s*\[([^\]]*)\]/.exec(text)?.[1];
  if (externals !== undefined) {
    options.external = [...externals.matchAll(/['"]([^'"]+)['"]/g)].map((match) => match[1]!);
    found.push(`externalModules [${options.external.join(', ')}]`);
  }
  options.source = `lib/ (${files.join(', ')}): minify ${options.minify}, sourceMap ${options.sourcemap}, target ${options.target}${found.length ? `, ${found.join(', ')}` : ''}`;
  return options;
}

/** The Lambda bundles of the last `cdk synth` (cdk.out), named by their function's logical id. */
async function cdkAssets(root: string): Promise<ColdStart['cdkAssets']> {
  const out = join(root, 'cdk.out');
  if (!existsSync(out)) return [];
  const names = new Map<string, string>();
  for (const file of (await readdir(out)).filter((name) => name.endsWith('.template.json'))) {
    const template = JSON.parse(await readFile(join(out, file), 'utf8')) as {
      Resources?: Record<string, { Type?: string; Properties?: { Code?: { S3Key?: unknown } } }>;
    };
    for (const [id, resource] of Object.entries(template.Resources ?? {})) {
      const key = resource.Properties?.Code?.S3Key;
      if (resource.Type === 'AWS::Lambda::Function' && typeof key === 'string') {
        names.set(`asset.${key.replace(/\.zip$/, '')}`, id);
      }
    }
  }
  const assets: ColdStart['cdkAssets'] = [];
  for (const name of await readdir(out)) {
    if (!name.startsWith('asset.')) continue;
    for (const file of ['index.mjs', 'index.js', 'index.cjs']) {
      const path = join(out, name, file);
      if (existsSync(path)) assets.push({ asset: names.get(name) ?? name, file, kb: (await stat(path)).size / 1024 });
    }
  }
  return assets;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Bundles the probe handler into `outDir` and times fresh imports of it. */
export async function measureColdStart(root: string, outDir: string, runs: number): Promise<ColdStart> {
  const entry = HANDLER_ENTRY;
  if (!existsSync(join(root, entry))) throw new Error(`${entry} is missing: there is no probe handler to bundle`);
  const options = await stackBundleOptions(root);
  await mkdir(outDir, { recursive: true });
  const outfile = join(outDir, options.format === 'esm' ? 'index.mjs' : 'index.js');
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: options.format,
    target: options.target,
    minify: options.minify,
    sourcemap: options.sourcemap,
    external: options.external,
    logLevel: 'silent',
    // As NodejsFunction does for ESM: CommonJS dependencies still call require().
    ...(options.format === 'esm'
      ? {
          banner: {
            js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
          },
        }
      : {}),
  });
  // The bundle sits in the repo tree so that external @aws-sdk/* resolves as the runtime's would.
  await writeFile(join(outDir, 'package.json'), '{"type":"commonjs"}\n');
  const bundleKb = (await stat(outfile)).size / 1024;
  const mapFile = `${outfile}.map`;
  const sourceMapKb = existsSync(mapFile) ? (await stat(mapFile)).size / 1024 : 0;

  const url = pathToFileURL(outfile).href;
  const script = `const t = performance.now(); await import(${JSON.stringify(url)}); process.stdout.write(String(performance.now() - t));`;
  const importMs: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, AWS_REGION: process.env.AWS_REGION ?? 'us-east-1' },
      timeout: 60_000,
    });
    const value = Number(child.stdout);
    if (child.status !== 0 || !Number.isFinite(value)) {
      throw new Error(`importing ${relative(root, outfile)} failed: ${child.stderr.slice(0, 500)}`);
    }
    importMs.push(value);
  }
  return {
    entry,
    options,
    bundleKb,
    sourceMapKb,
    importMs,
    importMsMedian: median(importMs),
    cdkAssets: await cdkAssets(root),
  };
}
