/**
 * `api.tls_certificate`: the https base URL's certificate is trusted, matches the host and has
 * at least `certMinDays` days left. Verification is done by Node (the system roots plus
 * `platform.caFile`) through the TLS port, which reports verification instead of refusing, so
 * the probe can say what is wrong with the certificate it was shown.
 */
import type { PeerCertificate } from 'node:tls';
import type { Evidence, Outcome } from '../core/types.ts';
import type { TlsHandshake } from '../ports.ts';
import type { PlatformProbe } from './types.ts';

const DAY_MS = 86_400_000;

const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'INVALID_CA',
]);

export const probeTlsCertificate: PlatformProbe = async (ctx) => {
  const { platform, thresholds } = ctx.config;
  const base = new URL(platform.baseUrl);
  if (base.protocol !== 'https:') {
    return { status: 'skipped', summary: 'the base URL is http, so there is no certificate to check' };
  }
  const host = base.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = base.port === '' ? 443 : Number(base.port);
  const target = `${base.hostname}:${port}`;

  const started = performance.now();
  const shake = await ctx.ports.tls.handshake({
    host,
    port,
    timeoutMs: thresholds.requestTimeoutMs,
    signal: ctx.signal,
  });
  const elapsedMs = Math.round(performance.now() - started);

  switch (shake.kind) {
    case 'cancelled':
      return undecided(`the TLS handshake with ${target} did not finish before the check's time budget ran out`, {
        host: target,
        elapsedMs,
      });
    case 'timeout':
      return undecided(
        shake.phase === 'connect'
          ? `could not connect to ${target} within ${thresholds.requestTimeoutMs} ms, so its certificate was not checked (api.health reports reachability)`
          : `connected to ${target} but the TLS handshake did not finish within ${thresholds.requestTimeoutMs} ms`,
        { host: target, elapsedMs, error: `timeout (${shake.phase})` },
      );
    case 'failed':
      return undecided(
        shake.phase === 'connect'
          ? `could not connect to ${target} (${shake.code}), so its certificate was not checked (api.health reports reachability)`
          : `the TLS handshake with ${target} failed (${shake.code}) before a certificate could be checked`,
        { host: target, elapsedMs, error: shake.code },
      );
    case 'handshake':
      return judgeCertificate(shake, { target, now: ctx.ports.now(), minDays: thresholds.certMinDays, elapsedMs });
  }
};

function judgeCertificate(
  shake: Extract<TlsHandshake, { kind: 'handshake' }>,
  { target, now, minDays, elapsedMs }: { target: string; now: Date; minDays: number; elapsedMs: number },
): Outcome {
  const { cert } = shake;
  if (!cert || Object.keys(cert).length === 0) {
    return { status: 'fail', summary: `${target} presented no certificate`, evidence: { host: target, elapsedMs } };
  }
  const validTo = new Date(cert.valid_to);
  const validFrom = new Date(cert.valid_from);
  const daysLeft = Math.floor((validTo.getTime() - now.getTime()) / DAY_MS);
  const subject = formatName(cert.subject);
  const issuer = formatName(cert.issuer);
  const evidence: Evidence = {
    host: target,
    subject,
    issuer,
    subjectAltName: cert.subjectaltname ?? null,
    validFrom: isoOrRaw(validFrom, cert.valid_from),
    validTo: isoOrRaw(validTo, cert.valid_to),
    daysLeft,
    fingerprint256: cert.fingerprint256,
    elapsedMs,
    ...(shake.authorizationError ? { verifyError: shake.authorizationError } : {}),
  };
  const until = isoOrRaw(validTo, cert.valid_to).slice(0, 10);
  const fail = (summary: string, tier?: 'P2'): Outcome => ({
    status: 'fail',
    summary,
    evidence,
    ...(tier ? { tier } : {}),
  });

  if (!shake.authorized) {
    const code = shake.authorizationError ?? 'unknown';
    if (code === 'CERT_HAS_EXPIRED') {
      return fail(`the certificate of ${target} expired on ${until}: HTTPS clients refuse the API until it is renewed`);
    }
    if (code === 'CERT_NOT_YET_VALID') {
      return fail(
        `the certificate of ${target} is not valid before ${isoOrRaw(validFrom, cert.valid_from).slice(0, 10)}`,
      );
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return fail(
        `the certificate of ${target} is for ${cert.subjectaltname ?? subject}, not for this host: HTTPS clients refuse it`,
      );
    }
    if (UNTRUSTED.has(code)) {
      return fail(
        `the certificate of ${target} is not trusted (${code}, issued by ${issuer}): fix the chain, or set platform.caFile if a private CA is intended`,
      );
    }
    return fail(`the certificate of ${target} failed verification (${code})`);
  }
  if (daysLeft < 0) return fail(`the certificate of ${target} expired on ${until}`);
  if (daysLeft < minDays) {
    return fail(
      `the certificate of ${target} expires in ${daysLeft} day${daysLeft === 1 ? '' : 's'} (${until}), under thresholds.certMinDays (${minDays}): renew it`,
      'P2',
    );
  }
  return {
    status: 'pass',
    summary: `the certificate of ${target} is trusted and valid for ${daysLeft} more days (until ${until})`,
    evidence,
  };
}

function undecided(summary: string, evidence: Evidence): Outcome {
  return { status: 'error', tier: 'P2', summary, evidence };
}

function formatName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '(none)';
  const parts = Object.entries(name).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`);
  return parts.length ? parts.join(', ') : '(empty)';
}

function isoOrRaw(date: Date, raw: string): string {
  return Number.isNaN(date.getTime()) ? raw : date.toISOString();
}
