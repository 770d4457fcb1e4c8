import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { AqueductClient, type DisconnectInfo, type RoomMessage, type WebSocketConstructor } from '@aqueduct/client';
import { codecs } from '@aqueduct/protocol';
import { signToken, spawnServer, type ServerProcess } from '@aqueduct/testkit';
import { connectClient, rawSocket, startTestServer, until, type TestServer } from './helpers.js';

/** Done-means 8: Prometheus metrics, health endpoints, and a clean drain on SIGTERM. */
describe('room bus: operations endpoints', () => {
  let ts: TestServer;
  before(async () => { ts = await startTestServer({ limits: { outboundQueueBytes: 2048 } }); });
  after(async () => { await ts.close(); });

  test('/healthz and /readyz', async () => {
    const h = await fetch(`${ts.url}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(((await h.json()) as { ok: boolean }).ok, true);
    const r = await fetch(`${ts.url}/readyz`);
    assert.equal(r.status, 200);
    const body = (await r.json()) as { ok: boolean; checks: Record<string, { ok: boolean }> };
    assert.equal(body.ok, true);
    assert.equal(body.checks.broker.ok, true);
    assert.equal(body.checks.presence.ok, true);
  });

  test('/metrics serves Prometheus text with the room bus metrics', async () => {
    // Traffic: two clients exchanging messages, a failed auth, a slow-consumer close, a volatile drop.
    const token = await ts.token('m', { 'chat:*': ['sub', 'pub'] });
    const a = connectClient(ts.url, token);
    const b = connectClient(ts.url, token, { codec: 'msgpack' });
    const got: RoomMessage[] = [];
    b.room('chat:m').on('message', (m) => got.push(m));
    await Promise.all([a.room('chat:m').ready(), b.room('chat:m').ready()]);
    for (let i = 0; i < 5; i++) await a.room('chat:m').publish({ i });
    await until(() => got.length === 5, 5000, 'deliveries');
    const bad = await rawSocket(ts.wsUrl);
    bad.send({ t: 'auth', id: 1, token: 'garbage' });
    await bad.closed;
    // A reply bigger than the 2 KiB outbound queue closes that connection as slow.
    const slow = await rawSocket(ts.wsUrl);
    await slow.request({ t: 'auth', id: 1, token });
    await slow.request({ t: 'join', id: 2, room: 'chat:slow' });
    await ts.server.publish('chat:slow', { big: 'x'.repeat(1500) }, { volatile: true }); // over the 50% volatile threshold: dropped
    await ts.server.publish('chat:slow', { big: 'x'.repeat(4000) });
    assert.equal(await slow.closed, 4001);

    const res = await fetch(`${ts.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    const value = (re: RegExp): number => {
      const m = re.exec(text);
      assert.ok(m, `metric ${re} present`);
      return Number(m[1]);
    };
    assert.ok(value(/^aqueduct_connections\{transport="ws"[^}]*\} (\d+)/m) >= 2);
    assert.ok(value(/^aqueduct_connections_total\{transport="ws"[^}]*\} (\d+)/m) >= 4);
    assert.ok(value(/^aqueduct_messages_in_total\{transport="ws"[^}]*\} (\d+)/m) >= 10);
    assert.ok(value(/^aqueduct_messages_out_total\{transport="ws"[^}]*\} (\d+)/m) >= 10);
    assert.ok(value(/^aqueduct_bytes_in_total\{transport="ws"[^}]*\} (\d+)/m) > 0);
    assert.ok(value(/^aqueduct_bytes_out_total\{transport="ws"[^}]*\} (\d+)/m) > 0);
    assert.ok(value(/^aqueduct_fanout_seconds_count\{[^}]*\} (\d+)/m) >= 5);
    assert.match(text, /^aqueduct_fanout_seconds_bucket\{le="0\.001"/m);
    assert.ok(value(/^aqueduct_dropped_messages_total\{transport="ws"[^}]*\} (\d+)/m) >= 1);
    assert.equal(value(/^aqueduct_slow_client_disconnects_total\{transport="ws"[^}]*\} (\d+)/m), 1);
    assert.equal(value(/^aqueduct_auth_failures_total\{code="TOKEN_INVALID"[^}]*\} (\d+)/m), 1);
    assert.ok(value(/^aqueduct_publications_total\{source="client"[^}]*\} (\d+)/m) >= 5);
    assert.match(text, /^# TYPE aqueduct_fanout_seconds histogram$/m);
    assert.doesNotMatch(text, /eyJ/, 'no token in the metrics');
    a.close();
    b.close();
  });
});

describe('room bus: SIGTERM drains cleanly', () => {
  const SECRET = 'sigterm-secret-0123456789abcdef';
  let proc: ServerProcess;
  const clients: AqueductClient[] = [];
  before(async () => {
    proc = await spawnServer({ env: { AQUEDUCT_JWT_SECRET: SECRET } });
  });
  after(async () => {
    for (const c of clients) c.close();
    await proc.kill('SIGKILL');
  });

  test('clients get close 4000 (reconnect), the process exits 0, and every acknowledged publish was delivered', { timeout: 120_000 }, async () => {
    const token = await signToken(SECRET, { sub: 'u', rooms: { 'chat:*': ['sub', 'pub'] } });
    const make = (codec: 'json' | 'msgpack') => {
      const c = new AqueductClient({ url: proc.url, token, codec: codecs[codec], WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
      clients.push(c);
      return c;
    };
    const subs = [make('json'), make('msgpack'), make('json')];
    const received: number[][] = subs.map(() => []);
    const firstClose: Array<DisconnectInfo | undefined> = subs.map(() => undefined);
    subs.forEach((c, i) => {
      c.room('chat:drain').on('message', (m) => received[i].push((m.data as { n: number }).n));
      c.once('disconnected', (d) => { firstClose[i] = d; });
    });
    await Promise.all(subs.map((c) => c.room('chat:drain').ready()));
    const publisher = make('msgpack');
    let publisherClose: DisconnectInfo | undefined;
    publisher.once('disconnected', (d) => { publisherClose = d; });
    await publisher.room('chat:drain').ready();

    // Publish continuously (bounded window) and send SIGTERM mid-stream.
    const acked: number[] = [];
    let n = 0;
    let stop = false;
    const pump = async () => {
      while (!stop) {
        const batch = Array.from({ length: 16 }, () => n++);
        await Promise.all(batch.map((k) => publisher.room('chat:drain').publish({ n: k }).then(() => { acked.push(k); }, () => undefined)));
      }
    };
    const pumping = Promise.race([pump(), new Promise((r) => publisher.once('disconnected', r))]);
    await until(() => acked.length >= 200, 30_000, 'some acknowledged publishes');
    const exited = proc.kill('SIGTERM');
    const exit = await exited;
    stop = true;
    await pumping;
    assert.deepEqual(exit, { code: 0, signal: null }, `exit status\n${proc.logs()}`);
    await until(() => firstClose.every(Boolean) && publisherClose !== undefined, 10_000, 'close events');
    for (const d of [...firstClose, publisherClose]) {
      assert.equal(d?.code, 4000, 'close 4000: server shutdown');
      assert.equal(d?.reconnect, true);
    }
    for (let i = 0; i < subs.length; i++) {
      const have = new Set(received[i]);
      const missing = acked.filter((k) => !have.has(k));
      assert.deepEqual(missing, [], `subscriber ${i} received every acknowledged publish`);
      assert.deepEqual(received[i], [...received[i]].sort((x, y) => x - y), 'in order');
    }
    assert.match(proc.logs(), /shutting down/);
  });
});
