/**
 * The alert path through the real CLI (`run --config FILE --state FILE [--publish] [--now ISO]`)
 * against the embedded sandbox with its fault switches: the scripted series, breadth,
 * SNS delivery (mocked at the SDK) with at-least-once retry through the state file, tenant and
 * database credentials from a database tenant source and Secrets Manager, and no secret in any
 * output channel.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishBatchCommand, PublishCommand, SNSClient, SNSServiceException } from '@aws-sdk/client-sns';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fernetEncrypt, generateFernetKey } from '../../functions/core/fernet.ts';
import type { AlertSummary, Report } from '../../functions/core/types.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { type CliRun, runCli } from '../support/cli.ts';
import { startPagerDuty } from '../support/pagerduty.ts';
import { requireRedisInCi } from '../support/services.ts';

const snsMock = mockClient(SNSClient);
const smMock = mockClient(SecretsManagerClient);
afterEach(() => {
  snsMock.reset();
  smMock.reset();
});

const TOPICS = {
  P0: 'arn:aws:sns:eu-west-1:123456789012:canary-p0',
  P1: 'arn:aws:sns:eu-west-1:123456789012:canary-p1',
  P2: 'arn:aws:sns:eu-west-1:123456789012:canary-p2',
  P3: 'arn:aws:sns:eu-west-1:123456789012:canary-p3',
};
const FORGED = [
  'webhook.bad_signature_rejected',
  'webhook.missing_signature_rejected',
  'webhook.tampered_body_rejected',
  'webhook.cross_tenant_signature_rejected',
];
const TENANTS = ['acme-corp', 'globex', 'initech'];
const T0 = Date.parse('2026-11-27T10:00:00Z');
/** The policy clock of run i, five minutes apart (a cron schedule). */
const at = (run: number) => new Date(T0 + run * 5 * 60_000).toISOString();

let sandbox: Sandbox;
let dir: string;
let configFile: string;
let publishConfigFile: string;
let fileCount = 0;

beforeAll(async () => {
  requireRedisInCi();
  sandbox = await startSandbox();
  dir = await mkdtemp(join(tmpdir(), 'canary-alerts-'));
  configFile = join(dir, 'sandbox.json');
  await writeFile(configFile, JSON.stringify(sandbox.config));
  publishConfigFile = join(dir, 'sandbox-publish.json');
  await writeFile(publishConfigFile, JSON.stringify({ ...sandbox.config, alerts: { topics: TOPICS } }));
});

