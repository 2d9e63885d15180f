import { describe, expect, it } from 'vitest';
import {
  FernetError,
  type FernetErrorReason,
  fernetDecrypt,
  fernetEncrypt,
  generateFernetKey,
} from '../../functions/core/fernet.ts';

// Test vectors of the Fernet specification (github.com/fernet/spec: generate.json, verify.json, invalid.json).
const SECRET = 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=';
const TOKEN = 'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==';
const IV = Uint8Array.from({ length: 16 }, (_, index) => index);
const NOW = new Date('1985-10-26T01:20:01-07:00');

const INVALID: readonly { desc: string; token: string; now: string; reason: FernetErrorReason }[] = [
  {
    desc: 'incorrect mac',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykQUFBQUFBQUFBQQ==',
    now: '1985-10-26T01:20:01-07:00',
    reason: 'hmac',
  },
  {
    desc: 'too short',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPA==',
    now: '1985-10-26T01:20:01-07:00',
    reason: 'too-short',
  },
  {
    desc: 'invalid base64',
    token: '%%%%%%%%%%%%%AECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==',
    now: '1985-10-26T01:20:01-07:00',
    reason: 'base64',
  },
  {
    desc: 'payload size not multiple of block size',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPOm73QeoCk9uGib28Xe5vz6oxq5nmxbx_v7mrfyudzUm',
    now: '1985-10-26T01:20:01-07:00',
    reason: 'block-size',
  },
  {
    desc: 'payload padding error',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0ODz4LEpdELGQAad7aNEHbf-JkLPIpuiYRLQ3RtXatOYREu2FWke6CnJNYIbkuKNqOhw==',
    now: '1985-10-26T01:20:01-07:00',
    reason: 'padding',
  },
  {
    desc: 'far-future TS (unacceptable clock skew)',
    token: 'gAAAAAAdwStRAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAnja1xKYyhd-Y6mSkTOyTGJmw2Xc2a6kBd-iX9b_qXQcw==',
    now: '1985-10-26T01:20:01-07:00',
    reason: 'future',
  },
  {
    desc: 'expired TTL',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==',
    now: '1985-10-26T01:21:31-07:00',
    reason: 'expired',
  },
  {
    desc: 'incorrect IV (causes padding error)',
    token: 'gAAAAAAdwJ6xBQECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAkLhFLHpGtDBRLRTZeUfWgHSv49TF2AUEZ1TIvcZjK1zQ==',
    now: '1985-10-26T01:20:01-07:00',
    reason: 'padding',
  },
  {
    desc: 'trailing characters after b64 padding',
    token: `${TOKEN}trailingdata`,
    now: '1985-10-26T01:20:01-07:00',
    reason: 'base64',
  },
  {
    desc: 'invalid characters in b64',
    token: '*gAAAAAAdwJ6wAAECAwQFBgcI!CQoLDA0ODy021?cpGVWKZ_eEwC@GM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==',
    now: '1985-10-26T01:20:01-07:00',
    reason: 'base64',
  },
  {
    desc: 'invalid non-urlsafe characters in b64',
    token: 'gAAAAAAdwJ6wAAEC/AwQFBgcICQoLDA0ODy+021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==',
    now: '1985-10-26T01:20:01-07:00',
    reason: 'base64',
  },
];

function decryptError(token: string, options: { ttlSeconds?: number; now?: Date }, key = SECRET): unknown {
  try {
    fernetDecrypt(key, token, options);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('fernet', () => {
  it('generates the specification token from its key, time, IV and plaintext', () => {
    const token = fernetEncrypt(SECRET, 'hello', { now: new Date('1985-10-26T01:20:00-07:00'), iv: IV });
    expect(token).toBe(TOKEN);
  });

  it('verifies the specification token within its TTL', () => {
    expect(fernetDecrypt(SECRET, TOKEN, { ttlSeconds: 60, now: NOW })).toBe('hello');
  });

  it.each(INVALID)('rejects the invalid specification token: $desc', ({ token, now, reason }) => {
    const error = decryptError(token, { ttlSeconds: 60, now: new Date(now) });
    expect(error).toBeInstanceOf(FernetError);
    expect((error as FernetError).name).toBe('FernetError');
    expect((error as FernetError).reason).toBe(reason);
  });

  it('ignores the timestamp when no TTL is given', () => {
    expect(fernetDecrypt(SECRET, TOKEN, { now: new Date('2030-01-01T00:00:00Z') })).toBe('hello');
  });

  it('round-trips UTF-8 text with a generated key and a random IV', () => {
    const key = generateFernetKey();
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    const secret = 'wh-secret: ünïcødé ✓ and a block-aligned tail 0123456789abcdef';
    const first = fernetEncrypt(key, secret);
    const second = fernetEncrypt(key, secret);
    expect(first).not.toBe(second);
    expect(fernetDecrypt(key, first)).toBe(secret);
    expect(fernetDecrypt(key, second)).toBe(secret);
  });

  it('encrypts an empty plaintext into one full padding block', () => {
    const key = generateFernetKey();
    const token = fernetEncrypt(key, '');
    expect(Buffer.from(token, 'base64url').length).toBe(1 + 8 + 16 + 16 + 32);
    expect(fernetDecrypt(key, token)).toBe('');
  });

  it('rejects a token made under another key as a MAC mismatch', () => {
    const token = fernetEncrypt(generateFernetKey(), 'hello');
    const error = decryptError(token, {}, generateFernetKey());
    expect((error as FernetError).reason).toBe('hmac');
  });

  it('rejects a token with an unknown version byte', () => {
    const bytes = Buffer.from(TOKEN, 'base64url');
    bytes[0] = 0x81;
    const error = decryptError(bytes.toString('base64url'), {});
    expect((error as FernetError).reason).toBe('version');
  });

  it('rejects a malformed key without echoing it', () => {
    const error = decryptError(TOKEN, {}, 'not-a-key');
    expect(error).toBeInstanceOf(FernetError);
    expect((error as FernetError).reason).toBe('key');
    expect((error as Error).message).not.toContain('not-a-key');
    expect(() => fernetEncrypt(Buffer.alloc(16).toString('base64url'), 'x')).toThrow(FernetError);
  });
});
