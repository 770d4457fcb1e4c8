import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { CloseCodes } from '@aqueduct/protocol';
import type { RoomMessage } from '@aqueduct/client';
import { RawSocket, connectClient, rawSocket, startTestServer, until, type TestServer } from './helpers.js';

/**
 * Done-means 6: malformed and abusive input gets its documented reply code or close code, and the
 * server keeps serving everyone else.
 */
describe('room bus: bad input', () => {
  let ts: TestServer;
  const open: RawSocket[] = [];

  before(async () => {
    ts = await startTestServer({
      allowedOrigins: ['http://good.example'],
      limits: { maxMessageBytes: 2048, authTimeoutMs: 1500, rateLimitStrikes: 5 },
      namespaces: { flood: { publishRatePerSec: 1, publishBurst: 3 } },
    });
  });
  after(async () => {
    for (const s of open) s.close();
    await ts.close();
  });

  async function authed(protocol = 'aqueduct.json.v1'): Promise<RawSocket> {
    const s = await rawSocket(ts.wsUrl, protocol);
    open.push(s);
    const token = await ts.token('mallory', { 'chat:*': ['sub', 'pub', 'presence'], 'flood:*': ['sub', 'pub'] });
    const r = await s.request({ t: 'auth', id: 1, token });
    assert.ok(r.result, `auth failed: ${JSON.stringify(r)}`);
    return s;
  }

  async function unauthed(protocol: string | string[] = 'aqueduct.json.v1'): Promise<RawSocket> {
    const s = await rawSocket(ts.wsUrl, protocol);
    open.push(s);
    return s;
  }

  /** A healthy pair of SDK clients still exchanges messages. */
  async function assertServing(tag: string): Promise<void> {
    const room = `chat:healthy-${tag}`;
    const a = connectClient(ts.url, await ts.token('alice', { 'chat:*': ['sub', 'pub'] }));
    const b = connectClient(ts.url, await ts.token('bob', { 'chat:*': ['sub', 'pub'] }), { codec: 'msgpack' });
    try {
      const got: RoomMessage[] = [];
      b.room(room).on('message', (m) => got.push(m));
      await Promise.all([a.room(room).ready(), b.room(room).ready()]);
      await a.room(room).publish({ tag });
      await until(() => got.length === 1, 5000, 'healthy delivery');
      assert.deepEqual(got[0].data, { tag });
    } finally {
      a.close();
      b.close();
    }
  }

  test('non-JSON text closes with 4501 (bad frame), before and after auth', async () => {
    const pre = await unauthed();
    pre.send('this is not json {');
    assert.equal(await pre.closed, CloseCodes.BAD_FRAME.code);
    const post = await authed();
    post.send('{"t":"join","id":2,');
    assert.equal(await post.closed, CloseCodes.BAD_FRAME.code);
    // The disconnect message precedes the close frame with the same code.
    assert.deepEqual(post.messages.at(-1), { t: 'disconnect', code: 4501, reason: 'bad frame', reconnect: false });
    await assertServing('json');
  });

  test('JSON that is not a request object closes with 4501', async () => {
    for (const frame of ['42', '[1,2,3]', 'null', '{"t":"join"}', '{"t":"pub","id":-1}']) {
      const s = await authed();
      s.send(frame);
      assert.equal(await s.closed, CloseCodes.BAD_FRAME.code, `frame ${frame}`);
    }
    await assertServing('shape');
  });

  test('invalid MessagePack and text frames on a MessagePack connection close with 4501', async () => {
    const s1 = await unauthed('aqueduct.msgpack.v1');
    s1.send(Buffer.from([0xc1, 0xff, 0x00])); // 0xc1 is never used in MessagePack
    assert.equal(await s1.closed, CloseCodes.BAD_FRAME.code);
    const s2 = await unauthed('aqueduct.msgpack.v1');
    s2.send(Buffer.from([0x92, 0xa1])); // truncated array
    assert.equal(await s2.closed, CloseCodes.BAD_FRAME.code);
    const s3 = await unauthed('aqueduct.msgpack.v1');
    s3.send('{"t":"auth","id":1,"token":"x"}'); // text frame where binary is expected
    assert.equal(await s3.closed, CloseCodes.BAD_FRAME.code);
    await assertServing('msgpack');
  });

  test('unknown message types and malformed fields get error replies; the connection stays open', async () => {
    const s = await authed();
    const unknown = await s.request({ t: 'teleport', id: 5, room: 'chat:x' });
    assert.equal((unknown.error as { code: string }).code, 'UNKNOWN_TYPE');
    const badSince = await s.request({ t: 'join', id: 6, room: 'chat:x', since: { epoch: 1, offset: 'a' } });
    assert.equal((badSince.error as { code: string }).code, 'BAD_REQUEST');
    const noData = await s.request({ t: 'pub', id: 7, room: 'chat:x' });
    assert.equal((noData.error as { code: string }).code, 'BAD_REQUEST');
    const badCid = await s.request({ t: 'pub', id: 8, room: 'chat:x', data: 1, cid: 'x'.repeat(200) });
    assert.equal((badCid.error as { code: string }).code, 'BAD_REQUEST');
    const notJoined = await s.request({ t: 'leave', id: 9, room: 'chat:x' });
    assert.equal((notJoined.error as { code: string }).code, 'NOT_JOINED');
    const twice = await s.request({ t: 'auth', id: 10, token: 'whatever' });
    assert.equal((twice.error as { code: string }).code, 'ALREADY_AUTHENTICATED');
    // Still usable.
    const join = await s.request({ t: 'join', id: 11, room: 'chat:x' });
    assert.ok(join.result);
    assert.equal(s.closeCode, undefined);
  });

  test('invalid room names get INVALID_ROOM', async () => {
    const s = await authed();
    const names: unknown[] = ['', 'has space', 'chat:bad#char', 'x'.repeat(201), ':leading', 'ns:' + 'é', 42, null];
    let id = 20;
    for (const room of names) {
      const r = await s.request({ t: 'join', id: ++id, room });
      assert.equal((r.error as { code: string }).code, 'INVALID_ROOM', `room ${JSON.stringify(room)}`);
      const p = await s.request({ t: 'pub', id: ++id, room, data: 1 });
      assert.equal((p.error as { code: string }).code, 'INVALID_ROOM', `pub room ${JSON.stringify(room)}`);
    }
    assert.equal(s.closeCode, undefined);
    await assertServing('rooms');
  });

  test('oversize frames close with 1009', async () => {
    const s = await authed();
    s.send(JSON.stringify({ t: 'pub', id: 3, room: 'chat:big', data: 'x'.repeat(4096) }));
    assert.equal(await s.closed, CloseCodes.MESSAGE_TOO_BIG.code);
    const pre = await unauthed();
    pre.send('x'.repeat(10_000));
    assert.equal(await pre.closed, 1009);
    await assertServing('oversize');
  });

  test('a publish flood gets RATE_LIMITED replies, then close 4004', async () => {
    const s = await authed();
    await s.request({ t: 'join', id: 2, room: 'flood:x' });
    for (let i = 0; i < 20; i++) s.send({ t: 'pub', id: 100 + i, room: 'flood:x', data: i });
    assert.equal(await s.closed, CloseCodes.RATE_LIMIT_ABUSE.code);
    const replies = s.messages.filter((m) => m.t === 'reply' && (m.id as number) >= 100);
    const ok = replies.filter((m) => m.result);
    const limited = replies.filter((m) => (m.error as { code?: string } | undefined)?.code === 'RATE_LIMITED');
    assert.equal(ok.length, 3, 'the burst is accepted');
    assert.ok(limited.length >= 4, `RATE_LIMITED replies before the close (got ${limited.length})`);
    assert.equal((limited[0].error as { temporary: boolean }).temporary, true);
    await assertServing('flood');
  });

  test('requests before auth get NOT_AUTHENTICATED; too many close with 4500', async () => {
    const s = await unauthed();
    const r = await s.request({ t: 'join', id: 1, room: 'chat:x' });
    assert.equal((r.error as { code: string }).code, 'NOT_AUTHENTICATED');
    for (let i = 2; i < 6; i++) s.send({ t: 'join', id: i, room: 'chat:x' });
    assert.equal(await s.closed, CloseCodes.AUTH_FAILED.code);
  });

  test('no auth before the deadline closes with 4005', async () => {
    const s = await unauthed();
    assert.equal(await s.closed, CloseCodes.AUTH_TIMEOUT.code);
    assert.equal(s.messages.at(-1)?.t, 'disconnect');
  });

  test('a disallowed Origin gets HTTP 403 on upgrade; an allowed one connects', async () => {
    await assert.rejects(rawSocket(ts.wsUrl, 'aqueduct.json.v1', { Origin: 'http://evil.example' }), { status: 403 });
    const good = await rawSocket(ts.wsUrl, 'aqueduct.json.v1', { Origin: 'http://good.example' });
    open.push(good);
    assert.equal(good.ws.readyState, WebSocket.OPEN);
    await assertServing('origin');
  });

  test('an unsupported subprotocol closes with 4503; no subprotocol means JSON', async () => {
    const s = await unauthed('chat.v9');
    assert.equal(await s.closed, CloseCodes.BAD_PROTOCOL.code);
    const plain = new WebSocket(ts.wsUrl);
    const raw = new RawSocket(plain);
    await new Promise((resolve) => plain.once('open', resolve));
    open.push(raw);
    const token = await ts.token('p', { 'chat:*': ['sub'] });
    const r = await raw.request({ t: 'auth', id: 1, token });
    assert.equal((r.result as { user: string }).user, 'p');
  });

  test('a wrong path gets 404 and the server stays up', async () => {
    await assert.rejects(rawSocket(ts.url.replace('http', 'ws') + '/nope'), { status: 404 });
    await assertServing('path');
  });
});

