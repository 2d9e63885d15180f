/**
 * The CLI: `run`, `checks`, `sandbox`, `drill`, `preflight`, `snapshot`, `invoke`. It parses arguments, calls a use case
 * (functions/app/) and renders the answer; exit codes are bin/cli/errors.ts's.
 */
import { constants } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { openPorts } from '../../functions/adapters/index.ts';
import { createConfiguredPublisher } from '../../functions/adapters/pagerduty.ts';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { createSnsTopicCheck } from '../../functions/adapters/sns.ts';
import { createFileStateStore } from '../../functions/adapters/state-file.ts';
import { createMemoryStateStore } from '../../functions/adapters/state-memory.ts';
import { createTenantSource } from '../../functions/adapters/tenant-source.ts';
import { type LocalRunOutcome, localRun } from '../../functions/app/local-run.ts';
import { CATALOG, type CheckId, isCheckId } from '../../functions/core/catalog.ts';
import {
  type Config,
  isIsoInstant,
  parseConfig,
  parseConfigText,
  unreadableFileError,
} from '../../functions/core/config.ts';
import { readConnectionUrl } from '../../functions/core/connection-url.ts';
import { isFailing } from '../../functions/core/results.ts';
import { type AlertStateStore, displayUrl, StateStoreError } from '../../functions/ports.ts';
import type { Sandbox, SandboxOptions } from '../../sandbox/index.ts';
import { EXIT_FAILING, EXIT_OK, EXIT_USAGE, exitFor, oneLine, UsageError } from './errors.ts';
import type { InvokeOptions } from './invoke.ts';
import { progressEnabled, progressLine } from './progress.ts';
import { renderCatalog, renderReport, styleFor } from './render.ts';

