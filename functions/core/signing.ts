/**
 * Webhook signatures: HMAC-SHA256 over the exact raw body bytes, keyed with the tenant's
 * signing secret as UTF-8. The platform's code expects `sha256=<hex>`; its guide shows bare hex.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureFormat = 'sha256-prefixed' | 'hex';
export const SIGNATURE_HEADER = 'X-ServiceDesk-Signature';

export function hmacSha256Hex(key: string | Uint8Array, body: string | Uint8Array): string {
  return createHmac('sha256', key).update(body).digest('hex');
}

/** The header value for `body` signed with `secret` in the given format. */
export function signBody(body: string | Uint8Array, secret: string, format: SignatureFormat): string {
  const hex = hmacSha256Hex(Buffer.from(secret, 'utf8'), body);
  return format === 'sha256-prefixed' ? `sha256=${hex}` : hex;
}

/**
 * Constant-time verification of a header value. A value in the other format, of the wrong
 * length or not hex is simply invalid.
 */
export function verifySignature(
  body: string | Uint8Array,
  secret: string,
  header: string | undefined,
  format: SignatureFormat,
): boolean {
  if (header === undefined) return false;
  let hex: string;
  if (format === 'sha256-prefixed') {
    if (!header.startsWith('sha256=')) return false;
    hex = header.slice('sha256='.length);
  } else {
    hex = header;
  }
  if (!/^[0-9a-f]{64}$/.test(hex)) return false;
  const expected = Buffer.from(hmacSha256Hex(Buffer.from(secret, 'utf8'), body), 'hex');
  return timingSafeEqual(expected, Buffer.from(hex, 'hex'));
}
