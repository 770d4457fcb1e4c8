import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setImmediate as nextTick } from 'node:timers/promises';
import type { EventEmitter } from 'node:events';
import * as wsModule from 'ws';
import type { WebSocket } from 'ws';
import { jsonCodec, msgpackCodec } from '@aqueduct/protocol';
import { Flusher, serverFrame, WsTransport } from '../src/transports/ws.js';

/** A stand-in for a `ws` WebSocket: records every socket write; the transport only needs these members. */
function fakeSocket() {
  const writes: Buffer[] = [];
  const ws = {
    readyState: 1,
    bufferedAmount: 0,
    _socket: { write: (b: Buffer) => { writes.push(Buffer.from(b)); return true; } },
    close: (code: number) => { ws.closedWith = code; },
    closedWith: 0,
    terminate: () => undefined,
    once: () => undefined,
  };
  return { ws, writes, asWs: ws as unknown as WebSocket };
}

/** Decodes server frames with ws's own Receiver (client side), so the framing is checked by the library. */
function decode(bytes: Buffer): Array<{ data: string; binary: boolean }> {
  const out: Array<{ data: string; binary: boolean }> = [];
  const r = new Receiver({ isServer: false, maxPayload: 0 });
  r.on('message', (data: Buffer, binary: boolean) => out.push({ data: binary ? data.toString('hex') : data.toString('utf8'), binary }));
  r.write(bytes);
  return out;
}

/** ws's frame parser (exported by the package, not declared by @types/ws). */
const { Receiver } = wsModule as unknown as { Receiver: new (opts: { isServer: boolean; maxPayload: number }) => EventEmitter & { write(chunk: Buffer): void } };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ws write queue: shared frames, one write per connection per flush', () => {
  test('serverFrame builds valid text and binary frames for every length class, once per payload', () => {
    for (const len of [0, 1, 125, 126, 200, 65_535, 65_536, 300_000]) {
      const payload = Buffer.alloc(len, 'a');
      const text = serverFrame(payload, false);
      assert.equal(serverFrame(payload, false), text, 'the frame is cached per payload Buffer');
      assert.deepEqual(decode(text), [{ data: 'a'.repeat(len), binary: false }]);
      const bin = Buffer.from(payload);
      assert.deepEqual(decode(serverFrame(bin, true)), [{ data: bin.toString('hex'), binary: true }]);
    }
  });

  test('frames queued in one tick leave in one socket write, in order', async () => {
    const { writes, asWs } = fakeSocket();
    const t = new WsTransport(asWs, jsonCodec, new Flusher(0));
    for (let i = 0; i < 50; i++) t.write(Buffer.from(JSON.stringify({ i })));
    assert.equal(writes.length, 0, 'nothing is written synchronously');
    assert.ok(t.bufferedBytes() > 0, 'queued bytes count against the outbound limit');
    await nextTick();
    assert.equal(writes.length, 1);
    assert.deepEqual(decode(writes[0]).map((m) => JSON.parse(m.data).i), Array.from({ length: 50 }, (_, i) => i));
    assert.equal(t.bufferedBytes(), 0);
  });

  test('a window: a connection that just wrote waits for it; urgent frames (coalesce: false rooms) do not', async () => {
    const window = 100;
    const { writes, asWs } = fakeSocket();
    const t = new WsTransport(asWs, msgpackCodec, new Flusher(window));
    t.write(Buffer.from([1]));
    await nextTick();
    assert.equal(writes.length, 1, 'the first write after a quiet period leaves on the next tick');
    t.write(Buffer.from([2]));
    t.write(Buffer.from([3]));
    await nextTick();
    assert.equal(writes.length, 1, 'within the window: held back');
    await sleep(window * 2);
    assert.equal(writes.length, 2, 'the window timer wrote the rest');
    assert.deepEqual(decode(writes[1]).map((m) => m.data), ['02', '03']);

    t.write(Buffer.from([4]));
    t.write(Buffer.from([5]), true);
    await nextTick();
    assert.equal(writes.length, 3, 'an urgent frame takes the queue with it on the next tick');
    assert.deepEqual(decode(writes[2]).map((m) => m.data), ['04', '05']);
    await sleep(window * 2);
    assert.equal(writes.length, 3, 'nothing left for the window timer');
  });

  test('close flushes the queue before the close frame; nothing is written after', async () => {
    const { ws, writes, asWs } = fakeSocket();
    const t = new WsTransport(asWs, jsonCodec, new Flusher(0));
    t.write(Buffer.from('"last"'));
    t.close(4001, 'slow');
    assert.equal(writes.length, 1, 'queued frames written before the close');
    assert.equal(ws.closedWith, 4001);
    t.write(Buffer.from('"late"'));
    await nextTick();
    assert.equal(writes.length, 1);
  });
});
