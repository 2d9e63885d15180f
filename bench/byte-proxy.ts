/**
 * A loopback TCP proxy that counts what crosses it, as a NAT gateway bills it: the bytes of every
 * connection in both directions (TCP payload: TLS records as sent, handshakes included; the
 * TCP/IP headers are not seen from here), and the connections opened. The bench puts one between
 * the probe and the platform's API (and one in front of dynalite) to measure a tenant run's NAT
 * data; test/integration/http-reuse.test.ts puts one in front of a TLS server to prove sockets and
 * TLS sessions are reused.
 */
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

export interface ByteCounts {
  /** Client to server (the canary's requests, its TLS handshake messages). */
  up: number;
  /** Server to client (responses, certificates, session tickets). */
  down: number;
  /** TCP connections accepted. */
  connections: number;
  /** Plain HTTP/1.1 requests seen going up (a chunk opening with a method): a TLS stream counts none. */
  requests: number;
  /** Bytes of each connection, in the order they were accepted. */
  perConnection: { up: number; down: number }[];
}

export interface ByteProxy {
  /** The loopback port to connect to instead of the target's. */
  port: number;
  /** What crossed since the proxy started or since the last {@link take}. */
  peek(): ByteCounts;
  /** {@link peek}, then starts counting afresh (open connections count on, into the next take). */
  take(): ByteCounts;
  /** Connections open now. */
  open(): number;
  close(): Promise<void>;
}

const HTTP_REQUEST = /^(GET|POST|PUT|PATCH|DELETE|HEAD) /;

export async function startByteProxy(target: { host: string; port: number }): Promise<ByteProxy> {
  let counts: ByteCounts = { up: 0, down: 0, connections: 0, requests: 0, perConnection: [] };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    // A connection's bytes go to the window it was opened in, and the totals to the window they flow in.
    const own = { up: 0, down: 0 };
    counts.connections += 1;
    counts.perConnection.push(own);
    const upstream = connect({ host: target.host, port: target.port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      if (HTTP_REQUEST.test(chunk.subarray(0, 8).toString('latin1'))) counts.requests += 1;
      counts.up += chunk.length;
      own.up += chunk.length;
    });
    upstream.on('data', (chunk: Buffer) => {
      counts.down += chunk.length;
      own.down += chunk.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const snapshot = (): ByteCounts => ({ ...counts, perConnection: counts.perConnection.map((c) => ({ ...c })) });
  return {
    port,
    peek: snapshot,
    take() {
      const taken = snapshot();
      counts = { up: 0, down: 0, connections: 0, requests: 0, perConnection: [] };
      return taken;
    },
    open: () => sockets.size / 2,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
