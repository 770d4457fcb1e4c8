import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AqueductClient } from '@aqueduct/client';
import { ChaosProxy } from '@aqueduct/testkit';
import { connectClient, startTestServer, until, type TestServer } from './helpers.js';

/**
 * Done-means 3: through a TCP proxy that cuts connections at random moments and adds latency, a
 * publisher sends 10,000 messages while 50 subscribers reconnect repeatedly. Every subscriber
 * receives every message exactly once, in order; every publish promise resolves exactly once.
 */
const MESSAGES = Number(process.env.CHAOS_MESSAGES ?? 10_000);
const SUBSCRIBERS = Number(process.env.CHAOS_SUBSCRIBERS ?? 50);
/** Publishes in flight at once: the publisher pipelines, but stays CPU-lean on a shared machine. */
const WINDOW = 64;
const ROOM = 'chaos:stream';

describe('room bus under chaos', () => {
  let ts: TestServer;
  let proxy: ChaosProxy;
  const clients: AqueductClient[] = [];

  before(async () => {
    ts = await startTestServer({
      // History covers the whole run, so every reconnect must recover (`reset` would be a failure).
      namespaces: { chaos: { historySize: 20_000, historyTtlMs: 600_000, publishRatePerSec: 100_000, publishBurst: 100_000 } },
      limits: { maxIdempotencyKeysPerRoom: 20_000, outboundQueueBytes: 8 * 1024 * 1024 },
    });
    proxy = new ChaosProxy({ targetPort: ts.server.port, latencyMs: 2 });
    await proxy.listen();
  });

  after(async () => {
    for (const c of clients) c.close();
    await proxy.close();
    await ts.close();
  });

  test(`${SUBSCRIBERS} subscribers, ${MESSAGES} messages, random cuts and latency`, { timeout: 600_000 }, async (t) => {
    const url = `http://127.0.0.1:${proxy.port}`;
    const received: number[][] = [];
    const offsets: number[][] = [];
    const resets: number[] = new Array(SUBSCRIBERS).fill(0);
    const reconnects: number[] = new Array(SUBSCRIBERS).fill(0);
    const traces: string[][] = [];
    const token = await ts.token('sub', { 'chaos:*': ['sub'] }, { ttlSec: 3600 });
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const c = connectClient(url, token, { codec: i % 2 === 0 ? 'json' : 'msgpack', reconnect: { minDelayMs: 10, maxDelayMs: 200 } });
      clients.push(c);
      received.push([]);
      offsets.push([]);
      c.on('disconnected', () => reconnects[i]++);
      const room = c.room(ROOM);
      room.on('message', (m) => {
        received[i].push((m.data as { n: number }).n);
        offsets[i].push(m.offset ?? -1);
      });
      room.on('reset', () => resets[i]++);
      if (process.env.CHAOS_TRACE) {
        const trace: string[] = (traces[i] = []);
        c.on('disconnected', (d) => trace.push(`disc ${d.code} at n=${received[i].at(-1)}`));
        c.on('connected', () => trace.push(`conn at n=${received[i].at(-1)}`));
        room.on('joined', (j) => trace.push(`joined rec=${j.recovered} pos=${j.position.offset} at n=${received[i].at(-1)}`));
      }
    }
    await Promise.all(clients.map((c) => c.room(ROOM).ready()));

    const publisher = connectClient(url, await ts.token('pub', { 'chaos:*': ['pub'] }), {
      reconnect: { minDelayMs: 10, maxDelayMs: 200 },
      maxQueuedPublishes: WINDOW,
    });
    clients.push(publisher);
    let publisherReconnects = 0;
    publisher.on('disconnected', () => publisherReconnects++);

    proxy.startRandomCuts({ minMs: 5, maxMs: 40 });
    // Latency changes while data is in flight (order within a connection is preserved by the proxy).
    let flip = 0;
    const latencyTimer = setInterval(() => proxy.setLatency([0, 3, 15, 1, 30][flip++ % 5]), 250);

    const acks: Array<{ offset?: number; duplicate?: boolean } | undefined> = new Array(MESSAGES);
    const settled = new Array<number>(MESSAGES).fill(0);
    const failures: unknown[] = [];
    let next = 0;
    let inFlight = 0;
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (inFlight < WINDOW && next < MESSAGES) {
          const n = next++;
          inFlight++;
          // Besides the random cuts, everyone is cut at a few fixed points of the stream.
          if (n % 2500 === 1250) proxy.cutAll();
          publisher.room(ROOM).publish({ n }).then(
            (ack) => { acks[n] = ack; settled[n]++; },
            (err: unknown) => { failures.push(err); settled[n]++; },
          ).finally(() => {
            inFlight--;
            if (next === MESSAGES && inFlight === 0) resolve();
            else pump();
          });
        }
      };
      pump();
    });
    const publishMs = Date.now() - started;
    proxy.stopRandomCuts();
    clearInterval(latencyTimer);
    proxy.setLatency(0);

    assert.deepEqual(failures, [], 'no publish failed');
    assert.ok(settled.every((s) => s === 1), 'every publish promise settled exactly once');
    const first = acks[0]?.offset ?? 0;
    for (let n = 0; n < MESSAGES; n++) {
      assert.equal(acks[n]?.offset, first + n, `ack of message ${n} carries its own offset`);
    }

    try {
      await until(() => received.every((r) => r.length >= MESSAGES), Number(process.env.CHAOS_WAIT_MS ?? 120_000), 'every subscriber to receive every message');
    } catch (err) {
      const gaps = (r: number[]) => {
        const out: string[] = [];
        for (let k = 1; k < r.length; k++) if (r[k] !== r[k - 1] + 1) out.push(`${r[k - 1]}->${r[k]}`);
        return out.slice(0, 5).join(',');
      };
      const lagging = received.map((r, i) => ({ i, gaps: gaps(r), got: r.length, state: clients[i].state, joined: clients[i].room(ROOM).isJoined, last: offsets[i].at(-1), pos: clients[i].room(ROOM).lastPosition, resets: resets[i] }))
        .filter((x) => x.got < MESSAGES);
      if (process.env.CHAOS_TRACE) for (const l of lagging.slice(0, 3)) console.log(l.i, l.gaps, traces[l.i].join(' | '));
      throw new Error(`${(err as Error).message}: ${JSON.stringify(lagging.slice(0, 10))} (first offset ${first})`);
    }
    const expected = Array.from({ length: MESSAGES }, (_, n) => n);
    for (let i = 0; i < SUBSCRIBERS; i++) {
      assert.equal(resets[i], 0, `subscriber ${i} was never reset`);
      assert.equal(received[i].length, MESSAGES, `subscriber ${i} got no duplicates`);
      assert.deepEqual(received[i], expected, `subscriber ${i} got every message, in order`);
      assert.equal(offsets[i][0], first);
      assert.equal(offsets[i][MESSAGES - 1], first + MESSAGES - 1);
    }
    // Presence has exactly the live connections: none left behind by connections cut mid-join.
    const live = new Set(clients.slice(0, SUBSCRIBERS).map((c) => c.clientId));
    const members = await ts.server.hub.members(ROOM);
    assert.deepEqual(members.map((m) => m.client).filter((id) => !live.has(id)), [], 'no ghost presence members');
    assert.equal(members.length, SUBSCRIBERS);
    const total = reconnects.reduce((a, b) => a + b, 0);
    const duplicates = acks.filter((a) => a?.duplicate).length;
    t.diagnostic(`cuts ${proxy.cuts}, subscriber reconnects ${total} (min ${Math.min(...reconnects)}, max ${Math.max(...reconnects)}), publisher reconnects ${publisherReconnects}, de-duplicated resends ${duplicates}, publish phase ${publishMs} ms`);
    assert.ok(Math.min(...reconnects) >= Math.floor(MESSAGES / 2500), 'every subscriber reconnected repeatedly');
    assert.ok(publisherReconnects >= Math.floor(MESSAGES / 2500), 'the publisher reconnected repeatedly');
  });
});