describe('room bus: request flood', () => {
  let ts: TestServer;
  before(async () => { ts = await startTestServer({ limits: { requestRatePerSec: 1, requestBurst: 5, rateLimitStrikes: 5 } }); });
  after(async () => { await ts.close(); });

  test('join/history/presence floods get RATE_LIMITED, then close 4004; others are unaffected', async () => {
    const s = await rawSocket(ts.wsUrl);
    await s.request({ t: 'auth', id: 1, token: await ts.token('flooder', { 'chat:*': ['sub', 'presence'] }) });
    for (let i = 0; i < 30; i++) s.send({ t: 'history', id: 100 + i, room: 'chat:x', limit: 1000 });
    assert.equal(await s.closed, CloseCodes.RATE_LIMIT_ABUSE.code);
    const replies = s.messages.filter((m) => m.t === 'reply' && (m.id as number) >= 100);
    assert.equal(replies.filter((m) => m.result).length, 5, 'the burst is served');
    assert.ok(replies.filter((m) => (m.error as { code?: string } | undefined)?.code === 'RATE_LIMITED').length >= 4);
    const ok = await rawSocket(ts.wsUrl);
    await ok.request({ t: 'auth', id: 1, token: await ts.token('calm', { 'chat:*': ['sub'] }) });
    assert.ok((await ok.request({ t: 'join', id: 2, room: 'chat:x' })).result);
    ok.close();
  });
});

