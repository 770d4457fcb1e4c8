/**
 * Aqueduct inside an Express 5 app under `/rt`, behind a global `express.json()` (README §Embedding
 * in your app). Run: AQUEDUCT_JWT_SECRET=... npx tsx examples/embed-express.ts   (listens on :3000)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { createAqueduct, type CreateAqueductOptions } from '@aqueduct/server';
import type { EmbeddedApp } from './embed-http.js';

export async function startExpressApp(options: { port?: number; aqueduct?: CreateAqueductOptions } = {}): Promise<EmbeddedApp> {
  const aq = createAqueduct({ prefix: '/rt', ...options.aqueduct });
  const app = express();
  app.use(express.json()); // the app's body parser: Aqueduct's JSON routes use the req.body it leaves
  app.use(aq.handleRequest); // answers /rt/*, calls next() for everything else
  app.get('/', (_req, res) => { res.type('text/plain').send('my app'); });
  app.get('/healthz', (_req, res) => { res.json({ app: 'ok' }); });
  app.post('/echo', (req, res) => { res.json({ echo: req.body as unknown }); });
  const server = createServer(app);
  aq.attach(server); // WebSocket upgrades under /rt
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
  const app = await startExpressApp({ aqueduct: { config: { jwt: { secret } } } });
  console.log(`app on ${app.url}, Aqueduct on ${app.url}/rt`);
}
