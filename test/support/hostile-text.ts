/**
 * Assertions for text that reached an output: what a terminal would act on, and what is left of
 * a secret that was cut instead of scrubbed.
 */

/**
 * Every character a terminal, a log viewer or a browser would act on: C0 controls but tab and
 * line feed (escape sequences start with ESC), DEL, C1 controls (8-bit CSI, OSC, …) and
 * bidirectional overrides. Empty when the text is inert.
 */
export function controlsIn(text: string): string[] {
  return [...text].filter((c) => {
    const code = c.charCodeAt(0);
    if (code === 0x09 || code === 0x0a) return false;
    return (
      code < 0x20 ||
      (code >= 0x7f && code <= 0x9f) ||
      (code >= 0x202a && code <= 0x202e) ||
      (code >= 0x2066 && code <= 0x2069)
    );
  });
}

/**
 * Every `length`-character piece of `secret` and of its JSON-escaped form: a secret cut before it
 * was scrubbed leaves one of these (in HTML too, between the characters HTML escapes).
 */
export function secretPieces(secret: string, length = 6): string[] {
  const forms = new Set([secret, JSON.stringify(secret).slice(1, -1)]);
  return [...forms].flatMap((form) =>
    Array.from({ length: Math.max(0, form.length - length + 1) }, (_, i) => form.slice(i, i + length)),
  );
}
