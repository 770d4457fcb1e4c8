import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { AqueductClient, type RoomMessage, type WebSocketConstructor, type ResetInfo } from '@aqueduct/client';
import { signToken, spawnServer, startPostgres, startRedis, type PostgresHandle, type RedisHandle, type ServerProcess } from '@aqueduct/testkit';
import pg from 'pg';
import { SseReader, consecutive, pollFrom, pollStart, pollUntil } from './cluster-helpers.js';
import { connectProvider, snapshotOf, synced, type TestProvider } from './docs-helpers.js';

/*
 * Issue 5 "Done means": three (or more) server processes on their own redis-server and PostgreSQL,
 * driven over real sockets. Each test uses its own rooms, so they share the cluster.
 */

const SECRET = 'cluster-test-secret-0123456789';
const PRESENCE_HEARTBEAT_MS = 250;
const PRESENCE_TTL_MS = 1500;
const GRANTS = { 'load:*': ['sub', 'pub', 'presence'], 'chat:*': ['sub', 'pub', 'presence'], 'doc:*': ['sub', 'pub'] };

let redis: RedisHandle;
let db: PostgresHandle;
const nodes: ServerProcess[] = [];
const clients: AqueductClient[] = [];
const providers: TestProvider[] = [];

async function node(id: string): Promise<ServerProcess> {
  const s = await spawnServer({
    env: {
      REDIS_URL: redis.url,
      DATABASE_URL: db.url,
      AQUEDUCT_JWT_SECRET: SECRET,
      AQUEDUCT_NODE_ID: id,
      AQUEDUCT_SET: [
        `redis.presenceHeartbeatMs=${PRESENCE_HEARTBEAT_MS}`,
        `redis.presenceTtlMs=${PRESENCE_TTL_MS}`,
        // The kill -9 test recovers from history: keep all 10,000 publications.
        'namespaces.load.historySize=20000',
        'namespaces.load.publishRatePerSec=100000',
        'namespaces.load.publishBurst=100000',
      ].join(';'),
    },
  });
  nodes.push(s);
  return s;
}

const token = (sub: string) => signToken(SECRET, { sub, rooms: GRANTS });

function client(url: string | string[], jwt: string): AqueductClient {
  const c = new AqueductClient({
    url, token: jwt, WebSocket: WebSocket as unknown as WebSocketConstructor,
    reconnect: { minDelayMs: 20, maxDelayMs: 300 },
  });
  clients.push(c);
  return c;
}

/** Resolves when `check()` holds, re-checking on every call of the returned `poke` and every 50 ms. */
async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let A: ServerProcess;
let B: ServerProcess;
let C: ServerProcess;

before(async () => {
  [redis, db] = await Promise.all([startRedis(), startPostgres()]);
  // One at a time: the first runs the PostgreSQL migrations; the machine has two cores.
  A = await node('node-a');
  B = await node('node-b');
  C = await node('node-c');
});

after(async () => {
  for (const p of providers) p.destroy();
  for (const c of clients) c.close();
  await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
  await Promise.all([redis?.stop(), db?.stop()]);
});

