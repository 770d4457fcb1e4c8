import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hashUpdate } from '../src/docs/doc-store.js';
import { connectProvider, startDocsServer, synced, until, type DocsTestServer, type TestProvider } from './docs-helpers.js';

interface Entry { seq: number; author: string; time: number; size: number; hash: string }

describe('docs: audit log', () => {
  let ts: DocsTestServer;
  const providers: TestProvider[] = [];
  before(async () => { ts = await startDocsServer(); });
  after(async () => {
    for (const p of providers) p.destroy();
    await ts.close();
  });

  test('lists every accepted update with its author, time, size and hash; pages with since/limit', async () => {
    const doc = 'doc:audited';
    const path = `/api/docs/${encodeURIComponent(doc)}`;
    const ann = connectProvider(ts.yjsUrl, doc, await ts.token('ann', { 'doc:*': ['sub', 'pub'] }));
    const ben = connectProvider(ts.yjsUrl, doc, await ts.token('ben', { 'doc:*': ['sub', 'pub'] }));
    providers.push(ann, ben);
    await Promise.all([synced(ann), synced(ben)]);
    const started = Date.now();
    // Each transaction is one update on the wire and one accepted update on the server.
    for (let i = 0; i < 7; i++) ann.ydoc.getText('text').insert(0, `a${i}`);
    for (let i = 0; i < 5; i++) ben.ydoc.getMap('map').set(`k${i}`, i);
    await until(() => ann.ydoc.getMap('map').size === 5 && ben.ydoc.getText('text').length === 14, 5000, 'clients synced');
    const token = await ts.token('auditor', { 'doc:*': ['sub'] });
    // Updates are broadcast only after they are stored, so each client having seen the other's
    // edits means all 12 are in the store.
    const entries = (await ts.api('GET', `${path}/audit?limit=1000`, token)).body.entries as Entry[];
    assert.equal(entries.length, 12);
    assert.equal(entries.filter((e) => e.author === 'ann').length, 7);
    assert.equal(entries.filter((e) => e.author === 'ben').length, 5);
    for (const e of entries) {
      assert.ok(e.time >= started - 1000 && e.time <= Date.now());
      assert.ok(e.size > 0);
      assert.match(e.hash, /^[0-9a-f]{64}$/);
    }
    assert.deepEqual(entries.map((e) => e.seq), [...entries.map((e) => e.seq)].sort((a, b) => a - b));
    // The hashes are those of the stored updates.
    const stored = await ts.docs.store.load(doc);
    assert.deepEqual(stored.updates.map((u) => hashUpdate(u.update)), entries.map((e) => e.hash));

    // Paging: limit + next cursor + since.
    const page1 = await ts.api('GET', `${path}/audit?limit=5`, token);
    assert.equal((page1.body.entries as Entry[]).length, 5);
    const next = page1.body.next as number;
    assert.equal(next, entries[4].seq);
    const page2 = await ts.api('GET', `${path}/audit?since=${next}&limit=100`, token);
    assert.deepEqual((page2.body.entries as Entry[]).map((e) => e.seq), entries.slice(5).map((e) => e.seq));
    assert.equal(page2.body.next, null);
    const byTime = await ts.api('GET', `${path}/audit?sinceTime=${new Date(Date.now() + 60_000).toISOString()}`, token);
    assert.deepEqual(byTime.body.entries, []);
  });
});
