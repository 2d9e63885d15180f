/**
 * `preflight [--config FILE] [--json] [--publish]`: what the canary needs, checked before the first sweep
 * without sending a webhook or writing anything. One line per step, with the fix when something
 * is missing. Exit 0 all ok, 1 something missing, 2 usage or config.
 */
import { type PreflightReport, preflight } from '../../functions/app/preflight.ts';
import type { PortsOpener } from '../../functions/app/with-ports.ts';
import type { Config } from '../../functions/core/config.ts';
import { terminalText } from '../../functions/core/text.ts';
import type { AlertTopicCheck, SecretResolver } from '../../functions/ports.ts';
import { EXIT_FAILING, EXIT_OK } from './errors.ts';

export interface PreflightCommandInput {
  config: Config;
  open: PortsOpener;
  secrets: SecretResolver;
  topics?: AlertTopicCheck;
  json: boolean;
  color: boolean;
  stdout: { write(text: string): unknown };
  signal?: AbortSignal;
}

export async function preflightCommand(input: PreflightCommandInput): Promise<number> {
  const report = await preflight({
    config: input.config,
    open: input.open,
    secrets: input.secrets,
    ...(input.topics ? { topics: input.topics } : {}),
    ...(input.signal ? { signal: input.signal } : {}),
  });
  input.stdout.write(input.json ? `${JSON.stringify(report, null, 2)}\n` : renderPreflight(report, input.color));
  return report.ok ? EXIT_OK : EXIT_FAILING;
}

export function renderPreflight(report: PreflightReport, color: boolean): string {
  const paint = (code: number, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const lines = report.steps.flatMap((step) => [
    // Details quote the platform (a database or Redis error): no escape sequence reaches the terminal.
    `${step.ok ? paint(32, 'ok  ') : paint(31, 'FAIL')}  ${step.step}: ${terminalText(step.detail)}`,
    ...(step.fix === undefined ? [] : [`      fix: ${terminalText(step.fix)}`]),
  ]);
  const failed = report.steps.filter((step) => !step.ok).length;
  lines.push(
    '',
    failed === 0
      ? `all ${report.steps.length} steps ok: the canary has what its checks need`
      : `${failed} of ${report.steps.length} steps need a fix before the first sweep`,
    '',
  );
  return lines.join('\n');
}
