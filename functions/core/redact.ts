/**
 * Last line of defence for "no secret in any output": replaces every occurrence of the given
 * secret values in a JSON-able value. Probes never put secrets into outcomes; this makes a
 * mistake there harmless.
 */
export const REDACTED = '[redacted]';

/** Above this many secrets, a string is searched once per secret length instead of once per secret. */
const SECRETS_FOR_WINDOW_SEARCH = 32;

export function redactSecrets<T>(value: T, secrets: readonly string[]): T {
  const needles = secrets.filter((secret) => secret.length >= 4);
  if (needles.length === 0) return value;
  const shortest = Math.min(...needles.map((needle) => needle.length));
  const replaceEach = (text: string): string => {
    let out = text;
    for (const needle of needles) {
      if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    }
    return out;
  };
  // A run over many tenants holds many secrets: checking each one in every string is
  // O(strings × secrets). Sliding a window of each distinct secret length over the string and
  // looking it up in a set is O(strings × length) instead; only strings with a hit are rewritten.
  const byLength = new Map<number, Set<string>>();
  for (const needle of needles) {
    const set = byLength.get(needle.length) ?? new Set<string>();
    set.add(needle);
    byLength.set(needle.length, set);
  }
  const mayContain = (text: string): boolean => {
    for (const [length, set] of byLength) {
      for (let i = 0; i + length <= text.length; i += 1) {
        if (set.has(text.slice(i, i + length))) return true;
      }
    }
    return false;
  };
  const scrub = (text: string): string => {
    if (text.length < shortest) return text;
    if (needles.length > SECRETS_FOR_WINDOW_SEARCH && !mayContain(text)) return text;
    return replaceEach(text);
  };
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return scrub(node);
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) out[scrub(key)] = walk(child);
      return out;
    }
    return node;
  };
  return walk(value) as T;
}
