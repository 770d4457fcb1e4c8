import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { AqueductClient, type ResetInfo, type RoomMessage, type WebSocketConstructor } from '@aqueduct/client';
import { ChaosProxy, signToken, spawnServer, type ServerProcess } from '@aqueduct/testkit';
import { connectClient, nextEvent, rawSocket, startTestServer, until, type TestServer } from './helpers.js';

/**
 * Done-means 4: when history cannot cover a disconnection (too short, or lost in a restart of a
 * memory-broker server), the rejoin says `recovered: false` (the SDK's `reset` event); never a
 * silent gap. Recovery within history is exact.
 */
describe('room bus: recovery', () => {
  let ts: TestServer;
  let proxy: ChaosProxy;
  before(async () => {
    ts = await startTestServer({ namespaces: { short: { historySize: 5 } } });
    proxy = new ChaosProxy({ targetPort: ts.server.port });
    await proxy.listen();
  });
  after(async () => {
    await proxy.close();
    await ts.close();
  });

  test('protocol: join with `since` returns exactly the missed publications, or recovered: false', async () => {
    const s = await rawSocket(ts.wsUrl);
    await s.request({ t: 'auth', id: 1, token: await ts.token('r', { '*': ['sub', 'pub'] }) });
    const first = await s.request({ t: 'join', id: 2, room: 'short:proto' });
    const { epoch, offset } = first.result as { epoch: string; offset: number };
    for (let i = 0; i < 3; i++) await ts.server.publish('short:proto', { i });
    await s.request({ t: 'leave', id: 3, room: 'short:proto' });
    const within = (await s.request({ t: 'join', id: 4, room: 'short:proto', since: { epoch, offset: offset + 1 } })).result as {
      recovered: boolean; offset: number; publications: Array<{ offset: number; data: unknown }>;
    };
    assert.equal(within.recovered, true);
    assert.deepEqual(within.publications.map((p) => p.data), [{ i: 1 }, { i: 2 }]);
    assert.equal(within.offset, offset + 3);
    await s.request({ t: 'leave', id: 5, room: 'short:proto' });
    // Beyond the ring of 5.
    for (let i = 3; i < 12; i++) await ts.server.publish('short:proto', { i });
    const beyond = (await s.request({ t: 'join', id: 6, room: 'short:proto', since: { epoch, offset } })).result as { recovered: boolean; publications: unknown[]; offset: number };
    assert.equal(beyond.recovered, false);
    assert.deepEqual(beyond.publications, []);
    assert.equal(beyond.offset, offset + 12);
    await s.request({ t: 'leave', id: 7, room: 'short:proto' });
    // Another epoch, or a position ahead of the room, cannot be recovered either.
    const otherEpoch = (await s.request({ t: 'join', id: 8, room: 'short:proto', since: { epoch: 'not-this-one', offset: offset + 11 } })).result as { recovered: boolean };
    assert.equal(otherEpoch.recovered, false);
    await s.request({ t: 'leave', id: 9, room: 'short:proto' });
    const ahead = (await s.request({ t: 'join', id: 10, room: 'short:proto', since: { epoch, offset: offset + 500 } })).result as { recovered: boolean };
    assert.equal(ahead.recovered, false);
    // The history request follows the same rules.
    const hist = (await s.request({ t: 'history', id: 11, room: 'short:proto', since: { epoch, offset } })).result as { recovered: boolean };
    assert.equal(hist.recovered, false);
    const latest = (await s.request({ t: 'history', id: 12, room: 'short:proto', limit: 2 })).result as { publications: Array<{ data: unknown }> };
    assert.deepEqual(latest.publications.map((p) => p.data), [{ i: 10 }, { i: 11 }]);
    s.close();
  });

  test('SDK: history shorter than the disconnection -> reset (history-lost), then live again', async () => {
    const room = 'short:sdk';
    const client = connectClient(`http://127.0.0.1:${proxy.port}`, await ts.token('r', { 'short:*': ['sub'] }));
    const r = client.room(room);
    const got: RoomMessage[] = [];
    const resets: ResetInfo[] = [];
    r.on('message', (m) => got.push(m));
    r.on('reset', (x) => resets.push(x));
    await r.ready();
    await ts.server.publish(room, { n: 1 });
    await until(() => got.length === 1, 5000, 'first message');
    // Offline: the proxy stops listening and cuts the connection; reconnects are refused meanwhile.
    const port = proxy.port;
    const down = nextEvent(client, 'disconnected');
    await proxy.close();
    await down;
    for (let n = 2; n <= 12; n++) await ts.server.publish(room, { n });
    const rejoined = nextEvent<{ recovered: boolean; rejoin: boolean }>(r, 'joined', 15_000);
    await proxy.listen(port);
    const j = await rejoined;
    assert.equal(j.recovered, false);
    assert.equal(j.rejoin, true);
    assert.equal(resets.length, 1);
    assert.equal(resets[0].reason, 'history-lost');
    assert.equal(resets[0].position.offset, got[0].offset! + 11);
    assert.equal(got.length, 1, 'nothing from the lost range is delivered as if it were complete');
    await ts.server.publish(room, { n: 13 });
    await until(() => got.length === 2, 5000, 'live message after the reset');
    assert.equal(got[1].offset, resets[0].position.offset + 1);
    client.close();
  });

  test('SDK: a disconnection within history recovers every missed message exactly once', async () => {
    const room = 'chat:within';
    const client = connectClient(`http://127.0.0.1:${proxy.port}`, await ts.token('r', { 'chat:*': ['sub'] }));
    const r = client.room(room);
    const got: number[] = [];
    let resets = 0;
    r.on('message', (m) => got.push((m.data as { n: number }).n));
    r.on('reset', () => resets++);
    await r.ready();
    await ts.server.publish(room, { n: 0 });
    await until(() => got.length === 1, 5000, 'first');
    const port = proxy.port;
    const down = nextEvent(client, 'disconnected');
    await proxy.close();
    await down;
    for (let n = 1; n <= 50; n++) await ts.server.publish(room, { n });
    const rejoined = nextEvent<{ recovered: boolean }>(r, 'joined', 15_000);
    await proxy.listen(port);
    assert.equal((await rejoined).recovered, true);
    await ts.server.publish(room, { n: 51 });
    await until(() => got.length === 52, 5000, 'all 52');
    assert.deepEqual(got, Array.from({ length: 52 }, (_, n) => n));
    assert.equal(resets, 0);
    client.close();
  });
});

