/**
 * Last line of defence for "no secret in any output": replaces every occurrence of the given
 * secret values in a JSON-able value. Probes never put secrets into outcomes; this makes a
 * mistake there harmless.
 */
export const REDACTED = '[redacted]';

export function redactSecrets<T>(value: T, secrets: readonly string[]): T {
  const needles = secrets.filter((secret) => secret.length >= 4);
  if (needles.length === 0) return value;
  const scrub = (text: string): string => {
    let out = text;
    for (const needle of needles) {
      if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    }
    return out;
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
