import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { constants, inflateRawSync } from 'node:zlib';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import type { RoomMessage, WebSocketConstructor } from '@aqueduct/client';
import { compressionSchema } from '../src/ws/compression-config.js';
import { FrameDeflater, framePayload } from '../src/ws/ws-deflate.js';
import { binaryFrame, frameFor } from '../src/ws/ws-frame.js';
import { connectClient, startTestServer, until, type TestServer } from './helpers.js';
import { startDocsServer, type DocsTestServer } from './docs-helpers.js';

/** `ws` as the SDK and y-websocket use it, recording every socket (and whether it offers deflate). */
function recordingWebSocket(sockets: WebSocket[], perMessageDeflate: boolean): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { perMessageDeflate });
      sockets.push(this);
    }
  } as unknown as WebSocketConstructor;
}

/** The permessage-deflate parameters the client accepted from the server's response. */
function deflateParams(ws: WebSocket): Record<string, unknown> | undefined {
  return (ws as unknown as { _extensions: Record<string, { params: Record<string, unknown> } | undefined> })._extensions['permessage-deflate']?.params;
}

function bytesRead(ws: WebSocket): number {
  return (ws as unknown as { _socket: Socket })._socket.bytesRead;
}

/** A chat-like message large enough to pass the threshold: compressible text, as real chat is. */
function chatMessage(i: number) {
  return { text: `message ${i}: ` + 'the quick brown fox jumps over the lazy dog; '.repeat(20), user: { id: 'u-42', name: 'Alice' }, ts: 1_700_000_000_000 + i };
}

