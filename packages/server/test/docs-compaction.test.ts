import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as Y from 'yjs';
import { connectProvider, startDocsServer, synced, until, type DocsTestServer, type TestProvider } from './docs-helpers.js';

describe('docs: log compaction', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-docs-compact-'));
  const servers: DocsTestServer[] = [];
  const providers: TestProvider[] = [];
  after(async () => {
    for (const p of providers) p.destroy();
    for (const s of servers) await s.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('after 10,000 small updates, loading reads a snapshot plus a short log', async () => {
    const ts = await startDocsServer({ dataDir });
    servers.push(ts);
    const limit = ts.server.config.docs.compactAfterUpdates;
    const doc = 'doc:busy';
    const token = await ts.token('typist', { 'doc:*': ['sub', 'pub'] });
    const p = connectProvider(ts.yjsUrl, doc, token);
    providers.push(p);
    await synced(p);
    const text = p.ydoc.getText('text');
    const counter = p.ydoc.getMap('map');
    // 10,000 transactions = 10,000 updates on the wire.
    for (let i = 0; i < 10_000; i++) {
      if (i % 2 === 0) text.insert(text.length, String.fromCharCode(97 + (i % 26)));
      else counter.set('n', i);
      // Yield now and then so the socket drains instead of buffering everything at once.
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    await until(() => ts.docs.manager.isLoaded(doc), 5000, 'loaded');
    let loggedBytes = 0;
    const audited = async () => {
      let n = 0;
      let since = 0;
      loggedBytes = 0;
      for (;;) {
        const entries = await ts.docs.store.audit(doc, { sinceSeq: since, limit: 1000 });
        n += entries.length;
        for (const e of entries) loggedBytes += e.size;
        if (entries.length < 1000) return n;
        since = entries[entries.length - 1].seq;
      }
    };
    let count = 0;
    const deadline = Date.now() + 120_000;
    while ((count = await audited()) < 10_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(count, 10_000, 'every update was stored');

    const stored = await ts.docs.store.load(doc);
    assert.ok(stored.snapshot, 'a snapshot exists');
    assert.ok(stored.updates.length < limit, `log after the snapshot is short (${stored.updates.length} < ${limit})`);
    assert.ok(stored.snapshotSeq > 0);
    assert.ok(stored.snapshot.byteLength < loggedBytes / 2, `the snapshot (${stored.snapshot.byteLength} B) is smaller than the updates it replaced (${loggedBytes} B)`);

    // A restarted server loads snapshot + short log into the same content.
    p.provider.disconnect();
    await ts.server.close();
    const ts2 = await startDocsServer({ dataDir });
    servers.push(ts2);
    const fresh = connectProvider(ts2.yjsUrl, doc, token);
    providers.push(fresh);
    await synced(fresh);
    assert.equal(fresh.ydoc.getText('text').toString(), text.toString());
    assert.equal(fresh.ydoc.getMap('map').get('n'), 9999);
    const check = new Y.Doc();
    const again = await ts2.docs.store.load(doc);
    if (again.snapshot) Y.applyUpdate(check, again.snapshot);
    for (const u of again.updates) Y.applyUpdate(check, u.update);
    assert.equal(check.getText('text').length, 5000);
  });
});
