/**
 * Exit codes and the one place errors become them: 0 all pass (degraded and skipped allowed),
 * 1 a check failed or errored (or the deployed canary failed), 2 a usage or config error, with
 * one line on stderr naming the problem and nothing on stdout. An error outside the family is
 * a bug and keeps its stack trace.
 */
import { CanaryError, errorClass } from '../../functions/core/errors.ts';
import { terminalText } from '../../functions/core/text.ts';

export const EXIT_OK = 0;
export const EXIT_FAILING = 1;
export const EXIT_USAGE = 2;

/** A usage problem found after commander's own parsing. */
export const UsageError = errorClass('UsageError', 'usage');

/** The exit code and stderr line of an error of the family; undefined for anything else. */
export function exitFor(error: unknown): { code: number; line: string } | undefined {
  if (!(error instanceof CanaryError)) return undefined;
  return {
    // The deployed canary failing is a failed run, not the user's mistake.
    code: error.kind === 'remote' ? EXIT_FAILING : EXIT_USAGE,
    line: `tenant-canary: ${oneLine(error.message)}`,
  };
}

/** One line for stderr: line breaks and any control character or escape sequence (an error may quote the platform) stripped. */
export function oneLine(text: string): string {
  return `${terminalText(text.replace(/\s*\n\s*/g, ' ')).trim()}\n`;
}
