/**
 * Human output: one table per scope (the platform, then each tenant), coloured when the
 * stream is a terminal and NO_COLOR is unset. Past 20 tenants, those with nothing failing
 * collapse into one line, so the failing one is not lost among a thousand, and a result that
 * many tenants share (the same check, status and tier) is one line with the count and a few
 * tenant ids, followed by the tenants that differ (`--full` lists all).
 * Every text from the report passes {@link terminalText} before it is painted: the run cleaned
 * it already, and this last guard keeps any escape sequence off the terminal.
 */
import { CATALOG } from '../../functions/core/catalog.ts';
import { countStatuses, isQuiet } from '../../functions/core/results.ts';
import { terminalText } from '../../functions/core/text.ts';
import type { CheckResult, CheckStatus, Report } from '../../functions/core/types.ts';

export interface Style {
  color: boolean;
}

/** NO_COLOR set to anything but the empty string (https://no-color.org). */
export function noColor(env: Readonly<Record<string, string | undefined>>): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '';
}

/** Colour only for a TTY, and never when NO_COLOR is set. */
export function styleFor(stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): Style {
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0';
  return { color: !noColor(env) && (forced || stream.isTTY === true) };
}

const CODES = { red: 31, green: 32, yellow: 33, magenta: 35, dim: 2, bold: 1 } as const;
type Colour = keyof typeof CODES;

function paint(style: Style, colour: Colour, text: string): string {
  return style.color ? `\u001b[${CODES[colour]}m${text}\u001b[0m` : text;
}

/** How each status looks in the terminal and in the HTML report: by symbol and word, not colour alone. */
export const STATUS_LOOK: Record<CheckStatus, { mark: string; colour: Colour; label: string }> = {
  pass: { mark: '✓', colour: 'green', label: 'pass' },
  fail: { mark: '✗', colour: 'red', label: 'FAIL' },
  degraded: { mark: '!', colour: 'yellow', label: 'degraded' },
  error: { mark: '?', colour: 'magenta', label: 'error' },
  skipped: { mark: '-', colour: 'dim', label: 'skipped' },
};

export interface RenderOptions {
  /** The alerts were sent (`run --publish`); otherwise they are what would be sent. */
  alertsPublished?: boolean;
  /** Print every tenant in full (`--full`), however many. @default false */
  full?: boolean;
  /**
   * With more tenants than this, tenants with nothing failing, degraded or erroring collapse into
   * one line; the others are printed in full. @default 20
   */
  collapseAbove?: number;
  /**
   * Past `collapseAbove` tenants, a failing, degraded or erroring result shared by at least this
   * many tenants prints as one line. @default 3
   */
  foldAtLeast?: number;
}

/** Tenants beyond which passing ones collapse into one line (`--full` prints them all). */
export const COLLAPSE_ABOVE = 20;

/**
 * Tenants that must share a result (check, status, tier) for it to fold into one line. Folding
 * only starts past {@link COLLAPSE_ABOVE} tenants, so runs of 20 tenants or fewer print as
 * always; 3 is the alert policy's default `breadth.minTenants`, where the alert side too turns
 * tenants failing alike into one incident. Two tenants failing alike still print in full.
 */
export const FOLD_AT_LEAST = 3;

/** Tenant ids a folded line names before `and N more`. */
const FOLD_NAMES = 5;

/** A result many tenants share: one line in the terminal instead of one per tenant. */
export interface FoldedResult {
  checkId: string;
  status: CheckStatus;
  tier: CheckResult['tier'];
  /** The tenants that share it, in report order. */
  tenantIds: string[];
  /** The first tenant's summary, as an example. */
  example: string;
}

const foldKey = (result: Pick<CheckResult, 'checkId' | 'status' | 'tier'>) =>
  `${result.checkId}\u0000${result.status}\u0000${result.tier ?? ''}`;

/**
 * The failing, degraded or erroring tenant results that at least `atLeast` tenants share, by
 * check, status and tier, in report order. Quiet results (pass, skipped) never fold: tenants
 * with nothing else collapse into one line anyway.
 */
export function foldResults(
  tenants: ReadonlyMap<string, readonly CheckResult[]>,
  atLeast: number = FOLD_AT_LEAST,
): FoldedResult[] {
  const groups = new Map<string, FoldedResult>();
  for (const [tenantId, results] of tenants) {
    for (const result of results) {
      if (isQuiet(result.status)) continue;
      const key = foldKey(result);
      const group = groups.get(key);
      if (group === undefined) {
        groups.set(key, {
          checkId: result.checkId,
          status: result.status,
          tier: result.tier,
          tenantIds: [tenantId],
          example: result.summary,
        });
      } else if (group.tenantIds.at(-1) !== tenantId) group.tenantIds.push(tenantId);
    }
  }
  return [...groups.values()].filter((group) => group.tenantIds.length >= atLeast);
}

/** `acme-corp, globex, initech, umbrella, hooli and 195 more` */
function someTenants(tenantIds: readonly string[]): string {
  const named = tenantIds.slice(0, FOLD_NAMES).map((tenantId) => terminalText(tenantId));
  const more = tenantIds.length - named.length;
  return more > 0 ? `${named.join(', ')} and ${more} more` : named.join(', ');
}

/** `✗ FAIL     P0`: the mark, the status word and the tier, padded so the check ids line up. */
function statusCells(style: Style, result: Pick<CheckResult, 'status' | 'tier'>): string {
  const look = STATUS_LOOK[result.status];
  return `${paint(style, look.colour, `${look.mark} ${look.label.padEnd(8)}`)} ${paint(style, 'bold', (result.tier ?? '').padEnd(2))}`;
}

