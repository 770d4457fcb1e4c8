import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { createDocProvider, yjsBaseUrl } from '@aqueduct/client/yjs';
import type { WebsocketProvider } from 'y-websocket';
import { DocCloseCodes } from '../src/docs/yjs.js';
import { startDocsServer, until, type DocsTestServer } from './docs-helpers.js';

describe('client SDK: createDocProvider', () => {
  let ts: DocsTestServer;
  const providers: WebsocketProvider[] = [];
  before(async () => { ts = await startDocsServer({ jwt: { clockSkewSec: 0 } }); });
  after(async () => {
    for (const p of providers) p.destroy();
    await ts.close();
  });

  test('builds the /yjs URL', () => {
    assert.equal(yjsBaseUrl('http://h:1/'), 'ws://h:1/yjs');
    assert.equal(yjsBaseUrl('https://h'), 'wss://h/yjs');
    assert.equal(yjsBaseUrl('wss://h/yjs'), 'wss://h/yjs');
  });

  test('a stock provider with a fixed token syncs with another client', async () => {
    const token = await ts.token('u', { 'doc:*': ['sub', 'pub'] });
    const a = new Y.Doc();
    const b = new Y.Doc();
    const pa = createDocProvider({ url: ts.url, doc: 'doc:helper', ydoc: a, token, WebSocketPolyfill: WebSocket, providerOptions: { disableBc: true } });
    const pb = createDocProvider({ url: ts.url, doc: 'doc:helper', ydoc: b, token, WebSocketPolyfill: WebSocket, providerOptions: { disableBc: true } });
    providers.push(pa, pb);
    await until(() => pa.synced && pb.synced, 10_000, 'synced');
    assert.match(pa.url, /\/yjs\/doc:helper\?token=/);
    a.getText('t').insert(0, 'hi');
    await until(() => b.getText('t').toString() === 'hi', 5000, 'b receives');
  });

  test('getToken: fetched before connecting and again after the server closes for expiry', async () => {
    let calls = 0;
    // Short-lived tokens: the server closes the connection at expiry (4003); the helper fetches a
    // new token and the provider's own reconnect uses it.
    const getToken = async () => { calls++; return ts.token('refresher', { 'doc:*': ['sub', 'pub'] }, { ttlSec: 2 }); };
    const ydoc = new Y.Doc();
    const p = createDocProvider({ url: ts.url, doc: 'doc:refresh', ydoc, getToken, WebSocketPolyfill: WebSocket, providerOptions: { disableBc: true, maxBackoffTime: 300 } });
    providers.push(p);
    const closes: number[] = [];
    p.on('connection-close', (e) => { if (e) closes.push(e.code); });
    await until(() => p.synced, 10_000, 'first sync');
    assert.equal(calls, 1);
    await until(() => closes.includes(DocCloseCodes.TOKEN_EXPIRED.code), 15_000, 'server closes at token expiry');
    await until(() => p.synced && calls >= 2, 15_000, 'resynced with a fresh token');
    ydoc.getText('t').insert(0, 'still writing');
    const check = new Y.Doc();
    const other = createDocProvider({ url: ts.url, doc: 'doc:refresh', ydoc: check, token: await ts.token('o', { 'doc:*': ['sub', 'pub'] }), WebSocketPolyfill: WebSocket, providerOptions: { disableBc: true } });
    providers.push(other);
    await until(() => check.getText('t').toString() === 'still writing', 10_000, 'write after refresh reaches others');
  });
});
