import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { AqueductClient, type ResetInfo, type RoomMessage, type WebSocketConstructor } from '@aqueduct/client';
import { signToken, spawnServer, type ServerProcess } from '@aqueduct/testkit';
import { SseReader, consecutive, pollStart, pollUntil } from './cluster-helpers.js';

/**
 * The cluster behaviour of cluster.test.ts and cluster-outage.test.ts, for any scale-out engine:
 * three server processes on one engine (NATS JetStream, sharded Redis), real clients over /ws, SSE
 * and long polling.
 */
export interface ClusterEngine {
  name: string;
  /** Starts the engine; returns the environment that points a node at it. */
  start(): Promise<Record<string, string>>;
  /** The engine restarted with its data lost (every room of the tests' reset room, at least). */
  loseData(room: string): Promise<void>;
  /** Makes the engine unreachable for every node (without freeing ports), and back. */
  block(): void;
  unblock(): void;
  stop(): Promise<void>;
}

const SECRET = 'cluster-engine-secret-0123456789';
const GRANTS = { 'load:*': ['sub', 'pub', 'presence'], 'chat:*': ['sub', 'pub', 'presence'] };
const token = (sub: string) => signToken(SECRET, { sub, rooms: GRANTS });
const PRESENCE_HEARTBEAT_MS = 500;
const PRESENCE_TTL_MS = 2000;

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Retries a publish that may fail with UNAVAILABLE while nodes reconnect (as an SDK caller would). */
async function publishEventually(publish: () => Promise<unknown>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await publish();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((res) => setTimeout(res, 100));
    }
  }
}

