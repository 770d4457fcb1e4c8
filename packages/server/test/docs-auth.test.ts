import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as Y from 'yjs';
import { DocCloseCodes } from '../src/docs/yjs.js';
import { connectProvider, rawYjs, startDocsServer, synced, syncFrame, until, type DocsTestServer, type TestProvider } from './docs-helpers.js';

describe('docs: grants on /yjs/:doc', () => {
  let ts: DocsTestServer;
  const providers: TestProvider[] = [];
  before(async () => { ts = await startDocsServer(); });
  after(async () => {
    for (const p of providers) p.destroy();
    await ts.close();
  });

  test('a read-only user gets permission-denied, sees changes and awareness, and cannot change the document', async () => {
    const doc = 'doc:readonly';
    const writer = connectProvider(ts.yjsUrl, doc, await ts.token('writer', { 'doc:*': ['sub', 'pub'] }));
    const reader = connectProvider(ts.yjsUrl, doc, await ts.token('reader', { 'doc:*': ['sub'] }));
    providers.push(writer, reader);
    await Promise.all([synced(writer), synced(reader)]);
    await until(() => reader.denied.length > 0, 5000, 'permission-denied auth message');
    assert.match(reader.denied[0], /read-only/);
    assert.equal(writer.denied.length, 0);

    writer.ydoc.getText('text').insert(0, 'from writer');
    await until(() => reader.ydoc.getText('text').toString() === 'from writer', 5000, 'reader sees writer');

    // The reader edits locally: the server ignores it; the writer and the stored document never see it.
    reader.ydoc.getText('text').insert(0, 'EVIL ');
    reader.ydoc.getMap('map').set('evil', true);
    writer.provider.awareness.setLocalStateField('user', { name: 'w' });
    reader.provider.awareness.setLocalStateField('user', { name: 'r' });
    // Awareness flows both ways (sub = read + awareness); it also proves the reader's frames were processed.
    await until(() => [...writer.provider.awareness.getStates().values()].some((s) => (s.user as { name?: string } | undefined)?.name === 'r'), 5000, 'reader awareness reaches writer');
    await until(() => [...reader.provider.awareness.getStates().values()].some((s) => (s.user as { name?: string } | undefined)?.name === 'w'), 5000, 'writer awareness reaches reader');
    writer.ydoc.getText('text').insert(11, '!');
    await until(() => reader.ydoc.getText('text').toString().endsWith('from writer!'), 5000, 'reader still receives');
    assert.equal(writer.ydoc.getText('text').toString(), 'from writer!');
    assert.equal(writer.ydoc.getMap('map').get('evil'), undefined);
    const { state } = await ts.docs.manager.state(doc);
    const check = new Y.Doc();
    Y.applyUpdate(check, state);
    assert.equal(check.getText('text').toString(), 'from writer!');
    assert.equal(check.getMap('map').get('evil'), undefined);
    const audit = await ts.api('GET', `/api/docs/${doc}/audit`, await ts.token('writer', { 'doc:*': ['sub'] }));
    assert.ok((audit.body.entries as Array<{ author: string }>).every((e) => e.author === 'writer'));
    assert.ok(reader.provider.wsconnected, 'the reader stays connected');
  });

  test('a user without a grant cannot connect (permission-denied, close 4403, no reconnect)', async () => {
    const p = connectProvider(ts.yjsUrl, 'doc:secret', await ts.token('mallory', { 'chat:*': ['sub', 'pub'] }));
    providers.push(p);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => p.provider.once('closed', (e) => resolve(e)));
    const ev = await closed;
    assert.equal(ev.code, DocCloseCodes.PERMISSION_DENIED.code);
    assert.match(p.denied.join(), /no permission/);
    assert.equal(p.provider.shouldConnect, false, 'the stock client stops reconnecting');
    assert.equal(p.ydoc.getText('text').toString(), '');
    assert.equal(ts.docs.manager.isLoaded('doc:secret'), false, 'the document was not even loaded');
  });

  test('missing, invalid and expired tokens are refused', async () => {
    const none = await rawYjs(ts.yjsUrl, 'doc:x');
    assert.equal((await none.closed).code, DocCloseCodes.AUTH_FAILED.code);
    assert.match(none.denied()[0], /missing token/);
    const bad = await rawYjs(ts.yjsUrl, 'doc:x', 'not.a.jwt');
    assert.equal((await bad.closed).code, DocCloseCodes.AUTH_FAILED.code);
    const expired = await rawYjs(ts.yjsUrl, 'doc:x', await ts.token('old', { 'doc:*': ['sub', 'pub'] }, { ttlSec: -120 }));
    assert.equal((await expired.closed).code, DocCloseCodes.TOKEN_EXPIRED.code);
    // A forged write from a reader over a raw socket changes nothing either.
    const reader = await rawYjs(ts.yjsUrl, 'doc:raw', await ts.token('r', { 'doc:raw': ['sub'] }));
    const d = new Y.Doc();
    d.getText('text').insert(0, 'forged');
    reader.send(syncFrame(2, Y.encodeStateAsUpdate(d)));
    reader.send(syncFrame(0, Y.encodeStateVector(new Y.Doc())));
    await until(() => reader.frames.filter((f) => f[0] === 0 && f[1] === 1).length >= 1, 5000, 'step 2 reply');
    const { state } = await ts.docs.manager.state('doc:raw');
    const check = new Y.Doc();
    Y.applyUpdate(check, state);
    assert.equal(check.getText('text').toString(), '');
    reader.ws.close();
  });

  test('HTTP routes need sub to read and pub to write', async () => {
    const none = await ts.token('n', { 'chat:*': ['sub'] });
    const reader = await ts.token('r', { 'doc:*': ['sub'] });
    assert.equal((await ts.api('GET', '/api/docs/doc:readonly/versions', none)).status, 403);
    assert.equal((await ts.api('GET', '/api/docs/doc:readonly/versions', reader)).status, 200);
    const denied = await ts.api('POST', '/api/docs/doc:readonly/versions', reader, { label: 'x' });
    assert.equal(denied.status, 403);
    assert.equal((denied.body.error as { code: string }).code, 'PERMISSION_DENIED');
    assert.equal((await ts.api('POST', '/api/docs/doc:readonly/restore', reader, { version: '1' })).status, 403);
    const res = await fetch(`${ts.url}/api/docs/doc:readonly/audit`);
    assert.equal(res.status, 401);
  });
});