describe('permessage-deflate: shared frame compression', () => {
  test('a frame is compressed once per window size and inflates to the original payload', () => {
    const d = new FrameDeflater(compressionSchema.parse({}));
    const payload = Buffer.from(JSON.stringify(chatMessage(1)));
    const frame = binaryFrame(payload);
    const z = d.frame(frame, 15);
    assert.equal(d.frame(frame, 15), z, 'cached');
    assert.equal(d.compressions, 1);
    assert.equal(z[0], 0xc2, 'FIN + RSV1 + binary');
    assert.ok(z.length < frame.length / 2);
    assert.deepEqual(inflateRawSync(Buffer.concat([framePayload(z), Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: constants.Z_SYNC_FLUSH }), payload);
    d.frame(frame, 10);
    assert.equal(d.compressions, 2);
  });

  test('payloads under the threshold, or that would not shrink, stay uncompressed', () => {
    const d = new FrameDeflater(compressionSchema.parse({ thresholdBytes: 100 }));
    const small = binaryFrame(Buffer.from('{"t":"msg"}'));
    assert.equal(d.frame(small, 15), small);
    const random = Buffer.alloc(4096);
    for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
    const { out, offset } = frameFor(random.length, false);
    random.copy(out, offset);
    const z = d.frame(out, 15);
    assert.ok(z === out || z.length < out.length);
  });
});

describe('permessage-deflate on /ws', () => {
  let ts: TestServer;
  before(async () => { ts = await startTestServer({ compression: { enabled: true } }); });
  after(async () => { await ts.close(); });

  for (const codec of ['json', 'msgpack'] as const) {
    test(`negotiated by the SDK; deliveries arrive intact and smaller on the wire (${codec})`, async () => {
      const zs: WebSocket[] = [];
      const plains: WebSocket[] = [];
      const token = await ts.token('u', { 'chat:*': ['sub', 'pub'] });
      const z = connectClient(ts.url, token, { codec, WebSocket: recordingWebSocket(zs, true) });
      const plain = connectClient(ts.url, token, { codec, WebSocket: recordingWebSocket(plains, false) });
      const room = `chat:deflate-${codec}`;
      const rz = z.room(room);
      const rp = plain.room(room);
      const gotZ: RoomMessage[] = [];
      const gotP: RoomMessage[] = [];
      rz.on('message', (m) => gotZ.push(m));
      rp.on('message', (m) => gotP.push(m));
      await Promise.all([rz.ready(), rp.ready()]);
      assert.equal(zs[0].extensions, 'permessage-deflate');
      assert.equal(deflateParams(zs[0])?.server_no_context_takeover, true);
      assert.equal(plains[0].extensions, '');
      const z0 = bytesRead(zs[0]);
      const p0 = bytesRead(plains[0]);
      const sent = Array.from({ length: 20 }, (_, i) => chatMessage(i));
      for (const m of sent) await rz.publish(m);
      await until(() => gotZ.length === sent.length && gotP.length === sent.length, 10_000, 'deliveries');
      assert.deepEqual(gotZ.map((m) => m.data), sent);
      assert.deepEqual(gotP.map((m) => m.data), sent);
      const zBytes = bytesRead(zs[0]) - z0;
      const pBytes = bytesRead(plains[0]) - p0;
      assert.ok(zBytes < pBytes / 3, `compressed ${zBytes} B vs plain ${pBytes} B`);
      z.close();
      plain.close();
    });
  }

  test('server context takeover: each connection compresses on its own, deliveries intact', async () => {
    const ts2 = await startTestServer({ compression: { enabled: true, serverNoContextTakeover: false, thresholdBytes: 0 } });
    try {
      const zs: WebSocket[] = [];
      const token = await ts2.token('u', { 'chat:*': ['sub', 'pub'] });
      const a = connectClient(ts2.url, token, { WebSocket: recordingWebSocket(zs, true) });
      const b = connectClient(ts2.url, token, { codec: 'msgpack', WebSocket: recordingWebSocket(zs, true) });
      const ra = a.room('chat:takeover');
      const rb = b.room('chat:takeover');
      const got: RoomMessage[] = [];
      rb.on('message', (m) => got.push(m));
      await Promise.all([ra.ready(), rb.ready()]);
      assert.equal(zs[0].extensions, 'permessage-deflate');
      assert.equal(deflateParams(zs[0])?.server_no_context_takeover, undefined);
      const sent = Array.from({ length: 50 }, (_, i) => ({ i, text: i % 2 ? 'short' : chatMessage(i).text }));
      await Promise.all(sent.map((m) => ra.publish(m)));
      await until(() => got.length === sent.length, 10_000, 'deliveries');
      assert.deepEqual(got.map((m) => m.data), sent);
      a.close();
      b.close();
    } finally {
      await ts2.close();
    }
  });

  test('off (the default): no extension is negotiated', async () => {
    const ts2 = await startTestServer();
    try {
      const ws = new WebSocket(ts2.wsUrl, 'aqueduct.json.v1');
      await once(ws, 'open');
      assert.equal(ws.extensions, '');
      ws.close();
    } finally {
      await ts2.close();
    }
  });

  test('a deflate bomb (~1 KB inflating past maxMessageBytes) is closed with 1009; RSS bounded; others unaffected', async () => {
    const token = await ts.token('v', { 'chat:*': ['sub', 'pub'] });
    const bystander = connectClient(ts.url, token);
    const room = bystander.room('chat:bomb');
    const got: RoomMessage[] = [];
    room.on('message', (m) => got.push(m));
    await room.ready();
    const rss0 = process.memoryUsage().rss;
    const bombs = await Promise.all(Array.from({ length: 50 }, async () => {
      const ws = new WebSocket(ts.wsUrl, 'aqueduct.json.v1');
      await once(ws, 'open');
      assert.match(ws.extensions, /permessage-deflate/);
      return ws;
    }));
    const closes = bombs.map((ws) => once(ws, 'close') as Promise<[number, Buffer]>);
    // 1 MiB of '[' (64 KiB allowed): ws compresses it to ~1 KB on the wire.
    const bomb = Buffer.alloc(1024 * 1024, '[');
    for (const ws of bombs) ws.send(bomb, { compress: true });
    const wire = (bombs[0] as unknown as { _socket: Socket })._socket;
    const codes = (await Promise.all(closes)).map(([code]) => code);
    assert.ok(wire.bytesWritten < 4096, `bomb on the wire: ${wire.bytesWritten} B`);
    assert.deepEqual(new Set(codes), new Set([1009]));
    const rssGrowth = process.memoryUsage().rss - rss0;
    // README §Compression: 50 concurrent bombs cost well under 64 MB (inflation stops at the limit).
    assert.ok(rssGrowth < 64 * 1024 * 1024, `RSS grew ${rssGrowth} B`);
    await room.publish({ still: 'alive' });
    await until(() => got.length === 1, 5000, 'bystander delivery');
    assert.deepEqual(got[0].data, { still: 'alive' });
    bystander.close();
  });
});

describe('permessage-deflate on /yjs with the stock y-websocket client', () => {
  let ds: DocsTestServer;
  before(async () => { ds = await startDocsServer({ docs: { maxMessageBytes: 64 * 1024 }, compression: { enabled: true } }); });
  after(async () => { await ds.close(); });

  function provider(doc: string, token: string, sockets: WebSocket[], deflate: boolean) {
    const ydoc = new Y.Doc();
    const p = new WebsocketProvider(ds.yjsUrl, doc, ydoc, {
      params: { token },
      WebSocketPolyfill: recordingWebSocket(sockets, deflate) as unknown as typeof globalThis.WebSocket,
      disableBc: true,
      maxBackoffTime: 300,
    });
    return { ydoc, p };
  }

  test('negotiated; updates reach compressing and plain clients intact, smaller on the wire', async () => {
    const token = await ds.token('w', { 'doc:*': ['sub', 'pub'] });
    const zs: WebSocket[] = [];
    const plains: WebSocket[] = [];
    const writer = provider('doc:deflate', token, zs, true);
    const reader = provider('doc:deflate', token, zs, true);
    const plain = provider('doc:deflate', token, plains, false);
    await until(() => writer.p.synced && reader.p.synced && plain.p.synced, 15_000, 'synced');
    assert.match(zs[1].extensions, /permessage-deflate/);
    assert.equal(plains[0].extensions, '');
    const r0 = bytesRead(zs[1]);
    const p0 = bytesRead(plains[0]);
    const text = writer.ydoc.getText('t');
    for (let i = 0; i < 30; i++) text.insert(text.length, `paragraph ${i}: ` + 'lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(10));
    const want = text.toString();
    await until(() => reader.ydoc.getText('t').toString() === want && plain.ydoc.getText('t').toString() === want, 15_000, 'updates');
    const rBytes = bytesRead(zs[1]) - r0;
    const pBytes = bytesRead(plains[0]) - p0;
    assert.ok(rBytes < pBytes / 3, `compressed ${rBytes} B vs plain ${pBytes} B`);
    // The server's copy (what a new client loads) is the same document.
    const late = provider('doc:deflate', token, zs, true);
    await until(() => late.p.synced && late.ydoc.getText('t').toString() === want, 15_000, 'late sync');
    for (const x of [writer, reader, plain, late]) { x.p.destroy(); x.ydoc.destroy(); }
  });

  test('deflate bombs on /yjs are closed with 1009; RSS bounded; connected editors and the document unaffected', async () => {
    const token = await ds.token('w', { 'doc:*': ['sub', 'pub'] });
    const zs: WebSocket[] = [];
    const a = provider('doc:bomb', token, zs, true);
    const b = provider('doc:bomb', token, zs, true);
    await until(() => a.p.synced && b.p.synced, 15_000, 'synced');
    a.ydoc.getText('t').insert(0, 'before');
    await until(() => b.ydoc.getText('t').toString() === 'before', 10_000, 'update before the bombs');
    const rss0 = process.memoryUsage().rss;
    const bombs = await Promise.all(Array.from({ length: 20 }, async () => {
      const ws = new WebSocket(`${ds.yjsUrl}/doc:bomb?token=${token}`);
      await once(ws, 'open');
      assert.match(ws.extensions, /permessage-deflate/);
      return ws;
    }));
    const closes = bombs.map((ws) => once(ws, 'close') as Promise<[number, Buffer]>);
    // 4 MiB of zeros (64 KiB allowed) is ~4 KB on the wire.
    const bomb = Buffer.alloc(4 * 1024 * 1024);
    for (const ws of bombs) ws.send(bomb, { compress: true });
    const codes = (await Promise.all(closes)).map(([code]) => code);
    assert.deepEqual(new Set(codes), new Set([1009]));
    const rssGrowth = process.memoryUsage().rss - rss0;
    // README §Compression: inflation stops at docs.maxMessageBytes, so 20 bombs cost far less than 64 MB.
    assert.ok(rssGrowth < 64 * 1024 * 1024, `RSS grew ${rssGrowth} B`);
    // The editors connected before the bombs still edit together, and a new one loads the document.
    a.ydoc.getText('t').insert(6, ' and after');
    await until(() => b.ydoc.getText('t').toString() === 'before and after', 10_000, 'update after the bombs');
    const c = provider('doc:bomb', token, zs, true);
    await until(() => c.p.synced && c.ydoc.getText('t').toString() === 'before and after', 15_000, 'late sync after the bombs');
    for (const x of [a, b, c]) { x.p.destroy(); x.ydoc.destroy(); }
  });

});