export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM: a running command stops cleanly. */
  signal?: AbortSignal;
  /** Tests start the embedded sandbox with their own options. */
  sandboxOptions?: SandboxOptions;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command('tenant-canary')
    .description('Synthetic monitoring of a multi-tenant webhook platform: signatures, round trips, tenant isolation.')
    .exitOverride()
    .showSuggestionAfterError(false)
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(oneLine(text)),
    });

  program
    .command('run')
    .description('run every check once and report')
    .option('--config <file>', 'config JSON (default: start the embedded sandbox and run against it)')
    .option('--tenant <id>', 'only this tenant (repeatable)', collect)
    .option('--check <id>', 'only this check (repeatable)', collect)
    .option('--json', 'print only the report JSON on stdout')
    .option(
      '--full',
      'print every tenant in full (past 20 tenants, passing ones collapse into one line and a result 3 or more tenants share is one line)',
    )
    .option('--report <file>', 'also write the report JSON to this file')
    .option('--html <file>', 'also write a self-contained HTML report (tenant × check grid) to this file')
    .option('--state <file>', 'keep alert state in this JSON file between runs (created if absent)')
    .option('--publish', "send the run's alerts to alerts.topics (SNS) and alerts.pagerduty (needs --state)")
    .option('--now <iso>', 'the alert clock, an ISO 8601 date-time such as 2026-11-27T10:05:00Z (replays)')
    .addOption(
      new Option('--sandbox-database <url>', 'embedded sandbox: a real PostgreSQL admin URL instead of PGlite'),
    )
    .addOption(new Option('--sandbox-redis <url|memory>', 'embedded sandbox: this Redis, or "memory" for no Redis'))
    .action(async (options: RunOptions) => {
      exitCode = await runCommand(options, io);
    });

  program
    .command('checks')
    .description('list the check catalog')
    .option('--json', 'print the catalog as JSON')
    .action((options: { json?: boolean }) => {
      io.stdout.write(
        options.json ? `${JSON.stringify(CATALOG, null, 2)}\n` : renderCatalog(styleFor(io.stdout, io.env)),
      );
    });

  program
    .command('sandbox')
    .description('start the embedded reference platform and print a config pointing at it')
    .option('--fault <name>', 'switch on a fault (repeatable; see --list-faults)', collect)
    .option('--list-faults', 'list the fault switches and exit')
    .option('--tenants <n>', 'number of seeded tenants', '3')
    .addOption(
      new Option('--signature-format <format>', 'what the receiver demands').choices(['sha256-prefixed', 'hex']),
    )
    .option('--database <url>', 'a real PostgreSQL admin URL instead of PGlite')
    .option('--redis <url|memory>', 'this Redis, or "memory" for no Redis')
    .action(async (options: SandboxCommandOptions) => {
      exitCode = await sandboxCommand(options, io);
    });

  program
    .command('drill')
    .description('switch each sandbox fault on, run, and check that exactly the expected checks fire')
    .argument('[faults...]', 'faults to drill (see: tenant-canary sandbox --list-faults)')
    .option('--all', 'drill every fault')
    .option('--json', 'print the drill rows as JSON')
    .option('--html <file>', 'also write the fault × check matrix as a self-contained HTML file')
    .addOption(new Option('--sandbox-database <url>', 'a real PostgreSQL admin URL instead of PGlite'))
    .addOption(new Option('--sandbox-redis <url|memory>', 'this Redis, or "memory" for no Redis'))
    .action(async (faults: string[], options: DrillOptions) => {
      exitCode = await drillCommand(faults, options, io);
    });

  program
    .command('preflight')
    .description('check, without sending a webhook or writing anything, that the canary has everything its checks need')
    .option('--config <file>', 'config JSON (default: start the embedded sandbox and check against it)')
    .option('--json', 'print {ok, steps} as JSON')
    .option('--publish', 'also check each SNS topic of alerts.topics (sns:GetTopicAttributes; nothing is published)')
    .action(async (options: PreflightOptions) => {
      exitCode = await preflightCommandFromCli(options, io);
    });

  program
    .command('snapshot')
    .description('print the normalised isolation snapshot and its digest (pin it as database.isolationDigest)')
    .option('--config <file>', 'config JSON (default: start the embedded sandbox and read its database)')
    .option('--json', 'print {digest, pinned, matches, snapshot} as JSON')
    .addOption(
      new Option('--sandbox-database <url>', 'embedded sandbox: a real PostgreSQL admin URL instead of PGlite'),
    )
    .action(async (options: SnapshotOptions) => {
      exitCode = await snapshotCommandFromCli(options, io);
    });

  program
    .command('invoke')
    .description('run the deployed canary for one tenant now (a SigV4-signed call to its Function URL)')
    .requiredOption('--url <url>', "the probe function's URL (stack output ProbeFunctionUrl)")
    .requiredOption('--tenant <id>', 'the tenant to probe')
    .option('--publish', "let the deployed canary publish this run's alerts")
    .option('--json', 'print only the report JSON on stdout')
    .option('--timeout <seconds>', 'give up after this long', '300')
    .action(async (options: InvokeOptions) => {
      // Loaded only when needed: it pulls in the AWS credential chain.
      const { invokeCommand } = await import('./invoke.ts');
      exitCode = await invokeCommand(options, io);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; everything else commander rejects is usage.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    const exit = exitFor(error);
    if (exit === undefined) throw error;
    io.stderr.write(exit.line);
    return exit.code;
  }
}

interface RunOptions {
  config?: string;
  tenant?: string[];
  check?: string[];
  json?: boolean;
  full?: boolean;
  report?: string;
  html?: string;
  state?: string;
  publish?: boolean;
  now?: string;
  sandboxDatabase?: string;
  sandboxRedis?: string;
}

