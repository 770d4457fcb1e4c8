import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { subscribeEvents, type EventMessage } from '@aqueduct/client';
import type { CreateAqueductOptions } from '../src/index.js';
import type { EmbeddedApp } from '../../../examples/embed-http.js';
import { connectProvider, synced } from './docs-helpers.js';
import { TEST_SECRET, connectClient, until } from './helpers.js';

const API_KEY = 'embed-api-key-0123456789abcdef';

/** Whether a WebSocket handshake to `url` succeeds (false: refused, reset or 4xx). */
function handshake(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, 'aqueduct.json.v1');
    const timer = setTimeout(() => { ws.terminate(); resolve(false); }, 5000);
    ws.once('open', () => { clearTimeout(timer); ws.close(); resolve(true); });
    ws.once('error', () => { clearTimeout(timer); resolve(false); });
    ws.once('unexpected-response', (_req, res) => { clearTimeout(timer); res.resume(); ws.terminate(); resolve(false); });
  });
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

/**
 * The embedding examples (examples/embed-*.ts) under `/rt`, each with real clients: the app keeps
 * `/` and `/healthz`; the SDK (WebSocket + SSE), the HTTP API and stock y-websocket providers work
 * with the prefixed URLs.
 */
export function embeddingSuite(name: string, start: (options: { port: number; aqueduct: CreateAqueductOptions }) => Promise<EmbeddedApp>): void {
  describe(`embedding: ${name} under /rt`, () => {
    let app: EmbeddedApp;
    let dataDir: string;
    let wsBase: string;
    const token = async (sub: string, rooms: Record<string, string[]>) => (await app.aq.ready()).auth.sign({ sub, rooms: rooms as never, ttlSec: 3600 });

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-embed-'));
      app = await start({ port: 0, aqueduct: { config: { dataDir, logLevel: 'silent', apiKey: API_KEY, jwt: { secret: TEST_SECRET } } } });
      wsBase = app.url.replace('http', 'ws');
    });
    after(async () => {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test("the app keeps / and /healthz; Aqueduct answers only under /rt", async () => {
      assert.deepEqual(await get(`${app.url}/`), { status: 200, text: 'my app' });
      const health = await get(`${app.url}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(JSON.parse(health.text), { app: 'ok' });
      const ours = await get(`${app.url}/rt/healthz`);
      assert.equal(ours.status, 200);
      assert.equal(JSON.parse(ours.text).ok, true);
      assert.equal(typeof JSON.parse(ours.text).node, 'string');
      const openapi = await get(`${app.url}/rt/api/openapi.json`);
      assert.equal(openapi.status, 200);
      // Aqueduct's routes outside the prefix are the app's (its 404), not Aqueduct's.
      const outside = await get(`${app.url}/api/openapi.json`);
      assert.equal(outside.status, 404);
      assert.doesNotMatch(outside.text, /"openapi"/);
      assert.equal(await handshake(`${wsBase}/ws`), false, 'no room bus outside the prefix');
      assert.equal(await handshake(`${wsBase}/rt/ws`), true, 'room bus under the prefix');
    });

    test('SDK client on /rt/ws receives publications from POST /rt/api/publish (JSON body) and from aq.publish', async () => {
      const client = connectClient(`${wsBase}/rt/ws`, await token('alice', { 'chat:*': ['sub', 'pub'] }));
      try {
        const room = client.room('chat:embed');
        const got: unknown[] = [];
        room.on('message', (m) => got.push(m.data));
        await room.ready();
        const res = await fetch(`${app.url}/rt/api/publish`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await token('bob', { 'chat:*': ['pub'] })}` },
          body: JSON.stringify({ room: 'chat:embed', data: { n: 1 } }),
        });
        const body = await res.json() as { offset?: number; error?: unknown };
        assert.equal(res.status, 200, JSON.stringify(body));
        assert.equal(typeof body.offset, 'number');
        await app.aq.publish('chat:embed', { n: 2 });
        await room.publish({ n: 3 });
        await until(() => got.length === 3, 10_000, 'three messages');
        assert.deepEqual(got, [{ n: 1 }, { n: 2 }, { n: 3 }]);
      } finally {
        client.close();
      }
    });

    test('SSE with the SDK helper on the prefixed base URL', async () => {
      const messages: Array<EventMessage<{ n: number }>> = [];
      let ready = 0;
      const sub = subscribeEvents<{ n: number }>({
        url: `${app.url}/rt`,
        token: await token('carol', { 'news:*': ['sub'] }),
        rooms: ['news:embed'],
        handlers: { message: (m) => messages.push(m), ready: () => { ready++; } },
      });
      try {
        await until(() => ready === 1, 10_000, 'SSE ready');
        const res = await fetch(`${app.url}/rt/api/publish`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-API-Key': API_KEY },
          body: JSON.stringify({ room: 'news:embed', data: { n: 7 } }),
        });
        assert.equal(res.status, 200);
        await until(() => messages.length === 1, 10_000, 'SSE message');
        assert.equal(messages[0].data.n, 7);
      } finally {
        sub.close();
      }
    });

    test('stock y-websocket providers sync a document over /rt/yjs', async () => {
      const t = await token('dora', { 'doc:*': ['sub', 'pub'] });
      const a = connectProvider(`${wsBase}/rt/yjs`, 'doc:embed', t);
      const b = connectProvider(`${wsBase}/rt/yjs`, 'doc:embed', t);
      try {
        await Promise.all([synced(a), synced(b)]);
        a.ydoc.getText('text').insert(0, 'hello from a');
        await until(() => b.ydoc.getText('text').toString() === 'hello from a', 10_000, 'b sees a');
        const content = await app.aq.docs.readJson('doc:embed');
        assert.equal(content.content.text, 'hello from a');
      } finally {
        a.destroy();
        b.destroy();
      }
    });
  });
}
