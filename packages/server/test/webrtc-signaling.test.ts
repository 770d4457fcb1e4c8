import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { PeerMesh } from '@aqueduct/client';
import { iceServersFor, turnCredentials } from '../src/webrtc/ice.js';
import { connectClient, rawSocket, startTestServer, until, type RawSocket, type TestServer } from './helpers.js';

const TURN_SECRET = 'turn-shared-secret-for-tests';
const API_KEY = 'api-key-0123456789abcdef';
const FULL = ['sub', 'pub', 'presence', 'signal'];

/** A raw JSON socket, authenticated; `join` joins rooms and returns the socket's client id. */
async function rawClient(ts: TestServer, sub: string, rooms: Record<string, string[]>): Promise<{ ws: RawSocket; id: string; seq: () => number }> {
  const ws = await rawSocket(ts.wsUrl);
  let n = 1;
  const auth = await ws.request({ t: 'auth', id: n++, token: await ts.token(sub, rooms) });
  assert.equal(auth.error, undefined, JSON.stringify(auth.error));
  return { ws, id: (auth.result as { client: string }).client, seq: () => n++ };
}

const errorCode = (reply: Record<string, unknown>) => (reply.error as { code?: string } | undefined)?.code;

describe('webrtc signaling rules (room bus)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ limits: { maxSignalBytes: 1024, signalRatePerSec: 5, signalBurst: 5, rateLimitStrikes: 1000, maxMeshPeers: 4 } });
  });
  after(async () => { await ts.close(); });

  test('a signal reaches only its target and is never stored', async () => {
    const room = 'call:one';
    const a = await rawClient(ts, 'alice', { 'call:*': FULL });
    const b = await rawClient(ts, 'bob', { 'call:*': FULL });
    const c = await rawClient(ts, 'carol', { 'call:*': FULL });
    for (const x of [a, b, c]) assert.equal(errorCode(await x.ws.request({ t: 'join', id: x.seq(), room })), undefined);
    const r = await a.ws.request({ t: 'signal', id: a.seq(), room, to: b.id, payload: { sdp: 'offer' } });
    assert.deepEqual(r.result, {});
    await until(() => b.ws.messages.some((m) => m.t === 'signal'), 5000, 'signal at bob');
    const sig = b.ws.messages.find((m) => m.t === 'signal') as Record<string, unknown>;
    assert.deepEqual(sig, { t: 'signal', room, from: { client: a.id, user: 'alice' }, payload: { sdp: 'offer' } });
    // Carol (same room) sees no signal; history holds nothing.
    const probe = await c.ws.request({ t: 'history', id: c.seq(), room });
    assert.deepEqual((probe.result as { publications: unknown[] }).publications, []);
    assert.equal(c.ws.messages.some((m) => m.t === 'signal'), false);
    for (const x of [a, b, c]) x.ws.close();
  });

  test('refused with its code: outside the room, no signal permission, not joined, oversize, too fast', async () => {
    const room = 'call:rules';
    const a = await rawClient(ts, 'alice', { 'call:*': FULL });
    const b = await rawClient(ts, 'bob', { 'call:*': FULL });
    const outsider = await rawClient(ts, 'olga', { 'call:*': FULL });
    const mute = await rawClient(ts, 'mute', { 'call:*': ['sub', 'pub', 'presence'] });
    for (const x of [a, b, mute]) assert.equal(errorCode(await x.ws.request({ t: 'join', id: x.seq(), room })), undefined);
    assert.equal(errorCode(await outsider.ws.request({ t: 'join', id: outsider.seq(), room: 'call:elsewhere' })), undefined);

    // Target outside the room (joined elsewhere), and an unknown id.
    assert.equal(errorCode(await a.ws.request({ t: 'signal', id: a.seq(), room, to: outsider.id, payload: 1 })), 'PEER_NOT_FOUND');
    assert.equal(errorCode(await a.ws.request({ t: 'signal', id: a.seq(), room, to: 'nobody', payload: 1 })), 'PEER_NOT_FOUND');
    // Sender outside the room.
    assert.equal(errorCode(await outsider.ws.request({ t: 'signal', id: outsider.seq(), room, to: a.id, payload: 1 })), 'NOT_JOINED');
    // No signal permission.
    assert.equal(errorCode(await mute.ws.request({ t: 'signal', id: mute.seq(), room, to: a.id, payload: 1 })), 'PERMISSION_DENIED');
    // Oversize (limit 1024 bytes of encoded payload).
    assert.equal(errorCode(await a.ws.request({ t: 'signal', id: a.seq(), room, to: b.id, payload: 'x'.repeat(2000) })), 'MESSAGE_TOO_LARGE');
    // Malformed.
    assert.equal(errorCode(await a.ws.request({ t: 'signal', id: a.seq(), room, to: b.id })), 'BAD_REQUEST');
    // Too fast: burst 5 (some were used above by the accepted checks), then RATE_LIMITED.
    const codes: Array<string | undefined> = [];
    for (let i = 0; i < 12; i++) codes.push(errorCode(await b.ws.request({ t: 'signal', id: b.seq(), room, to: a.id, payload: i })));
    assert.ok(codes.slice(0, 5).every((c) => c === undefined), JSON.stringify(codes));
    assert.ok(codes.includes('RATE_LIMITED'), JSON.stringify(codes));
    // The server stays up and the connection stays usable.
    assert.equal(errorCode(await a.ws.request({ t: 'presence', id: a.seq(), room })), undefined);
    for (const x of [a, b, outsider, mute]) x.ws.close();
  });

  test('mesh joins: the fifth past a limit of 4 gets MESH_FULL; a leave frees a seat; signal permission required', async () => {
    const room = 'call:mesh';
    const peers: Array<Awaited<ReturnType<typeof rawClient>>> = [];
    for (let i = 0; i < 5; i++) peers.push(await rawClient(ts, `u${i}`, { 'call:*': FULL }));
    for (let i = 0; i < 4; i++) assert.equal(errorCode(await peers[i].ws.request({ t: 'join', id: peers[i].seq(), room, mesh: true })), undefined);
    const fifth = await peers[4].ws.request({ t: 'join', id: peers[4].seq(), room, mesh: true });
    assert.equal(errorCode(fifth), 'MESH_FULL');
    // A plain (non-mesh) join of the same room is still allowed: the limit counts mesh members.
    assert.equal(errorCode(await peers[4].ws.request({ t: 'join', id: peers[4].seq(), room })), undefined);
    const members = (await peers[4].ws.request({ t: 'presence', id: peers[4].seq(), room })).result as { members: Array<{ mesh?: boolean }> };
    assert.equal(members.members.filter((m) => m.mesh).length, 4);
    assert.equal(members.members.length, 5);
    // Bad mesh flag.
    assert.equal(errorCode(await peers[4].ws.request({ t: 'join', id: peers[4].seq(), room: 'call:x', mesh: 'yes' })), 'BAD_REQUEST');
    // A seat frees when a member leaves.
    assert.equal(errorCode(await peers[0].ws.request({ t: 'leave', id: peers[0].seq(), room })), undefined);
    assert.equal(errorCode(await peers[4].ws.request({ t: 'leave', id: peers[4].seq(), room })), undefined);
    assert.equal(errorCode(await peers[4].ws.request({ t: 'join', id: peers[4].seq(), room, mesh: true })), undefined);
    // Without the signal permission, a mesh join is refused.
    const mute = await rawClient(ts, 'mute', { 'call:*': ['sub', 'presence'] });
    assert.equal(errorCode(await mute.ws.request({ t: 'join', id: mute.seq(), room: 'call:other', mesh: true })), 'PERMISSION_DENIED');
    for (const x of [...peers, mute]) x.ws.close();
  });
});

