/**
 * Text from the platform made safe to show: no control character a terminal, a log viewer or a
 * browser would act on, no secret, and a bounded length, in that order (a cut before the scrub
 * could leave a prefix of a secret no scrubber recognises). Pure.
 */
import { secretScrubber } from './redact.ts';

/** What ends a cut text. */
export const CUT_MARK = '…';

/** 8-bit introducers of the string commands DCS, SOS, OSC, PM and APC. */
const C1_STRING = new Set([0x90, 0x98, 0x9d, 0x9e, 0x9f]);
/** Characters after ESC that open a string command (DCS, SOS, OSC, PM, APC). */
const ESC_STRING = new Set(['P', 'X', ']', '^', '_']);
/** At most this many characters are taken as the body of a string command. */
const STRING_COMMAND_MAX = 512;

const within = (code: number, low: number, high: number) => code >= low && code <= high;

/** The end of a CSI sequence whose parameters start at `i`: parameters, intermediates, a final byte. */
function endOfCsi(text: string, i: number): number {
  let j = i;
  while (j < text.length && within(text.charCodeAt(j), 0x30, 0x3f)) j += 1;
  while (j < text.length && within(text.charCodeAt(j), 0x20, 0x2f)) j += 1;
  if (j < text.length && within(text.charCodeAt(j), 0x40, 0x7e)) j += 1;
  return j;
}

/** The end of a string command whose body starts at `i`: up to BEL, ESC \ or ST. */
function endOfStringCommand(text: string, i: number): number {
  const limit = Math.min(text.length, i + STRING_COMMAND_MAX);
  for (let j = i; j < limit; j += 1) {
    const code = text.charCodeAt(j);
    if (code === 0x07 || code === 0x9c) return j + 1;
    if (code === 0x1b) return text.charAt(j + 1) === '\\' ? j + 2 : j;
  }
  return limit;
}

/**
 * The end of the escape sequence at `i` (an ESC or a C1 introducer), as a terminal reads it: CSI
 * with its parameters (`ESC [ 2 K`, `ESC [ 8 m`), a string command (a window title, a hyperlink)
 * up to its terminator, any other ESC with the characters it takes.
 */
function endOfEscape(text: string, i: number): number {
  const code = text.charCodeAt(i);
  if (code === 0x9b) return endOfCsi(text, i + 1);
  if (C1_STRING.has(code)) return endOfStringCommand(text, i + 1);
  const next = text.charAt(i + 1);
  if (next === '[') return endOfCsi(text, i + 2);
  if (ESC_STRING.has(next)) return endOfStringCommand(text, i + 2);
  let j = i + 1;
  while (j < text.length && within(text.charCodeAt(j), 0x20, 0x2f)) j += 1;
  if (j < text.length && within(text.charCodeAt(j), 0x30, 0x7e)) j += 1;
  return j;
}

/** Line breaks of every kind (CR LF counts once), tab, vertical tab and form feed. */
const isBreak = (code: number) =>
  code === 0x09 || within(code, 0x0a, 0x0d) || code === 0x85 || code === 0x2028 || code === 0x2029;
/** C0 and C1 controls and DEL (breaks are handled first). */
const isControl = (code: number) => code < 0x20 || within(code, 0x7f, 0x9f);
/** Bidirectional embeddings, overrides and isolates: they reorder what follows ("Trojan Source"). */
const isBidiControl = (code: number) => within(code, 0x202a, 0x202e) || within(code, 0x2066, 0x2069);

export interface StripOptions {
  /** Keep line feeds and tabs (evidence); otherwise every break becomes a space (a summary, a terminal line). @default false */
  multiline?: boolean;
}

/**
 * `text` without escape sequences (each removed whole, parameters and all), control characters
 * or bidirectional overrides. Removed, not replaced: a secret split by a sequence comes together
 * again, where the scrubber that runs next finds it. Breaks become spaces, unless `multiline`
 * (then a tab stays and every other break is a line feed).
 */
export function stripControls(text: string, options: StripOptions = {}): string {
  let out = '';
  let clean = 0;
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    let replacement: string | undefined;
    let end = i + 1;
    if (isBreak(code)) {
      if (code === 0x0d && text.charCodeAt(i + 1) === 0x0a) end = i + 2;
      if (!options.multiline) replacement = ' ';
      else if (code === 0x09 || code === 0x0a) replacement = undefined;
      else replacement = '\n';
    } else if (code === 0x1b || code === 0x9b || C1_STRING.has(code)) {
      replacement = '';
      end = endOfEscape(text, i);
    } else if (isControl(code) || isBidiControl(code)) {
      replacement = '';
    }
    if (replacement !== undefined) {
      out += text.slice(clean, i) + replacement;
      clean = end;
    }
    i = end;
  }
  return clean === 0 ? text : out + text.slice(clean);
}

/** At most `maxChars` characters: a longer text keeps its beginning and ends with {@link CUT_MARK}. Never splits a surrogate pair. */
export function cutText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  if (maxChars <= CUT_MARK.length) return CUT_MARK.slice(0, Math.max(0, maxChars));
  let cut = text.slice(0, maxChars - CUT_MARK.length);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut + CUT_MARK;
}

/**
 * The scrubber for text that {@link stripControls} has been through: every form of each secret,
 * and of each secret as stripping would leave it (should one hold a control character).
 */
export function platformScrubber(secrets: readonly string[]): (text: string) => string {
  return secretScrubber([
    ...secrets,
    ...secrets.map((secret) => stripControls(secret)),
    ...secrets.map((secret) => stripControls(secret, { multiline: true })),
  ]);
}

const shared = new WeakMap<object, (text: string) => string>();

/**
 * {@link platformScrubber} of `secrets()`, built once per `owner` (a run's list of tenants: its
 * probes scrub with every secret of the run, and a thousand tenants' forms are worth building once).
 */
export function sharedScrubber(owner: object, secrets: () => readonly string[]): (text: string) => string {
  let scrub = shared.get(owner);
  if (scrub === undefined) {
    scrub = platformScrubber(secrets());
    shared.set(owner, scrub);
  }
  return scrub;
}

/** One scrubber that applies each of `scrubbers` in turn. */
export function bothScrubbers(...scrubbers: ((text: string) => string)[]): (text: string) => string {
  return (text) => scrubbers.reduce((out, scrub) => scrub(out), text);
}

export interface CleanOptions extends StripOptions {
  /** Secret values: each of their forms (raw, JSON-escaped, URL-encoded, …) is replaced before the cut. */
  secrets?: readonly string[];
  /** Replaces secrets (built once for many texts, with {@link platformScrubber}); used instead of `secrets`. */
  scrub?: (text: string) => string;
  maxChars: number;
}

/**
 * Platform text as it may be shown: controls stripped, secrets scrubbed, then cut to `maxChars`.
 * Without `multiline`, runs of whitespace collapse to one space and the ends are trimmed.
 */
export function cleanText(text: string, options: CleanOptions): string {
  const scrub = options.scrub ?? platformScrubber(options.secrets ?? []);
  let out = scrub(stripControls(text, options));
  if (!options.multiline) out = out.replace(/\s+/g, ' ').trim();
  return cutText(out, options.maxChars);
}

/**
 * Text for a terminal line, as the renderer's last guard: whatever reaches it has been cleaned at
 * its source already; this makes sure nothing in it can move the cursor, recolour or hide.
 */
export function terminalText(text: string): string {
  return stripControls(text);
}
