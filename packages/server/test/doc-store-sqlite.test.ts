import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as Y from 'yjs';
import { SqliteDocStore, type SqliteDocStoreOptions } from '../src/docs/doc-store-sqlite.js';
import type { DocStore } from '../src/docs/doc-store.js';
import { runDocStoreConformance } from './conformance/doc-store-conformance.js';

function factory(opts: Omit<SqliteDocStoreOptions, 'file'>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aqueduct-docstore-'));
    const file = join(dir, 'docs.sqlite');
    let store: DocStore = new SqliteDocStore({ file, ...opts });
    return {
      get store() { return store; },
      async reopen() {
        await store.close();
        store = new SqliteDocStore({ file, ...opts });
        return store;
      },
      async cleanup() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

runDocStoreConformance('sqlite (group commit through the journal)', factory({}));
runDocStoreConformance('sqlite (a transaction per append)', factory({ flushMs: 0 }));

describe('SqliteDocStore journal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aqueduct-docjournal-'));
  const stores: SqliteDocStore[] = [];
  after(async () => {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('updates acknowledged before a crash are committed on the next open; a torn tail is ignored', async () => {
    const file = join(dir, 'crash.sqlite');
    // A long flush interval: nothing reaches SQLite before the "crash".
    const crashed = new SqliteDocStore({ file, flushMs: 10_000 });
    stores.push(crashed);
    const src = new Y.Doc();
    const updates: Uint8Array[] = [];
    src.on('update', (u: Uint8Array) => updates.push(u));
    for (const ch of 'abc') src.getText('t').insert(src.getText('t').length, ch);
    const seqs: number[] = [];
    for (const u of updates) seqs.push((await crashed.append({ doc: 'doc:j', update: u, author: 'ann', time: 1 })).seq);
    // The process dies here (the handle is abandoned, not closed), halfway through a record.
    appendFileSync(`${file}.aqjournal`, Buffer.from([200, 0, 0, 0, 1, 2, 3]));
    const reopened = new SqliteDocStore({ file, flushMs: 10_000 });
    stores.push(reopened);
    const s = await reopened.load('doc:j');
    assert.deepEqual(s.updates.map((u) => u.seq), seqs);
    const doc = new Y.Doc();
    for (const u of s.updates) Y.applyUpdate(doc, u.update);
    assert.equal(doc.getText('t').toString(), 'abc');
    assert.deepEqual((await reopened.audit('doc:j', { limit: 10 })).map((e) => e.author), ['ann', 'ann', 'ann']);
    // New appends continue above the replayed seqs; the abandoned handle's later flush changes nothing.
    const next = await reopened.append({ doc: 'doc:j', update: updates[0], author: 'bob', time: 2 });
    assert.ok(next.seq > seqs[2]);
    await crashed.close();
    assert.equal((await reopened.load('doc:j')).updates.length, 4);
    await reopened.close();
    assert.equal(existsSync(`${file}.aqjournal`), false, 'a clean close leaves no journal');
  });

  test('maxPending bounds what waits for SQLite', async () => {
    const store = new SqliteDocStore({ file: join(dir, 'bounded.sqlite'), flushMs: 10_000, maxPending: 2 });
    stores.push(store);
    for (let i = 0; i < 5; i++) await store.append({ doc: 'doc:b', update: new Uint8Array([0, 0]), author: 'a', time: i });
    assert.equal((await store.load('doc:b')).updates.length, 5);
  });
});

describe('SqliteDocStore journal reuse', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aqueduct-docjournal2-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('records of earlier rounds are never replayed, even after compaction removed their log rows', async () => {
    const file = join(dir, 'reuse.sqlite');
    const a = new SqliteDocStore({ file, flushMs: 10_000 });
    const src = new Y.Doc();
    const updates: Uint8Array[] = [];
    src.on('update', (u: Uint8Array) => updates.push(u));
    // Round 1: four records of 1.1 MB (past the 4 MiB at which the journal starts over), flushed
    // and compacted; round 2: two small records written from offset 0 over round 1's bytes.
    for (const ch of 'abcd') src.getText('t').insert(src.getText('t').length, ch.repeat(1_100_000));
    for (const ch of 'ef') src.getText('t').insert(src.getText('t').length, ch);
    for (const u of updates.slice(0, 4)) await a.append({ doc: 'doc:r', update: u, author: 'a', time: 1 });
    const r = await a.compact('doc:r');
    assert.equal(r.folded, 4);
    for (const u of updates.slice(4)) await a.append({ doc: 'doc:r', update: u, author: 'b', time: 2 });
    // Crash: round 2 only in the journal, round 1's tail still in the file after it.
    const b = new SqliteDocStore({ file, flushMs: 10_000 });
    const s = await b.load('doc:r');
    assert.equal(s.snapshotSeq, r.snapshotSeq);
    assert.equal(s.updates.length, 2, 'only the two unflushed updates were replayed');
    const doc = new Y.Doc();
    if (s.snapshot) Y.applyUpdate(doc, s.snapshot);
    for (const u of s.updates) Y.applyUpdate(doc, u.update);
    assert.equal(doc.getText('t').toString(), ['a', 'b', 'c', 'd'].map((c) => c.repeat(1_100_000)).join('') + 'ef');
    assert.equal((await b.audit('doc:r', { limit: 100 })).length, 6);
    assert.ok(statSync(`${file}.aqjournal`).size < 4_500_000 + 1000, 'the journal did not grow past its first round');
    await b.close();
    await a.close();
  });
});
