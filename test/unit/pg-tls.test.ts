/** How `database.tls` becomes pg's `ssl` option, and a refused handshake one sentence. */
import { rootCertificates } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { describeTlsFailure, pgHost, pgSslOptions, withoutSslParameters } from '../../functions/adapters/pg-tls.ts';
import { effectivePgTlsMode, isLoopbackHost, parseConfig } from '../../functions/core/config.ts';

describe('database.tls', () => {
  it('defaults to verify-full, and to disable only for a loopback host', () => {
    expect(effectivePgTlsMode({}, 'postgres://u@db.internal:5432/x')).toBe('verify-full');
    expect(effectivePgTlsMode({}, 'postgres://u@10.0.0.5/x')).toBe('verify-full');
    for (const host of ['127.0.0.1', 'localhost', '[::1]', '127.9.9.9']) {
      expect(effectivePgTlsMode({}, `postgres://u@${host}:5432/x`), host).toBe('disable');
    }
    expect(effectivePgTlsMode({ mode: 'require' }, 'postgres://u@127.0.0.1/x')).toBe('require');
    expect(effectivePgTlsMode({}, 'not a url')).toBe('verify-full');
    expect(isLoopbackHost('127.0.0.1.evil.example')).toBe(false);
  });

  it('parses with the mode left to the host and no CA, and names a bad mode', () => {
    const base = { platform: { baseUrl: 'http://127.0.0.1:1' }, tenants: [] as unknown[] };
    const db = { url: 'postgres://u@db.internal/x' };
    const parsed = parseConfig({
      ...base,
      tenants: [{ tenantId: 'a', signingSecret: { value: 'x' } }],
      database: db,
    });
    expect(parsed.database?.tls).toEqual({ caFile: null });
    expect(() =>
      parseConfig({
        ...base,
        tenants: [{ tenantId: 'a', signingSecret: { value: 'x' } }],
        database: { ...db, tls: { mode: 'prefer' } },
      }),
    ).toThrow(/database\.tls\.mode must be one of verify-full, require, disable/);
  });

  it('lets the config decide: ssl parameters in a URL are removed, credentials kept', () => {
    expect(withoutSslParameters('postgres://u:p@db:5432/x?sslmode=disable&application_name=a&SSLROOTCERT=/tmp/x')).toBe(
      'postgres://u:p@db:5432/x?application_name=a',
    );
    expect(withoutSslParameters('postgres://u@db/x')).toBe('postgres://u@db/x');
    // Nor may a parameter send the connection to another host than the one the mode was chosen for.
    expect(withoutSslParameters('postgres://u@localhost/db?host=db.prod&hostaddr=10.0.0.9&port=6543')).toBe(
      'postgres://u@localhost/db',
    );
    expect(() => withoutSslParameters('postgres://u:p@/db?host=remote&ssl=0')).toThrow(/does not parse|names no host/);
    expect(() => withoutSslParameters('postgres:///db?host=remote')).toThrow(/does not parse|names no host/);
    expect(() => withoutSslParameters('postgres://u:pa#ss@db/x?ssl=0')).toThrow(/does not parse/);
    expect(() => withoutSslParameters('postgres://u:pa#ss@db/x?ssl=0')).not.toThrow(/pa#ss/);
  });

  it('verifies in verify-full (system roots plus the CA), encrypts without checking in require', () => {
    expect(pgSslOptions('disable', undefined)).toBe(false);
    expect(pgSslOptions('require', undefined)).toEqual({ rejectUnauthorized: false });
    expect(pgSslOptions('verify-full', undefined)).toEqual({ rejectUnauthorized: true });
    const withCa = pgSslOptions('verify-full', rootCertificates[0]);
    expect(withCa).toMatchObject({ rejectUnauthorized: true, secureContext: expect.any(Object) });
  });

  it('says which host refused which certificate, and never the URL', () => {
    const error = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    const host = pgHost('postgres://canary:hunter2@db.internal:6432/x');
    expect(host).toBe('db.internal:6432');
    const line = describeTlsFailure(error, host, 'verify-full');
    expect(line).toBe(
      'TLS to db.internal:6432 refused the server certificate: self-signed certificate in certificate chain (set database.tls.caFile to the PEM bundle of the CA that signed it (for RDS: the regional or global bundle))',
    );
    expect(describeTlsFailure(new Error('The server does not support SSL connections'), host, 'require')).toMatch(
      /does not offer TLS/,
    );
    expect(describeTlsFailure(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), host, 'verify-full')).toBe(
      undefined,
    );
  });
});
