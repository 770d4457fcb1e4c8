import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createAqueduct } from '../src/index.js';
import { startExpressApp } from '../../../examples/embed-express.js';
import { embeddingSuite } from './embed-suite.js';
import { TEST_SECRET } from './helpers.js';

// Done-means 2 (issue 17): Aqueduct in an Express app with express.json() mounted globally (examples/embed-express.ts).
embeddingSuite('Express with express.json()', startExpressApp);

test('Express: bad and oversized JSON bodies already parsed by express.json() get Aqueduct error codes; the app keeps its own body routes', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-embed-'));
  const app = await startExpressApp({ port: 0, aqueduct: { config: { dataDir, logLevel: 'silent', limits: { maxMessageBytes: 1024 }, jwt: { secret: TEST_SECRET } } } });
  try {
    const token = await (await app.aq.ready()).auth.sign({ sub: 'u', rooms: { 'chat:*': ['sub', 'pub'] } as never, ttlSec: 600 });
    const post = (body: unknown) => fetch(`${app.url}/rt/api/publish`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify(body),
    });
    const big = await post({ room: 'chat:x', data: 'x'.repeat(8000) });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'MESSAGE_TOO_LARGE');
    const noRoom = await post({ data: 1 });
    assert.equal(noRoom.status, 400);
    assert.equal(((await noRoom.json()) as { error: { code: string } }).error.code, 'INVALID_ROOM');
    const ok = await post({ room: 'chat:x', data: { fine: true } });
    assert.equal(ok.status, 200);
    const echo = await fetch(`${app.url}/echo`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"a":1}' });
    assert.deepEqual(await echo.json(), { echo: { a: 1 } });
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("Express: mounted with app.use('/rt', aq.handleRequest) it still matches its prefix on the full URL", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-embed-'));
  const aq = createAqueduct({ prefix: '/rt', config: { dataDir, logLevel: 'silent', jwt: { secret: TEST_SECRET } } });
  const app = express();
  app.use('/rt', aq.handleRequest);
  app.get('/healthz', (_req, res) => { res.json({ app: 'ok' }); });
  app.use((_req, res) => { res.status(404).send('app 404'); });
  const server = createServer(app);
  await aq.ready();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const ours = await fetch(`${base}/rt/healthz`);
    assert.equal(((await ours.json()) as { ok: boolean }).ok, true);
    assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { app: 'ok' });
    const unknown = await fetch(`${base}/rt/nothing-here`);
    assert.equal(unknown.status, 404);
    assert.equal(await unknown.text(), 'app 404', 'an unknown path under the prefix goes on to the app (next)');
  } finally {
    await aq.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dataDir, { recursive: true, force: true });
  }
});
