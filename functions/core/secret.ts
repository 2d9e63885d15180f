import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A secret value that does not print itself: string conversion, JSON and `util.inspect` all
 * give `[redacted]`. Call {@link Secret.reveal} only where the value is used (signing, login).
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}
