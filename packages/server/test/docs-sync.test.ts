import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type WebSocket from 'ws';
import { connectProvider, snapshotOf, startDocsServer, synced, until, type DocsTestServer, type TestProvider } from './docs-helpers.js';

/** Small seeded PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** JSON with sorted keys: Y.Map key order depends on arrival order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
}

function randomEdit(p: TestProvider, rand: () => number, tag: string): void {
  const pick = rand();
  const text = p.ydoc.getText('text');
  const map = p.ydoc.getMap('map');
  const arr = p.ydoc.getArray('array');
  if (pick < 0.4) {
    if (text.length > 0 && rand() < 0.3) {
      const at = Math.floor(rand() * text.length);
      text.delete(at, Math.min(1 + Math.floor(rand() * 3), text.length - at));
    } else {
      text.insert(Math.floor(rand() * (text.length + 1)), tag + String.fromCharCode(97 + Math.floor(rand() * 26)));
    }
  } else if (pick < 0.7) {
    const key = `k${Math.floor(rand() * 8)}`;
    if (rand() < 0.2) map.delete(key);
    else map.set(key, { by: tag, n: Math.floor(rand() * 1000) });
  } else if (arr.length > 0 && rand() < 0.3) {
    arr.delete(Math.floor(rand() * arr.length), 1);
  } else {
    arr.insert(Math.floor(rand() * (arr.length + 1)), [`${tag}${Math.floor(rand() * 100)}`]);
  }
}

describe('docs: three y-websocket clients converge', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-docs-sync-'));
  const servers: DocsTestServer[] = [];
  const providers: TestProvider[] = [];
  after(async () => {
    for (const p of providers) p.destroy();
    for (const s of servers) await s.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('random concurrent edits with cut connections converge, also for a fresh client after a restart', async () => {
    const ts = await startDocsServer({ dataDir, docs: { compactAfterUpdates: 50 } });
    servers.push(ts);
    const doc = 'doc:converge';
    const token = await ts.token('writer', { 'doc:*': ['sub', 'pub'] });
    const clients = ['a', 'b', 'c'].map(() => connectProvider(ts.yjsUrl, doc, token));
    providers.push(...clients);
    await Promise.all(clients.map((c) => synced(c)));
    const rand = rng(4242);
    for (let round = 0; round < 6; round++) {
      // Cut some connections: a clean disconnect, or the socket dropped under the client.
      const cut = clients.filter(() => rand() < 0.4);
      for (const c of cut) {
        if (rand() < 0.5) c.provider.disconnect();
        else (c.provider.ws as unknown as WebSocket | null)?.terminate();
      }
      for (let i = 0; i < 25; i++) {
        const idx = Math.floor(rand() * 3);
        randomEdit(clients[idx], rand, ['a', 'b', 'c'][idx]);
      }
      for (const c of cut) if (!c.provider.shouldConnect) c.provider.connect();
      // Let the round's edits interleave with reconnects before the next round.
      await new Promise((r) => setImmediate(r));
    }
    for (const c of clients) if (!c.provider.shouldConnect) c.provider.connect();
    await Promise.all(clients.map((c) => synced(c, 20_000)));
    const same = () => {
      const [x, y, z] = clients.map((c) => canonical(snapshotOf(c.ydoc)));
      return x === y && y === z;
    };
    await until(same, 20_000, 'three clients converge');
    const expected = snapshotOf(clients[0].ydoc);
    assert.ok(expected.text.length > 0 && Object.keys(expected.map as object).length > 0 && (expected.array as unknown[]).length > 0, 'all three types were edited');

    // The server has the same content, then keeps it across a restart.
    const { state } = await ts.docs.manager.state(doc);
    const serverContent = await ts.api('GET', `/api/docs/${encodeURIComponent(doc)}`, token);
    assert.equal(serverContent.status, 200);
    assert.ok(state.byteLength > 0);
    const content = serverContent.body.content as Record<string, unknown>;
    assert.equal(canonical({ text: content.text, map: content.map, array: content.array }), canonical(expected));
    for (const c of clients) c.provider.disconnect();
    await ts.server.close();

    const ts2 = await startDocsServer({ dataDir });
    servers.push(ts2);
    const fresh = connectProvider(ts2.yjsUrl, doc, await ts2.token('late', { 'doc:*': ['sub'] }));
    providers.push(fresh);
    await synced(fresh);
    assert.equal(canonical(snapshotOf(fresh.ydoc)), canonical(expected));
  });
});
