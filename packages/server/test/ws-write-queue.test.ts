import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setImmediate as nextTick } from 'node:timers/promises';
import type { EventEmitter } from 'node:events';
import * as wsModule from 'ws';
import type { WebSocket } from 'ws';
import { jsonCodec, msgpackCodec } from '@aqueduct/protocol';
import { Flusher, serverFrame, WsTransport } from '../src/ws/ws.js';

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

  test('a configured window: writes wait for the connection\'s slot; urgent frames (coalesce: false rooms) do not', async () => {
    const window = 100;
    const { writes, asWs } = fakeSocket();
    const t = new WsTransport(asWs, msgpackCodec, new Flusher(window));
    t.write(Buffer.from([1]));
    t.write(Buffer.from([2]));
    await sleep(window * 1.5);
    assert.equal(writes.length, 1, 'both frames left in one write, at the slot');
    assert.deepEqual(decode(writes[0]).map((m) => m.data), ['01', '02']);
    t.write(Buffer.from([3]));
    await nextTick();
    assert.equal(writes.length, 1, 'held back until the next slot');
    await sleep(window * 1.5);
    assert.equal(writes.length, 2, 'the slot wrote the rest');

    t.write(Buffer.from([4]));
    t.write(Buffer.from([5]), true);
    await nextTick();
    assert.equal(writes.length, 3, 'an urgent frame takes the queue with it on the next tick');
    assert.deepEqual(decode(writes[2]).map((m) => m.data), ['04', '05']);
    await sleep(window * 1.5);
    assert.equal(writes.length, 3, 'nothing left for the slot');
  });

  test('adaptive window: opens when writing every frame alone would fill the loop, staggers targets, closes when load stops', async () => {
    const flusher = new Flusher({ windowMs: 0, writeShare: 0.5, maxGapMs: 20 });
    /** A target whose every write costs `costMs` of busy CPU (a slow socket write). */
    const costMs = 0.25;
    const targets = Array.from({ length: 40 }, () => {
      const t = {
        queue: [] as number[],
        received: [] as number[],
        writeTimes: [] as number[],
        flushPhase: flusher.nextPhase(),
        flushSample: -1,
        flush(): number {
          const n = t.queue.length;
          if (n === 0) return 0;
          const until = performance.now() + costMs;
          while (performance.now() < until); // the write's cost
          t.received.push(...t.queue);
          t.writeTimes.push(performance.now());
          t.queue = [];
          return n;
        },
      };
      return t;
    });
    assert.equal(new Set(targets.map((t) => t.flushPhase)).size, 40, 'consecutive targets get distinct phases');
    // Every 2 ms a frame for every target: 500 frames/s each, 40 targets x 0.25 ms = 10 ms per
    // round of writes: unbatched that is 5x the wall time; at most 0.5 is allowed.
    let seq = 0;
    const frames = 150;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        seq++;
        for (const t of targets) {
          if (t.queue.length === 0) flusher.add(t);
          t.queue.push(seq);
        }
        if (seq === frames) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
    });
    const openWindow = flusher.windowMs();
    assert.ok(openWindow > 0, `the window opened under load (window ${openWindow} ms)`);
    assert.ok(openWindow <= 20, 'capped at maxGapMs');
    await sleep(60);
    for (const t of targets) {
      assert.deepEqual(t.received, Array.from({ length: frames }, (_, i) => i + 1), 'every frame, once, in order');
    }
    const writes = targets.reduce((n, t) => n + t.writeTimes.length, 0);
    assert.ok(writes < (frames * targets.length) / 3, `frames coalesced: ${writes} writes for ${frames * targets.length} frames`);
    // Staggered: the writes of one window are spread out, not one burst per window.
    const lastWindow = targets.map((t) => t.writeTimes[t.writeTimes.length - 2]);
    const spread = Math.max(...lastWindow) - Math.min(...lastWindow);
    assert.ok(spread > openWindow / 4, `writes spread over the window (${spread.toFixed(1)} ms of ${openWindow.toFixed(1)})`);
    // Load gone: the next frame after a quiet period (more than two sample periods) goes out on the
    // next tick again.
    await sleep(250);
    const t0 = targets[0];
    t0.queue.push(999);
    flusher.add(t0);
    assert.equal(flusher.windowMs(), 0, 'the window closed once the load stopped');
    await nextTick();
    assert.equal(t0.received.at(-1), 999);
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
