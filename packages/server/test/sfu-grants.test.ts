import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AqueductError, type AqueductClient } from '@aqueduct/client';
import { freePort, janusRooms, janusSessions, signToken, startJanus, waitForNoJanusLeftovers, type JanusHandle } from '@aqueduct/testkit';
import { connectClient, rawSocket, startTestServer, TEST_SECRET, type TestServer } from './helpers.js';

/** Issue 13, Done-means 2 (grants, tokens) and the SFU's failure answers (Janus down, not configured, bad input). */
const ROOM = 'live:grants';
const API_KEY = 'sfu-test-api-key-0123456789';
const OFFER = { type: 'offer', sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof AqueductError) return err.code;
    throw err;
  }
}

async function janusRttCount(ts: TestServer, request: string): Promise<number> {
  const text = await (await fetch(`${ts.url}/metrics`)).text();
  const m = new RegExp(`^aqueduct_sfu_janus_rtt_seconds_count\\{[^}]*request="${request}"[^}]*\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('SFU grants and tokens', () => {
  let janus: JanusHandle;
  let ts: TestServer;
  const clients: AqueductClient[] = [];
  const connect = async (sub: string, perms: string[]) => {
    const c = connectClient(ts.url, await ts.token(sub, { [`${ROOM.split(':')[0]}:*`]: perms }));
    clients.push(c);
    await new Promise<void>((resolve) => { if (c.ready) resolve(); else c.once('connected', () => resolve()); });
    return c;
  };
  const media = (c: AqueductClient, body: Record<string, unknown>) => c.request('media', { room: ROOM, ...body });

  before(async () => {
    janus = await startJanus();
    ts = await startTestServer({ apiKey: API_KEY, sfu: { janusUrl: janus.url, apiSecret: janus.apiSecret, adminUrl: janus.adminUrl, adminSecret: janus.adminSecret } });
    // Ready once the server's Janus connection passed its probe.
    const deadline = Date.now() + 10_000;
    while ((await fetch(`${ts.url}/readyz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error('server never ready');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(async () => {
    for (const c of clients) c.close();
    await ts?.close();
    await janus?.stop();
  });

  test('without a media grant: join, publish, subscribe and info answer PERMISSION_DENIED, and nothing reaches Janus', async () => {
    const c = await connect('nomedia', ['sub', 'pub', 'presence', 'signal']);
    const creates = await janusRttCount(ts, 'create'); // the connection's own probe
    assert.equal(await code(media(c, { op: 'join' })), 'PERMISSION_DENIED');
    assert.equal(await code(media(c, { op: 'publish', jsep: OFFER })), 'PERMISSION_DENIED');
    assert.equal(await code(media(c, { op: 'subscribe', feeds: [1] })), 'PERMISSION_DENIED');
    assert.equal(await code(media(c, { op: 'start', jsep: ANSWER })), 'PERMISSION_DENIED');
    assert.equal(await code(media(c, { op: 'info' })), 'PERMISSION_DENIED');
    assert.deepEqual(await janusSessions(janus), []);
    assert.equal(await janusRttCount(ts, 'create'), creates);
  });

  test('media:subscribe may watch but not publish; media:publish may send but not subscribe', async () => {
    const viewer = await connect('viewer', ['sub', 'media:subscribe']);
    const joined = await media(viewer, { op: 'join' }) as { publish: boolean; subscribe: boolean };
    assert.deepEqual([joined.publish, joined.subscribe], [false, true]);
    assert.equal(await code(media(viewer, { op: 'publish', jsep: OFFER })), 'PERMISSION_DENIED');
    assert.equal(await code(media(viewer, { op: 'trickle', target: 'publisher', candidates: [] })), 'PERMISSION_DENIED');
    const host = await connect('host', ['sub', 'media:publish']);
    const hj = await media(host, { op: 'join' }) as { publish: boolean; subscribe: boolean };
    assert.deepEqual([hj.publish, hj.subscribe], [true, false]);
    assert.equal(await code(media(host, { op: 'subscribe', feeds: [1] })), 'PERMISSION_DENIED');
    assert.equal(await code(media(host, { op: 'start', jsep: ANSWER })), 'PERMISSION_DENIED');
    assert.equal((await janusSessions(janus)).length, 2);
    // The admin dashboard's report carries the SFU figures.
    const stats = await (await fetch(`${ts.url}/api/admin/stats`, { headers: { 'X-API-Key': API_KEY } })).json() as { nodes: Array<{ sfu?: unknown }> };
    assert.deepEqual(stats.nodes[0].sfu, { up: true, rooms: 1, publishers: 0, subscribers: 0 });
    // GET /api/admin/sfu: the node's figures and Janus's session count (Admin API).
    assert.equal((await fetch(`${ts.url}/api/admin/sfu`)).status, 401);
    const sfu = await (await fetch(`${ts.url}/api/admin/sfu`, { headers: { 'X-API-Key': API_KEY } })).json() as Record<string, unknown>;
    assert.deepEqual([sfu.up, sfu.rooms, sfu.participants, sfu.janusSessions], [true, 1, 2, 2]);
    // Both leave at the same moment: each may still see the other in the room; the room goes anyway.
    await Promise.all([media(viewer, { op: 'leave' }), media(host, { op: 'leave' })]);
    assert.deepEqual(await janusSessions(janus), []);
    await waitForNoJanusLeftovers(janus);
  });

  test('a forged or expired token never reaches Janus', async () => {
    const before = await janusRttCount(ts, 'create');
    const forged = await signToken('another-secret-0123456789abcdef', { sub: 'mallory', rooms: { 'live:*': ['sub', 'media'] } });
    const expired = await signToken(TEST_SECRET, { sub: 'mallory', rooms: { 'live:*': ['sub', 'media'] }, ttlSec: -120 });
    for (const [token, expected] of [[forged, 'TOKEN_INVALID'], [expired, 'TOKEN_EXPIRED']] as const) {
      const raw = await rawSocket(ts.wsUrl);
      // The media join is pipelined behind the auth: it must be refused, not run.
      raw.send({ t: 'auth', id: 1, token });
      raw.send({ t: 'media', id: 2, room: ROOM, op: 'join' });
      const auth = await raw.reply(1);
      assert.equal((auth.error as { code: string } | undefined)?.code, expected);
      const join = raw.messages.find((m) => m.t === 'reply' && m.id === 2) ?? await raw.reply(2).catch(() => undefined);
      if (join) assert.equal((join.error as { code: string } | undefined)?.code, 'NOT_AUTHENTICATED');
      await raw.closed;
    }
    assert.deepEqual(await janusSessions(janus), []);
    assert.equal(await janusRttCount(ts, 'create'), before);
  });

  test('bad media input answers BAD_REQUEST (and never reaches Janus); the server stays up', async () => {
    const c = await connect('fuzzer', ['sub', 'media']);
    assert.equal(await code(media(c, { op: 'explode' })), 'BAD_REQUEST');
    assert.equal(await code(media(c, { op: 'publish', jsep: { type: 'answer', sdp: 'x' } })), 'BAD_REQUEST');
    assert.equal(await code(media(c, { op: 'subscribe', feeds: ['a'] })), 'BAD_REQUEST');
    assert.equal(await code(media(c, { op: 'trickle', target: 'nowhere', candidates: [] })), 'BAD_REQUEST');
    assert.equal(await code(media(c, { op: 'publish', jsep: OFFER })), 'NOT_JOINED');
    assert.equal(await code(c.request('media', { room: 'bad room', op: 'join' })), 'INVALID_ROOM');
    assert.deepEqual(await janusSessions(janus), []);
    // An offer Janus rejects: a clear error, the participant stays usable, the server stays up.
    await media(c, { op: 'join' });
    assert.equal(await code(media(c, { op: 'publish', jsep: OFFER })), 'BAD_REQUEST');
    await media(c, { op: 'leave' });
    assert.equal((await fetch(`${ts.url}/healthz`)).status, 200);
    assert.deepEqual(await janusSessions(janus), []);
  });
});

