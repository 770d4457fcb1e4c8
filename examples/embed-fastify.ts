/**
 * Aqueduct inside a Fastify 5 app under `/rt` (README §Embedding in your app): a scoped plugin hands
 * the raw request and response under the prefix to Aqueduct, with a pass-through content-type parser
 * so Aqueduct reads request bodies itself; upgrades go through `app.server`.
 * Run: AQUEDUCT_JWT_SECRET=... npx tsx examples/embed-fastify.ts   (listens on :3000)
 */
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { createAqueduct, type CreateAqueductOptions } from '@aqueduct/server';
import type { EmbeddedApp } from './embed-http.js';

export async function startFastifyApp(options: { port?: number; aqueduct?: CreateAqueductOptions } = {}): Promise<EmbeddedApp> {
  const aq = createAqueduct({ prefix: '/rt', ...options.aqueduct });
  const app = Fastify();
  app.get('/', async (_req, reply) => reply.type('text/plain').send('my app'));
  app.get('/healthz', async () => ({ app: 'ok' }));
  await app.register(async (scoped) => {
    // Leave bodies under the prefix unread: Aqueduct parses (and bounds) them.
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', (_req, _payload, done) => done(null));
    const toAqueduct = (request: FastifyRequest, reply: FastifyReply) => {
      reply.hijack(); // Aqueduct writes the raw response (JSON, SSE streams, long polls)
      void aq.handleRequest(request.raw, reply.raw);
    };
    scoped.all('/rt', toAqueduct);
    scoped.all('/rt/*', toAqueduct);
  });
  aq.attach(app.server); // WebSocket upgrades under /rt
  await aq.ready();
  await app.listen({ port: options.port ?? 3000, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    aq,
    server: app.server,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await aq.close();
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const secret = process.env.AQUEDUCT_JWT_SECRET ?? 'dev-only-secret-change-me-0123456789';
  const app = await startFastifyApp({ aqueduct: { config: { jwt: { secret } } } });
  console.log(`app on ${app.url}, Aqueduct on ${app.url}/rt`);
}