describe('room bus: recovery larger than one reply', () => {
  let ts: TestServer;
  before(async () => { ts = await startTestServer({ limits: { recoveryChunkBytes: 4096 } }); });
  after(async () => { await ts.close(); });

  test('protocol: the join reply carries a chunk with more: true and the room is not joined until the last chunk', async () => {
    const s = await rawSocket(ts.wsUrl);
    await s.request({ t: 'auth', id: 1, token: await ts.token('r', { '*': ['sub', 'pub'] }) });
    const { epoch, offset } = (await s.request({ t: 'join', id: 2, room: 'chat:big' })).result as { epoch: string; offset: number };
    await s.request({ t: 'leave', id: 3, room: 'chat:big' });
    for (let n = 0; n < 20; n++) await ts.server.publish('chat:big', { n, pad: 'p'.repeat(1000) });
    let since = { epoch, offset };
    const seen: number[] = [];
    let id = 10;
    for (let round = 0; ; round++) {
      assert.ok(round < 20, 'chunks end');
      const r = (await s.request({ t: 'join', id: ++id, room: 'chat:big', since })).result as {
        recovered: boolean; more?: boolean; offset: number; publications: Array<{ offset: number; data: { n: number } }>;
      };
      assert.equal(r.recovered, true);
      seen.push(...r.publications.map((p) => p.data.n));
      if (!r.more) break;
      assert.ok(r.publications.length >= 1 && r.publications.length <= 4, `chunk within 4096 bytes (${r.publications.length})`);
      assert.equal(r.offset, r.publications.at(-1)!.offset);
      since = { epoch, offset: r.offset };
      // Not joined after a chunk: joining again is allowed, live messages are not sent.
    }
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, n) => n));
    await ts.server.publish('chat:big', { n: 20 });
    await until(() => s.messages.some((m) => m.t === 'msg'), 5000, 'live after the last chunk');
    // The history request pages the same way.
    const h = (await s.request({ t: 'history', id: 99, room: 'chat:big', since: { epoch, offset } })).result as { publications: unknown[]; offset: number };
    assert.ok(h.publications.length < 21 && h.publications.length >= 1);
    s.close();
  });

  test('SDK: a long disconnection recovers through several chunks, exactly once', async () => {
    const c = connectClient(ts.url, await ts.token('r', { 'chat:*': ['sub'] }));
    const r = c.room('chat:sdk-big');
    const got: number[] = [];
    r.on('message', (m) => got.push((m.data as { n: number }).n));
    await r.ready();
    const down = nextEvent(c, 'disconnected');
    c.reconnectNow();
    await down;
    for (let n = 0; n < 30; n++) await ts.server.publish('chat:sdk-big', { n, pad: 'p'.repeat(1000) });
    await until(() => got.length === 30, 10_000, 'all 30 through chunks');
    await ts.server.publish('chat:sdk-big', { n: 30 });
    await until(() => got.length === 31, 5000, 'live');
    assert.deepEqual(got, Array.from({ length: 31 }, (_, n) => n));
    c.close();
  });
});