async function runCommand(options: RunOptions, io: CliIo): Promise<number> {
  const checkIds = parseCheckIds(options.check);
  const alertClock = options.now === undefined ? undefined : parseInstant(options.now);
  if (options.publish && options.config === undefined) {
    throw new UsageError(
      '--publish needs --config FILE with alerts.topics or alerts.pagerduty (the embedded sandbox has neither)',
    );
  }
  if (options.publish && options.state === undefined) {
    throw new UsageError(
      '--publish needs --state FILE: without kept state every run would be judged alone and page again',
    );
  }
  const secrets = createSecretResolver({ env: io.env });
  const configured = options.config === undefined ? undefined : await loadConfigFile(options.config);
  const publisher =
    configured !== undefined && options.publish
      ? createConfiguredPublisher(configured, { secrets, snsClientConfig: snsClientConfig(configured) })
      : null;
  const store = await openAlertState(options.state, alertClock);
  let sandbox: Sandbox | undefined;
  let target: string;
  let outcome: LocalRunOutcome;
  const progress = progressLine(io.stderr, progressEnabled(io.stderr, io.env, options.json === true));
  try {
    progress.update('starting');
    let config: Config;
    if (configured === undefined) {
      sandbox = await startEmbeddedSandbox(sandboxOptionsFrom(options.sandboxDatabase, options.sandboxRedis, io));
      config = parseConfig(sandbox.config);
      target = `the embedded sandbox at ${sandbox.baseUrl} (PostgreSQL: ${sandbox.info.database}, queue: ${sandbox.info.redis})`;
    } else {
      config = configured;
      target = displayUrl(config.platform.baseUrl);
    }
    progress.update('running the checks');
    outcome = await localRun({
      config,
      tenantSource: createTenantSource(config, { secrets }),
      openPorts: (current) => openPorts(current, { secrets }),
      secrets,
      filters: { tenantIds: options.tenant, checkIds },
      store,
      publisher,
      now: alertClock,
      signal: io.signal,
      onSkippedTenant: (skipped) => {
        progress.clear();
        io.stderr.write(oneLine(`tenant-canary: tenantSource skipped ${skipped.reason}`));
      },
      onTenantDone: ({ done, total, failing }) => progress.update(`tenants ${done}/${total}, ${failing} failing`),
    });
  } finally {
    progress.stop();
    await sandbox?.stop();
  }
  const { report } = outcome;
  for (const event of outcome.alertEvents) {
    if (event.type === 'undelivered') {
      io.stderr.write(
        oneLine(
          `tenant-canary: alert ${event.id} could not be published (${event.reason}); it stays pending in ${options.state} and goes out on the next run`,
        ),
      );
    } else if (event.type === 'gave-up') {
      io.stderr.write(
        oneLine(
          `tenant-canary: another run kept changing ${event.keys.join(', ')} in ${options.state}; left to that run`,
        ),
      );
    }
  }
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (options.report !== undefined) await writeOutput('--report', options.report, json);
  if (options.html !== undefined) {
    const { renderHtmlReport } = await import('./html.ts');
    const html = renderHtmlReport(report, {
      target,
      runbookBaseUrl: configured?.alerts.runbookBaseUrl ?? null,
      alertsPublished: publisher !== null,
    });
    await writeOutput('--html', options.html, html);
  }
  io.stdout.write(
    options.json
      ? json
      : renderReport(report, styleFor(io.stdout, io.env), target, {
          alertsPublished: publisher !== null,
          full: options.full === true,
        }),
  );
  return report.results.some((result) => isFailing(result.status)) ? EXIT_FAILING : EXIT_OK;
}