export function runClusterEngineSuite(engine: ClusterEngine): void {
  let env: Record<string, string>;
  const nodes: ServerProcess[] = [];
  const clients: AqueductClient[] = [];
  let A: ServerProcess;
  let B: ServerProcess;
  let C: ServerProcess;

  const node = async (id: string) => {
    const s = await spawnServer({
      env: {
        ...env,
        AQUEDUCT_JWT_SECRET: SECRET,
        AQUEDUCT_NODE_ID: id,
        AQUEDUCT_SET: [
          'redis.commandTimeoutMs=2000', 'nats.requestTimeoutMs=2000', 'nats.pingIntervalMs=500',
          `redis.presenceHeartbeatMs=${PRESENCE_HEARTBEAT_MS}`, `redis.presenceTtlMs=${PRESENCE_TTL_MS}`,
          `nats.presenceHeartbeatMs=${PRESENCE_HEARTBEAT_MS}`, `nats.presenceTtlMs=${PRESENCE_TTL_MS}`,
          'namespaces.load.historySize=20000', 'namespaces.load.publishRatePerSec=100000', 'namespaces.load.publishBurst=100000',
        ].join(';'),
      },
    });
    nodes.push(s);
    return s;
  };
  const client = (url: string | string[], jwt: string) => {
    const c = new AqueductClient({ url, token: jwt, WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: { minDelayMs: 20, maxDelayMs: 300 } });
    clients.push(c);
    return c;
  };
  const ready = async (n: ServerProcess) => (await fetch(`${n.url}/readyz`)).status === 200;

  before(async () => {
    env = await engine.start();
    A = await node('node-a');
    B = await node('node-b');
    C = await node('node-c');
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
    await engine.stop();
  });

  describe(`cluster on ${engine.name}`, () => {
    test('every node is ready', async () => {
      for (const n of [A, B, C]) assert.equal((await fetch(`${n.url}/readyz`)).status, 200, n.logs());
    });

    test('a client on A receives, in order and exactly once, what clients on B and C publish (WS, SSE, long poll)', async () => {
      const room = `chat:x-${randomUUID().slice(0, 8)}`;
      const jwt = await token('reader');
      const r = client(A.url, jwt).room(room);
      const got: RoomMessage[] = [];
      r.on('message', (m) => got.push(m));
      await r.ready();
      const sse = new SseReader(`${A.url}/api/events?rooms=${encodeURIComponent(room)}`, jwt);
      after(() => sse.close());
      await sse.until(() => sse.events.some((e) => e.event === 'ready'), 'SSE ready');
      const cursor = await pollStart(A.url, jwt, [room]);
      const per = 100;
      const pb = client(B.url, await token('pub-b')).room(room);
      const pc = client(C.url, await token('pub-c')).room(room);
      await Promise.all([pb.ready(), pc.ready()]);
      const polled = pollUntil(A.url, jwt, [room], cursor, 2 * per);
      const send = async (rm: typeof pb, tag: string) => { for (let i = 0; i < per; i++) await rm.publish({ tag, i }); };
      await Promise.all([send(pb, 'b'), send(pc, 'c')]);
      const total = 2 * per;
      await until(() => got.length >= total, `${total} WS messages on A`);
      const check = (label: string, items: Array<{ offset?: number; data: unknown }>) => {
        assert.equal(items.length, total, `${label}: exactly ${total}`);
        assert.ok(consecutive(items.map((m) => m.offset ?? -1)), `${label}: offsets 1..${total} in order`);
        for (const tag of ['b', 'c']) {
          const seq = items.map((m) => m.data as { tag: string; i: number }).filter((d) => d.tag === tag).map((d) => d.i);
          assert.deepEqual(seq, Array.from({ length: per }, (_, i) => i), `${label}: ${tag}'s messages once each, in order`);
        }
      };
      check('WebSocket', got);
      await sse.until(() => sse.messages().length >= total, `${total} SSE messages on A`);
      check('SSE', sse.messages());
      check('long poll', await polled);
      await pb.publish({ tag: 'end', i: 0 });
      await until(() => got.length === total + 1, 'marker');
    });

    test('kill -9 of the client\'s node during 10,000 publications: each exactly once, in order', async () => {
      const D = await node('node-d');
      const room = `load:failover-${randomUUID().slice(0, 8)}`;
      const total = 10_000;
      const receiver = client([D.url, B.url], await token('receiver'));
      let onNode = '';
      receiver.on('connected', (info) => { onNode = info.node; });
      const r = receiver.room(room);
      const got: RoomMessage[] = [];
      const resets: ResetInfo[] = [];
      r.on('message', (m) => got.push(m));
      r.on('reset', (info) => resets.push(info));
      await r.ready();
      assert.equal(onNode, 'node-d');
      const publisher = client(C.url, await token('publisher')).room(room);
      await publisher.ready();
      let killed = false;
      for (let base = 0; base < total; base += 50) {
        await Promise.all(Array.from({ length: Math.min(50, total - base) }, (_, k) => publisher.publish({ n: base + k })));
        if (!killed && got.length >= 2000) {
          killed = true;
          await D.kill('SIGKILL');
        }
      }
      assert.ok(killed, 'node D was killed mid-stream');
      await until(() => got.length >= total, `${total} messages after failover (have ${got.length})`, 120_000);
      assert.equal(onNode, 'node-b');
      assert.equal(got.length, total);
      assert.ok(consecutive(got.map((m) => m.offset ?? -1)), 'offsets 1..10000, in order, no duplicates');
      const ns = got.map((m) => (m.data as { n: number }).n).sort((a, b) => a - b);
      assert.ok(ns.every((n, i) => n === i), 'every publication exactly once');
      assert.deepEqual(resets, [], 'recovered from history, no reset');
    });

    test('presence across nodes; a killed node\'s users leave every list and live clients are told, within the bound', async () => {
      const E = await node('node-e');
      const room = `chat:presence-${randomUUID().slice(0, 8)}`;
      const onA = client(A.url, await token('ann')).room(room);
      const onB = client(B.url, await token('bob')).room(room);
      const onE = client(E.url, await token('eve')).room(room);
      await Promise.all([onA.ready(), onB.ready(), onE.ready()]);
      const users = (ms: Array<{ user: string }>) => ms.map((m) => m.user).sort();
      await until(() => users(onA.members).length === 3 && users(onB.members).length === 3, 'three members seen on A and B');
      assert.deepEqual(users(onA.members), ['ann', 'bob', 'eve']);
      assert.deepEqual(users(await onB.presence()), ['ann', 'bob', 'eve'], 'listed on B');
      await E.kill('SIGKILL');
      // README: gone from lists within presenceTtlMs, announced within presenceTtlMs + presenceHeartbeatMs (slack for a busy machine).
      await until(async () => !users(await onA.presence()).includes('eve'), 'eve gone from the list on A', PRESENCE_TTL_MS + 10_000);
      await until(() => !users(onA.members).includes('eve') && !users(onB.members).includes('eve'), 'presence.leave for eve on A and B', PRESENCE_TTL_MS + PRESENCE_HEARTBEAT_MS + 10_000);
      assert.deepEqual(users(onA.members), ['ann', 'bob']);
      assert.deepEqual(users(onB.members), ['ann', 'bob']);
    });

    test('engine unreachable: publishes fail with UNAVAILABLE, /readyz 503, service resumes', async () => {
      const room = `chat:outage-${randomUUID().slice(0, 8)}`;
      const reader = client(A.url, await token('o-reader')).room(room);
      const got: RoomMessage[] = [];
      reader.on('message', (m) => got.push(m));
      const w = client(B.url, await token('o-writer')).room(room);
      await Promise.all([reader.ready(), w.ready()]);
      await w.publish({ n: 1 });
      await until(() => got.length === 1, 'first delivery');
      engine.block();
      try {
        await until(async () => !(await ready(A)) && !(await ready(B)), '/readyz 503 on A and B');
        const err = await w.publish({ n: 'during' }).then(() => undefined, (e: { code?: string }) => e);
        assert.equal(err?.code, 'UNAVAILABLE', JSON.stringify(err));
      } finally {
        engine.unblock();
      }
      await until(() => ready(A), '/readyz on A back to 200');
      await publishEventually(() => w.publish({ n: 2 }));
      await until(() => got.some((m) => (m.data as { n: unknown }).n === 2), 'delivery after the outage');
      assert.deepEqual(got.map((m) => (m.data as { n: unknown }).n), [1, 2], 'the refused publish was not stored; nothing lost or doubled');
    });

    test('engine restarted with its data lost: recovered:false / reset, no crash, service resumes', async () => {
      const room = `chat:reset-${randomUUID().slice(0, 8)}`;
      const r = client(A.url, await token('reader2')).room(room);
      const got: RoomMessage[] = [];
      const resets: ResetInfo[] = [];
      r.on('message', (m) => got.push(m));
      r.on('reset', (info) => resets.push(info));
      await r.ready();
      const pub = client(B.url, await token('writer2')).room(room);
      await pub.ready();
      for (let i = 0; i < 5; i++) await pub.publish({ before: i });
      await until(() => got.length === 5, 'five messages before the loss');
      const epochBefore = got[4].epoch;
      await engine.loseData(room);
      await until(() => resets.length > 0, 'a reset for the room (recovered: false)');
      assert.notEqual(resets[0].position.epoch, epochBefore);
      await publishEventually(() => pub.publish({ after: 1 }));
      await until(() => got.some((m) => (m.data as { after?: number }).after === 1), 'delivery after the loss');
      assert.notEqual(got[got.length - 1].epoch, epochBefore);
      for (const n of [A, B, C]) {
        assert.equal(await Promise.race([n.exited.then(() => 'exited'), Promise.resolve('running')]), 'running');
        await until(() => ready(n), `${n.url} ready again`, 30_000);
      }
    });
  });
}