describe('cluster', () => {
  test('every node reports ready with Redis and PostgreSQL', async () => {
    for (const n of [A, B, C]) {
      const res = await fetch(`${n.url}/readyz`);
      const body = await res.text();
      assert.equal(res.status, 200, `${n.url}/readyz: ${body}`);
    }
  });

  test('a client on A receives, in order and exactly once, what clients on B and C publish (WS, SSE, long poll)', async () => {
    const room = `chat:x-${randomUUID().slice(0, 8)}`;
    const jwt = await token('reader');
    const reader = client(A.url, jwt);
    const r = reader.room(room);
    const got: RoomMessage[] = [];
    r.on('message', (m) => got.push(m));
    await r.ready();
    const sse = new SseReader(`${A.url}/api/events?rooms=${encodeURIComponent(room)}`, jwt);
    after(() => sse.close());
    await sse.until(() => sse.events.some((e) => e.event === 'ready'), 'SSE ready');
    const cursor = await pollStart(A.url, jwt, [room]);

    const perPublisher = 100;
    const pb = client(B.url, await token('pub-b')).room(room);
    const pc = client(C.url, await token('pub-c')).room(room);
    await Promise.all([pb.ready(), pc.ready()]);
    const send = async (rm: typeof pb, tag: string) => {
      for (let i = 0; i < perPublisher; i++) await rm.publish({ tag, i });
    };
    const polled = pollUntil(A.url, jwt, [room], cursor, 2 * perPublisher);
    await Promise.all([send(pb, 'b'), send(pc, 'c')]);
    const total = 2 * perPublisher;

    await until(() => got.length >= total, `${total} WS messages on A`);
    const check = (label: string, items: Array<{ offset?: number; data: unknown }>) => {
      assert.equal(items.length, total, `${label}: exactly ${total}`);
      assert.ok(consecutive(items.map((m) => m.offset ?? -1)), `${label}: offsets 1..${total} in order`);
      for (const tag of ['b', 'c']) {
        const seq = items.map((m) => m.data as { tag: string; i: number }).filter((d) => d.tag === tag).map((d) => d.i);
        assert.deepEqual(seq, Array.from({ length: perPublisher }, (_, i) => i), `${label}: ${tag}'s messages once each, in publish order`);
      }
    };
    check('WebSocket', got);
    await sse.until(() => sse.messages().length >= total, `${total} SSE messages on A`);
    check('SSE', sse.messages());
    check('long poll', await polled);
    // Nothing more arrives late (exactly once): a marker published last is the next one.
    await pb.publish({ tag: 'end', i: 0 });
    await until(() => got.length === total + 1, 'marker');
    assert.equal(got.length, total + 1);
  });

  test('SSE event ids and long-poll cursors resume on another node, exactly once', async () => {
    const room = `chat:resume-${randomUUID().slice(0, 8)}`;
    const jwt = await token('streamer');
    const w = client(C.url, await token('w')).room(room);
    await w.ready();
    const first = new SseReader(`${A.url}/api/events?rooms=${encodeURIComponent(room)}`, jwt);
    after(() => first.close());
    await first.until(() => first.events.some((e) => e.event === 'ready'), 'SSE ready on A');
    const cursor0 = await pollStart(B.url, jwt, [room]);
    for (let i = 1; i <= 10; i++) await w.publish({ i });
    await first.until(() => first.messages().length === 10, 'ten SSE events on A');
    const lastId = first.events.filter((e) => e.id !== undefined).at(-1)?.id;
    assert.ok(lastId);
    first.close();
    const polled = await pollFrom(B.url, jwt, [room], cursor0, 10);
    for (let i = 11; i <= 20; i++) await w.publish({ i });
    // The stream and the poll continue on other nodes from their ids.
    const second = new SseReader(`${B.url}/api/events?rooms=${encodeURIComponent(room)}`, jwt, lastId);
    after(() => second.close());
    await second.until(() => second.messages().length >= 10, 'the ten missed SSE events on B');
    const rest = await pollUntil(C.url, jwt, [room], polled.cursor, 10);
    const ids = (xs: Array<{ data: unknown }>) => xs.map((m) => (m.data as { i: number }).i);
    assert.deepEqual(ids(first.messages()), Array.from({ length: 10 }, (_, k) => k + 1));
    assert.deepEqual(ids(second.messages()), Array.from({ length: 10 }, (_, k) => k + 11));
    assert.deepEqual(ids(polled.events), Array.from({ length: 10 }, (_, k) => k + 1));
    assert.deepEqual(ids(rest), Array.from({ length: 10 }, (_, k) => k + 11));
  });

  test('kill -9 of the client\'s node during 10,000 publications: it fails over and ends with each exactly once, in order', async () => {
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
    const publishing = (async () => {
      const window = 50;
      for (let base = 0; base < total; base += window) {
        await Promise.all(Array.from({ length: Math.min(window, total - base) }, (_, k) => publisher.publish({ n: base + k })));
        if (!killed && got.length >= 2000) {
          killed = true;
          await D.kill('SIGKILL');
        }
      }
    })();
    await publishing;
    assert.ok(killed, 'node D was killed mid-stream');
    await until(() => got.length >= total, `${total} messages after failover (have ${got.length})`, 120_000);
    assert.equal(onNode, 'node-b', 'the client moved to node B');
    assert.equal(got.length, total);
    assert.ok(consecutive(got.map((m) => m.offset ?? -1)), 'offsets 1..10000, in order, no duplicates');
    const ns = got.map((m) => (m.data as { n: number }).n).sort((a, b) => a - b);
    assert.ok(ns.every((n, i) => n === i), 'every publication exactly once');
    assert.deepEqual(resets, [], 'recovered from Redis history, no reset');
  });

  test('presence shows users on every node; a killed node\'s users vanish within the documented bound', async () => {
    const E = await node('node-e');
    const room = `chat:presence-${randomUUID().slice(0, 8)}`;
    const onA = client(A.url, await token('ann')).room(room);
    const onB = client(B.url, await token('bob')).room(room);
    const onE = client(E.url, await token('eve')).room(room);
    await Promise.all([onA.ready(), onB.ready(), onE.ready()]);
    const users = (ms: Array<{ user: string }>) => ms.map((m) => m.user).sort();
    await until(() => users(onA.members).length === 3 && users(onB.members).length === 3, 'three members seen on A and B');
    assert.deepEqual(users(onA.members), ['ann', 'bob', 'eve']);
    assert.deepEqual(users(onE.members), ['ann', 'bob', 'eve']);
    const listOn = async (n: ServerProcess) => {
      const res = await fetch(`${n.url}/api/rooms/${encodeURIComponent(room)}/presence`, { headers: { authorization: `Bearer ${await token('ops')}` } });
      assert.equal(res.status, 200);
      return users(((await res.json()) as { members: Array<{ user: string }> }).members);
    };
    assert.deepEqual(await listOn(C), ['ann', 'bob', 'eve'], 'a node with no client in the room sees them too');

    const t0 = Date.now();
    await E.kill('SIGKILL');
    let list = await listOn(C);
    while (list.includes('eve')) {
      assert.ok(Date.now() - t0 < PRESENCE_TTL_MS + 5000, 'eve vanished within the bound (plus scheduling slack)');
      await new Promise((res) => setTimeout(res, 50));
      list = await listOn(C);
    }
    const vanishedMs = Date.now() - t0;
    assert.deepEqual(list, ['ann', 'bob']);
    assert.ok(vanishedMs <= PRESENCE_TTL_MS + 5000, `vanished after ${vanishedMs} ms`);
    // Live clients are told too: a surviving node announces the dead node's members as left.
    await until(() => !users(onA.members).includes('eve') && !users(onB.members).includes('eve'), 'presence.leave for eve on A and B', PRESENCE_TTL_MS + PRESENCE_HEARTBEAT_MS + 5000);
    assert.deepEqual(users(onA.members), ['ann', 'bob']);
    assert.deepEqual(users(onB.members), ['ann', 'bob']);
  });

  test('Redis restarts with its data lost: clients get recovered:false, nothing crashes, service resumes', async () => {
    const room = `chat:reset-${randomUUID().slice(0, 8)}`;
    const reader = client(A.url, await token('reader2'));
    const r = reader.room(room);
    const got: RoomMessage[] = [];
    const resets: ResetInfo[] = [];
    const joins: boolean[] = [];
    r.on('message', (m) => got.push(m));
    r.on('reset', (info) => resets.push(info));
    r.on('joined', (j) => joins.push(j.recovered));
    await r.ready();
    const pub = client(B.url, await token('writer2')).room(room);
    await pub.ready();
    for (let i = 0; i < 5; i++) await pub.publish({ before: i });
    await until(() => got.length === 5, 'five messages before the restart');
    const epochBefore = got[4].epoch;

    await redis.restart();
    await until(() => resets.length > 0, 'a reset for the room (recovered: false)');
    assert.notEqual(resets[0].position.epoch, epochBefore);

    // Publishing may fail with UNAVAILABLE while nodes reconnect; the SDK's caller retries.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await pub.publish({ after: 1 });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    await until(() => got.some((m) => (m.data as { after?: number }).after === 1), 'delivery after the restart');
    const last = got[got.length - 1];
    assert.notEqual(last.epoch, epochBefore);
    for (const n of [A, B, C]) {
      assert.equal(await Promise.race([n.exited.then(() => 'exited'), Promise.resolve('running')]), 'running', `${n.url} is still running`);
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        ok = (await fetch(`${n.url}/readyz`)).status === 200;
        if (!ok) await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(ok, `${n.url} ready again`);
    }
  });

  // Last: it restarts every node.
  test('three y-websocket clients on three nodes converge; the document is stored once in PostgreSQL and survives restarting every node', async () => {
    const doc = `doc:cluster-${randomUUID().slice(0, 8)}`;
    const jwt = await token('editor');
    const yjsUrl = (n: ServerProcess) => `${n.url.replace('http', 'ws')}/yjs`;
    const editors = [A, B, C].map((n) => connectProvider(yjsUrl(n), doc, jwt));
    providers.push(...editors);
    await Promise.all(editors.map((e) => synced(e)));
    // Concurrent edits on every node: text inserts, map keys, array items.
    for (let round = 0; round < 20; round++) {
      editors.forEach((e, i) => {
        const tag = 'abc'[i];
        e.ydoc.getText('text').insert(round % 2 ? 0 : e.ydoc.getText('text').length, `${tag}${round}`);
        e.ydoc.getMap('map').set(`${tag}${round % 5}`, round);
        e.ydoc.getArray('array').push([`${tag}${round}`]);
      });
      await new Promise((r) => setImmediate(r));
    }
    const canonical = (e: TestProvider) => JSON.stringify(snapshotOf(e.ydoc), (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
    await until(() => new Set(editors.map(canonical)).size === 1 && editors[0].ydoc.getArray('array').length === 60, 'three editors converge');
    const expected = canonical(editors[0]);
    const textLen = 3 * Array.from({ length: 20 }, (_, r) => 1 + String(r).length).reduce((a, b) => a + b, 0);
    assert.equal(editors[0].ydoc.getText('text').length, textLen, 'every insert of every editor is there');

    const contentOn = async (n: ServerProcess) => {
      const res = await fetch(`${n.url}/api/docs/${encodeURIComponent(doc)}`, { headers: { authorization: `Bearer ${jwt}` } });
      assert.equal(res.status, 200);
      const { content } = (await res.json()) as { content: { text: string; map: unknown; array: unknown } };
      return JSON.stringify({ text: content.text, map: content.map, array: content.array }, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
    };
    // Every node's in-memory copy converged too.
    for (const n of [A, B, C]) {
      let got = '';
      for (let i = 0; i < 100 && (got = await contentOn(n)) !== expected; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(got, expected, `in-memory copy on ${n.url}`);
    }

    // Stored once: each accepted update is one audit row (no node re-stores another node's update),
    // in the one shared database.
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    after(() => sql.end());
    const { rows } = await sql.query<{ hash: string }>('SELECT hash FROM aq_doc_audit WHERE doc = $1', [doc]);
    assert.ok(rows.length > 0);
    assert.equal(new Set(rows.map((r) => r.hash)).size, rows.length, 'no update stored twice');
    const snaps = await sql.query<{ n: string }>('SELECT count(*) AS n FROM aq_doc_snapshots WHERE doc = $1', [doc]);
    assert.ok(Number(snaps.rows[0].n) <= 1);

    // Restart every node; a fresh client on a fresh process gets the same document.
    for (const e of editors) e.provider.disconnect();
    await Promise.all([A, B, C].map((n) => n.kill('SIGTERM')));
    A = await node('node-a');
    B = await node('node-b');
    C = await node('node-c');
    const fresh = connectProvider(yjsUrl(B), doc, await token('late'));
    providers.push(fresh);
    await synced(fresh);
    assert.equal(canonical(fresh), expected);
    assert.equal(await contentOn(C), expected);
  });
});
