/**
 * One progress line on an interactive stderr (`tenants 412/1000, 3 failing, 38 s`), redrawn in
 * place with Node's own `readline.clearLine`/`cursorTo`; nothing at all when stderr is not a
 * terminal, with `--json`, or with NO_COLOR or CI set (the same rules as colour, plus CI).
 */
import { clearLine, cursorTo } from 'node:readline';
import { noColor } from './render.ts';

interface Stream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressLine {
  /** The line's text without the elapsed time (added, and kept ticking, here). */
  update(text: string): void;
  /** Takes the line away (before other output, or at the end); `update` draws it again. */
  clear(): void;
  stop(): void;
}

const NONE: ProgressLine = { update() {}, clear() {}, stop() {} };

/** CI set and not switched off (`CI=false` or `0` is a developer saying "not CI"). */
const inCi = (env: Readonly<Record<string, string | undefined>>) =>
  env.CI !== undefined && env.CI !== '' && env.CI !== '0' && env.CI !== 'false';

export function progressEnabled(
  stream: Stream,
  env: Readonly<Record<string, string | undefined>>,
  json: boolean,
): boolean {
  return stream.isTTY === true && !json && !noColor(env) && !inCi(env);
}

export function progressLine(
  stream: Stream,
  enabled: boolean,
  now: () => number = () => performance.now(),
): ProgressLine {
  if (!enabled) return NONE;
  const started = now();
  let text: string | undefined;
  let shown = false;
  const draw = () => {
    if (text === undefined) return;
    cursorTo(stream as NodeJS.WritableStream, 0);
    clearLine(stream as NodeJS.WritableStream, 0);
    stream.write(`${text}, ${Math.round((now() - started) / 1000)} s`);
    shown = true;
  };
  // The elapsed seconds move even while nothing finishes (a run waiting on round trips).
  const timer = setInterval(draw, 1000);
  timer.unref();
  return {
    update(next) {
      text = next;
      draw();
    },
    clear() {
      if (!shown) return;
      cursorTo(stream as NodeJS.WritableStream, 0);
      clearLine(stream as NodeJS.WritableStream, 0);
      shown = false;
    },
    stop() {
      clearInterval(timer);
      this.clear();
      text = undefined;
    },
  };
}
