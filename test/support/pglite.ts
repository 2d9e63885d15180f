/** PGlite (real PostgreSQL in WASM) served over the wire protocol on loopback, for tests that need a throwaway server. */
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface PgliteServer {
  /** An admin URL of the server (any password is accepted). */
  url: string;
  stop(): Promise<void>;
}

export async function startPgliteServer(maxConnections = 10): Promise<PgliteServer> {
  const db = await PGlite.create();
  const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections });
  await server.start();
  const port = Number(server.getServerConn().split(':').at(-1));
  return {
    url: `postgres://postgres:unused@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