describe('webrtc ICE servers and stats endpoints', () => {
  let ts: TestServer;
  let bare: TestServer;
  before(async () => {
    ts = await startTestServer({
      apiKey: API_KEY,
      turn: { secret: TURN_SECRET, urls: ['turn:turn.example:3478?transport=udp'], stunUrls: ['stun:stun.example:3478'], ttlSec: 600 },
    });
    bare = await startTestServer({});
  });
  after(async () => { await Promise.all([ts.close(), bare.close()]); });

  test('credentials are coturn REST-API: expiry:user, base64 HMAC-SHA1, TTL from config', async () => {
    const token = await ts.token('alice', { 'call:*': FULL });
    const before = Math.floor(Date.now() / 1000);
    const res = await fetch(`${ts.url}/api/ice-servers?room=call:x`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = await res.json() as { iceServers: Array<{ urls: string[]; username?: string; credential?: string }>; turn: boolean; ttlSec: number; expiresAt: number };
    assert.equal(body.turn, true);
    assert.equal(body.ttlSec, 600);
    assert.deepEqual(body.iceServers[0], { urls: ['stun:stun.example:3478'] });
    const turn = body.iceServers[1];
    assert.deepEqual(turn.urls, ['turn:turn.example:3478?transport=udp']);
    const [expiry, user] = (turn.username as string).split(':');
    assert.equal(user, 'alice');
    assert.ok(Number(expiry) >= before + 600 && Number(expiry) <= before + 602, `expiry ${expiry}`);
    assert.equal(turn.credential, createHmac('sha1', TURN_SECRET).update(turn.username as string).digest('base64'));
    assert.equal(body.expiresAt, Number(expiry) * 1000);
    // The API key works too.
    const byKey = await fetch(`${ts.url}/api/ice-servers`, { headers: { 'X-API-Key': API_KEY } });
    assert.equal(byKey.status, 200);
  });

  test('pure helpers', () => {
    assert.deepEqual(turnCredentials('s', 'u:1', 100), { username: '100:u:1', credential: createHmac('sha1', 's').update('100:u:1').digest('base64') });
    const none = iceServersFor({ urls: [], stunUrls: [], ttlSec: 60 }, 'u', 0);
    assert.deepEqual(none, { iceServers: [], turn: false });
  });

  test('refusals: no credentials 401, no signal permission 403, bad room 400', async () => {
    assert.equal((await fetch(`${ts.url}/api/ice-servers`)).status, 401);
    const reader = await ts.token('reader', { 'call:*': ['sub'] });
    const r = await fetch(`${ts.url}/api/ice-servers`, { headers: { Authorization: `Bearer ${reader}` } });
    assert.equal(r.status, 403);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'PERMISSION_DENIED');
    const other = await ts.token('alice', { 'call:*': FULL });
    assert.equal((await fetch(`${ts.url}/api/ice-servers?room=chat:x`, { headers: { Authorization: `Bearer ${other}` } })).status, 403);
    assert.equal((await fetch(`${ts.url}/api/ice-servers?room=${encodeURIComponent('bad room')}`, { headers: { Authorization: `Bearer ${other}` } })).status, 400);
    assert.equal((await fetch(`${ts.url}/api/ice-servers`, { method: 'POST', headers: { Authorization: `Bearer ${other}` } })).status, 405);
  });

  test('without TURN: STUN-only list, or 503 UNAVAILABLE when TURN is required', async () => {
    const token = await bare.token('alice', { 'call:*': FULL });
    const ok = await fetch(`${bare.url}/api/ice-servers`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { iceServers: [], turn: false });
    const required = await fetch(`${bare.url}/api/ice-servers?turn=required`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(required.status, 503);
    const body = await required.json() as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'UNAVAILABLE');
    assert.match(body.error.message, /TURN is not configured/);
  });

  test('stats reports count connections by path in /metrics; bad reports are refused', async () => {
    const token = await ts.token('alice', { 'call:*': FULL });
    const post = (body: string, type = 'application/json') => fetch(`${ts.url}/api/webrtc/stats`, {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': type }, body,
    });
    assert.equal((await post(JSON.stringify({ path: 'relay' }))).status, 200);
    assert.equal((await post(JSON.stringify({ path: 'direct' }))).status, 200);
    assert.equal((await post(JSON.stringify({ path: 'direct' }))).status, 200);
    assert.equal((await post(JSON.stringify({ path: 'sideways' }))).status, 400);
    assert.equal((await post('{nope')).status, 400);
    assert.equal((await post('x'.repeat(5000))).status, 413);
    assert.equal((await post('{}', 'text/plain')).status, 415);
    const metrics = await (await fetch(`${ts.url}/metrics`)).text();
    assert.match(metrics, /aqueduct_webrtc_connections_total\{path="relay"[^}]*\} 1/);
    assert.match(metrics, /aqueduct_webrtc_connections_total\{path="direct"[^}]*\} 2/);
  });
});

