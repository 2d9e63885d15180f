/**
 * TLS handshakes for the certificate check: connect, complete the handshake with verification
 * reported instead of enforced (so the probe can say what is wrong with the certificate it was
 * shown), and hang up. Trusts the system roots plus an optional private CA bundle, parsed once.
 */
import { isIP } from 'node:net';
import { connect, createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type { TlsHandshake, TlsHandshakeRequest, TlsPort } from '../ports.ts';

export interface TlsPortOptions {
  /** PEM bundle of a private CA, trusted in addition to the system's. */
  ca?: string;
}

export function createTlsPort(options: TlsPortOptions = {}): TlsPort {
  const secureContext = trustingAlso(options.ca);
  return { handshake: (request) => handshake(request, secureContext) };
}

/** Contexts by CA bundle: a container's invocations (each opens its ports afresh) share one. */
const contexts = new Map<string, SecureContext>();

/**
 * A TLS context trusting the system roots and `ca` (undefined without one). Passing `ca` alone
 * would replace Node's bundled roots, so they are added back; built once per bundle and process,
 * not per connection or per invocation (parsing every root again was most of a sweep's CPU, and
 * then most of a probe invocation's, see bench/README.md).
 */
export function trustingAlso(ca: string | undefined): SecureContext | undefined {
  if (ca === undefined) return undefined;
  let context = contexts.get(ca);
  if (context === undefined) {
    context = createSecureContext({ ca: [...rootCertificates, ca] });
    if (contexts.size >= 8) contexts.clear(); // a handful of bundles at most; never grows without bound
    contexts.set(ca, context);
  }
  return context;
}

function handshake(options: TlsHandshakeRequest, secureContext: SecureContext | undefined): Promise<TlsHandshake> {
  return new Promise<TlsHandshake>((resolve) => {
    let tcpConnected = false;
    let settled = false;
    const socket = connect({
      host: options.host,
      port: options.port,
      // SNI takes host names only; an IP address is checked against the certificate's IP SANs.
      ...(isIP(options.host) === 0 ? { servername: options.host } : {}),
      ...(secureContext ? { secureContext } : {}),
      rejectUnauthorized: false,
    });
    const finish = (result: TlsHandshake) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish({ kind: 'cancelled' });
    const timer = setTimeout(
      () => finish({ kind: 'timeout', phase: tcpConnected ? 'handshake' : 'connect' }),
      options.timeoutMs,
    );
    options.signal.addEventListener('abort', onAbort, { once: true });
    if (options.signal.aborted) onAbort();
    socket.once('connect', () => {
      tcpConnected = true;
    });
    socket.once('secureConnect', () => {
      finish({
        kind: 'handshake',
        authorized: socket.authorized,
        authorizationError: socket.authorizationError === undefined ? undefined : String(socket.authorizationError),
        cert: socket.getPeerCertificate(),
      });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      finish({
        kind: 'failed',
        phase: tcpConnected ? 'handshake' : 'connect',
        code: error.code ?? error.name,
      });
    });
  });
}
