/**
 * Connection URLs (`database.url`, `redis.url`, `tenantSource.url`) read the way the drivers read
 * them: pg (pg-connection-string) and ioredis both hand the text to WHATWG `URL`, pg after
 * percent-encoding spaces and malformed `%` escapes, and both take the userinfo password and any
 * query parameter (`?password=`) as options. What this module says about a URL never quotes it:
 * the text may hold a password.
 */

export type ConnectionUrlKind = 'postgres' | 'redis';

export type ConnectionUrlReading = { ok: true } | { ok: false; problem: string };

/** Query parameters a driver would take a credential from (`password`, ioredis' `sentinelPassword`, libpq's `sslpassword`). */
const CREDENTIAL_PARAMETER = /pass|secret|token/i;

/** pg-connection-string's first step: spaces and malformed `%` escapes are percent-encoded before parsing. */
function asPgReadsIt(raw: string): string {
  return / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(raw) ? encodeURI(raw).replace(/%25(\d\d)/g, '%$1') : raw;
}

/**
 * The texts the drivers and the canary parse: the URL itself, and for pg its re-encoded form
 * (none when it cannot be re-encoded: a lone surrogate makes pg's `encodeURI` throw).
 */
function readings(raw: string, kind: ConnectionUrlKind): string[] | undefined {
  if (kind === 'redis') return [raw];
  let pg: string;
  try {
    pg = asPgReadsIt(raw);
  } catch {
    return undefined;
  }
  return pg === raw ? [raw] : [raw, pg];
}

function decodes(part: string): boolean {
  return decodesWith(decodeURIComponent, part);
}

function decodesWith(decode: (text: string) => string, part: string): boolean {
  try {
    decode(part);
    return true;
  } catch {
    return false;
  }
}

/**
 * The URL as the drivers will parse it, or why it cannot be used: it does not parse, names no
 * host, has an `@` after the host (a password holding an unencoded `/`, `?` or `#` ends the host
 * early and the rest, secret included, becomes the database name, a query or a fragment), has a
 * fragment (the drivers drop it), or (Redis) a user name or password ioredis cannot decode.
 */
export function readConnectionUrl(raw: string, kind: ConnectionUrlKind): ConnectionUrlReading {
  const unparsable = {
    ok: false,
    problem: 'does not parse as a URL (percent-encode any /, ?, #, @, : or % in the user name or password)',
  } as const;
  const texts = readings(raw, kind);
  if (texts === undefined) return unparsable;
  for (const text of texts) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return unparsable;
    }
    if (url.hostname === '') return { ok: false, problem: 'names no host' };
    if (`${url.pathname}${url.search}${url.hash}`.includes('@')) {
      return {
        ok: false,
        problem:
          'has an "@" after the host: a password with an unencoded /, ? or # ends the host there (percent-encode them as %2F, %3F, %23)',
      };
    }
    if (url.hash !== '' || text.includes('#')) {
      return {
        ok: false,
        problem: 'has a #fragment, which the drivers ignore (a # in a password must be written %23)',
      };
    }
    // pg decodes the user name and password (decodeURIComponent) and the path (decodeURI) and throws
    // on a malformed escape; ioredis the user name and password.
    // Judged on the text the driver parses (for pg, its re-encoded form: the last reading).
    const driverText = text === texts[texts.length - 1];
    const pathDecodes = kind === 'redis' || decodesWith(decodeURI, url.pathname);
    if (driverText && !(decodes(url.username) && decodes(url.password) && pathDecodes)) {
      return {
        ok: false,
        problem: `has a malformed %-escape in its user name${kind === 'postgres' ? ', password or database name' : ' or password'} (write a literal % as %25)`,
      };
    }
  }
  return { ok: true };
}

/**
 * Where a URL carries a credential the drivers would use (a userinfo password, a password query
 * parameter), or that it cannot be read at all (then a driver may still find one): empty when it
 * holds none. Names the place, never the value.
 */
export function credentialsInUrl(raw: string, kind: ConnectionUrlKind): string[] {
  const reading = readConnectionUrl(raw, kind);
  if (!reading.ok) return [`a URL that ${reading.problem}`];
  const found: string[] = [];
  for (const text of readings(raw, kind) ?? []) {
    const url = new URL(text);
    if (url.password !== '') found.push('a password after the user name');
    if ([...url.searchParams.keys()].some((key) => CREDENTIAL_PARAMETER.test(key))) {
      found.push('a password query parameter');
    }
  }
  return [...new Set(found)];
}
