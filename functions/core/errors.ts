/**
 * One error family. Every error the canary raises on purpose is a {@link CanaryError} with a
 * `kind`; callers map kinds to what they answer in one place (the CLI to exit codes,
 * `bin/cli/errors.ts`; the Lambdas to status codes, `functions/handlers/answers.ts`). A platform
 * fault is never one of these: it is a check result. Messages never carry secret values.
 */

/**
 * - `config`: the config (file, embedded or environment) is invalid or unreadable
 * - `usage`: the command line asks for something impossible
 * - `event`: a Lambda event or request body is malformed
 * - `not-found`: an on-demand request names a tenant the canary does not know
 * - `source`: the tenant source (the platform's tenant table) cannot be read
 * - `secret`: a secret reference cannot be resolved
 * - `state`: the alert state store cannot be read or written
 * - `ledger`: the sweep ledger cannot be used
 * - `unavailable`: a service the canary reads (Redis) does not answer
 * - `not-probed`: a tenant's checks could not run at all (its record is delivered again)
 * - `sandbox`: the embedded sandbox could not start
 * - `remote`: the deployed canary failed or could not be reached (`invoke`)
 * - `crypto`: a Fernet token or key is invalid
 */
export type ErrorKind =
  | 'config'
  | 'usage'
  | 'event'
  | 'not-found'
  | 'source'
  | 'secret'
  | 'state'
  | 'ledger'
  | 'unavailable'
  | 'not-probed'
  | 'sandbox'
  | 'remote'
  | 'forward'
  | 'crypto';

export class CanaryError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An error for a log line: name and message (ours never carry secret values). */
export function describeError(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) };
}

/** `error` as an Error (a thrown non-Error wrapped with its text). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** The message of an error, or `fallback` for a thrown non-Error. */
export function errorMessage(error: unknown, fallback = 'unknown error'): string {
  return error instanceof Error ? error.message : fallback;
}

/** A class of the family with a fixed kind and name: `new SecretError('...', { cause })`. */
export function errorClass(name: string, kind: ErrorKind) {
  return class extends CanaryError {
    override name = name;
    constructor(message: string, options?: { cause?: unknown }) {
      super(kind, message, options);
    }
  };
}
