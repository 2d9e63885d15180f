/**
 * JSON from the platform, bounded: a body is parsed only when its nesting and size are within
 * limits (`JSON.parse` copes with deep nesting, but everything that walks the value afterwards,
 * `JSON.stringify` first, overflows the stack on it), and a value is printed only to a bounded
 * depth and length. Pure.
 */
import { PLATFORM_JSON_MAX_BYTES, PLATFORM_JSON_MAX_DEPTH } from './limits.ts';

/**
 * Whether JSON `text` nests objects and arrays deeper than `maxDepth`, read without parsing:
 * brackets inside strings do not count. Stops at the first bracket too deep.
 */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c)
        i += 1; // a backslash escapes the next character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b || code === 0x7b) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (code === 0x5d || code === 0x7d) {
      depth -= 1;
    }
  }
  return false;
}

/** Parsed; or not: `invalid` (not JSON at all) or `limit` (too deep or too large to read safely). */
export type PlatformJson = { ok: true; value: unknown } | { ok: false; kind: 'invalid' | 'limit'; reason: string };

export interface JsonLimits {
  /** @default PLATFORM_JSON_MAX_DEPTH */
  maxDepth?: number;
  /** UTF-8 bytes. @default PLATFORM_JSON_MAX_BYTES */
  maxBytes?: number;
}

/** `text` parsed as JSON when it is within the limits; otherwise why not (invalid, too large, too deep). */
export function parsePlatformJson(text: string, limits: JsonLimits = {}): PlatformJson {
  const maxDepth = limits.maxDepth ?? PLATFORM_JSON_MAX_DEPTH;
  const maxBytes = limits.maxBytes ?? PLATFORM_JSON_MAX_BYTES;
  // A UTF-16 unit is at least one UTF-8 byte: count bytes only when the length allows either answer.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && Buffer.byteLength(text, 'utf8') > maxBytes)) {
    return { ok: false, kind: 'limit', reason: `JSON larger than ${maxBytes} bytes, not parsed` };
  }
  if (jsonDepthExceeds(text, maxDepth)) {
    return { ok: false, kind: 'limit', reason: `JSON nested deeper than ${maxDepth} levels, not parsed` };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, kind: 'invalid', reason: 'not valid JSON' };
  }
}

/** What stands for a value nested deeper than {@link boundedStringify} goes. */
export const DEEPER = '[…]';

export interface StringifyLimits {
  maxDepth: number;
  /** The JSON text is cut (ending with `…`) once longer than this. */
  maxChars: number;
}

/** Thrown inside {@link boundedStringify} once the text is long enough. */
class Enough extends Error {}

/**
 * Compact JSON of `value` that never throws and never recurses past `maxDepth` (deeper objects
 * and arrays are {@link DEEPER}), stopping once `maxChars` are written (the text then ends with
 * `…` and is no longer valid JSON). For evidence and messages, never for data read back.
 */
export function boundedStringify(value: unknown, limits: StringifyLimits): string {
  const parts: string[] = [];
  let length = 0;
  const emit = (text: string) => {
    parts.push(text);
    length += text.length;
    if (length > limits.maxChars) throw new Enough();
  };
  const write = (node: unknown, depth: number, inArray: boolean): boolean => {
    if (node !== null && typeof node === 'object' && typeof (node as { toJSON?: unknown }).toJSON === 'function') {
      try {
        node = (node as { toJSON: () => unknown }).toJSON();
      } catch {
        node = String(node);
      }
    }
    switch (typeof node) {
      case 'string':
        emit(JSON.stringify(node));
        return true;
      case 'number':
        emit(Number.isFinite(node) ? String(node) : 'null');
        return true;
      case 'boolean':
        emit(String(node));
        return true;
      case 'bigint':
        emit(JSON.stringify(String(node)));
        return true;
      case 'undefined':
      case 'function':
      case 'symbol':
        if (inArray) emit('null');
        return inArray;
    }
    if (node === null) {
      emit('null');
      return true;
    }
    if (depth >= limits.maxDepth) {
      emit(JSON.stringify(DEEPER));
      return true;
    }
    if (Array.isArray(node)) {
      emit('[');
      node.forEach((child, index) => {
        if (index > 0) emit(',');
        write(child, depth + 1, true);
      });
      emit(']');
      return true;
    }
    emit('{');
    let first = true;
    for (const [key, child] of Object.entries(node as Record<string, unknown>)) {
      const mark = parts.length;
      const before = length;
      emit(`${first ? '' : ','}${JSON.stringify(key)}:`);
      if (write(child, depth + 1, false)) first = false;
      else {
        // An undefined or function member is left out, as JSON.stringify does.
        parts.length = mark;
        length = before;
      }
    }
    emit('}');
    return true;
  };
  try {
    write(value, 0, false);
  } catch (error) {
    if (!(error instanceof Enough)) throw error;
    const text = parts.join('');
    return `${text.slice(0, Math.max(0, limits.maxChars - 1))}…`;
  }
  return parts.join('');
}
