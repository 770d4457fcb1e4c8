import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as Y from 'yjs';
import { hashUpdate, type DocStore } from '../../src/docs/doc-store.js';

/** A store under test. `reopen` closes the store and opens a new one over the same data. */
export interface DocStoreFixture {
  store: DocStore;
  reopen(): Promise<DocStore>;
  cleanup(): Promise<void>;
}

/** Builds a fresh, empty store for one test. */
export type DocStoreFactory = () => Promise<DocStoreFixture>;

/** Replays what `load` returned into a new Y.Doc. */
async function loadDoc(store: DocStore, name: string): Promise<Y.Doc> {
  const stored = await store.load(name);
  const doc = new Y.Doc();
  if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot);
  for (const u of stored.updates) Y.applyUpdate(doc, u.update);
  return doc;
}

/** Records every update a writer doc makes. */
function writer(): { doc: Y.Doc; updates: Uint8Array[] } {
  const doc = new Y.Doc();
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  return { doc, updates };
}

/**
 * The DocStore contract (see src/docs/doc-store.ts), run against any implementation:
 * `runDocStoreConformance('sqlite', factory)` inside a test file.
 */
export function runDocStoreConformance(name: string, factory: DocStoreFactory): void {
  describe(`DocStore conformance: ${name}`, () => {
    async function withStore(fn: (f: DocStoreFixture) => Promise<void>): Promise<void> {
      const f = await factory();
      try { await fn(f); } finally { await f.cleanup(); }
    }

    it('loads an unknown document as empty', () => withStore(async ({ store }) => {
      const s = await store.load('doc:never');
      assert.equal(s.snapshot, null);
      assert.equal(s.snapshotSeq, 0);
      assert.deepEqual(s.updates, []);
      assert.equal(s.logBytes, 0);
    }));

    it('appends with increasing seq and loads the log in order', () => withStore(async ({ store }) => {
      const w = writer();
      const text = w.doc.getText('t');
      for (const ch of 'hello') text.insert(text.length, ch);
      let last = 0;
      for (const u of w.updates) {
        const r = await store.append({ doc: 'doc:a', update: u, author: 'alice', time: 1000 });
        assert.ok(r.seq > last, 'seq increases');
        assert.equal(r.hash, hashUpdate(u));
        last = r.seq;
      }
      const s = await store.load('doc:a');
      assert.equal(s.updates.length, 5);
      assert.deepEqual(s.updates.map((u) => u.seq), [...s.updates.map((u) => u.seq)].sort((a, b) => a - b));
      assert.equal(s.logBytes, w.updates.reduce((n, u) => n + u.byteLength, 0));
      assert.equal((await loadDoc(store, 'doc:a')).getText('t').toString(), 'hello');
    }));

    it('keeps documents apart', () => withStore(async ({ store }) => {
      const a = writer(); a.doc.getText('t').insert(0, 'A');
      const b = writer(); b.doc.getText('t').insert(0, 'B');
      await store.append({ doc: 'doc:a', update: a.updates[0], author: 'x', time: 1 });
      await store.append({ doc: 'doc:b', update: b.updates[0], author: 'y', time: 2 });
      assert.equal((await loadDoc(store, 'doc:a')).getText('t').toString(), 'A');
      assert.equal((await loadDoc(store, 'doc:b')).getText('t').toString(), 'B');
      assert.equal((await store.audit('doc:a', { limit: 10 })).length, 1);
    }));

    it('compacts into a snapshot without losing anything, and keeps the audit', () => withStore(async ({ store }) => {
      const w = writer();
      const map = w.doc.getMap('m');
      for (let i = 0; i < 50; i++) map.set(`k${i % 7}`, i);
      for (const u of w.updates) await store.append({ doc: 'doc:c', update: u, author: 'carol', time: 5 });
      const before = await store.load('doc:c');
      const r = await store.compact('doc:c');
      assert.equal(r.folded, 50);
      assert.equal(r.snapshotSeq, before.updates[before.updates.length - 1].seq);
      const after = await store.load('doc:c');
      assert.ok(after.snapshot);
      assert.equal(after.snapshotSeq, r.snapshotSeq);
      assert.equal(after.updates.length, 0);
      assert.deepEqual((await loadDoc(store, 'doc:c')).getMap('m').toJSON(), map.toJSON());
      // Appends after a compaction land in the log after the snapshot.
      map.set('late', true);
      const late = await store.append({ doc: 'doc:c', update: w.updates[w.updates.length - 1], author: 'carol', time: 6 });
      assert.ok(late.seq > r.snapshotSeq);
      const again = await store.load('doc:c');
      assert.equal(again.updates.length, 1);
      assert.equal((await loadDoc(store, 'doc:c')).getMap('m').get('late'), true);
      assert.equal((await store.audit('doc:c', { limit: 1000 })).length, 51);
      // Compacting twice folds only the new entry; compacting an empty log is a no-op.
      assert.equal((await store.compact('doc:c')).folded, 1);
      assert.equal((await store.compact('doc:c')).folded, 0);
      assert.equal((await store.compact('doc:none')).folded, 0);
    }));

    it('compacts from a state the caller vouches for, keeping later appends', () => withStore(async ({ store }) => {
      const w = writer();
      const text = w.doc.getText('t');
      for (const ch of 'abcdef') text.insert(text.length, ch);
      const seqs: number[] = [];
      for (const u of w.updates.slice(0, 4)) seqs.push((await store.append({ doc: 'doc:f', update: u, author: 'fay', time: 7 })).seq);
      // The caller's copy holds the first four updates; two more arrive after it took the state.
      const copy = new Y.Doc();
      for (const u of w.updates.slice(0, 4)) Y.applyUpdate(copy, u);
      for (const u of w.updates.slice(4)) await store.append({ doc: 'doc:f', update: u, author: 'fay', time: 8 });
      const r = await store.compact('doc:f', { state: Y.encodeStateAsUpdate(copy), seq: seqs[3] });
      assert.deepEqual(r, { snapshotSeq: seqs[3], folded: 4 });
      const s = await store.load('doc:f');
      assert.equal(s.snapshotSeq, seqs[3]);
      assert.equal(s.updates.length, 2);
      assert.equal((await loadDoc(store, 'doc:f')).getText('t').toString(), 'abcdef');
      assert.equal((await store.audit('doc:f', { limit: 100 })).length, 6);
      // A state no newer than the snapshot changes nothing.
      assert.deepEqual(await store.compact('doc:f', { state: new Uint8Array([0, 0]), seq: seqs[2] }), { snapshotSeq: seqs[3], folded: 0 });
      assert.equal((await loadDoc(store, 'doc:f')).getText('t').toString(), 'abcdef');
    }));

    it('lists the audit with author, time, size and hash, filtered and limited', () => withStore(async ({ store }) => {
      const w = writer();
      const arr = w.doc.getArray<number>('a');
      for (let i = 0; i < 6; i++) arr.push([i]);
      const seqs: number[] = [];
      for (const [i, u] of w.updates.entries()) {
        seqs.push((await store.append({ doc: 'doc:d', update: u, author: i % 2 ? 'bob' : 'ann', time: 100 + i })).seq);
      }
      const all = await store.audit('doc:d', { limit: 100 });
      assert.deepEqual(all.map((e) => e.seq), seqs);
      assert.deepEqual(all.map((e) => e.author), ['ann', 'bob', 'ann', 'bob', 'ann', 'bob']);
      assert.deepEqual(all.map((e) => e.size), w.updates.map((u) => u.byteLength));
      assert.deepEqual(all.map((e) => e.hash), w.updates.map(hashUpdate));
      assert.deepEqual(all.map((e) => e.time), [100, 101, 102, 103, 104, 105]);
      assert.deepEqual((await store.audit('doc:d', { sinceSeq: seqs[3], limit: 100 })).map((e) => e.seq), seqs.slice(4));
      assert.deepEqual((await store.audit('doc:d', { sinceTime: 102, limit: 2 })).map((e) => e.seq), seqs.slice(2, 4));
    }));

    it('records, lists and reads versions', () => withStore(async ({ store }) => {
      const d = new Y.Doc();
      d.getText('t').insert(0, 'one');
      const v1 = await store.createVersion({ doc: 'doc:v', label: 'first', author: 'ann', time: 10, seq: 3, state: Y.encodeStateAsUpdate(d) });
      d.getText('t').insert(3, ' two');
      const v2 = await store.createVersion({ doc: 'doc:v', label: null, author: 'bob', time: 20, seq: 4, state: Y.encodeStateAsUpdate(d) });
      await store.createVersion({ doc: 'doc:other', label: 'x', author: 'ann', time: 30, seq: 1, state: Y.encodeStateAsUpdate(new Y.Doc()) });
      assert.notEqual(v1.id, v2.id);
      const list = await store.listVersions('doc:v', { limit: 10 });
      assert.deepEqual(list.map((v) => [v.id, v.label, v.author, v.time, v.seq]), [[v1.id, 'first', 'ann', 10, 3], [v2.id, null, 'bob', 20, 4]]);
      assert.deepEqual((await store.listVersions('doc:v', { limit: 1 })).map((v) => v.id), [v1.id]);
      assert.deepEqual((await store.listVersions('doc:v', { limit: 10, after: v1.id })).map((v) => v.id), [v2.id]);
      const got = await store.getVersion('doc:v', v1.id);
      assert.ok(got);
      const restored = new Y.Doc();
      Y.applyUpdate(restored, got.state);
      assert.equal(restored.getText('t').toString(), 'one');
      assert.equal(await store.getVersion('doc:v', '999999'), null);
      assert.equal(await store.getVersion('doc:other', v1.id), null, 'a version id belongs to its document');
      assert.equal(await store.getVersion('doc:v', 'not-an-id'), null);
    }));

    it('keeps everything across a reopen', () => withStore(async (f) => {
      const w = writer();
      w.doc.getText('t').insert(0, 'durable');
      w.doc.getMap('m').set('k', 'v');
      for (const u of w.updates) await f.store.append({ doc: 'doc:r', update: u, author: 'ann', time: 1 });
      await f.store.compact('doc:r');
      w.doc.getText('t').insert(7, '!');
      await f.store.append({ doc: 'doc:r', update: w.updates[w.updates.length - 1], author: 'ann', time: 2 });
      await f.store.createVersion({ doc: 'doc:r', label: 'v', author: 'ann', time: 3, seq: 9, state: Y.encodeStateAsUpdate(w.doc) });
      const store = await f.reopen();
      const doc = await loadDoc(store, 'doc:r');
      assert.equal(doc.getText('t').toString(), 'durable!');
      assert.equal(doc.getMap('m').get('k'), 'v');
      assert.equal((await store.audit('doc:r', { limit: 10 })).length, 3);
      assert.equal((await store.listVersions('doc:r', { limit: 10 })).length, 1);
      const next = await store.append({ doc: 'doc:r', update: w.updates[0], author: 'ann', time: 4 });
      const audit = await store.audit('doc:r', { limit: 10 });
      assert.ok(next.seq > audit[audit.length - 2].seq, 'seq keeps increasing after a reopen');
    }));

    it('answers ping and refuses work after close', () => withStore(async (f) => {
      await f.store.ping();
      await f.store.close();
      await assert.rejects(f.store.load('doc:x'));
      await f.store.close(); // idempotent
      await f.reopen();
    }));
  });
}