afterAll(async () => {
  await sandbox?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const fresh = (name: string) => join(dir, `${name}-${++fileCount}.json`);

async function run(args: string[]): Promise<CliRun & { report: Report }> {
  const result = await runCli(['run', '--json', ...args]);
  let report: Report;
  try {
    report = JSON.parse(result.stdout) as Report;
  } catch {
    throw new Error(`run ${args.join(' ')} printed no report (exit ${result.code}): ${result.stderr}`);
  }
  return { ...result, report };
}

interface StateFile {
  format: string;
  incidents: Record<
    string,
    { version: number; record: { phase: string; tier: string | null; pending: { id: string; state: string }[] } }
  >;
}
const readState = async (path: string) => JSON.parse(await readFile(path, 'utf8')) as StateFile;

const alert = (
  state: AlertSummary['state'],
  tier: AlertSummary['tier'],
  checkId: string,
  tenantId: string | null,
): AlertSummary => ({ state, tier, checkId, tenantId, dedupKey: `${checkId}:${tenantId ?? '*'}` });

describe("the issue's series: acme-corp's stored secret mismatched, then fixed", () => {
  it('yields nothing, one P1 firing, nothing, nothing (one pass), one resolved, nothing', async () => {
    const state = fresh('state');
    const reportFile = fresh('report');
    const key = 'webhook.signed_accepted:acme-corp';
    const seen: AlertSummary[][] = [];
    try {
      await sandbox.setFaults(['secret-mismatch']);
      const first = await run(['--config', configFile, '--state', state, '--now', at(0)]);
      expect(first.code).toBe(1);
      expect(
        first.report.results.find((r) => r.checkId === 'webhook.signed_accepted' && r.tenantId === 'acme-corp'),
      ).toMatchObject({ status: 'fail', tier: 'P1' });
      seen.push(first.report.alerts);
      // One failing run is recorded (pending), not sent.
      expect((await readState(state)).incidents[key]?.record).toMatchObject({ phase: 'pending', pending: [] });

      // The second run in human form: the alerts section lists the message; the report file holds it.
      const human = await runCli([
        'run',
        '--config',
        configFile,
        '--state',
        state,
        '--now',
        at(1),
        '--report',
        reportFile,
      ]);
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(
        /Alerts \(dry run: not sent; --publish sends them\)\n {2}\[P1\] firing +webhook\.signed_accepted:acme-corp\n$/,
      );
      seen.push((JSON.parse(await readFile(reportFile, 'utf8')) as Report).alerts);

      seen.push((await run(['--config', configFile, '--state', state, '--now', at(2)])).report.alerts);
      await sandbox.setFaults([]);
      for (const i of [3, 4, 5]) {
        const passing = await run(['--config', configFile, '--state', state, '--now', at(i)]);
        expect(passing.code).toBe(0);
        seen.push(passing.report.alerts);
      }
    } finally {
      await sandbox.setFaults([]);
    }
    const firing = alert('firing', 'P1', 'webhook.signed_accepted', 'acme-corp');
    const resolved = alert('resolved', 'P1', 'webhook.signed_accepted', 'acme-corp');
    expect(seen).toEqual([[], [firing], [], [], [resolved], []]);
    const record = (await readState(state)).incidents[key]?.record;
    expect(record).toMatchObject({ phase: 'ok', tier: null, pending: [] });
  });

  it('exactly as the issue writes it: on twice, off three times gives nothing, firing, nothing, resolved, nothing', async () => {
    const state = fresh('state');
    const seen: AlertSummary[][] = [];
    try {
      await sandbox.setFaults(['secret-mismatch']);
      for (const i of [0, 1])
        seen.push((await run(['--config', configFile, '--state', state, '--now', at(i)])).report.alerts);
      await sandbox.setFaults([]);
      for (const i of [2, 3, 4])
        seen.push((await run(['--config', configFile, '--state', state, '--now', at(i)])).report.alerts);
    } finally {
      await sandbox.setFaults([]);
    }
    const firing = alert('firing', 'P1', 'webhook.signed_accepted', 'acme-corp');
    const resolved = alert('resolved', 'P1', 'webhook.signed_accepted', 'acme-corp');
    expect(seen).toEqual([[], [firing], [], [resolved], []]);
  });

  it('without --state every run is judged alone: a P1 never fires', async () => {
    try {
      await sandbox.setFaults(['secret-mismatch']);
      for (const i of [0, 1]) {
        const { report } = await run(['--config', configFile, '--now', at(i)]);
        expect(report.alerts).toEqual([]);
      }
    } finally {
      await sandbox.setFaults([]);
    }
  });
});

describe('breadth: one check failing for every tenant', () => {
  it('forged signatures accepted everywhere: one P0 platform-wide firing per check at once, no per-tenant message, reminders on the P0 schedule', async () => {
    const state = fresh('state');
    const runs: AlertSummary[][] = [];
    try {
      await sandbox.setFaults(['forged-signatures-accepted']);
      for (const minutes of [0, 5, 15]) {
        const { code, report } = await run([
          '--config',
          configFile,
          '--state',
          state,
          '--now',
          new Date(T0 + minutes * 60_000).toISOString(),
        ]);
        expect(code).toBe(1);
        expect(report.results.filter((r) => r.status === 'fail')).toHaveLength(FORGED.length * TENANTS.length);
        runs.push(report.alerts);
      }
    } finally {
      await sandbox.setFaults([]);
    }
    // P0 is the top tier: the platform-wide incident stays P0.
    expect(runs[0]).toEqual(FORGED.map((checkId) => alert('firing', 'P0', checkId, null)));
    expect(runs[1]).toEqual([]);
    expect(runs[2]).toEqual(FORGED.map((checkId) => alert('reminder', 'P0', checkId, null)));
    const incidents = (await readState(state)).incidents;
    for (const checkId of FORGED) {
      expect(incidents[`${checkId}:*`]?.record).toMatchObject({ phase: 'firing', tier: 'P0' });
      // The tenants' own incidents are covered: recorded, never fired.
      for (const tenantId of TENANTS) {
        expect(incidents[`${checkId}:${tenantId}`]?.record, `${checkId}:${tenantId}`).toMatchObject({
          phase: 'pending',
          pending: [],
        });
      }
    }
  });

  it('a P1 failing for every tenant becomes one P0 platform-wide incident after two runs', async () => {
    const state = fresh('state');
    const runs: AlertSummary[][] = [];
    try {
      await sandbox.setFaults(['future-timestamps-accepted']);
      for (const i of [0, 1, 2]) {
        runs.push((await run(['--config', configFile, '--state', state, '--now', at(i)])).report.alerts);
      }
    } finally {
      await sandbox.setFaults([]);
    }
    expect(runs).toEqual([[], [alert('firing', 'P0', 'webhook.future_timestamp_rejected', null)], []]);
  });
});

/** The inputs of every SNS call: PublishBatch entries and single Publish requests. */
function snsCalls() {
  return snsMock.calls().map((call) => call.args[0].input as Record<string, unknown>);
}

function throttled(): SNSServiceException {
  return new SNSServiceException({
    name: 'ThrottledException',
    $fault: 'client',
    $metadata: { httpStatusCode: 429 },
    message: 'Rate exceeded',
  });
}

describe('run --publish (SNS mocked at the SDK)', () => {
  it('sends the four platform-wide P0 alerts in one PublishBatch on the P0 topic, in the contract shape', async () => {
    const state = fresh('state');
    snsMock.on(PublishBatchCommand).callsFake((input: { PublishBatchRequestEntries: { Id: string }[] }) => ({
      Successful: input.PublishBatchRequestEntries.map((entry) => ({ Id: entry.Id, MessageId: `msg-${entry.Id}` })),
      Failed: [],
    }));
    let result: CliRun & { report: Report };
    try {
      await sandbox.setFaults(['forged-signatures-accepted']);
      result = await run(['--config', publishConfigFile, '--state', state, '--publish', '--now', at(0)]);
    } finally {
      await sandbox.setFaults([]);
    }
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(result.report.alerts).toEqual(FORGED.map((checkId) => alert('firing', 'P0', checkId, null)));
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
    const batches = snsMock.commandCalls(PublishBatchCommand);
    expect(batches).toHaveLength(1);
    const input = batches[0]!.args[0].input;
    expect(input.TopicArn).toBe(TOPICS.P0);
    const entries = input.PublishBatchRequestEntries ?? [];
    expect(entries).toHaveLength(4);
    for (const [index, entry] of entries.entries()) {
      const checkId = FORGED[index]!;
      expect(entry.Subject).toBe(`[P0] all tenants: ${checkId} failing (3 of 3)`);
      expect(entry.Subject!.length).toBeLessThan(100);
      expect(entry.MessageAttributes).toEqual({
        tier: { DataType: 'String', StringValue: 'P0' },
        checkId: { DataType: 'String', StringValue: checkId },
        tenantId: { DataType: 'String', StringValue: '*' },
        state: { DataType: 'String', StringValue: 'firing' },
      });
      const body = JSON.parse(entry.Message!) as Record<string, unknown> & { evidence: { tenants: string[] } };
      expect(body).toMatchObject({
        state: 'firing',
        tier: 'P0',
        checkId,
        tenantId: null,
        dedupKey: `${checkId}:*`,
        firstFailedAt: at(0),
      });
      expect(body.evidence.tenants).toEqual(TENANTS);
      expect(String(body.runbook)).not.toBe('');
      expect(String(body.firstStep)).not.toBe('');
    }
    // Delivered: nothing left in the outbox.
    for (const checkId of FORGED) {
      expect((await readState(state)).incidents[`${checkId}:*`]?.record.pending).toEqual([]);
    }
  });

  it('a single alert goes out with Publish on its tier topic', async () => {
    const state = fresh('state');
    snsMock.on(PublishCommand).resolves({ MessageId: 'msg-1' });
    const runs: AlertSummary[][] = [];
    try {
      await sandbox.setFaults(['secret-mismatch']);
      for (const i of [0, 1]) {
        runs.push(
          (await run(['--config', publishConfigFile, '--state', state, '--publish', '--now', at(i)])).report.alerts,
        );
      }
    } finally {
      await sandbox.setFaults([]);
    }
    expect(runs).toEqual([[], [alert('firing', 'P1', 'webhook.signed_accepted', 'acme-corp')]]);
    expect(snsMock.commandCalls(PublishBatchCommand)).toHaveLength(0);
    const publishes = snsMock.commandCalls(PublishCommand);
    expect(publishes).toHaveLength(1);
    const input = publishes[0]!.args[0].input;
    expect(input.TopicArn).toBe(TOPICS.P1);
    expect(input.Subject).toBe('[P1] acme-corp: webhook.signed_accepted failing');
    expect(input.MessageAttributes).toEqual({
      tier: { DataType: 'String', StringValue: 'P1' },
      checkId: { DataType: 'String', StringValue: 'webhook.signed_accepted' },
      tenantId: { DataType: 'String', StringValue: 'acme-corp' },
      state: { DataType: 'String', StringValue: 'firing' },
    });
  });

  it('an SNS failure keeps the alerts pending in the state file; the next run delivers them once', async () => {
    const state = fresh('state');
    snsMock.on(PublishBatchCommand).rejects(throttled());
    let failed: CliRun & { report: Report };
    let retried: CliRun & { report: Report };
    let quiet: CliRun & { report: Report };
    try {
      await sandbox.setFaults(['forged-signatures-accepted']);
      failed = await run(['--config', publishConfigFile, '--state', state, '--publish', '--now', at(0)]);
      const pending = (await readState(state)).incidents;
      for (const checkId of FORGED) {
        expect(pending[`${checkId}:*`]?.record.pending).toEqual([
          expect.objectContaining({ id: `${checkId}:*#1`, state: 'firing', claimedUntil: null }),
        ]);
      }
      snsMock.reset();
      snsMock.on(PublishBatchCommand).callsFake((input: { PublishBatchRequestEntries: { Id: string }[] }) => ({
        Successful: input.PublishBatchRequestEntries.map((entry) => ({ Id: entry.Id, MessageId: `msg-${entry.Id}` })),
      }));
      retried = await run(['--config', publishConfigFile, '--state', state, '--publish', '--now', at(1)]);
      expect(snsMock.commandCalls(PublishBatchCommand)).toHaveLength(1);
      quiet = await run(['--config', publishConfigFile, '--state', state, '--publish', '--now', at(2)]);
    } finally {
      await sandbox.setFaults([]);
    }
    expect(failed.report.alerts).toEqual([]);
    const lines = failed.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    for (const [index, checkId] of FORGED.entries()) {
      expect(lines[index]).toBe(
        `tenant-canary: alert ${checkId}:*#1 could not be published (ThrottledException); it stays pending in ${state} and goes out on the next run`,
      );
    }
    // The pending firing goes out as it was decided (firstFailedAt of the first run).
    expect(retried.report.alerts).toEqual(FORGED.map((checkId) => alert('firing', 'P0', checkId, null)));
    expect(retried.stderr).toBe('');
    const entries = snsMock.commandCalls(PublishBatchCommand)[0]!.args[0].input.PublishBatchRequestEntries ?? [];
    expect(entries.map((entry) => (JSON.parse(entry.Message!) as { firstFailedAt: string }).firstFailedAt)).toEqual(
      FORGED.map(() => at(0)),
    );
    // Sent once: the third run has nothing to send.
    expect(quiet.report.alerts).toEqual([]);
    expect(snsMock.commandCalls(PublishBatchCommand)).toHaveLength(1);
    for (const checkId of FORGED) {
      expect((await readState(state)).incidents[`${checkId}:*`]?.record.pending).toEqual([]);
    }
  });

  it('entries SNS refuses in a batch stay pending; the accepted ones do not go out again', async () => {
    const state = fresh('state');
    snsMock.on(PublishBatchCommand).callsFake((input: { PublishBatchRequestEntries: { Id: string }[] }) => ({
      Successful: input.PublishBatchRequestEntries.slice(1).map((entry) => ({ Id: entry.Id, MessageId: 'ok' })),
      Failed: [{ Id: input.PublishBatchRequestEntries[0]!.Id, Code: 'InternalError', SenderFault: false }],
    }));
    let first: CliRun & { report: Report };
    let second: CliRun & { report: Report };
    try {
      await sandbox.setFaults(['forged-signatures-accepted']);
      first = await run(['--config', publishConfigFile, '--state', state, '--publish', '--now', at(0)]);
      snsMock.reset();
      snsMock.on(PublishCommand).resolves({ MessageId: 'ok' });
      second = await run(['--config', publishConfigFile, '--state', state, '--publish', '--now', at(1)]);
    } finally {
      await sandbox.setFaults([]);
    }
    const [head, ...tail] = FORGED;
    expect(first.report.alerts).toEqual(tail.map((checkId) => alert('firing', 'P0', checkId, null)));
    expect(first.stderr).toContain(`alert ${head}:*#1 could not be published (InternalError)`);
    expect(second.report.alerts).toEqual([alert('firing', 'P0', head!, null)]);
    expect(snsMock.commandCalls(PublishCommand).map((call) => call.args[0].input.MessageAttributes?.checkId)).toEqual([
      { DataType: 'String', StringValue: head },
    ]);
  });
});

describe('run: alert options that are wrong', () => {
  const expectUsage = (result: CliRun, message: string | RegExp) => {
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toHaveLength(2); // one line, newline-terminated
    expect(result.stderr).toMatch(message);
  };

  it('--publish without alerts.topics or alerts.pagerduty names them; without --state or --config it says what it needs', async () => {
    expectUsage(
      await runCli(['run', '--config', configFile, '--state', fresh('state'), '--publish']),
      /^tenant-canary: alerts\.topics or alerts\.pagerduty is required to publish/,
    );
    expectUsage(
      await runCli(['run', '--config', publishConfigFile, '--publish']),
      /^tenant-canary: --publish needs --state FILE/,
    );
    expectUsage(
      await runCli(['run', '--publish', '--state', fresh('state')]),
      /^tenant-canary: --publish needs --config FILE/,
    );
    expect(snsMock.calls()).toHaveLength(0);
  });

  it('--now must be an ISO date-time with a zone', async () => {
    for (const value of ['yesterday', '2026-11-27', '2026-11-27T10:00:00', '2026-13-45T99:00:00Z']) {
      expectUsage(
        await runCli(['run', '--config', configFile, '--now', value]),
        /^tenant-canary: --now .* is not an ISO 8601/,
      );
    }
  });

  it('a corrupt, foreign or unreadable state file is one line naming the file, and is left as it was', async () => {
    const corrupt = fresh('corrupt');
    await writeFile(corrupt, '{"format": "tenant-canary/alert-state@1", "incidents": ');
    expectUsage(
      await runCli(['run', '--config', configFile, '--state', corrupt]),
      `tenant-canary: alert state file ${corrupt} is not tenant-canary alert state: not valid JSON\n`,
    );
    expect(await readFile(corrupt, 'utf8')).toBe('{"format": "tenant-canary/alert-state@1", "incidents": ');
    const foreign = fresh('foreign');
    await writeFile(foreign, '{"hello": "world"}');
    expectUsage(await runCli(['run', '--config', configFile, '--state', foreign]), /is not tenant-canary alert state/);
    expectUsage(await runCli(['run', '--config', configFile, '--state', dir]), /cannot be read \(EISDIR\)/);
    const missingDir = join(dir, 'no-such-dir', 'state.json');
    expectUsage(
      await runCli(['run', '--config', configFile, '--state', missingDir]),
      `tenant-canary: alert state file ${missingDir} cannot be written (ENOENT)\n`,
    );
  });
});

describe('secrets in every output channel', () => {
  it('no tenant signing secret in stdout, stderr, the report file, the state file or an SNS message', async () => {
    const state = fresh('state');
    const reportFile = fresh('report');
    // The first run's alerts cannot be delivered: the state file then holds whole messages.
    snsMock.on(PublishBatchCommand).rejects(throttled());
    snsMock.on(PublishCommand).rejects(throttled());
    const outputs: string[] = [];
    try {
      await sandbox.setFaults(['forged-signatures-accepted']);
      const human = await runCli([
        'run',
        '--config',
        publishConfigFile,
        '--state',
        state,
        '--publish',
        '--report',
        reportFile,
        '--now',
        at(0),
      ]);
      expect(human.code).toBe(1);
      expect(human.stderr).toContain('could not be published');
      const stateWithPending = await readFile(state, 'utf8');
      expect(stateWithPending).toContain('"pending": [\n');
      expect(stateWithPending).toContain('"evidence"');
      outputs.push(human.stdout, human.stderr, stateWithPending, await readFile(reportFile, 'utf8'));

      snsMock.reset();
      snsMock.on(PublishBatchCommand).callsFake((input: { PublishBatchRequestEntries: { Id: string }[] }) => ({
        Successful: input.PublishBatchRequestEntries.map((entry) => ({ Id: entry.Id, MessageId: 'ok' })),
      }));
      snsMock.on(PublishCommand).resolves({ MessageId: 'ok' });
      const json = await runCli([
        'run',
        '--config',
        publishConfigFile,
        '--state',
        state,
        '--publish',
        '--json',
        '--report',
        reportFile,
        '--now',
        at(1),
      ]);
      expect(json.code).toBe(1);
      const report = JSON.parse(json.stdout) as Report;
      // Last run's undelivered alerts go out now.
      expect(report.alerts).toEqual(FORGED.map((checkId) => alert('firing', 'P0', checkId, null)));
      expect(snsCalls().length).toBeGreaterThan(0);
      outputs.push(
        json.stdout,
        json.stderr,
        await readFile(state, 'utf8'),
        await readFile(reportFile, 'utf8'),
        JSON.stringify(snsCalls()),
      );
    } finally {
      await sandbox.setFaults([]);
    }
    for (const { tenantId, secret } of sandbox.tenants) {
      expect(secret.length, tenantId).toBeGreaterThan(8);
      for (const [index, output] of outputs.entries()) expect(output, `output ${index}`).not.toContain(secret);
    }
  });
});

describe('tenants from the database and database credentials from Secrets Manager', () => {
  let tenantDb: PGlite;
  let tenantServer: PGLiteSocketServer;
  let tenantDbUrl: string;
  const fernetKey = generateFernetKey();
  const dbPassword = `pw-${randomBytes(12).toString('hex')}`;

  beforeAll(async () => {
    tenantDb = await PGlite.create();
    tenantServer = new PGLiteSocketServer({ db: tenantDb, port: 0, host: '127.0.0.1', maxConnections: 4 });
    await tenantServer.start();
    tenantDbUrl = `postgres://postgres:unused@127.0.0.1:${Number(tenantServer.getServerConn().split(':').at(-1))}/postgres`;
    const client = new pg.Client({ connectionString: tenantDbUrl });
    await client.connect();
    try {
      await client.query(`CREATE TABLE tenant_configs (
        tenant_id text PRIMARY KEY, webhook_signing_secret_encrypted text, is_active boolean NOT NULL)`);
      for (const { tenantId, secret } of sandbox.tenants) {
        await client.query('INSERT INTO tenant_configs VALUES ($1, $2, true)', [
          tenantId,
          fernetEncrypt(fernetKey, secret),
        ]);
      }
      await client.query("INSERT INTO tenant_configs VALUES ('churned', 'x', false), ('Bad Id', 'x', true)");
    } finally {
      await client.end();
    }
  });

  afterAll(async () => {
    await tenantServer?.stop();
    await tenantDb?.close();
  });

  /** The sandbox config with its tenants from `tenant_configs` and its database login from a secret. */
  async function sourcedConfig(): Promise<string> {
    const { tenants: _static, database, ...rest } = sandbox.config;
    const file = fresh('sourced-config');
    await writeFile(
      file,
      JSON.stringify({
        ...rest,
        database: { ...database, url: undefined, secretId: 'canary/platform-db' },
        tenants: [],
        tenantSource: { type: 'database', url: tenantDbUrl, encryptionKey: { env: 'TENANT_ENCRYPTION_KEY' } },
      }),
    );
    return file;
  }

  function rdsSecret(): string {
    const url = new URL(sandbox.config.database!.url!);
    return JSON.stringify({
      engine: 'postgres',
      username: decodeURIComponent(url.username),
      password: dbPassword,
      host: url.hostname,
      port: Number(url.port),
      dbname: url.pathname.slice(1),
    });
  }

  it('runs every tenant the database lists, with the database login read from Secrets Manager', async () => {
    smMock.on(GetSecretValueCommand, { SecretId: 'canary/platform-db' }).resolves({ SecretString: rdsSecret() });
    const file = await sourcedConfig();
    const state = fresh('state');
    const result = await runCli(['run', '--config', file, '--json', '--state', state], {
      env: { NO_COLOR: '1', TENANT_ENCRYPTION_KEY: fernetKey },
    });
    expect(result.stderr).toMatch(
      /^tenant-canary: tenantSource skipped row \d: tenant_id is not a valid tenant id \(must match \^\[a-z0-9-\]\{1,100\}\$\)\n$/,
    );
    const report = JSON.parse(result.stdout) as Report;
    expect(result.code, JSON.stringify(report.results.filter((r) => r.status !== 'pass'))).toBe(0);
    expect([...new Set(report.results.flatMap((r) => (r.tenantId === null ? [] : [r.tenantId])))]).toEqual(TENANTS);
    // The database checks ran with the login from the secret.
    for (const checkId of ['rls.tables_enabled', 'rls.no_context_denied', 'db.connections']) {
      expect(report.results.find((r) => r.checkId === checkId)?.status, checkId).toBe('pass');
    }
    expect(report.results.find((r) => r.checkId === 'rls.cross_tenant_read' && r.tenantId === 'globex')?.status).toBe(
      'pass',
    );
    expect(smMock.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input.SecretId)).toEqual([
      'canary/platform-db',
    ]);
    const outputs = [result.stdout, result.stderr];
    for (const { secret } of sandbox.tenants) for (const output of outputs) expect(output).not.toContain(secret);
    for (const output of outputs) {
      expect(output).not.toContain(dbPassword);
      expect(output).not.toContain(fernetKey);
    }
  });

  it('an unreadable database secret makes the database checks error with the reason; the rest run', async () => {
    const denied = new Error('User is not authorized to perform secretsmanager:GetSecretValue');
    denied.name = 'AccessDeniedException';
    smMock.on(GetSecretValueCommand).rejects(denied);
    const file = await sourcedConfig();
    const result = await runCli(['run', '--config', file, '--json'], {
      env: { NO_COLOR: '1', TENANT_ENCRYPTION_KEY: fernetKey },
    });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    const tables = report.results.find((r) => r.checkId === 'rls.tables_enabled');
    expect(tables?.status).toBe('error');
    expect(tables?.summary).toContain('database.secretId cannot be read: Secrets Manager secret canary/platform-db');
    expect(tables?.summary).toContain('AccessDeniedException');
    expect(report.results.find((r) => r.checkId === 'api.health')?.status).toBe('pass');
    expect(
      report.results.find((r) => r.checkId === 'webhook.signed_accepted' && r.tenantId === 'initech')?.status,
    ).toBe('pass');
    // Errors alert on the canary's own key, never as the platform's failure (P2 needs two runs).
    expect(report.alerts).toEqual([]);
  });

  it('a tenant source that cannot be read is one line on stderr, exit 2', async () => {
    const file = await sourcedConfig();
    const result = await runCli(['run', '--config', file, '--json'], { env: { NO_COLOR: '1' } });
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'tenant-canary: tenantSource.encryptionKey cannot be read: environment variable TENANT_ENCRYPTION_KEY is not set\n',
    });
  });
});

