import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as Y from 'yjs';
import { parseConfig } from '../src/config.js';
import { MemoryDocBus } from '../src/docs/doc-bus-memory.js';
import { DocManager, DocsError, type DocHooks } from '../src/docs/doc-manager.js';
import { SqliteDocStore } from '../src/docs/doc-store-sqlite.js';
import type { DocStore } from '../src/docs/doc-store.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { DocCloseCodes } from '../src/docs/yjs.js';
import { rawYjs, startDocsServer, until } from './docs-helpers.js';

function update(fn: (d: Y.Doc) => void, base?: Y.Doc): Uint8Array {
  const d = base ?? new Y.Doc();
  const out: Uint8Array[] = [];
  d.on('update', (u: Uint8Array) => out.push(u));
  fn(d);
  return Y.mergeUpdates(out);
}

function manager(store: DocStore, docs: Record<string, unknown> = {}, extra: { hooks?: DocHooks; bus?: MemoryDocBus; nodeId?: string } = {}): DocManager {
  const config = parseConfig({ docs });
  return new DocManager({ store, config: config.docs, logger: createLogger('silent'), metrics: new Metrics({ node: 't' }), ...extra });
}

describe('docs: DocManager', () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => { for (const c of closers.reverse()) await c(); });

  test('a document whose load failed is never created, so nothing is stored over it', async () => {
    const store = new SqliteDocStore({ file: ':memory:' });
    const m = manager(store);
    closers.push(() => m.close(), () => store.close());
    await store.append({ doc: 'doc:precious', update: update((d) => d.getText('text').insert(0, 'keep me')), author: 'a', time: 1 });
    const load = store.load.bind(store);
    let fail = true;
    store.load = async (name) => { if (fail) throw new Error('disk on fire'); return load(name); };
    await assert.rejects(m.acquire('doc:precious'), (e: unknown) => e instanceof DocsError && e.code === 'LOAD_FAILED');
    assert.equal(m.isLoaded('doc:precious'), false);
    assert.equal((await store.audit('doc:precious', { limit: 10 })).length, 1, 'nothing was appended');
    fail = false;
    const live = await m.acquire('doc:precious');
    assert.equal(live.ydoc.getText('text').toString(), 'keep me');
    m.release(live);
  });

  test('over the wire: clients of a failed load are told to retry; the stored document is intact', async () => {
    const ts = await startDocsServer();
    closers.push(() => ts.close());
    const token = await ts.token('w', { 'doc:*': ['sub', 'pub'] });
    await ts.docs.store.append({ doc: 'doc:x', update: update((d) => d.getText('text').insert(0, 'stored')), author: 'a', time: 1 });
    const load = ts.docs.store.load.bind(ts.docs.store);
    ts.docs.store.load = async () => { throw new Error('database unavailable'); };
    const raw = await rawYjs(ts.yjsUrl, 'doc:x', token);
    // An empty document must not be offered (it would be stored over the real one).
    assert.equal((await raw.closed).code, DocCloseCodes.TRY_AGAIN_LATER.code);
    assert.equal(raw.frames.filter((f) => f[0] === 0).length, 0, 'no sync message was sent');
    ts.docs.store.load = load;
    const ok = await rawYjs(ts.yjsUrl, 'doc:x', token);
    await until(() => ok.frames.length > 0, 5000, 'sync step 1');
    const content = await ts.api('GET', '/api/docs/doc:x', token);
    assert.deepEqual(content.body.content, { text: 'stored' });
    ok.ws.close();
  });

  test('a failed store write is neither acknowledged nor broadcast, and the memory state is rolled back', async () => {
    const store = new SqliteDocStore({ file: ':memory:' });
    const m = manager(store);
    closers.push(() => m.close(), () => store.close());
    const live = await m.acquire('doc:flaky');
    const seen: Uint8Array[] = [];
    live.onUpdate((u) => seen.push(u));
    const append = store.append.bind(store);
    store.append = async () => { throw new Error('disk full'); };
    const client = new Y.Doc();
    const u = update((d) => d.getText('text').insert(0, 'lost?'), client);
    await assert.rejects(m.submit(live, u, { author: 'a' }), (e: unknown) => (e as { code?: string }).code === 'UNAVAILABLE');
    assert.equal(seen.length, 0, 'nothing was broadcast');
    assert.equal(live.ydoc.getText('text').toString(), '', 'memory matches the store again');
    // The client still has its change and resends it (sync step 2 after a reconnect): accepted now.
    store.append = append;
    assert.ok(await m.submit(live, Y.encodeStateAsUpdate(client), { author: 'a' }));
    assert.equal(live.ydoc.getText('text').toString(), 'lost?');
    assert.equal(seen.length, 1);
    m.release(live);
  });

  test('hooks: onLoad seeds a new document (stored), onChange and onStore see accepted updates', async () => {
    const store = new SqliteDocStore({ file: ':memory:' });
    const calls: string[] = [];
    const hooks: DocHooks = {
      onLoad: ({ name, doc, isNew }) => {
        calls.push(`load:${name}:${isNew}`);
        if (isNew) doc.getText('text').insert(0, 'Untitled');
      },
      onChange: ({ author, seq }) => { calls.push(`change:${author}:${seq > 0}`); },
      onStore: ({ kind }) => { calls.push(`store:${kind}`); },
    };
    const m = manager(store, { compactAfterUpdates: 2, unloadGraceMs: 0 }, { hooks });
    closers.push(() => m.close(), () => store.close());
    const live = await m.acquire('doc:new');
    assert.equal(live.ydoc.getText('text').toString(), 'Untitled');
    const audit = await store.audit('doc:new', { limit: 10 });
    assert.deepEqual(audit.map((e) => e.author), ['system:seed']);
    const client = new Y.Doc();
    Y.applyUpdate(client, Y.encodeStateAsUpdate(live.ydoc));
    await m.submit(live, update((d) => d.getText('text').insert(8, '!'), client), { author: 'ann' });
    assert.deepEqual(calls, ['load:doc:new:true', 'store:update', 'change:ann:true']);
    // The compaction the update made due runs in the document's queue after it (once its broadcast left).
    await until(() => calls.length === 4, 5000, 'compacted');
    assert.equal(calls[3], 'store:snapshot');
    // A duplicate changes nothing: not stored, no hooks.
    assert.equal(await m.submit(live, Y.encodeStateAsUpdate(client), { author: 'ann' }), null);
    assert.equal(calls.length, 4);
    m.release(live);
    await until(() => !m.isLoaded('doc:new'), 5000, 'unloaded');
    const again = await m.acquire('doc:new');
    assert.equal(again.ydoc.getText('text').toString(), 'Untitled!');
    assert.equal(calls[4], 'load:doc:new:false');
    m.release(again);
  });

  test('an incremental update the document knew nothing of is stored and sent as it came; others are reduced to what changed', async () => {
    const store = new SqliteDocStore({ file: ':memory:' });
    const m = manager(store);
    closers.push(() => m.close(), () => store.close());
    const live = await m.acquire('doc:fresh');
    const sent: Uint8Array[] = [];
    live.onUpdate((u) => sent.push(u));
    const a = new Y.Doc();
    const b = new Y.Doc();
    const stored = async () => (await store.load('doc:fresh')).updates.map((u) => u.update);
    const same = (x: Uint8Array, y: Uint8Array) => Buffer.from(x).equals(Buffer.from(y));

    // Fresh edits of two clients (a text insert plus a map overwrite, which deletes): as they came.
    const a1 = update((d) => { d.getText('text').insert(0, 'hello'); d.getMap('m').set('k', 1); }, a);
    assert.deepEqual(await m.submit(live, a1, { author: 'ann', incremental: true }), { seq: 1 });
    Y.applyUpdate(b, a1);
    const b1 = update((d) => { d.getText('text').insert(5, ' world'); d.getMap('m').set('k', 2); }, b);
    assert.deepEqual(await m.submit(live, b1, { author: 'bob', incremental: true }), { seq: 2 });
    assert.ok(same(sent[0], a1) && same(sent[1], b1), 'broadcast as received');
    const log = await stored();
    assert.ok(same(log[0], a1) && same(log[1], b1), 'stored as received');
    assert.equal(live.ydoc.getText('text').toString(), 'hello world');

    // Already known: nothing stored or sent, incremental or not.
    assert.equal(await m.submit(live, a1, { author: 'ann', incremental: true }), null);
    // Overlapping (the first part is known): only the new part is stored.
    Y.applyUpdate(a, b1);
    const before = Y.encodeStateVector(a);
    const a2 = update((d) => d.getText('text').insert(11, '!'), a);
    const overlap = Y.mergeUpdates([b1, a2]);
    assert.deepEqual(await m.submit(live, overlap, { author: 'ann', incremental: true }), { seq: 3 });
    const third = (await stored())[2];
    assert.ok(!same(third, overlap), 'not stored as it came');
    assert.deepEqual(Y.decodeUpdate(third).structs.map((st) => st.id.clock), Y.decodeUpdate(Y.diffUpdate(overlap, before)).structs.map((st) => st.id.clock));
    assert.equal(live.ydoc.getText('text').toString(), 'hello world!');

    // A sync step 2 (not incremental) is reduced to what changed even when all of it is new.
    const c = new Y.Doc();
    Y.applyUpdate(c, Y.encodeStateAsUpdate(live.ydoc));
    c.getText('text').delete(0, 1);
    c.getText('text').insert(0, 'H');
    const step2 = Y.encodeStateAsUpdate(c, Y.encodeStateVector(live.ydoc));
    assert.deepEqual(await m.submit(live, step2, { author: 'cat' }), { seq: 4 });
    assert.ok(!same((await stored())[3], step2));
    assert.equal(live.ydoc.getText('text').toString(), 'Hello world!');

    // A pure deletion (no structs) is captured from the transaction, and a repeat changes nothing.
    const del = update((d) => d.getText('text').delete(5, 6), c);
    assert.deepEqual(await m.submit(live, del, { author: 'cat', incremental: true }), { seq: 5 });
    assert.equal(await m.submit(live, del, { author: 'cat', incremental: true }), null);
    assert.equal(live.ydoc.getText('text').toString(), 'Hello!');

    // Every stored update replays into the same document.
    const replay = new Y.Doc();
    for (const u of await stored()) Y.applyUpdate(replay, u);
    assert.equal(replay.getText('text').toString(), 'Hello!');
    assert.equal(replay.getMap('m').get('k'), 2);
    m.release(live);
  });

  test('a bound on loaded documents: idle ones are unloaded first, then loads are refused', async () => {
    const store = new SqliteDocStore({ file: ':memory:' });
    const m = manager(store, { maxLoadedDocs: 2, unloadGraceMs: 60_000 });
    closers.push(() => m.close(), () => store.close());
    const a = await m.acquire('doc:a');
    const b = await m.acquire('doc:b');
    await assert.rejects(m.acquire('doc:c'), (e: unknown) => e instanceof DocsError && e.code === 'TOO_MANY_DOCS');
    m.release(a); // idle, within its grace period
    const c = await m.acquire('doc:c');
    assert.equal(m.isLoaded('doc:a'), false, 'the idle document made room');
    assert.equal(m.loadedCount(), 2);
    m.release(b);
    m.release(c);
  });

  test('cross-node seam: an update accepted on one node reaches the other through the DocBus', async () => {
    const store = new SqliteDocStore({ file: ':memory:' });
    const bus = new MemoryDocBus();
    const n1 = manager(store, {}, { bus, nodeId: 'n1' });
    const n2 = manager(store, {}, { bus, nodeId: 'n2' });
    closers.push(() => n1.close(), () => n2.close(), () => store.close());
    const l1 = await n1.acquire('doc:shared');
    const l2 = await n2.acquire('doc:shared');
    const seen: Uint8Array[] = [];
    l2.onUpdate((u) => seen.push(u));
    await n1.submit(l1, update((d) => d.getMap('map').set('from', 'n1')), { author: 'ann' });
    await until(() => seen.length === 1, 5000, 'n2 received');
    assert.equal(l2.ydoc.getMap('map').get('from'), 'n1');
    assert.equal((await store.audit('doc:shared', { limit: 10 })).length, 1, 'stored once, by the accepting node');
    n1.release(l1);
    n2.release(l2);
  });

  test('cross-node seam: after a bus resync, a node catches up with what other nodes stored', async () => {
    const store = new SqliteDocStore({ file: ':memory:' });
    const inner = new MemoryDocBus();
    let resync: ((doc: string) => void) | undefined;
    const bus = Object.assign(inner, { onResync: (fn: (doc: string) => void) => { resync = fn; return () => { resync = undefined; }; } });
    const m = manager(store, {}, { bus, nodeId: 'n1' });
    closers.push(() => m.close(), () => store.close());
    const live = await m.acquire('doc:missed');
    const seen: Uint8Array[] = [];
    live.onUpdate((u) => seen.push(u));
    // Another node stored an update whose bus message never arrived here.
    await store.append({ doc: 'doc:missed', update: update((d) => d.getText('text').insert(0, 'from n2')), author: 'bob', time: 1 });
    assert.ok(resync, 'the manager listens for resyncs');
    resync('doc:missed');
    await until(() => seen.length === 1, 5000, 'caught up');
    assert.equal(live.ydoc.getText('text').toString(), 'from n2');
    assert.equal((await store.audit('doc:missed', { limit: 10 })).length, 1, 'not stored again');
    m.release(live);
  });
});