describe('room bus: restart of a memory-broker server process', () => {
  const SECRET = 'restart-secret-0123456789abcdef';
  const procs: ServerProcess[] = [];
  let client: AqueductClient | undefined;
  after(async () => {
    client?.close();
    for (const p of procs) await p.kill('SIGKILL');
  });

  test('a client rejoining after the restart gets recovered: false (epoch-changed), never a silent gap', { timeout: 180_000 }, async () => {
    const env = { AQUEDUCT_JWT_SECRET: SECRET, AQUEDUCT_LOG_LEVEL: 'info' };
    const first = await spawnServer({ env });
    procs.push(first);
    const token = await signToken(SECRET, { sub: 'r', rooms: { 'chat:*': ['sub', 'pub'] } });
    client = new AqueductClient({ url: first.url, token, WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: { minDelayMs: 50, maxDelayMs: 300 } });
    const room = client.room('chat:restart');
    const got: RoomMessage[] = [];
    const resets: ResetInfo[] = [];
    room.on('message', (m) => got.push(m));
    room.on('reset', (x) => resets.push(x));
    await room.ready();
    for (let n = 0; n < 3; n++) await room.publish({ n });
    await until(() => got.length === 3, 10_000, 'three messages');
    const before = room.lastPosition!;

    const down = nextEvent(client, 'disconnected');
    await first.kill('SIGKILL');
    await down;
    const second = await spawnServer({ env, args: ['--port', String(first.port)] });
    procs.push(second);
    assert.equal(second.port, first.port);
    const rejoined = await nextEvent<{ recovered: boolean; rejoin: boolean }>(room, 'joined', 60_000);
    assert.equal(rejoined.recovered, false);
    assert.equal(resets.length, 1);
    assert.equal(resets[0].reason, 'epoch-changed');
    assert.notEqual(resets[0].position.epoch, before.epoch);
    // The new epoch continues live.
    const ack = await room.publish({ n: 'after' });
    assert.equal(ack.epoch, resets[0].position.epoch);
    await until(() => got.length === 4, 10_000, 'message after restart');
    assert.equal(got[3].epoch, ack.epoch);
    assert.equal(got[3].offset, ack.offset);
  });
});
