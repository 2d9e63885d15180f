import { describe, expect, it } from 'vitest';
import { hmacSha256Hex, signBody, verifySignature } from '../../functions/core/signing.ts';

// RFC 4231, "Identifiers and Test Vectors for HMAC-SHA-224, HMAC-SHA-256, ...", section 4.
const RFC4231 = [
  {
    name: 'test case 1',
    key: Buffer.alloc(20, 0x0b),
    data: Buffer.from('Hi There'),
    hex: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
  },
  {
    name: 'test case 2 (key shorter than the length of the HMAC output)',
    key: Buffer.from('Jefe'),
    data: Buffer.from('what do ya want for nothing?'),
    hex: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  },
  {
    name: 'test case 3 (combined length of key and data larger than 64 bytes)',
    key: Buffer.alloc(20, 0xaa),
    data: Buffer.alloc(50, 0xdd),
    hex: '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe',
  },
  {
    name: 'test case 4',
    key: Buffer.from(Array.from({ length: 25 }, (_, i) => i + 1)),
    data: Buffer.alloc(50, 0xcd),
    hex: '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
  },
  {
    name: 'test case 6 (key larger than the block size)',
    key: Buffer.alloc(131, 0xaa),
    data: Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'),
    hex: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
  },
  {
    name: 'test case 7 (key and data larger than the block size)',
    key: Buffer.alloc(131, 0xaa),
    data: Buffer.from(
      'This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.',
    ),
    hex: '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
  },
];

describe('webhook signing', () => {
  it.each(RFC4231)('matches RFC 4231 $name', ({ key, data, hex }) => {
    expect(hmacSha256Hex(key, data)).toBe(hex);
  });

  it('prefixes sha256= in the format the platform code expects', () => {
    expect(signBody('what do ya want for nothing?', 'Jefe', 'sha256-prefixed')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('gives bare hex in the format the guide shows (openssl dgst)', () => {
    expect(signBody('what do ya want for nothing?', 'Jefe', 'hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('keys with the secret as UTF-8 and signs the exact bytes', () => {
    const body = '{"ticket_id":"TKT-123","description":"café"}';
    expect(signBody(body, 'sécret', 'hex')).toBe(
      hmacSha256Hex(Buffer.from('sécret', 'utf8'), Buffer.from(body, 'utf8')),
    );
    expect(signBody(body, 'sécret', 'hex')).not.toBe(signBody(`${body} `, 'sécret', 'hex'));
  });

  it('verifies its own signatures in both formats and rejects the other format', () => {
    const body = '{"a":1}';
    const prefixed = signBody(body, 's3cret', 'sha256-prefixed');
    const bare = signBody(body, 's3cret', 'hex');
    expect(verifySignature(body, 's3cret', prefixed, 'sha256-prefixed')).toBe(true);
    expect(verifySignature(body, 's3cret', bare, 'hex')).toBe(true);
    expect(verifySignature(body, 's3cret', bare, 'sha256-prefixed')).toBe(false);
    expect(verifySignature(body, 's3cret', prefixed, 'hex')).toBe(false);
  });

  it('rejects a wrong secret, a changed body, a missing header and malformed hex', () => {
    const body = '{"a":1}';
    const header = signBody(body, 's3cret', 'sha256-prefixed');
    expect(verifySignature(body, 'other', header, 'sha256-prefixed')).toBe(false);
    expect(verifySignature('{"a":2}', 's3cret', header, 'sha256-prefixed')).toBe(false);
    expect(verifySignature(body, 's3cret', undefined, 'sha256-prefixed')).toBe(false);
    expect(verifySignature(body, 's3cret', 'sha256=zz', 'sha256-prefixed')).toBe(false);
    expect(verifySignature(body, 's3cret', header.toUpperCase(), 'sha256-prefixed')).toBe(false);
  });
});
