import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as Y from 'yjs';
import { foldUpdates, type DocUpdateHookContext } from '../src/index.js';
import { docsOf } from '../src/docs/install.js';
import { connectProvider, synced, until } from './docs-helpers.js';
import { startHooksServer, type HooksTestServer } from './hooks-helpers.js';

/** The document's text as the store holds it (snapshot + log), not the live copy. */
async function storedText(ts: HooksTestServer, doc: string): Promise<string> {
  const stored = await docsOf(ts.server)!.store.load(doc);
  const ydoc = new Y.Doc();
  Y.applyUpdate(ydoc, foldUpdates(stored.snapshot, stored.updates.map((u) => u.update)));
  const text = ydoc.getText('text').toString();
  ydoc.destroy();
  return text;
}

/** Done-means 3 (issue 17): onDocUpdate veto; server-side documents API seen live by y-websocket clients. */
describe('backend hooks on documents, and the server-side documents API', () => {
  let ts: HooksTestServer;
  const calls: Array<Pick<DocUpdateHookContext, 'doc'> & { user: string }> = [];
  before(async () => {
    ts = await startHooksServer({
      onDocUpdate(ctx) {
        calls.push({ doc: ctx.doc, user: ctx.user.id });
        if (ctx.after().getText('text').toString().includes('forbidden')) return { allow: false, code: 'FORBIDDEN_WORD', message: 'no forbidden words' };
      },
    });
  });
  after(async () => { await ts.close(); });

  test('a vetoed update is not stored and not broadcast; the sender is told and closed 4422', async () => {
    const token = await ts.token('alice', { 'doc:*': ['sub', 'pub'] });
    const a = connectProvider(ts.yjsUrl, 'doc:veto', token);
    const b = connectProvider(ts.yjsUrl, 'doc:veto', await ts.token('bob', { 'doc:*': ['sub', 'pub'] }));
    try {
      await Promise.all([synced(a), synced(b)]);
      a.ydoc.getText('text').insert(0, 'fine. ');
      await until(() => b.ydoc.getText('text').toString() === 'fine. ', 10_000, 'b sees the allowed edit');
      a.ydoc.getText('text').insert(6, 'forbidden');
      await until(() => a.closes.length > 0, 10_000, 'the sender is closed');
      assert.equal(a.closes[0].code, 4422);
      assert.match(a.denied.join(' '), /update rejected \(FORBIDDEN_WORD\): no forbidden words/);
      // Another client's later edit still goes through, and b never saw the vetoed one.
      b.ydoc.getText('text').insert(6, 'still fine');
      await until(() => calls.filter((c) => c.user === 'bob').length > 0, 10_000, 'bob asked');
      assert.equal(await storedText(ts, 'doc:veto'), 'fine. still fine');
      assert.equal(b.ydoc.getText('text').toString(), 'fine. still fine');
      assert.equal((await ts.server.docs.readJson('doc:veto')).content.text, 'fine. still fine');
      // A fresh client gets the document without the vetoed text.
      const c = connectProvider(ts.yjsUrl, 'doc:veto', await ts.token('carol', { 'doc:*': ['sub'] }));
      try {
        await synced(c);
        assert.equal(c.ydoc.getText('text').toString(), 'fine. still fine');
      } finally {
        c.destroy();
      }
      assert.ok(calls.some((x) => x.doc === 'doc:veto' && x.user === 'alice'));
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  test('server.docs.transact: connected stock y-websocket clients see the change live; stored with audit author "server"', async () => {
    const p = connectProvider(ts.yjsUrl, 'doc:server', await ts.token('dan', { 'doc:*': ['sub', 'pub'] }));
    try {
      await synced(p);
      p.ydoc.getText('text').insert(0, 'from the client');
      await until(() => calls.some((c) => c.doc === 'doc:server'), 10_000, 'client update stored');
      const { result, seq } = await ts.server.docs.transact('doc:server', (doc) => {
        doc.getText('text').insert(0, '[server] ');
        doc.getMap('map').set('status', 'published');
        return 'done';
      });
      assert.equal(result, 'done');
      assert.equal(typeof seq, 'number');
      await until(() => p.ydoc.getText('text').toString() === '[server] from the client', 10_000, 'client sees the server change');
      assert.equal(p.ydoc.getMap('map').get('status'), 'published');
      const snapshot = await ts.server.docs.read('doc:server');
      assert.equal(snapshot.getText('text').toString(), '[server] from the client');
      snapshot.destroy();
      assert.equal(await storedText(ts, 'doc:server'), '[server] from the client');
      const audit = await docsOf(ts.server)!.store.audit('doc:server', { limit: 100 });
      assert.deepEqual(audit.map((e) => e.author), ['dan', 'server']);
      assert.equal(audit[1].seq, seq);
      // Nothing changed: nothing stored.
      assert.deepEqual(await ts.server.docs.transact('doc:server', () => 1), { result: 1, seq: null });
    } finally {
      p.destroy();
    }
  });
});
