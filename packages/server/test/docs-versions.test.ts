import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectProvider, snapshotOf, startDocsServer, synced, until, type DocsTestServer, type TestProvider } from './docs-helpers.js';

describe('docs: versions, diff, restore', () => {
  let ts: DocsTestServer;
  const providers: TestProvider[] = [];
  before(async () => { ts = await startDocsServer(); });
  after(async () => {
    for (const p of providers) p.destroy();
    await ts.close();
  });

  test('record, list, read, diff, restore live, and undo the restore', async () => {
    const doc = 'doc:history';
    const path = `/api/docs/${encodeURIComponent(doc)}`;
    const alice = await ts.token('alice', { 'doc:*': ['sub', 'pub'] });
    const bob = await ts.token('bob', { 'doc:*': ['sub', 'pub'] });
    const editor = connectProvider(ts.yjsUrl, doc, alice);
    const watcher = connectProvider(ts.yjsUrl, doc, bob);
    providers.push(editor, watcher);
    await Promise.all([synced(editor), synced(watcher)]);
    let watcherConnects = 0;
    watcher.provider.on('status', (e: { status: string }) => { if (e.status === 'connected') watcherConnects++; });

    const text = editor.ydoc.getText('text');
    const map = editor.ydoc.getMap('map');
    const arr = editor.ydoc.getArray('array');
    text.insert(0, 'Hello world');
    map.set('title', 'A');
    map.set('old', 1);
    arr.push([1, 2]);
    await until(() => watcher.ydoc.getText('text').toString() === 'Hello world' && watcher.ydoc.getArray('array').length === 2, 5000, 'watcher synced v1');

    const v1 = await ts.api('POST', `${path}/versions`, alice, { label: 'first draft' });
    assert.equal(v1.status, 201);
    const id1 = (v1.body.version as { id: string }).id;

    text.insert(6, 'brave new ');
    text.delete(0, 1);
    text.insert(0, 'J');
    map.set('title', 'B');
    map.set('x', true);
    map.delete('old');
    arr.push([3]);
    await until(() => watcher.ydoc.getArray('array').length === 3 && watcher.ydoc.getMap('map').get('x') === true, 5000, 'watcher synced v2');
    const v2 = await ts.api('POST', `${path}/versions`, bob, {});
    assert.equal(v2.status, 201);
    const id2 = (v2.body.version as { id: string }).id;

    const list = await ts.api('GET', `${path}/versions`, bob);
    assert.equal(list.status, 200);
    const versions = list.body.versions as Array<{ id: string; label: string | null; author: string; time: number }>;
    assert.deepEqual(versions.map((v) => [v.id, v.label, v.author]), [[id1, 'first draft', 'alice'], [id2, null, 'bob']]);
    assert.ok(versions.every((v) => typeof v.time === 'number' && v.time > 0));

    const read = await ts.api('GET', `${path}/versions/${id1}`, bob);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.content, { array: [1, 2], map: { title: 'A', old: 1 }, text: 'Hello world' });
    assert.deepEqual(read.body.types, { array: 'array', map: 'map', text: 'text' });

    const diff = await ts.api('GET', `${path}/diff?from=${id1}&to=${id2}`, bob);
    assert.equal(diff.status, 200);
    const changed = diff.body.changed as Record<string, Record<string, unknown>>;
    assert.equal(changed.text.type, 'text');
    // Which of the equal spaces counts as inserted is a tie; the words are not.
    assert.deepEqual((changed.text.inserted as string[]).map((t) => t.trim()), ['J', 'brave new']);
    assert.deepEqual(changed.text.deleted, ['H']);
    assert.deepEqual(changed.map, { type: 'map', added: ['x'], removed: ['old'], changed: ['title'] });
    assert.deepEqual(changed.array.inserted, [3]);
    assert.deepEqual(changed.array.deleted, []);
    // `to` defaults to the current state.
    const toNow = await ts.api('GET', `${path}/diff?from=${id2}`, bob);
    assert.deepEqual(toNow.body.changed, {});

    // Restore v1 while the watcher is connected: it sees v1 without reconnecting.
    const restored = await ts.api('POST', `${path}/restore`, alice, { version: id1 });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    await until(() => watcher.ydoc.getText('text').toString() === 'Hello world', 5000, 'watcher sees the restore live');
    assert.deepEqual(snapshotOf(watcher.ydoc), { text: 'Hello world', map: { title: 'A', old: 1 }, array: [1, 2] });
    await until(() => editor.ydoc.getText('text').toString() === 'Hello world', 5000, 'editor sees the restore');
    assert.equal(watcherConnects, 0, 'no reconnect was needed');
    assert.ok(watcher.provider.wsconnected);

    // The restore is audited with its author.
    const audit = await ts.api('GET', `${path}/audit`, bob);
    const entries = audit.body.entries as Array<{ seq: number; author: string }>;
    assert.equal(entries[entries.length - 1].author, 'alice');
    assert.equal(entries[entries.length - 1].seq, restored.body.seq);

    // ... and undoable: the pre-restore state was recorded; restoring it brings v2 back.
    const undo = restored.body.undoVersion as { id: string; label: string };
    assert.match(undo.label, /before restore/);
    const back = await ts.api('POST', `${path}/restore`, bob, { version: undo.id });
    assert.equal(back.status, 200);
    await until(() => watcher.ydoc.getArray('array').length === 3, 5000, 'watcher sees the undo');
    assert.deepEqual(snapshotOf(watcher.ydoc), snapshotOf(editor.ydoc));
    assert.equal(watcher.ydoc.getText('text').toString(), 'Jello brave new world');
    assert.deepEqual(watcher.ydoc.getMap('map').toJSON(), { title: 'B', x: true });

    // Edits after a restore keep working for everyone.
    editor.ydoc.getText('text').insert(0, '>');
    await until(() => watcher.ydoc.getText('text').toString() === '>Jello brave new world', 5000, 'edits after restore');
  });

  test('errors: unknown version, bad body, bad query', async () => {
    const alice = await ts.token('alice', { 'doc:*': ['sub', 'pub'] });
    const r404 = await ts.api('GET', '/api/docs/doc:history/versions/424242', alice);
    assert.equal(r404.status, 404);
    assert.equal((r404.body.error as { code: string }).code, 'NOT_FOUND');
    assert.equal((await ts.api('POST', '/api/docs/doc:history/restore', alice, { version: '424242' })).status, 404);
    assert.equal((await ts.api('POST', '/api/docs/doc:history/restore', alice, { nope: 1 })).status, 400);
    assert.equal((await ts.api('POST', '/api/docs/doc:history/versions', alice, { label: 5 })).status, 400);
    assert.equal((await ts.api('GET', '/api/docs/doc:history/diff', alice)).status, 400);
    assert.equal((await ts.api('GET', '/api/docs/doc:history/audit?limit=abc', alice)).status, 400);
    assert.equal((await ts.api('GET', '/api/docs/bad%20name!/versions', alice)).status, 400);
    assert.equal((await ts.api('DELETE', '/api/docs/doc:history/versions', alice)).status, 405);
  });
});