describe('run --publish with alerts.pagerduty (a loopback Events API v2)', () => {
  it('triggers one PagerDuty incident per platform-wide check at once, then resolves each on the same dedup key', async () => {
    const pd = await startPagerDuty();
    const routingKey = 'ROUTINGKEYROUTINGKEYROUTINGKEY12';
    const file = fresh('pagerduty-config');
    await writeFile(
      file,
      JSON.stringify({
        ...sandbox.config,
        alerts: {
          runbookBaseUrl: 'https://wiki.example.com/guide',
          pagerduty: { routingKey: { env: 'PD_ROUTING_KEY' }, tiers: ['P0'], url: pd.url },
        },
      }),
    );
    const state = fresh('pagerduty-state');
    const env = { NO_COLOR: '1', PD_ROUTING_KEY: routingKey };
    const runs: CliRun[] = [];
    try {
      await sandbox.setFaults(['forged-signatures-accepted']);
      runs.push(
        await runCli(['run', '--json', '--config', file, '--state', state, '--publish', '--now', at(0)], { env }),
      );
      await sandbox.setFaults([]);
      for (const i of [1, 2]) {
        runs.push(
          await runCli(['run', '--json', '--config', file, '--state', state, '--publish', '--now', at(i)], { env }),
        );
      }
    } finally {
      await sandbox.setFaults([]);
      await pd.stop();
    }
    const keys = FORGED.map((check) => `${check}:*`).sort();
    const byAction = (action: string) =>
      pd.accepted
        .filter((e) => e.event_action === action)
        .map((e) => e.dedup_key)
        .sort();
    expect(byAction('trigger')).toEqual(keys);
    expect(byAction('resolve')).toEqual(keys);
    expect(pd.accepted.find((e) => e.event_action === 'trigger')?.payload).toMatchObject({
      severity: 'critical',
      source: 'platform',
    });
    for (const result of runs) {
      expect(`${result.stdout}${result.stderr}`).not.toContain(routingKey);
    }
  }, 120_000);
});