describe('SFU unavailable', () => {
  test('Janus unreachable: media join answers UNAVAILABLE and /readyz is 503 with reason sfu', async () => {
    const port = await freePort();
    const ts = await startTestServer({ sfu: { janusUrl: `ws://127.0.0.1:${port}`, reconnectMinMs: 50, reconnectMaxMs: 200 } });
    const c = connectClient(ts.url, await ts.token('u', { 'live:*': ['sub', 'media'] }));
    try {
      await new Promise<void>((resolve) => c.once('connected', () => resolve()));
      const err = await c.request('media', { room: ROOM, op: 'join' }).then(() => undefined, (e: unknown) => e as AqueductError);
      assert.equal(err?.code, 'UNAVAILABLE');
      assert.equal(err?.temporary, true);
      assert.match(err?.message ?? '', /SFU is unreachable/);
      const res = await fetch(`${ts.url}/readyz`);
      assert.equal(res.status, 503);
      const body = await res.json() as { checks: Record<string, { ok: boolean; detail?: string }> };
      assert.equal(body.checks.sfu.ok, false);
      assert.match(body.checks.sfu.detail ?? '', /janus unreachable/);
    } finally {
      c.close();
      await ts.close();
    }
  });

  test('a wrong sfu.apiSecret: Janus counts as unreachable (UNAVAILABLE naming the secret, /readyz 503)', async () => {
    const janus = await startJanus();
    const ts = await startTestServer({ sfu: { janusUrl: janus.url, apiSecret: 'not-the-secret', reconnectMinMs: 50, reconnectMaxMs: 200 } });
    const c = connectClient(ts.url, await ts.token('u', { 'live:*': ['sub', 'media'] }));
    try {
      await new Promise<void>((resolve) => c.once('connected', () => resolve()));
      // Wait until the server has tried Janus once and been refused.
      let body: { checks: Record<string, { ok: boolean; detail?: string }> } | undefined;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const res = await fetch(`${ts.url}/readyz`);
        body = await res.json() as typeof body;
        if (res.status === 503 && /apiSecret/.test(body?.checks.sfu.detail ?? '')) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(body?.checks.sfu.detail ?? '', /sfu\.apiSecret/);
      const err = await c.request('media', { room: ROOM, op: 'join' }).then(() => undefined, (e: unknown) => e as AqueductError);
      assert.equal(err?.code, 'UNAVAILABLE');
      assert.deepEqual(await janusSessions(janus), []);
    } finally {
      c.close();
      await ts.close();
      await janus.stop();
    }
  });

  test('SFU not configured: media requests answer UNAVAILABLE, /readyz has no sfu check', async () => {
    const ts = await startTestServer();
    const c = connectClient(ts.url, await ts.token('u', { 'live:*': ['sub', 'media'] }));
    try {
      await new Promise<void>((resolve) => c.once('connected', () => resolve()));
      assert.equal(await code(c.request('media', { room: ROOM, op: 'join' })), 'UNAVAILABLE');
      const info = await c.request('media', { room: ROOM, op: 'info' }) as { sfu: boolean };
      assert.equal(info.sfu, false);
      const body = await (await fetch(`${ts.url}/readyz`)).json() as { checks: Record<string, unknown> };
      assert.equal(body.checks.sfu, undefined);
    } finally {
      c.close();
      await ts.close();
    }
  });
});

