/**
 * Human output: one table per scope (the platform, then each tenant), coloured when the
 * stream is a terminal and NO_COLOR is unset. Past 20 tenants, those with nothing failing
 * collapse into one line, so the failing one is not lost among a thousand (`--full` lists all).
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
}

/** Tenants beyond which passing ones collapse into one line (`--full` prints them all). */
export const COLLAPSE_ABOVE = 20;

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
  const tenantCount = [...groups.keys()].filter((tenantId) => tenantId !== null).length;
  const collapse = options.full !== true && tenantCount > (options.collapseAbove ?? COLLAPSE_ABOVE);
  const collapsed = { tenants: 0, skipped: false };
  for (const [tenantId, results] of groups) {
    if (collapse && tenantId !== null && allQuiet(results)) {
      collapsed.tenants += 1;
      collapsed.skipped ||= results.some((result) => result.status === 'skipped');
      continue;
    }
    lines.push('');
    lines.push(paint(style, 'bold', tenantId === null ? 'Platform' : `Tenant ${terminalText(tenantId)}`));
    for (const result of results) {
      const look = STATUS_LOOK[result.status];
      const status = `${look.mark} ${look.label.padEnd(8)}`;
      const tier = (result.tier ?? '').padEnd(2);
      const duration = result.status === 'skipped' ? ''.padStart(8) : `${result.durationMs} ms`.padStart(8);
      lines.push(
        `  ${paint(style, look.colour, status)} ${paint(style, 'bold', tier)} ${terminalText(result.checkId).padEnd(idWidth)} ${paint(style, 'dim', duration)}  ${terminalText(result.summary)}`,
      );
    }
  }
  if (collapsed.tenants > 0) {
    lines.push('');
    const what = collapsed.skipped ? 'every check passing or skipped' : 'every check passing';
    lines.push(
      `${paint(style, 'green', `${collapsed.tenants} tenant${collapsed.tenants === 1 ? '' : 's'}: ${what}`)}${paint(style, 'dim', ' (--full lists them)')}`,
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
