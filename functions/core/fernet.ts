/**
 * Fernet (https://github.com/fernet/spec): authenticated symmetric encryption, as the platform
 * uses for the secrets in `tenant_configs` (key in `TENANT_ENCRYPTION_KEY`).
 *
 * Token: base64url(0x80 ‖ timestamp u64 BE ‖ IV 16 ‖ AES-128-CBC/PKCS7 ciphertext ‖ HMAC-SHA256 32),
 * the HMAC over everything before it. Key: base64url of 32 bytes, signing key ‖ encryption key.
 * Pure: node:crypto only, the clock and the IV can be injected.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CanaryError } from './errors.ts';

const VERSION = 0x80;
const HEADER_BYTES = 1 + 8 + 16;
const HMAC_BYTES = 32;
const BLOCK_BYTES = 16;
/** Tokens stamped up to this far in the future are still accepted (clock skew between hosts). */
const MAX_CLOCK_SKEW_S = 60;
/** Strict base64url: the alphabet, then at most two `=` of padding and nothing after. */
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

export type FernetErrorReason =
  | 'key'
  | 'base64'
  | 'version'
  | 'too-short'
  | 'expired'
  | 'future'
  | 'hmac'
  | 'block-size'
  | 'padding';

/** A token (or key) that cannot be used. `reason` says which rule it broke; no key material is included. */
export class FernetError extends CanaryError {
  override name = 'FernetError';
  readonly reason: FernetErrorReason;
  constructor(reason: FernetErrorReason, message: string, options?: { cause?: unknown }) {
    super('crypto', message, options);
    this.reason = reason;
  }
}

function decodeBase64url(text: string, reason: 'key' | 'base64', what: string): Buffer {
  const unpadded = text.replace(/=+$/, '');
  // A length of 1 mod 4 cannot come from whole bytes; padding, when present, must complete a quantum.
  if (!BASE64URL.test(text) || unpadded.length % 4 === 1 || (text !== unpadded && text.length % 4 !== 0)) {
    throw new FernetError(reason, `${what} is not valid base64url`);
  }
  return Buffer.from(unpadded, 'base64url');
}

function encodeBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

function splitKey(key: string): { signingKey: Buffer; encryptionKey: Buffer } {
  const bytes = decodeBase64url(key, 'key', 'the Fernet key');
  if (bytes.length !== 32) throw new FernetError('key', 'the Fernet key must be 32 bytes (base64url-encoded)');
  return { signingKey: bytes.subarray(0, 16), encryptionKey: bytes.subarray(16, 32) };
}

/** A fresh random key, base64url-encoded with padding (as Python's `Fernet.generate_key()`). */
export function generateFernetKey(): string {
  return encodeBase64url(randomBytes(32));
}

export interface FernetEncryptOptions {
  /** The token's timestamp. @default the current time */
  now?: Date;
  /** 16 bytes. @default random; inject only for test vectors */
  iv?: Uint8Array;
}

export function fernetEncrypt(key: string, plaintext: string | Uint8Array, options: FernetEncryptOptions = {}): string {
  const { signingKey, encryptionKey } = splitKey(key);
  const iv = options.iv === undefined ? randomBytes(16) : Buffer.from(options.iv);
  if (iv.length !== 16) throw new RangeError('the IV must be 16 bytes');
  const seconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(VERSION, 0);
  header.writeBigUInt64BE(BigInt(seconds), 1);
  iv.copy(header, 9);
  const cipher = createCipheriv('aes-128-cbc', encryptionKey, iv);
  const body = Buffer.concat([header, cipher.update(plaintext), cipher.final()]);
  const mac = createHmac('sha256', signingKey).update(body).digest();
  return encodeBase64url(Buffer.concat([body, mac]));
}

export interface FernetDecryptOptions {
  /** Reject tokens older than this; also enables the clock-skew check. @default no age limit */
  ttlSeconds?: number;
  /** @default the current time */
  now?: Date;
}

/** The plaintext bytes of a token. Throws {@link FernetError} for any invalid token. */
export function fernetDecryptBytes(key: string, token: string, options: FernetDecryptOptions = {}): Buffer {
  const { signingKey, encryptionKey } = splitKey(key);
  const data = decodeBase64url(token, 'base64', 'the token');
  if (data.length < HEADER_BYTES + HMAC_BYTES) throw new FernetError('too-short', 'the token is too short');
  if (data[0] !== VERSION) throw new FernetError('version', 'the token has an unknown version');
  const timestamp = Number(data.readBigUInt64BE(1));
  if (options.ttlSeconds !== undefined) {
    const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
    if (timestamp + options.ttlSeconds < now) throw new FernetError('expired', 'the token has expired');
    if (timestamp > now + MAX_CLOCK_SKEW_S) throw new FernetError('future', 'the token is stamped in the future');
  }
  const body = data.subarray(0, data.length - HMAC_BYTES);
  const expected = createHmac('sha256', signingKey).update(body).digest();
  if (!timingSafeEqual(expected, data.subarray(data.length - HMAC_BYTES))) {
    throw new FernetError('hmac', 'the token signature does not match');
  }
  const ciphertext = body.subarray(HEADER_BYTES);
  if (ciphertext.length === 0 || ciphertext.length % BLOCK_BYTES !== 0) {
    throw new FernetError('block-size', 'the ciphertext is not a whole number of blocks');
  }
  const decipher = createDecipheriv('aes-128-cbc', encryptionKey, body.subarray(9, HEADER_BYTES));
  decipher.setAutoPadding(false);
  const padded = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  const pad = padded[padded.length - 1] ?? 0;
  if (pad < 1 || pad > BLOCK_BYTES || !padded.subarray(padded.length - pad).every((byte) => byte === pad)) {
    throw new FernetError('padding', 'the plaintext padding is invalid');
  }
  return padded.subarray(0, padded.length - pad);
}

/** The plaintext of a token as UTF-8. Throws {@link FernetError} for any invalid token. */
export function fernetDecrypt(key: string, token: string, options: FernetDecryptOptions = {}): string {
  return fernetDecryptBytes(key, token, options).toString('utf8');
}