describe('peer mesh without WebRTC (Node): the bus fallback', () => {
  let ts: TestServer;
  before(async () => { ts = await startTestServer({ limits: { maxMeshPeers: 2 } }); });
  after(async () => { await ts.close(); });

  test('channels go over the room bus with the same API; the third mesh member is refused', async () => {
    const room = 'call:node';
    const clients = await Promise.all(['ann', 'ben', 'cat'].map(async (u) => connectClient(ts.url, await ts.token(u, { 'call:*': FULL }))));
    const meshes: PeerMesh[] = clients.slice(0, 2).map((c) => c.peers(room));
    await Promise.all(meshes.map((m) => m.ready()));
    await until(() => meshes.every((m) => m.peerList.length === 1 && m.peerList[0].path === 'server'), 10_000, 'server path');
    const got: Array<{ from: string; data: unknown; via: string }> = [];
    const chat = meshes.map((m) => m.channel('chat', { ordered: true }));
    chat[1].on('message', (from, data, info) => got.push({ from, data, via: info.via }));
    chat[0].on('message', (from, data, info) => got.push({ from, data, via: info.via }));
    assert.deepEqual(chat[0].send({ text: 'hi ben' }), []);
    assert.equal(chat[1].sendTo(meshes[0].id as string, { text: 'hi ann' }), true);
    await until(() => got.length === 2, 5000, 'fallback messages');
    assert.deepEqual(got.map((g) => g.via), ['server', 'server']);
    assert.deepEqual(new Set(got.map((g) => JSON.stringify(g.data))), new Set(['{"text":"hi ben"}', '{"text":"hi ann"}']));
    const third = clients[2].peers(room);
    await assert.rejects(third.ready(), { code: 'MESH_FULL' });
    // A member leaving closes its peer on the other side.
    await meshes[1].close();
    await until(() => meshes[0].peerList.length === 0, 5000, 'peer left');
    await meshes[0].close();
    for (const c of clients) c.close();
  });
});
