/**
 * TLS to PostgreSQL as `database.tls` (and `tenantSource.tls`) asks: the mode a host gets, the
 * `ssl` options `pg` takes for it, and a failed handshake turned into one sentence naming the
 * host and the reason. The config decides, never the URL: `sslmode` and friends in a URL (or in
 * an RDS secret) are removed, so a URL cannot silently downgrade a verified connection. The mode a
 * host gets by default is config's (`effectivePgTlsMode`).
 */
import type { ConnectionOptions } from 'node:tls';
import type { PgTlsMode } from '../core/config.ts';
import { trustingAlso } from './tls.ts';

/**
 * URL parameters through which pg (or libpq habits) would choose TLS, or another host than the
 * one the mode was chosen for, behind the config's back.
 */
const SSL_PARAMETERS = [
  'ssl',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'sslnegotiation',
  'uselibpqcompat',
  'host',
  'hostaddr',
  'port',
];

/** `host:port` of a postgres:// URL (never its credentials), or "the database" when unparsable. */
export function pgHost(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.hostname}:${url.port || '5432'}`;
  } catch {
    return 'the database';
  }
}

/**
 * The URL without its TLS and host parameters (the config chooses TLS; the host is the URL's own).
 * A URL that does not parse is refused: pg's own parser would still read `?ssl=0` from it.
 */
export function withoutSslParameters(connectionString: string): string {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw invalidUrl('the database URL does not parse (check database.url or the secret it is built from)');
  }
  if (url.hostname === '') throw invalidUrl('the database URL names no host (a host in ?host= is not accepted)');
  const names = [...url.searchParams.keys()].filter((name) => SSL_PARAMETERS.includes(name.toLowerCase()));
  if (names.length === 0) return connectionString;
  for (const name of names) url.searchParams.delete(name);
  return url.toString();
}

/** An error with Node's code for a bad URL (callers report the code, never the URL). */
function invalidUrl(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_INVALID_URL' });
}

/** pg's `ssl` option for a mode; `ca` is trusted besides the system roots. */
export function pgSslOptions(mode: PgTlsMode, ca: string | undefined): false | ConnectionOptions {
  if (mode === 'disable') return false;
  if (mode === 'require') return { rejectUnauthorized: false };
  const secureContext = trustingAlso(ca);
  return { rejectUnauthorized: true, ...(secureContext ? { secureContext } : {}) };
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_SSL|EPROTO/;

/**
 * A connect error of a TLS handshake as one sentence naming the host and what to check, or
 * undefined for any other error. Never includes the URL (it may hold a password).
 */
export function describeTlsFailure(error: unknown, host: string, mode: PgTlsMode): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (/does not support SSL/i.test(error.message)) {
    return `TLS to ${host} failed: the server does not offer TLS (database.tls.mode is ${mode}; enable ssl on the server)`;
  }
  if (!TLS_CODES.test(code)) return undefined;
  const hint =
    code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      ? 'connect by a name the certificate lists'
      : code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
        ? 'the server certificate must be renewed'
        : 'set database.tls.caFile to the PEM bundle of the CA that signed it (for RDS: the regional or global bundle)';
  return `TLS to ${host} refused the server certificate: ${error.message} (${hint})`;
}
