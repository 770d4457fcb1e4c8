import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import * as Y from 'yjs';
import { ChaosProxy, startPostgres, type PostgresHandle } from '@aqueduct/testkit';
import { PostgresDocStore } from '../src/docs/doc-store-postgres.js';
import type { DocStore } from '../src/docs/doc-store.js';
import { runDocStoreConformance } from './conformance/doc-store-conformance.js';

let db: PostgresHandle;
before(async () => { db = await startPostgres(); });
after(async () => { await db?.stop(); });

// Each conformance test gets its own tables (a fresh prefix) in the shared database.
runDocStoreConformance('postgres', async () => {
  const tablePrefix = `t${randomUUID().replaceAll('-', '').slice(0, 10)}_`;
  let store: DocStore = new PostgresDocStore({ url: db.url, tablePrefix });
  return {
    get store() { return store; },
    async reopen() {
      await store.close();
      store = new PostgresDocStore({ url: db.url, tablePrefix });
      return store;
    },
    async cleanup() { await store.close(); },
  };
});

describe('PostgresDocStore specifics', () => {
  const stores: PostgresDocStore[] = [];
  const open = (tablePrefix: string, extra: Partial<ConstructorParameters<typeof PostgresDocStore>[0]> = {}) => {
    const s = new PostgresDocStore({ url: db.url, tablePrefix, ...extra });
    stores.push(s);
    return s;
  };
  after(async () => { await Promise.all(stores.map((s) => s.close())); });

  test('nodes starting together run the migrations once', async () => {
    const prefix = `m${randomUUID().replaceAll('-', '').slice(0, 8)}_`;
    const many = [open(prefix), open(prefix), open(prefix)];
    await Promise.all(many.map((s) => s.ready));
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${prefix}migrations`);
    await c.end();
    assert.equal(Number(rows[0].n), 1);
  });

  test('concurrent appends from several nodes keep per-document seq order, and concurrent compactions lose nothing', async () => {
    const prefix = `c${randomUUID().replaceAll('-', '').slice(0, 8)}_`;
    const nodes = [open(prefix), open(prefix), open(prefix)];
    const writers = nodes.map(() => new Y.Doc());
    const work = nodes.map(async (store, i) => {
      const w = writers[i];
      const updates: Uint8Array[] = [];
      w.on('update', (u: Uint8Array) => updates.push(u));
      for (let k = 0; k < 30; k++) {
        w.getMap('m').set(`n${i}-${k}`, k);
        await store.append({ doc: 'doc:shared', update: updates[updates.length - 1], author: `node${i}`, time: k });
        // Every node compacts now and then, racing with appends and other compactions.
        if (k % 10 === 9) await store.compact('doc:shared');
      }
    });
    await Promise.all(work);
    const loaded = await nodes[0].load('doc:shared');
    const seqs = loaded.updates.map((u) => u.seq);
    assert.ok(seqs.every((s) => s > loaded.snapshotSeq), 'log entries come after the snapshot');
    const doc = new Y.Doc();
    if (loaded.snapshot) Y.applyUpdate(doc, loaded.snapshot);
    for (const u of loaded.updates) Y.applyUpdate(doc, u.update);
    assert.equal(Object.keys(doc.getMap('m').toJSON()).length, 90);
    assert.equal((await nodes[1].audit('doc:shared', { limit: 1000 })).length, 90);
  });

  test('a node that dies mid-compaction leaves nothing half-written', async () => {
    const prefix = `k${randomUUID().replaceAll('-', '').slice(0, 8)}_`;
    const store = open(prefix);
    const w = new Y.Doc();
    const updates: Uint8Array[] = [];
    w.on('update', (u: Uint8Array) => updates.push(u));
    for (let k = 0; k < 10; k++) w.getText('t').insert(0, String(k));
    for (const u of updates) await store.append({ doc: 'doc:k', update: u, author: 'a', time: 1 });
    // A "node" that begins a compaction exactly as the store does, writes the snapshot, and dies
    // (its connection is terminated) before deleting the log and committing.
    const dying = new pg.Client({ connectionString: db.url });
    await dying.connect();
    dying.on('error', () => undefined);
    await dying.query('BEGIN');
    await dying.query('SELECT pg_try_advisory_xact_lock($1, hashtext($2))', [0x61710003, 'doc:k']);
    await dying.query(`INSERT INTO ${prefix}doc_snapshots (doc, seq, data, time) VALUES ('doc:k', 999999, '\\x00', 0)`);
    // While it holds the lock, another node's compaction backs off instead of waiting or racing.
    assert.equal((await store.compact('doc:k')).folded, 0);
    const { rows } = await dying.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const killer = new pg.Client({ connectionString: db.url });
    await killer.connect();
    await killer.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    await killer.end();
    await dying.end().catch(() => undefined);
    const loaded = await store.load('doc:k');
    assert.equal(loaded.snapshot, null, 'the dead node\'s snapshot was rolled back');
    assert.equal(loaded.updates.length, 10);
    // The lock died with the connection: compaction works again.
    assert.equal((await store.compact('doc:k')).folded, 10);
    const after = await store.load('doc:k');
    const doc = new Y.Doc();
    Y.applyUpdate(doc, after.snapshot!);
    assert.equal(doc.getText('t').toString(), w.getText('t').toString());
  });

  test('PostgreSQL down: writes are refused with an error, not lost silently; service resumes', async () => {
    // Behind a proxy: "down" without freeing a port another process could take meanwhile.
    const proxy = new ChaosProxy({ targetPort: db.port });
    const port = await proxy.listen();
    after(() => proxy.close());
    const store = open('d_', { url: db.url.replace(`:${db.port}/`, `:${port}/`), queryTimeoutMs: 2000, connectTimeoutMs: 1000 });
    const u = (() => { const d = new Y.Doc(); let x: Uint8Array | undefined; d.on('update', (v: Uint8Array) => { x = v; }); d.getText('t').insert(0, 'x'); return x!; })();
    await store.append({ doc: 'doc:d', update: u, author: 'a', time: 1 });
    proxy.block();
    await assert.rejects(store.append({ doc: 'doc:d', update: u, author: 'a', time: 2 }));
    await assert.rejects(store.ping());
    proxy.unblock();
    // The pool drops dead connections and opens new ones.
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = await store.ping().then(() => true, () => false);
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ok, 'ping succeeds after PostgreSQL returns');
    await store.append({ doc: 'doc:d', update: u, author: 'a', time: 3 });
    assert.equal((await store.load('doc:d')).updates.length, 2, 'the refused write is not there; the others are');
  });
});
