/**
 * A TCP relay on loopback between the canary and PostgreSQL that, once armed, cuts a connection
 * in the middle of a query: when a client sends bytes containing `marker`, they are forwarded to
 * the server and then both sockets are destroyed, so the query is running and its answer never
 * comes back (as a failover, a proxy timeout or a dropped NAT entry does). Plain TCP only.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface CuttingProxy {
  /** `upstreamUrl` with the relay's host and port. */
  url: string;
  /** Connections cut so far. */
  readonly cuts: number;
  /** Cuts the next `times` connections that send `marker`. */
  arm(marker: string, times?: number): void;
  stop(): Promise<void>;
}

export async function startCuttingProxy(upstreamUrl: string): Promise<CuttingProxy> {
  const upstream = new URL(upstreamUrl);
  const sockets = new Set<Socket>();
  let marker: string | null = null;
  let remaining = 0;
  let cuts = 0;
  const server = createServer((client) => {
    const backend = connect(Number(upstream.port || 5432), upstream.hostname);
    sockets.add(client).add(backend);
    // The last bytes the client sent, so a marker split across two chunks is still seen.
    let tail = '';
    let cut = false;
    const close = () => {
      client.destroy();
      backend.destroy();
      sockets.delete(client);
      sockets.delete(backend);
    };
    client.on('data', (chunk: Buffer) => {
      backend.write(chunk);
      const text = tail + chunk.toString('latin1');
      tail = text.slice(-256);
      if (marker !== null && remaining > 0 && text.includes(marker)) {
        remaining -= 1;
        cuts += 1;
        // The query reaches the server; no answer reaches the client.
        cut = true;
        setImmediate(close);
      }
    });
    backend.on('data', (chunk: Buffer) => {
      if (!cut) client.write(chunk);
    });
    client.on('close', close).on('error', close);
    backend.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(upstreamUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.toString(),
    get cuts() {
      return cuts;
    },
    arm(text, times = 1) {
      marker = text;
      remaining = times;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