describe('two Aqueduct nodes, one Janus', () => {
  test('participants of both nodes share one Janus room; it is destroyed when the last one (on either node) leaves', async () => {
    const janus = await startJanus();
    const sfu = { janusUrl: janus.url, apiSecret: janus.apiSecret };
    const [n1, n2] = [await startTestServer({ sfu }), await startTestServer({ sfu })];
    const [a, b] = [connectClient(n1.url, await n1.token('a', { 'live:*': ['sub', 'media'] })), connectClient(n2.url, await n2.token('b', { 'live:*': ['sub', 'media'] }))];
    try {
      for (const c of [a, b]) await new Promise<void>((resolve) => { if (c.ready) resolve(); else c.once('connected', () => resolve()); });
      for (const n of [n1, n2]) {
        const deadline = Date.now() + 10_000;
        while ((await fetch(`${n.url}/readyz`)).status !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      }
      await a.request('media', { room: 'live:two-nodes', op: 'join' });
      await b.request('media', { room: 'live:two-nodes', op: 'join' });
      const rooms = await janusRooms(janus);
      assert.deepEqual(rooms.map((r) => [r.description, r.num_participants]), [['live:two-nodes', 2]]);
      // The first one out (node 1) leaves the room to the participant of node 2.
      await a.request('media', { room: 'live:two-nodes', op: 'leave' });
      assert.deepEqual((await janusRooms(janus)).map((r) => [r.description, r.num_participants]), [['live:two-nodes', 1]]);
      // Node 2's participant goes away with its connection: the room goes too.
      b.close();
      await waitForNoJanusLeftovers(janus);
    } finally {
      a.close();
      b.close();
      await n1.close();
      await n2.close();
      await janus.stop();
    }
  });
});
