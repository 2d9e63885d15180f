/**
 * Last line of defence for "no secret in any output": replaces every occurrence of the given
 * secret values in a JSON-able value. Probes never put secrets into outcomes; this makes a
 * mistake there, or a platform that echoes what it was sent, harmless.
 *
 * A platform that echoes a secret may echo it escaped: inside a JSON string it quotes (`"` as
 * `\"`, `\` as `\\`, non-ASCII as `\u00e9`), URL-encoded (`%22`), form-encoded (`+`) or as HTML
 * (`&quot;`). Each of those forms is replaced too. Scrub before any cut: a cut first could leave
 * a prefix of the secret that no form matches.
 */
export const REDACTED = '[redacted]';

/** Shorter values are not searched for (they would match ordinary text). */
const MIN_SECRET_CHARS = 4;

/** Objects and arrays nested deeper than this are replaced (a hostile value must not overflow the stack). */
const MAX_WALK_DEPTH = 64;

const hex4 = (code: number) => code.toString(16).padStart(4, '0');

/** JSON's escape of a string, without the quotes; with `ascii`, every non-ASCII unit as `\uXXXX` (Python's default). */
function jsonEscaped(text: string, ascii: boolean): string {
  const inner = JSON.stringify(text).slice(1, -1);
  return ascii ? inner.replace(/[\u0080-\uffff]/g, (c) => `\\u${hex4(c.charCodeAt(0))}`) : inner;
}

/** RFC 3986 percent-encoding of everything but unreserved characters (`encodeURIComponent` also spares `!'()*`). */
function percentEncodedStrict(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * The forms a secret may take in echoed text: raw, JSON-escaped (plain and ASCII-only, with
 * upper- and lower-case hex; PHP's `\/` and Go's `\u003c` styles too), percent-encoded (both styles, upper- and lower-case hex, `+` for
 * spaces) and HTML-escaped. Only forms of at least {@link MIN_SECRET_CHARS} characters.
 */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([secret]);
  for (const ascii of [false, true]) {
    const escaped = jsonEscaped(secret, ascii);
    forms.add(escaped);
    forms.add(escaped.replace(/\\u([0-9a-f]{4})/g, (_, code: string) => `\\u${code.toUpperCase()}`));
    // Other encoders' JSON: PHP's json_encode escapes "/" (base64 secrets), Go's encoding/json <, > and &.
    const php = escaped.replaceAll('/', '\\/');
    const go = (text: string) => text.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
    forms.add(php);
    forms.add(go(escaped));
    forms.add(go(php));
  }
  let encoded: string[] = [];
  try {
    encoded = [encodeURIComponent(secret), percentEncodedStrict(secret)];
  } catch {
    // A lone surrogate cannot be percent-encoded: the platform could not have sent it so either.
  }
  for (const form of encoded) {
    forms.add(form);
    forms.add(form.replace(/%[0-9A-F]{2}/g, (pair) => pair.toLowerCase()));
    forms.add(form.replace(/%20/g, '+'));
  }
  forms.add(secret.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string));
  return [...forms].filter((form) => form.length >= MIN_SECRET_CHARS);
}

/**
 * A function that replaces every form ({@link secretForms}) of every secret in a string, in one
 * pass: at each position the longest needle that starts there is replaced. Needles are indexed by
 * their first {@link MIN_SECRET_CHARS} characters, so a run holding thousands of secrets (and
 * their forms) costs one lookup per character of text, not one search per secret.
 */
export function secretScrubber(secrets: readonly string[]): (text: string) => string {
  const needles = [...new Set(secrets.filter((secret) => secret.length >= MIN_SECRET_CHARS).flatMap(secretForms))].sort(
    (a, b) => b.length - a.length,
  );
  if (needles.length === 0) return (text) => text;
  const shortest = needles[needles.length - 1]?.length ?? MIN_SECRET_CHARS;
  const byPrefix = new Map<string, string[]>();
  for (const needle of needles) {
    const prefix = needle.slice(0, MIN_SECRET_CHARS);
    const list = byPrefix.get(prefix) ?? [];
    list.push(needle); // longest first, as sorted
    byPrefix.set(prefix, list);
  }
  return (text) => {
    if (text.length < shortest) return text;
    let out = '';
    let clean = 0;
    let i = 0;
    while (i + shortest <= text.length) {
      const candidates = byPrefix.get(text.slice(i, i + MIN_SECRET_CHARS));
      const match = candidates?.find((needle) => text.startsWith(needle, i));
      if (match === undefined) {
        i += 1;
        continue;
      }
      out += text.slice(clean, i) + REDACTED;
      i += match.length;
      clean = i;
    }
    return clean === 0 ? text : out + text.slice(clean);
  };
}

/** Placeholder for a value nested deeper than a walk goes. */
export const TOO_DEEP = '[nested too deep]';

export function redactSecrets<T>(value: T, secrets: readonly string[]): T {
  return redactWith(value, secretScrubber(secrets));
}

/** `value` with `scrub` applied to every string and key, nested at most 64 levels (deeper: {@link TOO_DEEP}). */
export function redactWith<T>(value: T, scrub: (text: string) => string): T {
  const walk = (node: unknown, depth: number): unknown => {
    if (typeof node === 'string') return scrub(node);
    if (node === null || typeof node !== 'object') return node;
    if (depth >= MAX_WALK_DEPTH) return TOO_DEEP;
    if (Array.isArray(node)) return node.map((child) => walk(child, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node)) out[scrub(key)] = walk(child, depth + 1);
    return out;
  };
  return walk(value, 0) as T;
}