/** One result: status, tier, check id, duration and summary. */
function renderResultLine(style: Style, idWidth: number, result: CheckResult): string {
  const duration = result.status === 'skipped' ? ''.padStart(8) : `${result.durationMs} ms`.padStart(8);
  return `  ${statusCells(style, result)} ${terminalText(result.checkId).padEnd(idWidth)} ${paint(style, 'dim', duration)}  ${terminalText(result.summary)}`;
}

/** A tenant with nothing failing, degraded or erroring: folded away at scale (here and in the HTML). */
export const allQuiet = (results: readonly CheckResult[]) => results.every((result) => isQuiet(result.status));

export function renderReport(report: Report, style: Style, target: string, options: RenderOptions = {}): string {
  const lines: string[] = [];
  lines.push(
    paint(style, 'bold', `tenant-canary run ${terminalText(report.runId)}`) +
      paint(style, 'dim', ` against ${terminalText(target)}`),
  );
  const groups = new Map<string | null, CheckResult[]>();
  for (const result of report.results) {
    const group = groups.get(result.tenantId) ?? [];
    group.push(result);
    groups.set(result.tenantId, group);
  }
  const idWidth = Math.max(...report.results.map((result) => result.checkId.length), 10);
  const tenants = new Map([...groups].filter((entry): entry is [string, CheckResult[]] => entry[0] !== null));
  const collapse = options.full !== true && tenants.size > (options.collapseAbove ?? COLLAPSE_ABOVE);
  const folded = collapse ? foldResults(tenants, options.foldAtLeast ?? FOLD_AT_LEAST) : [];
  const foldedKeys = new Set(folded.map(foldKey));
  const isFolded = (result: CheckResult) => foldedKeys.has(foldKey(result));
  const resultLine = (result: CheckResult) => renderResultLine(style, idWidth, result);
  const platform = groups.get(null);
  if (platform !== undefined) {
    lines.push('', paint(style, 'bold', 'Platform'), ...platform.map(resultLine));
  }
  if (folded.length > 0) {
    lines.push('', paint(style, 'bold', 'Shared by many tenants') + paint(style, 'dim', ' (--full lists each tenant)'));
    for (const group of folded) {
      lines.push(
        `  ${statusCells(style, group)} ${terminalText(group.checkId)} on ${group.tenantIds.length} of ${tenants.size} tenants: ${someTenants(group.tenantIds)}`,
        paint(style, 'dim', `      e.g. ${terminalText(group.tenantIds[0] ?? '')}: ${terminalText(group.example)}`),
      );
    }
  }
  const collapsed = { quiet: 0, onlyShared: 0, quietSkipped: false, sharedSkipped: false };
  for (const [tenantId, results] of tenants) {
    const own = results.filter((result) => !isFolded(result));
    if (collapse && allQuiet(own)) {
      const skipped = own.some((result) => result.status === 'skipped');
      if (own.length === results.length) {
        collapsed.quiet += 1;
        collapsed.quietSkipped ||= skipped;
      } else {
        collapsed.onlyShared += 1;
        collapsed.sharedSkipped ||= skipped;
      }
      continue;
    }
    const shared = results.length - own.length;
    lines.push(
      '',
      paint(style, 'bold', `Tenant ${terminalText(tenantId)}`) +
        (shared > 0 ? paint(style, 'dim', ` (and ${shared} shared result${shared === 1 ? '' : 's'} above)`) : ''),
      ...own.map(resultLine),
    );
  }
  const what = (skipped: boolean) => (skipped ? 'passing or skipped' : 'passing');
  const plural = (count: number) => `${count} tenant${count === 1 ? '' : 's'}`;
  if (collapsed.onlyShared > 0) {
    lines.push('');
    lines.push(
      `${paint(style, 'green', `${plural(collapsed.onlyShared)}: every other check ${what(collapsed.sharedSkipped)}`)}${paint(style, 'dim', ' (--full lists them)')}`,
    );
  }
  if (collapsed.quiet > 0) {
    lines.push('');
    lines.push(
      `${paint(style, 'green', `${plural(collapsed.quiet)}: every check ${what(collapsed.quietSkipped)}`)}${paint(style, 'dim', ' (--full lists them)')}`,
    );
  }
  lines.push('');
  const counts = countStatuses(report.results);
  const seconds = ((Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000).toFixed(1);
  const parts = (['pass', 'fail', 'degraded', 'error', 'skipped'] as const).map((status) => {
    const text = `${counts[status]} ${status}`;
    return counts[status] > 0 && !isQuiet(status) ? paint(style, STATUS_LOOK[status].colour, text) : text;
  });
  lines.push(`${parts.join(', ')} in ${seconds} s`);
  if (report.alerts.length > 0) {
    lines.push('');
    lines.push(
      paint(style, 'bold', options.alertsPublished ? 'Alerts sent' : 'Alerts') +
        (options.alertsPublished ? '' : paint(style, 'dim', ' (dry run: not sent; --publish sends them)')),
    );
    for (const alert of report.alerts) {
      lines.push(`  [${alert.tier}] ${alert.state.padEnd(8)} ${terminalText(alert.dedupKey)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function renderCatalog(style: Style): string {
  const idWidth = Math.max(...CATALOG.map((entry) => entry.id.length));
  const lines = [paint(style, 'bold', `${'check'.padEnd(idWidth)}  scope     tier  passes when`)];
  for (const entry of CATALOG) {
    lines.push(`${entry.id.padEnd(idWidth)}  ${entry.scope.padEnd(8)}  ${entry.defaultTier}    ${entry.proves}`);
  }
  return `${lines.join('\n')}\n`;
}
