import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { encodeCursor } from '@aqueduct/protocol';
import { connectClient, nextEvent, startTestServer, type TestServer } from './helpers.js';
import { RawSse, api } from './sse-helpers.js';

const API_KEY = 'test-api-key-0123456789abcdef';
const asKey = { Authorization: `Bearer ${API_KEY}` };

describe('HTTP API', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      apiKey: API_KEY,
      limits: { maxMessageBytes: 1024 },
      namespaces: { ro: { clientPublish: false }, quiet: { presence: false } },
    });
  });
  after(async () => { await ts.close(); });

  const publish = (json: unknown, headers: Record<string, string> = asKey) => api(`${ts.url}/api/publish`, { method: 'POST', headers, json });

  test('POST /api/publish with the API key returns the position; subscribers receive it', async () => {
    const token = await ts.token('r', { 'news:*': ['sub'] });
    const sse = new RawSse(`${ts.url}/api/events?rooms=news:pub&token=${token}`);
    await sse.until(() => sse.events.some((e) => e.event === 'ready'), 5000, 'ready');
    const r1 = await publish({ room: 'news:pub', data: { a: 1 } });
    const r2 = await publish({ room: 'news:pub', data: { a: 2 }, event: 'update' });
    assert.equal(r1.status, 200);
    assert.equal(typeof r1.body.epoch, 'string');
    assert.equal(r2.body.offset, (r1.body.offset as number) + 1);
    await sse.until(() => sse.events.length === 3, 5000, 'two events');
    assert.equal(sse.events[2].event, 'update');
    const data = JSON.parse(sse.events[1].data) as { from?: unknown; offset: number };
    assert.equal(data.from, undefined, 'server publications carry no origin');
    assert.equal(data.offset, r1.body.offset);
    sse.close();
  });

  test('idempotent publish: the same key twice is one publication with the same position', async () => {
    const a = await publish({ room: 'news:idem', data: 'once', idempotencyKey: 'k-1' });
    const b = await publish({ room: 'news:idem', data: 'twice?', idempotencyKey: 'k-1' });
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.deepEqual({ epoch: b.body.epoch, offset: b.body.offset }, { epoch: a.body.epoch, offset: a.body.offset });
    assert.equal(b.body.duplicate, true);
    // The Idempotency-Key header works too.
    const c = await publish({ room: 'news:idem', data: 'header' }, { ...asKey, 'Idempotency-Key': 'k-2' });
    const d = await publish({ room: 'news:idem', data: 'header again' }, { ...asKey, 'Idempotency-Key': 'k-2' });
    assert.equal(d.body.offset, c.body.offset);
    // Keys are scoped by caller: a user with the same key publishes separately.
    const user = { Authorization: `Bearer ${await ts.token('u', { 'news:*': ['sub', 'pub'] })}` };
    const e = await publish({ room: 'news:idem', data: 'user', idempotencyKey: 'k-1' }, user);
    assert.equal(e.body.offset, (c.body.offset as number) + 1);
    const h = await api(`${ts.url}/api/rooms/news:idem/history`, { headers: asKey });
    assert.deepEqual((h.body.publications as Array<{ data: unknown }>).map((p) => p.data), ['once', 'header', 'user']);
  });

  test('user tokens: pub needed, origin recorded, namespaces without client publish refused', async () => {
    const writer = { Authorization: `Bearer ${await ts.token('w', { '*': ['sub', 'pub'] })}` };
    const reader = { Authorization: `Bearer ${await ts.token('rd', { '*': ['sub'] })}` };
    const ok = await publish({ room: 'news:u', data: 1 }, writer);
    assert.equal(ok.status, 200);
    const h = await api(`${ts.url}/api/rooms/news:u/history`, { headers: writer });
    assert.deepEqual((h.body.publications as Array<{ from: unknown }>)[0].from, { client: 'http', user: 'w' });
    const denied = await publish({ room: 'news:u', data: 1 }, reader);
    assert.deepEqual([denied.status, (denied.body.error as { code: string }).code], [403, 'PERMISSION_DENIED']);
    const ro = await publish({ room: 'ro:x', data: 1 }, writer);
    assert.deepEqual([ro.status, (ro.body.error as { code: string }).code], [403, 'PUBLISH_DISABLED']);
    assert.equal((await publish({ room: 'ro:x', data: 1 })).status, 200, 'the API key may publish anywhere');
    const vol = await publish({ room: 'news:u', data: 'v', volatile: true }, writer);
    assert.deepEqual([vol.status, vol.body], [200, {}]);
  });

  test('bad input: status and code; the server stays up', async () => {
    const err = (r: { status: number; body: Record<string, unknown> }) => [r.status, (r.body.error as { code: string } | undefined)?.code];
    const raw = (body: string, headers: Record<string, string>) => api(`${ts.url}/api/publish`, { method: 'POST', headers, body });
    assert.deepEqual(err(await raw('{"room":', { ...asKey, 'Content-Type': 'application/json' })), [400, 'BAD_REQUEST']);
    assert.deepEqual(err(await raw('[1,2]', { ...asKey, 'Content-Type': 'application/json' })), [400, 'BAD_REQUEST']);
    assert.deepEqual(err(await raw('{"room":"a","data":1}', { ...asKey, 'Content-Type': 'text/plain' })), [415, 'BAD_REQUEST']);
    assert.deepEqual(err(await publish({ data: 1 })), [400, 'INVALID_ROOM']);
    assert.deepEqual(err(await publish({ room: 'bad room', data: 1 })), [400, 'INVALID_ROOM']);
    assert.deepEqual(err(await publish({ room: 'news:x' })), [400, 'BAD_REQUEST']);
    assert.deepEqual(err(await publish({ room: 'news:x', data: 1, event: 'two\nlines' })), [400, 'BAD_REQUEST']);
    assert.deepEqual(err(await publish({ room: 'news:x', data: 1, volatile: 'yes' })), [400, 'BAD_REQUEST']);
    assert.deepEqual(err(await publish({ room: 'news:x', data: 1, idempotencyKey: '' })), [400, 'BAD_REQUEST']);
    assert.deepEqual(err(await publish({ room: 'news:x', data: 'x'.repeat(2000) })), [413, 'MESSAGE_TOO_LARGE']);
    assert.deepEqual(err(await raw(JSON.stringify({ room: 'news:x', data: 'x'.repeat(10_000) }), { ...asKey, 'Content-Type': 'application/json' })), [413, 'MESSAGE_TOO_LARGE']);
    assert.deepEqual(err(await publish({ room: 'news:x', data: 1 }, {})), [401, 'NOT_AUTHENTICATED']);
    assert.deepEqual(err(await publish({ room: 'news:x', data: 1 }, { Authorization: 'Bearer nope' })), [401, 'TOKEN_INVALID']);
    assert.deepEqual(err(await publish({ room: 'news:x', data: 1 }, { 'X-API-Key': 'wrong-key' })), [401, 'TOKEN_INVALID']);
    assert.deepEqual(err(await api(`${ts.url}/api/publish`, { headers: asKey })), [405, 'BAD_REQUEST']);
    assert.deepEqual(err(await api(`${ts.url}/api/rooms/news:x/history`, { method: 'POST', headers: asKey })), [405, 'BAD_REQUEST']);
    assert.deepEqual(err(await api(`${ts.url}/api/rooms/bad%20room/history`, { headers: asKey })), [400, 'INVALID_ROOM']);
    assert.deepEqual(err(await api(`${ts.url}/api/rooms/news:x/history?since=garbage`, { headers: asKey })), [400, 'BAD_REQUEST']);
    assert.deepEqual(err(await api(`${ts.url}/api/rooms/news:x/history?limit=-1`, { headers: asKey })), [400, 'BAD_REQUEST']);
    assert.deepEqual(err(await api(`${ts.url}/api/nothing-here`, { headers: asKey })), [404, 'NOT_FOUND']);
    assert.equal((await api(`${ts.url}/healthz`)).status, 200);
  });

  test('GET /api/rooms/:room/history: since as epoch:offset or as an event id, limit, permissions', async () => {
    const first = await publish({ room: 'hist:a', data: 0 });
    for (let i = 1; i < 5; i++) await publish({ room: 'hist:a', data: i });
    const epoch = first.body.epoch as string;
    const base = `${ts.url}/api/rooms/${encodeURIComponent('hist:a')}/history`;
    const all = await api(base, { headers: asKey });
    assert.deepEqual((all.body.publications as Array<{ data: number }>).map((p) => p.data), [0, 1, 2, 3, 4]);
    assert.equal(all.body.offset, 5);
    const since = await api(`${base}?since=${epoch}:2&limit=2`, { headers: asKey });
    assert.deepEqual((since.body.publications as Array<{ data: number }>).map((p) => p.data), [2, 3]);
    assert.equal(since.body.recovered, true);
    const cursor = encodeCursor({ 'hist:a': { epoch, offset: 4 }, 'other:b': { epoch: 'zz', offset: 1 } });
    const byId = await api(`${base}?since=${cursor}`, { headers: asKey });
    assert.deepEqual((byId.body.publications as Array<{ data: number }>).map((p) => p.data), [4]);
    const lost = await api(`${base}?since=otherepoch:1`, { headers: asKey });
    assert.deepEqual([lost.body.recovered, lost.body.publications], [false, []]);
    const noRoom = await api(`${base}?since=${encodeCursor({ 'x:y': { epoch, offset: 1 } })}`, { headers: asKey });
    assert.equal(noRoom.status, 400);
    const outsider = await api(base, { headers: { Authorization: `Bearer ${await ts.token('o', { 'news:*': ['sub'] })}` } });
    assert.deepEqual([outsider.status, (outsider.body.error as { code: string }).code], [403, 'PERMISSION_DENIED']);
  });

  test('GET /api/rooms/:room/presence lists bus members; needs presence; disabled namespaces say so', async () => {
    const c = connectClient(ts.url, await ts.token('present', { 'chat:*': ['sub', 'presence'] }, { info: { name: 'P' } }));
    await c.room('chat:p').ready();
    const r = await api(`${ts.url}/api/rooms/chat:p/presence`, { headers: { Authorization: `Bearer ${await ts.token('viewer', { 'chat:*': ['presence'] })}` } });
    assert.equal(r.status, 200);
    assert.deepEqual((r.body.members as Array<{ user: string; info: unknown }>).map((m) => [m.user, m.info]), [['present', { name: 'P' }]]);
    const denied = await api(`${ts.url}/api/rooms/chat:p/presence`, { headers: { Authorization: `Bearer ${await ts.token('viewer', { 'chat:*': ['sub'] })}` } });
    assert.equal(denied.status, 403);
    const off = await api(`${ts.url}/api/rooms/quiet:p/presence`, { headers: asKey });
    assert.deepEqual([off.status, (off.body.error as { code: string }).code], [409, 'PRESENCE_DISABLED']);
    c.close();
  });

  test("POST /api/rooms/:room/disconnect closes the user's bus connections and SSE streams in that room", async () => {
    const token = await ts.token('victim', { 'chat:*': ['sub'] });
    const c = connectClient(ts.url, token);
    await c.room('chat:d').ready();
    const sse = new RawSse(`${ts.url}/api/events?rooms=chat:d&token=${token}`);
    const elsewhere = new RawSse(`${ts.url}/api/events?rooms=chat:other&token=${token}`);
    await sse.until(() => sse.events.some((e) => e.event === 'ready'), 5000, 'ready');
    await elsewhere.until(() => elsewhere.events.some((e) => e.event === 'ready'), 5000, 'ready');
    const userToken = { Authorization: `Bearer ${await ts.token('admin-wannabe', { '*': ['sub', 'pub', 'presence'] })}` };
    const notKey = await api(`${ts.url}/api/rooms/chat:d/disconnect`, { method: 'POST', headers: userToken, json: { user: 'victim' } });
    assert.deepEqual([notKey.status, (notKey.body.error as { code: string }).code], [403, 'PERMISSION_DENIED']);
    const anon = await api(`${ts.url}/api/rooms/chat:d/disconnect`, { method: 'POST', json: { user: 'victim' } });
    assert.equal(anon.status, 401);
    const bad = await api(`${ts.url}/api/rooms/chat:d/disconnect`, { method: 'POST', headers: asKey, json: { who: 'victim' } });
    assert.deepEqual([bad.status, (bad.body.error as { code: string }).code], [400, 'BAD_REQUEST']);
    const disconnected = nextEvent<{ code: number }>(c, 'disconnected');
    const ok = await api(`${ts.url}/api/rooms/chat:d/disconnect`, { method: 'POST', headers: { 'X-API-Key': API_KEY }, json: { user: 'victim' } });
    assert.equal(ok.status, 200);
    assert.equal((await disconnected).code, 4502);
    await sse.until(() => sse.ended, 5000, 'sse ended');
    const last = sse.events[sse.events.length - 1];
    assert.equal(last.event, 'disconnect');
    assert.deepEqual(JSON.parse(last.data), { code: 4502, reason: 'disconnected by server', reconnect: false });
    assert.equal(elsewhere.ended, false, 'a stream of another room stays open');
    elsewhere.close();
    c.close();
  });

  test('CORS: preflight, any-origin default, and an allow-list', async () => {
    const pre = await fetch(`${ts.url}/api/publish`, { method: 'OPTIONS', headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, authorization' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Last-Event-ID/);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    const get = await api(`${ts.url}/api/rooms/news:x/history`, { headers: { ...asKey, Origin: 'http://app.example' } });
    assert.equal(get.headers.get('access-control-allow-origin'), '*');
    const strict = await startTestServer({ apiKey: API_KEY, allowedOrigins: ['http://good.example'] });
    try {
      const good = await api(`${strict.url}/api/rooms/news:x/history`, { headers: { ...asKey, Origin: 'http://good.example' } });
      assert.equal(good.status, 200);
      assert.equal(good.headers.get('access-control-allow-origin'), 'http://good.example');
      assert.equal(good.headers.get('access-control-allow-credentials'), 'true');
      const evil = await api(`${strict.url}/api/rooms/news:x/history`, { headers: { ...asKey, Origin: 'http://evil.example' } });
      assert.deepEqual([evil.status, (evil.body.error as { code: string }).code], [403, 'PERMISSION_DENIED']);
      const evilPre = await fetch(`${strict.url}/api/events`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example' } });
      assert.equal(evilPre.status, 403);
      // Same origin as the server itself: not a cross-origin request, never refused.
      const self = await api(`${strict.url}/api/rooms/news:x/history`, { headers: { ...asKey, Origin: strict.url } });
      assert.equal(self.status, 200);
    } finally {
      await strict.close();
    }
  });

  test('/api/openapi.json is a valid OpenAPI 3.1 document covering every route', async () => {
    const r = await api(`${ts.url}/api/openapi.json`);
    assert.equal(r.status, 200);
    const validator = new Validator();
    const result = await validator.validate(r.body);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(validator.version, '3.1');
    const paths = Object.keys(r.body.paths as object);
    for (const p of ['/api/events', '/api/poll', '/api/publish', '/api/rooms/{room}/history', '/api/rooms/{room}/presence', '/api/rooms/{room}/disconnect']) {
      assert.ok(paths.includes(p), `${p} documented`);
    }
  });

  test('publications of one user over HTTP are rate limited like the bus', async () => {
    const limited = await startTestServer({ namespaces: { '': { publishRatePerSec: 1, publishBurst: 2 } } });
    try {
      const h = { Authorization: `Bearer ${await limited.token('fast', { '*': ['pub'] })}` };
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await api(`${limited.url}/api/publish`, { method: 'POST', headers: h, json: { room: 'x:y', data: i } })).status);
      assert.deepEqual(codes.slice(0, 2), [200, 200]);
      assert.ok(codes.slice(2).includes(429));
    } finally {
      await limited.close();
    }
  });
});
