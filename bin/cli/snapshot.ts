/**
 * `snapshot [--config FILE] [--json]`: prints the normalised isolation snapshot and its digest,
 * for a reviewer to read after a migration and pin as `database.isolationDigest`. Exit 0 when it
 * matches the pinned digest (or none is pinned), 1 when it differs or the database cannot be
 * read, 2 for usage and config errors.
 */
import { type SnapshotOutcome, SnapshotUnavailableError, takeIsolationSnapshot } from '../../functions/app/snapshot.ts';
import type { PortsOpener } from '../../functions/app/with-ports.ts';
import type { Config } from '../../functions/core/config.ts';
import { terminalText } from '../../functions/core/text.ts';
import type { IsolationSnapshot } from '../../functions/probes/isolation.ts';
import { EXIT_FAILING, EXIT_OK, oneLine, UsageError } from './errors.ts';

export interface SnapshotCommandInput {
  config: Config;
  open: PortsOpener;
  json: boolean;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export async function snapshotCommand(input: SnapshotCommandInput): Promise<number> {
  if (input.config.database === undefined) {
    throw new UsageError('snapshot needs a config with a database section (the isolation configuration lives there)');
  }
  let outcome: SnapshotOutcome;
  try {
    outcome = await takeIsolationSnapshot(input.open, input.config);
  } catch (error) {
    if (!(error instanceof SnapshotUnavailableError)) throw error;
    input.stderr.write(oneLine(`tenant-canary: ${error.message}`));
    return EXIT_FAILING;
  }
  input.stdout.write(input.json ? `${JSON.stringify(outcome, null, 2)}\n` : renderSnapshot(outcome));
  return outcome.matches === false ? EXIT_FAILING : EXIT_OK;
}

const yesNo = (value: boolean) => (value ? 'yes' : 'no');
const list = (values: readonly string[]) => (values.length === 0 ? 'none' : values.join(', '));

function renderTables(tables: IsolationSnapshot['tables']): string[] {
  return tables.flatMap((t) => {
    if (!t.exists) return [`${t.table}: does not exist`, ''];
    const lines = [
      `${t.table}: row-level security ${t.rowSecurity ? 'on' : 'OFF'}, force ${t.forceRowSecurity ? 'on' : 'off'}, owner ${t.owner}`,
      ...t.policies.flatMap((p) => [
        `  policy ${p.name}: ${p.permissive ? 'permissive' : 'restrictive'} ${p.command} to ${list(p.roles)}`,
        `    USING      ${p.using ?? '-'}`,
        `    WITH CHECK ${p.withCheck ?? '-'}`,
      ]),
      ...(t.policies.length === 0 ? ['  no policies'] : []),
      `  grants: app ${list(t.grants.app)}; probe ${list(t.grants.probe)}`,
      '',
    ];
    return lines;
  });
}

export function renderSnapshot(outcome: SnapshotOutcome): string {
  const { snapshot } = outcome;
  const app = snapshot.appRole;
  const appLine = app.exists
    ? `application role ${app.name}: superuser ${yesNo(app.superuser)}, bypassrls ${yesNo(app.bypassRls)}, ` +
      `inherit ${yesNo(app.inherit)}, createrole ${yesNo(app.createRole)}, createdb ${yesNo(app.createDb)}, ` +
      `login ${yesNo(app.login)}; member of ${list(app.memberOf)}`
    : `application role ${app.name}: does not exist`;
  const verdict =
    outcome.matches === null
      ? `not pinned: set database.isolationDigest to "${outcome.digest}" once this snapshot is reviewed`
      : outcome.matches
        ? 'matches database.isolationDigest'
        : `DIFFERS from the pinned ${outcome.pinned}: review the change, then pin the new digest`;
  // Names and expressions are the database's text: no escape sequence reaches the terminal.
  return [
    `Isolation snapshot (probes run as ${snapshot.probeRole})`,
    '',
    ...renderTables(snapshot.tables),
    appLine,
    '',
    `digest ${outcome.digest}`,
    verdict,
    '',
  ]
    .map((line) => terminalText(line))
    .join('\n');
}
