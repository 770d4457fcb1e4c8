import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as encoding from 'lib0/encoding';
import type WebSocket from 'ws';
import { DocCloseCodes } from '../src/docs/yjs.js';
import { connectProvider, rawYjs, startDocsServer, synced, until, type DocsTestServer, type TestProvider } from './docs-helpers.js';

function awarenessFrame(entries: Array<[number, number, unknown]>): Uint8Array {
  const inner = encoding.createEncoder();
  encoding.writeVarUint(inner, entries.length);
  for (const [id, clock, state] of entries) {
    encoding.writeVarUint(inner, id);
    encoding.writeVarUint(inner, clock);
    encoding.writeVarString(inner, JSON.stringify(state));
  }
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1);
  encoding.writeVarUint8Array(e, encoding.toUint8Array(inner));
  return encoding.toUint8Array(e);
}

describe('docs: awareness', () => {
  let ts: DocsTestServer;
  const providers: TestProvider[] = [];
  before(async () => { ts = await startDocsServer({ docs: { maxAwarenessClientsPerConnection: 2 } }); });
  after(async () => {
    for (const p of providers) p.destroy();
    await ts.close();
  });

  test('relayed to readers and cleared as soon as a connection closes', async () => {
    const doc = 'doc:aware';
    const writer = connectProvider(ts.yjsUrl, doc, await ts.token('w', { 'doc:*': ['sub', 'pub'] }));
    const reader = connectProvider(ts.yjsUrl, doc, await ts.token('r', { 'doc:*': ['sub'] }));
    providers.push(writer, reader);
    await Promise.all([synced(writer), synced(reader)]);
    writer.provider.awareness.setLocalStateField('cursor', { index: 3 });
    const wid = writer.ydoc.clientID;
    await until(() => (reader.provider.awareness.getStates().get(wid) as { cursor?: { index: number } } | undefined)?.cursor?.index === 3, 5000, 'reader sees the cursor');
    // A late joiner gets the current states right away.
    const late = connectProvider(ts.yjsUrl, doc, await ts.token('l', { 'doc:*': ['sub'] }));
    providers.push(late);
    await until(() => late.provider.awareness.getStates().has(wid), 5000, 'late joiner sees the writer');
    // The writer's socket drops without a goodbye: the server removes its state for everyone.
    writer.provider.shouldConnect = false;
    (writer.provider.ws as unknown as WebSocket).terminate();
    await until(() => !reader.provider.awareness.getStates().has(wid) && !late.provider.awareness.getStates().has(wid), 5000, 'state cleared on close');
  });

  test('a connection may hold only a bounded number of awareness clients', async () => {
    const raw = await rawYjs(ts.yjsUrl, 'doc:aware2', await ts.token('x', { 'doc:*': ['sub'] }));
    await until(() => raw.frames.length > 0, 5000, 'hello');
    raw.send(awarenessFrame([[101, 1, { a: 1 }], [102, 1, { a: 2 }]]));
    raw.send(awarenessFrame([[103, 1, { a: 3 }]]));
    assert.equal((await raw.closed).code, DocCloseCodes.INVALID_MESSAGE.code);
    assert.match(raw.denied().join(), /more than 2 awareness clients/);
  });
});
