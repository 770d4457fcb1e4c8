import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as Y from 'yjs';
import { rawYjs, startDocsServer, until, type DocsTestServer, type RawYjs } from './docs-helpers.js';

describe('docs: single-flight load', () => {
  let ts: DocsTestServer;
  const sockets: RawYjs[] = [];
  before(async () => { ts = await startDocsServer({ docs: { unloadGraceMs: 200 } }); });
  after(async () => {
    for (const s of sockets) s.ws.terminate();
    await ts.close();
  });

  test('200 clients connecting to an unloaded document at once cause exactly one load', async () => {
    const doc = 'doc:crowd';
    // Seed the document in the store so the load has real work to do.
    const seed = new Y.Doc();
    seed.getText('text').insert(0, 'seeded');
    await ts.docs.store.append({ doc, update: Y.encodeStateAsUpdate(seed), author: 'test', time: Date.now() });

    // Count store loads, and hold each load open so that every connection arrives while it runs.
    const store = ts.docs.store;
    const original = store.load.bind(store);
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    store.load = async (name: string) => {
      if (name === doc) { loads++; await gate; }
      return original(name);
    };
    const manager = ts.docs.manager;
    const acquire = manager.acquire.bind(manager);
    let acquiring = 0;
    manager.acquire = (name: string) => { if (name === doc) acquiring++; return acquire(name); };
    const token = await ts.token('crowd', { 'doc:*': ['sub', 'pub'] });
    const opened = await Promise.all(Array.from({ length: 200 }, () => rawYjs(ts.yjsUrl, doc, token)));
    sockets.push(...opened);
    // Every socket is authenticated and waiting on the one load.
    await until(() => acquiring === 200, 20_000, 'all 200 waiting for the document');
    assert.equal(loads, 1);
    release();
    await until(() => opened.every((s) => s.frames.length > 0), 30_000, 'every client got sync step 1');
    assert.equal(loads, 1);
    assert.equal(ts.docs.loadedCount(), 1);

    // After the last client leaves and the grace period passes, the document is unloaded;
    // the next client loads it again (once).
    for (const s of opened) s.ws.close();
    await until(() => ts.docs.loadedCount() === 0, 10_000, 'unload after grace');
    const again = await rawYjs(ts.yjsUrl, doc, token);
    sockets.push(again);
    await until(() => again.frames.length > 0, 10_000, 'reload');
    assert.equal(loads, 2);
  });
});