/** Writes a file an option names; a path that cannot be written is a usage error naming the option. */
async function writeOutput(option: string, path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text);
  } catch (error) {
    throw new UsageError(
      `${option} ${path} could not be written (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      {
        cause: error,
      },
    );
  }
}

function parseInstant(value: string): Date {
  if (!isIsoInstant(value)) {
    throw new UsageError(
      `--now ${JSON.stringify(value.slice(0, 60))} is not an ISO 8601 date-time with a zone, such as 2026-11-27T10:05:00Z`,
    );
  }
  return new Date(value);
}

/**
 * `--state FILE`: the file store, checked before the run (readable, valid, in a writable
 * directory) so a bad file costs no run. Without it the state lives for this run only.
 */
async function openAlertState(path: string | undefined, clock: Date | undefined): Promise<AlertStateStore> {
  if (path === undefined) return createMemoryStateStore();
  const store = createFileStateStore({ path, ...(clock === undefined ? {} : { now: () => clock }) });
  await store.load([]);
  try {
    await access(dirname(resolve(path)), constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new StateStoreError(`alert state file ${path} cannot be written (${code})`, { cause: error });
  }
  return store;
}

/** SNS must be called in the topics' region: taken from their ARNs when they agree. */
function snsClientConfig(config: Config): { region?: string } {
  const topics = config.alerts.topics;
  if (topics === undefined) return {};
  const regions = new Set(Object.values(topics).map((arn) => arn.split(':')[3]));
  const [region] = regions;
  return regions.size === 1 && region !== undefined ? { region } : {};
}

function parseCheckIds(values: string[] | undefined): CheckId[] | undefined {
  if (values === undefined) return undefined;
  const unknown = values.filter((value) => !isCheckId(value));
  if (unknown.length > 0) {
    throw new UsageError(
      `--check ${unknown.map((v) => JSON.stringify(v)).join(', ')} is not a check id (see: tenant-canary checks)`,
    );
  }
  return values as CheckId[];
}

async function loadConfigFile(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw unreadableFileError(`--config ${path}`, error);
  }
  return parseConfigText(text, path);
}

function sandboxOptionsFrom(database: string | undefined, redis: string | undefined, io: CliIo): SandboxOptions {
  const options: SandboxOptions = { ...io.sandboxOptions };
  if (database !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(database)) throw new UsageError('--sandbox-database must be a postgres:// URL');
    const reading = readConnectionUrl(database, 'postgres');
    if (!reading.ok) throw new UsageError(`--sandbox-database ${reading.problem}`);
    options.databaseUrl = database;
  }
  if (redis !== undefined) {
    if (redis === 'memory') options.redis = 'memory';
    else if (/^rediss?:\/\//.test(redis)) {
      const reading = readConnectionUrl(redis, 'redis');
      if (!reading.ok) throw new UsageError(`--sandbox-redis ${reading.problem}`);
      options.redis = { url: redis };
    } else throw new UsageError('--sandbox-redis must be a redis:// URL or "memory"');
  }
  return options;
}

async function startEmbeddedSandbox(options: SandboxOptions): Promise<Sandbox> {
  // Loaded only when needed: the sandbox pulls in PGlite.
  const { startSandbox } = await import('../../sandbox/index.ts');
  return startSandbox(options);
}

/**
 * Runs `work` on the config file's config or, without one, on the embedded sandbox's, which is
 * started for it and stopped afterwards (`preflight` and `snapshot`).
 */
async function withConfigOrSandbox<T>(
  configured: Config | undefined,
  sandboxOptions: () => SandboxOptions,
  work: (config: Config) => Promise<T>,
): Promise<T> {
  if (configured !== undefined) return work(configured);
  const sandbox = await startEmbeddedSandbox(sandboxOptions());
  try {
    return await work(parseConfig(sandbox.config));
  } finally {
    await sandbox.stop();
  }
}

interface PreflightOptions {
  config?: string;
  json?: boolean;
  publish?: boolean;
}

async function preflightCommandFromCli(options: PreflightOptions, io: CliIo): Promise<number> {
  const { preflightCommand } = await import('./preflight.ts');
  if (options.publish && options.config === undefined) {
    throw new UsageError(
      '--publish needs --config FILE with alerts.topics or alerts.pagerduty (the embedded sandbox has neither)',
    );
  }
  const secrets = createSecretResolver({ env: io.env });
  const configured = options.config === undefined ? undefined : await loadConfigFile(options.config);
  const topics =
    configured !== undefined && options.publish
      ? createSnsTopicCheck({ clientConfig: snsClientConfig(configured) })
      : undefined;
  return withConfigOrSandbox(
    configured,
    () => sandboxOptionsFrom(undefined, undefined, io),
    (config) =>
      preflightCommand({
        config,
        open: (current) => openPorts(current, { secrets }),
        secrets,
        ...(topics ? { topics } : {}),
        json: options.json === true,
        color: styleFor(io.stdout, io.env).color,
        stdout: io.stdout,
        ...(io.signal ? { signal: io.signal } : {}),
      }),
  );
}

interface SnapshotOptions {
  config?: string;
  json?: boolean;
  sandboxDatabase?: string;
}

async function snapshotCommandFromCli(options: SnapshotOptions, io: CliIo): Promise<number> {
  const { snapshotCommand } = await import('./snapshot.ts');
  const secrets = createSecretResolver({ env: io.env });
  const configured = options.config === undefined ? undefined : await loadConfigFile(options.config);
  return withConfigOrSandbox(
    configured,
    () => sandboxOptionsFrom(options.sandboxDatabase, 'memory', io),
    (config) =>
      snapshotCommand({
        config,
        open: (current) => openPorts(current, { secrets }),
        json: options.json === true,
        stdout: io.stdout,
        stderr: io.stderr,
      }),
  );
}

interface DrillOptions {
  all?: boolean;
  json?: boolean;
  html?: string;
  sandboxDatabase?: string;
  sandboxRedis?: string;
}

async function drillCommand(faults: string[], options: DrillOptions, io: CliIo): Promise<number> {
  const { SANDBOX_FAULTS } = await import('../../sandbox/index.ts');
  if (options.all && faults.length > 0) throw new UsageError('drill takes fault names or --all, not both');
  if (!options.all && faults.length === 0)
    throw new UsageError('drill needs fault names or --all (see: tenant-canary sandbox --list-faults)');
  const known = new Set<string>(SANDBOX_FAULTS.map((fault) => fault.name));
  const unknown = faults.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `${unknown.map((v) => JSON.stringify(v)).join(', ')} is not a fault (see: tenant-canary sandbox --list-faults)`,
    );
  }
  const { renderDrillRow, runDrills } = await import('./drill.ts');
  const color = styleFor(io.stdout, io.env).color;
  const total = options.all ? SANDBOX_FAULTS.length : faults.length;
  const progress = progressLine(io.stderr, progressEnabled(io.stderr, io.env, options.json === true));
  const seen = { done: 0, mismatched: 0 };
  const startedAt = new Date().toISOString();
  progress.update(`faults 0/${total}, 0 mismatched`);
  let rows: Awaited<ReturnType<typeof runDrills>>;
  try {
    rows = await runDrills(
      options.all ? 'all' : (faults as NonNullable<SandboxOptions['faults']>),
      sandboxOptionsFrom(options.sandboxDatabase, options.sandboxRedis, io),
      (row) => {
        seen.done += 1;
        if (!row.ok) seen.mismatched += 1;
        progress.clear(); // the row goes where the line was; the line comes back below it
        if (!options.json) io.stdout.write(renderDrillRow(row, color));
        progress.update(`faults ${seen.done}/${total}, ${seen.mismatched} mismatched`);
      },
      io.signal,
    );
  } finally {
    progress.stop();
  }
  if (options.html !== undefined) {
    const { renderHtmlDrill } = await import('./html.ts');
    await writeOutput('--html', options.html, renderHtmlDrill(rows, { target: 'the embedded sandbox', startedAt }));
  }
  const failed = rows.filter((row) => !row.ok).length;
  const skippedRows = rows.filter((row) => row.skipped !== undefined).length;
  const drilled = rows.length - skippedRows;
  if (options.json) io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else
    io.stdout.write(
      `\n${drilled - failed} of ${drilled} drills ok` +
        `${failed > 0 ? `, ${failed} mismatched` : ''}${skippedRows > 0 ? `, ${skippedRows} skipped` : ''}\n`,
    );
  return failed > 0 || drilled === 0 ? EXIT_FAILING : EXIT_OK;
}

interface SandboxCommandOptions {
  fault?: string[];
  listFaults?: boolean;
  tenants: string;
  signatureFormat?: 'sha256-prefixed' | 'hex';
  database?: string;
  redis?: string;
}

async function sandboxCommand(options: SandboxCommandOptions, io: CliIo): Promise<number> {
  const { SANDBOX_FAULTS } = await import('../../sandbox/index.ts');
  if (options.listFaults) {
    const width = Math.max(...SANDBOX_FAULTS.map((fault) => fault.name.length));
    for (const fault of SANDBOX_FAULTS) io.stdout.write(`${fault.name.padEnd(width)}  ${fault.description}\n`);
    return EXIT_OK;
  }
  const known = new Set<string>(SANDBOX_FAULTS.map((fault) => fault.name));
  const faults = options.fault ?? [];
  const unknown = faults.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `--fault ${unknown.map((v) => JSON.stringify(v)).join(', ')} is not a fault (see: tenant-canary sandbox --list-faults)`,
    );
  }
  const tenantCount = Number(options.tenants);
  if (!Number.isInteger(tenantCount) || tenantCount < 1 || tenantCount > 10_000) {
    throw new UsageError('--tenants must be an integer from 1 to 10000');
  }
  const sandboxOptions = sandboxOptionsFrom(options.database, options.redis, io);
  const sandbox = await startEmbeddedSandbox({
    ...sandboxOptions,
    faults: faults as NonNullable<SandboxOptions['faults']>,
    tenantCount,
    ...(options.signatureFormat ? { signatureFormat: options.signatureFormat } : {}),
  });
  io.stdout.write(`${JSON.stringify(sandbox.config, null, 2)}\n`);
  io.stderr.write(
    `sandbox running at ${sandbox.baseUrl} (PostgreSQL: ${sandbox.info.database}, queue: ${sandbox.info.redis}); the config above points at it. Ctrl-C stops it.\n`,
  );
  await new Promise<void>((resolve) => {
    if (io.signal === undefined || io.signal.aborted) return resolve();
    io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await sandbox.stop();
  return EXIT_OK;
}
