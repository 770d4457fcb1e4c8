import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { jwtVerify } from 'jose';
import { backoffDelay, type Member, type RoomMessage } from '@aqueduct/client';
import { ChaosProxy, REPO_ROOT } from '@aqueduct/testkit';
import { createServer } from '../src/index.js';
import { TEST_SECRET, connectClient, nextEvent, rawSocket, startTestServer, until, type TestServer } from './helpers.js';

const CLI = join(REPO_ROOT, 'packages/server/src/cli.ts');

/** Runs the CLI from source; resolves with its exit code and output. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  delete childEnv.NODE_TEST_CONTEXT;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--conditions=source', '--import', 'tsx', CLI, ...args], { cwd: REPO_ROOT, env: childEnv, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('client backoff', () => {
  test('full jitter: uniform in [0, min(max, min * factor^attempt))', () => {
    assert.equal(backoffDelay(0, {}, () => 0), 0);
    assert.equal(backoffDelay(0, {}, () => 0.999), 249);
    assert.equal(backoffDelay(1, {}, () => 0.5), 250);
    assert.equal(backoffDelay(3, {}, () => 0.5), 1000);
    // Capped at maxDelayMs, also for huge attempt counts.
    assert.equal(backoffDelay(10, {}, () => 0.999), 9990);
    assert.equal(backoffDelay(10_000, {}, () => 0.999), 9990);
    assert.equal(backoffDelay(4, { minDelayMs: 100, maxDelayMs: 500, factor: 3 }, () => 0.5), 250);
    for (let attempt = 0; attempt < 50; attempt++) {
      const d = backoffDelay(attempt, { minDelayMs: 10, maxDelayMs: 1000 });
      assert.ok(d >= 0 && d < 1000 && Number.isInteger(d));
    }
  });
});

describe('room bus: heartbeats', () => {
  let ts: TestServer;
  let proxy: ChaosProxy;
  before(async () => {
    ts = await startTestServer({ limits: { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000 } });
    proxy = new ChaosProxy({ targetPort: ts.server.port });
    await proxy.listen();
  });
  after(async () => {
    await proxy.close();
    await ts.close();
  });

  test('the server pings; a connection that does not answer is closed with 4002', async () => {
    const s = await rawSocket(ts.wsUrl);
    const auth = await s.request({ t: 'auth', id: 1, token: await ts.token('hb', { 'chat:*': ['sub'] }) });
    assert.equal((auth.result as { pingIntervalMs: number }).pingIntervalMs, 200);
    assert.equal(await s.closed, 4002);
    assert.ok(s.messages.some((m) => m.t === 'ping'));
    assert.deepEqual(s.messages.at(-1), { t: 'disconnect', code: 4002, reason: 'heartbeat timeout', reconnect: true });
  });

  test('a connection that answers pings stays open', async () => {
    const s = await rawSocket(ts.wsUrl);
    let pongs = 0;
    s.ws.on('message', (data) => {
      if (JSON.parse(data.toString()).t === 'ping') { pongs++; s.send({ t: 'pong' }); }
    });
    await s.request({ t: 'auth', id: 1, token: await ts.token('hb', { 'chat:*': ['sub'] }) });
    await until(() => pongs >= 4, 10_000, 'four pings answered');
    assert.equal(s.closeCode, undefined);
    s.close();
  });

  test('the SDK answers pings, and reconnects when the server goes silent', async () => {
    const client = connectClient(`http://127.0.0.1:${proxy.port}`, await ts.token('hb', { 'chat:*': ['sub', 'pub'] }), { serverSilenceMs: 2000 });
    const room = client.room('chat:hb');
    await room.ready();
    // Several ping intervals pass with the SDK answering: still the same connection.
    const first = client.clientId;
    const framesIn = async () => (await ts.server.metrics.messagesIn.get()).values.reduce((a, v) => a + v.value, 0);
    const base = await framesIn();
    // With no other traffic, every frame the server receives now is a pong.
    for (let i = 0; (await framesIn()) < base + 3; i++) {
      assert.ok(i < 500, 'the SDK answers pings');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(client.clientId, first);
    assert.equal(client.state, 'connected');
    // The server goes silent (the proxy holds every byte): the SDK gives up on it and reconnects.
    proxy.setLatency(600_000);
    const down = await nextEvent<{ code: number; reconnect: boolean }>(client, 'disconnected', 10_000);
    assert.equal(down.code, 4002);
    assert.equal(down.reconnect, true);
    proxy.setLatency(0);
    proxy.cutAll(); // drop the stalled pair; the SDK's new connection goes through normally
    await nextEvent(room, 'joined', 10_000);
    assert.notEqual(client.clientId, first);
    await room.publish({ back: true });
    client.close();
  });
});

describe('room bus: rooms, namespaces, presence', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      limits: { maxRoomsPerConnection: 2 },
      namespaces: { news: { clientPublish: false }, quiet: { presence: false } },
    });
  });
  after(async () => { await ts.close(); });

  test('namespace clientPublish: false -> PUBLISH_DISABLED; the server may still publish', async () => {
    const c = connectClient(ts.url, await ts.token('n', { 'news:*': ['sub', 'pub'] }));
    const room = c.room('news:front');
    const got: RoomMessage[] = [];
    room.on('message', (m) => got.push(m));
    await room.ready();
    await assert.rejects(room.publish({ x: 1 }), { code: 'PUBLISH_DISABLED' });
    await ts.server.publish('news:front', { headline: 'ok' });
    await until(() => got.length === 1, 5000, 'server publish');
    c.close();
  });

  test('namespace presence: false -> no members, no events, PRESENCE_DISABLED', async () => {
    const s = await rawSocket(ts.wsUrl);
    await s.request({ t: 'auth', id: 1, token: await ts.token('q', { 'quiet:*': ['sub', 'presence'] }) });
    const j = (await s.request({ t: 'join', id: 2, room: 'quiet:room' })).result as Record<string, unknown>;
    assert.equal(j.members, undefined);
    const p = await s.request({ t: 'presence', id: 3, room: 'quiet:room' });
    assert.equal((p.error as { code: string }).code, 'PRESENCE_DISABLED');
    const other = connectClient(ts.url, await ts.token('q2', { 'quiet:*': ['sub', 'presence'] }));
    await other.room('quiet:room').ready();
    assert.deepEqual(await other.room('quiet:room').history({ limit: 1 }).then((h) => h.publications), []);
    assert.equal(s.messages.filter((m) => String(m.t).startsWith('presence')).length, 0);
    other.close();
    s.close();
  });

  test('at most maxRoomsPerConnection rooms; leave frees a slot; leave twice -> NOT_JOINED', async () => {
    const s = await rawSocket(ts.wsUrl);
    await s.request({ t: 'auth', id: 1, token: await ts.token('r', { 'chat:*': ['sub', 'pub'] }) });
    assert.ok((await s.request({ t: 'join', id: 2, room: 'chat:a' })).result);
    assert.ok((await s.request({ t: 'join', id: 3, room: 'chat:b' })).result);
    const third = await s.request({ t: 'join', id: 4, room: 'chat:c' });
    assert.equal((third.error as { code: string }).code, 'TOO_MANY_ROOMS');
    const again = await s.request({ t: 'join', id: 5, room: 'chat:a' });
    assert.equal((again.error as { code: string }).code, 'ALREADY_JOINED');
    assert.deepEqual((await s.request({ t: 'leave', id: 6, room: 'chat:a' })).result, {});
    const twice = await s.request({ t: 'leave', id: 7, room: 'chat:a' });
    assert.equal((twice.error as { code: string }).code, 'NOT_JOINED');
    assert.ok((await s.request({ t: 'join', id: 8, room: 'chat:c' })).result);
    // After leaving, nothing more arrives from that room.
    await ts.server.publish('chat:a', { gone: true });
    await ts.server.publish('chat:c', { here: true });
    await until(() => s.messages.some((m) => m.t === 'msg'), 5000, 'delivery');
    assert.deepEqual(s.messages.filter((m) => m.t === 'msg').map((m) => m.room), ['chat:c']);
    s.close();
  });

  test('presence: member list on join, join/leave events with info, only with the presence permission', async () => {
    const a = connectClient(ts.url, await ts.token('alice', { 'chat:*': ['sub', 'presence'] }, { info: { name: 'Alice', color: '#f00' } }));
    const ra = a.room('chat:presence');
    await ra.ready();
    const joins: Member[] = [];
    const leaves: Member[] = [];
    ra.on('presence.join', (m) => joins.push(m));
    ra.on('presence.leave', (m) => leaves.push(m));
    const b = connectClient(ts.url, await ts.token('bob', { 'chat:*': ['sub', 'presence'] }, { info: { name: 'Bob' } }));
    const rb = b.room('chat:presence');
    const initial = nextEvent<Member[]>(rb, 'presence');
    await rb.ready();
    assert.deepEqual((await initial).map((m) => m.user).sort(), ['alice', 'bob']);
    await until(() => joins.length === 1, 5000, 'presence.join');
    assert.deepEqual(joins[0], { client: b.clientId, user: 'bob', info: { name: 'Bob' } });
    assert.deepEqual(ra.members.map((m) => m.user).sort(), ['alice', 'bob']);
    assert.deepEqual((await ra.presence()).find((m) => m.user === 'alice')?.info, { name: 'Alice', color: '#f00' });
    // A subscriber without `presence` sees no member list and may not ask for one.
    const c = connectClient(ts.url, await ts.token('carol', { 'chat:*': ['sub'] }));
    const rc = c.room('chat:presence');
    await rc.ready();
    assert.deepEqual(rc.members, []);
    await assert.rejects(rc.presence(), { code: 'PERMISSION_DENIED' });
    await until(() => joins.length === 2, 5000, 'carol is a member too');
    await rb.leave();
    await until(() => leaves.some((m) => m.user === 'bob'), 5000, 'presence.leave on leave');
    c.close(); // a closed connection leaves as well
    await until(() => leaves.some((m) => m.user === 'carol'), 5000, 'presence.leave on disconnect');
    assert.deepEqual(ra.members.map((m) => m.user), ['alice']);
    a.close();
    b.close();
  });
});

describe('SDK: temporary join refusals', () => {
  let ts: TestServer;
  before(async () => { ts = await startTestServer({ limits: { requestRatePerSec: 2, requestBurst: 1 } }); });
  after(async () => { await ts.close(); });

  test('a join refused with RATE_LIMITED is retried with backoff until it succeeds', async () => {
    const c = connectClient(ts.url, await ts.token('r', { 'chat:*': ['sub'] }));
    const errors: string[] = [];
    const rooms = ['chat:1', 'chat:2', 'chat:3'].map((name) => {
      const r = c.room(name);
      r.on('error', (e) => errors.push(e.code));
      return r;
    });
    await Promise.all(rooms.map((r) => r.ready()));
    assert.ok(errors.length >= 1 && errors.every((code) => code === 'RATE_LIMITED'), `errors: ${errors.join(',')}`);
    assert.ok(rooms.every((r) => r.isJoined));
    c.close();
  });
});

describe('CLI and embedding', () => {
  const dirs: string[] = [];
  after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  test('`aqueduct token` prints a token signed with the generated dev secret', { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-cli-'));
    dirs.push(dataDir);
    const out = await cli(['token', '--sub', 'alice', '--room', 'chat:*=sub,pub,presence', '--room', 'doc:1=sub', '--ttl', '1h', '--info', '{"name":"Alice"}', '--data-dir', dataDir], { AQUEDUCT_JWT_SECRET: '' });
    assert.equal(out.code, 0, out.stderr);
    const token = out.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const secret = readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim();
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(secret));
    assert.equal(protectedHeader.alg, 'HS256');
    assert.equal(payload.sub, 'alice');
    assert.deepEqual(payload.rooms, { 'chat:*': ['sub', 'pub', 'presence'], 'doc:1': ['sub'] });
    assert.deepEqual(payload.info, { name: 'Alice' });
    assert.ok(Math.abs((payload.exp as number) - (Date.now() / 1000 + 3600)) < 120);
    // The same secret is used again (not regenerated), and bad input exits 2 with a message.
    const again = await cli(['token', '--sub', 'bob', '--room', 'chat:*=sub', '--data-dir', dataDir], { AQUEDUCT_JWT_SECRET: '' });
    await jwtVerify(again.stdout.trim(), new TextEncoder().encode(secret));
    const bad = await cli(['token', '--sub', 'x', '--room', 'chat:*=sub,admin', '--data-dir', dataDir]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unknown permission "admin"/);
    const noSub = await cli(['token', '--room', 'chat:*=sub', '--data-dir', dataDir]);
    assert.equal(noSub.code, 2);
    assert.match(noSub.stderr, /--sub is required/);
  });

  test('invalid configuration: the CLI exits 2 naming the bad key', { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-cli-'));
    dirs.push(dataDir);
    const badValue = await cli(['serve', '--port', '0', '--data-dir', dataDir, '--set', 'limits.maxMessageBytes=tiny']);
    assert.equal(badValue.code, 2);
    assert.match(badValue.stderr, /invalid config key "limits\.maxMessageBytes"/);
    const unknown = await cli(['serve', '--port', '0', '--data-dir', dataDir, '--set', 'limits.maxBogusBytes=1']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /limits\.maxBogusBytes/);
    const env = await cli(['serve', '--data-dir', dataDir], { PORT: 'eighty' });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /invalid config key "port"/);
    const ns = await cli(['serve', '--port', '0', '--data-dir', dataDir], { AQUEDUCT_SET: 'namespaces.chat.historySize=-1' });
    assert.equal(ns.code, 2);
    assert.match(ns.stderr, /namespaces\.chat\.historySize/);
  });

  test('createServer({ server }) attaches to an existing http.Server', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-embed-'));
    dirs.push(dataDir);
    const http = createHttpServer((req, res) => {
      if (req.url === '/hello') { res.end('app route'); return; }
      void aq.handle(req, res).then((handled) => {
        if (!handled) { res.statusCode = 404; res.end('app 404'); }
      });
    });
    const aq = await createServer({ server: http, config: { dataDir, logLevel: 'silent', jwt: { secret: TEST_SECRET } } });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      assert.equal(await (await fetch(`${base}/hello`)).text(), 'app route');
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      assert.equal(await (await fetch(`${base}/nope`)).text(), 'app 404');
      const token = await aq.auth.sign({ sub: 'e', rooms: { 'chat:*': ['sub', 'pub'] }, ttlSec: 600 });
      const c = connectClient(base, token);
      const got: RoomMessage[] = [];
      c.room('chat:embed').on('message', (m) => got.push(m));
      await c.room('chat:embed').ready();
      await aq.publish('chat:embed', { from: 'app' });
      await c.room('chat:embed').publish({ from: 'client' });
      await until(() => got.length === 2, 5000, 'both');
      assert.deepEqual(got.map((m) => m.data), [{ from: 'app' }, { from: 'client' }]);
      c.close();
    } finally {
      await aq.close();
      await new Promise<void>((r) => http.close(() => r()));
    }
  });
});
