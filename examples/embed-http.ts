/**
 * Aqueduct inside a plain Node `http.Server` under `/rt` (README §Embedding in your app).
 * Run: AQUEDUCT_JWT_SECRET=... npx tsx examples/embed-http.ts   (listens on :3000)
 * The app keeps `/` and `/healthz`; Aqueduct answers `/rt/ws`, `/rt/api/...`, `/rt/yjs/:doc`, `/rt/healthz`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createAqueduct, type Aqueduct, type CreateAqueductOptions } from '@aqueduct/server';

export interface EmbeddedApp {
  aq: Aqueduct;
  server: Server;
  /** `http://host:port` of the app (Aqueduct is under `${url}/rt`). */
  url: string;
  close(): Promise<void>;
}

export async function startHttpApp(options: { port?: number; aqueduct?: CreateAqueductOptions } = {}): Promise<EmbeddedApp> {
  const aq = createAqueduct({ prefix: '/rt', ...options.aqueduct });
  const server = createServer((req, res) => {
    void (async () => {
      // Aqueduct answers under its prefix (resolves true); everything else is the app's.
      if (await aq.handleRequest(req, res)) return;
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('my app');
      } else if (path === '/healthz') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ app: 'ok' }));
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('app: not found');
      }
    })();
  });
  aq.attach(server); // WebSocket upgrades under /rt (/rt/ws, /rt/yjs/:doc)
  await aq.ready();
  await new Promise<void>((resolve) => server.listen(options.port ?? 3000, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    aq,
    server,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await aq.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const secret = process.env.AQUEDUCT_JWT_SECRET ?? 'dev-only-secret-change-me-0123456789';
  const app = await startHttpApp({ aqueduct: { config: { jwt: { secret } } } });
  console.log(`app on ${app.url}, Aqueduct on ${app.url}/rt`);
}
