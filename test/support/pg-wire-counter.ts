/**
 * A PostgreSQL wire-protocol relay on loopback that counts what passes: the statements clients
 * send (simple `Q` and extended `P` messages, by their SQL text) and the rows servers answer
 * (`D` messages). Put it between a client and a real server (PGlite or PostgreSQL 15) to assert
 * how many statements a piece of code runs and how many rows it reads. Plain TCP only (sslmode
 * disable): an SSL request is refused with `N`, as a server without TLS would.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface WireCounts {
  /** SQL text of every statement sent, in order. */
  statements: string[];
  /** Data rows the server sent back. */
  rows: number;
}

export interface WireCounter {
  url: string;
  counts: WireCounts;
  reset(): void;
  stop(): Promise<void>;
}

/** Splits a stream into `[type][int32 length][payload]` messages (after an optional untyped start). */
function messageReader(untypedFirst: boolean, onMessage: (type: string, payload: Buffer) => void) {
  let buffer = Buffer.alloc(0);
  let startup = untypedFirst;
  return (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (startup) {
        if (buffer.length < 4) return;
        const length = buffer.readInt32BE(0);
        if (buffer.length < length) return;
        const code = buffer.readInt32BE(4);
        buffer = buffer.subarray(length);
        // An SSLRequest (80877103) is followed by the real startup message.
        if (code !== 80877103) startup = false;
        continue;
      }
      if (buffer.length < 5) return;
      const length = buffer.readInt32BE(1);
      if (buffer.length < 1 + length) return;
      onMessage(String.fromCharCode(buffer[0] as number), buffer.subarray(5, 1 + length));
      buffer = buffer.subarray(1 + length);
    }
  };
}

export async function startWireCounter(upstreamUrl: string): Promise<WireCounter> {
  const upstream = new URL(upstreamUrl);
  const counts: WireCounts = { statements: [], rows: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    const backend = connect(Number(upstream.port || 5432), upstream.hostname);
    sockets.add(backend);
    const fromClient = messageReader(true, (type, payload) => {
      if (type === 'Q') counts.statements.push(payload.toString('utf8').replace(/\0$/, ''));
      if (type === 'P') {
        const nameEnd = payload.indexOf(0);
        const text = payload.subarray(nameEnd + 1, payload.indexOf(0, nameEnd + 1)).toString('utf8');
        counts.statements.push(text);
      }
    });
    const fromServer = messageReader(false, (type) => {
      if (type === 'D') counts.rows += 1;
    });
    client.on('data', (chunk: Buffer) => {
      // An SSL request gets "N" from us (no TLS here); everything else goes through.
      if (chunk.length === 8 && chunk.readInt32BE(4) === 80877103) {
        client.write('N');
        return;
      }
      fromClient(chunk);
      backend.write(chunk);
    });
    backend.on('data', (chunk: Buffer) => {
      fromServer(chunk);
      client.write(chunk);
    });
    const close = () => {
      client.destroy();
      backend.destroy();
    };
    client.on('close', close).on('error', close);
    backend.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const url = new URL(upstreamUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    counts,
    reset() {
      counts.statements.length = 0;
      counts.rows = 0;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
