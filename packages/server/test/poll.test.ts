import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeCursor, encodeCursor, type PollEvent, type PollResult } from '@aqueduct/protocol';
import { sseHttpOf } from '../src/http/api-mount.js';
import { startTestServer, until, type TestServer } from './helpers.js';
import { RawSse, api } from './sse-helpers.js';

const API_KEY = 'test-api-key-0123456789abcdef';

describe('long polling', () => {
  let ts: TestServer;
  let token: string;
  before(async () => {
    ts = await startTestServer({ apiKey: API_KEY, limits: { maxHistoryLimit: 50 }, namespaces: { short: { historySize: 3 } } });
    token = await ts.token('poller', { '*': ['sub'] });
  });
  after(async () => { await ts.close(); });

  const poll = async (query: string) => {
    const r = await api(`${ts.url}/api/poll?${query}`, { headers: { Authorization: `Bearer ${token}` } });
    return { status: r.status, body: r.body as unknown as PollResult & { error?: { code: string } } };
  };
  const publish = (room: string, data: unknown) =>
    api(`${ts.url}/api/publish`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { room, data } });

  test('long polling delivers the same sequence as SSE for the same cursor', async () => {
    const rooms = 'seq:a,seq:b,seq:c';
    const start = await poll(`rooms=${rooms}`);
    assert.equal(start.status, 200);
    assert.deepEqual(start.body.events, []);
    // 150 publications interleaved over three rooms: more than one poll answer (limit 50).
    for (let i = 0; i < 150; i++) await publish(['seq:a', 'seq:b', 'seq:c'][i % 3], i);
    const polled: PollEvent[] = [];
    let cursor = start.body.cursor;
    let answers = 0;
    for (;;) {
      const r = await poll(`rooms=${rooms}&cursor=${cursor}&timeoutMs=0`);
      assert.equal(r.status, 200);
      answers++;
      polled.push(...r.body.events);
      cursor = r.body.cursor;
      if (!r.body.more) break;
    }
    assert.ok(answers >= 3, `${answers} answers`);
    const sse = new RawSse(`${ts.url}/api/events?rooms=${rooms}&token=${token}`, { 'Last-Event-ID': start.body.cursor });
    await sse.until(() => sse.events.some((e) => e.event === 'ready'), 10_000, 'ready');
    sse.close();
    const streamed = sse.events.filter((e) => e.event !== 'ready').map((e) => ({ type: e.event, id: e.id, ...JSON.parse(e.data) as object }));
    assert.equal(streamed.length, 150);
    assert.deepEqual(polled, streamed);
    assert.equal(cursor, sse.events[sse.events.length - 1].id, 'the final cursor is the ready id');
  });

  test('holds until a publication arrives, then answers with it', async () => {
    const start = await poll('rooms=hold:a');
    const pending = poll(`rooms=hold:a&cursor=${start.body.cursor}`);
    // The poll is registered before we publish: wait until the server has it waiting.
    const registry = sseHttpOf(ts.server)?.registry;
    await until(() => (registry?.size ?? 0) === 1, 5000, 'poll waiting');
    await publish('hold:a', 'wake');
    const r = await pending;
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.events.map((e) => e.type === 'message' && e.data), ['wake']);
    assert.equal(decodeCursor(r.body.cursor)['hold:a'].offset, 1);
  });

  test('answers empty at the timeout with the same cursor', async () => {
    const start = await poll('rooms=idle:a');
    const r = await poll(`rooms=idle:a&cursor=${start.body.cursor}&timeoutMs=100`);
    assert.deepEqual([r.status, r.body.events, r.body.cursor, r.body.more], [200, [], start.body.cursor, false]);
  });

  test('the reset rule is the same as SSE', async () => {
    const start = await poll('rooms=short:r');
    for (let i = 0; i < 6; i++) await publish('short:r', i);
    const r = await poll(`rooms=short:r&cursor=${start.body.cursor}&timeoutMs=0`);
    assert.equal(r.body.events.length, 1);
    const [reset] = r.body.events;
    assert.equal(reset.type, 'reset');
    assert.deepEqual(reset.type === 'reset' && [reset.room, reset.offset], ['short:r', 6]);
    assert.equal(r.body.cursor, reset.type === 'reset' ? reset.id : '');
    const old = encodeCursor({ 'short:r': { epoch: 'gone', offset: 3 } });
    const lost = await poll(`rooms=short:r&cursor=${old}&timeoutMs=0`);
    assert.equal(lost.body.events[0].type, 'reset');
  });

  test('bad cursors, rooms and tokens get the right status and code', async () => {
    const code = (r: { status: number; body: { error?: { code: string } } }) => [r.status, r.body.error?.code];
    assert.deepEqual(code(await poll('rooms=a:b&cursor=%%%')), [400, 'BAD_REQUEST']);
    assert.deepEqual(code(await poll('rooms=a:b&cursor=bm90IGpzb24')), [400, 'BAD_REQUEST']);
    const start = await poll('rooms=forge:a');
    const pos = decodeCursor(start.body.cursor)['forge:a'];
    assert.deepEqual(code(await poll(`rooms=forge:a&cursor=${encodeCursor({ 'forge:a': { epoch: pos.epoch, offset: 99 } })}`)), [400, 'BAD_REQUEST']);
    assert.deepEqual(code(await poll('rooms=a:b&cursor=x&timeoutMs=abc')), [400, 'BAD_REQUEST']);
    assert.deepEqual(code(await poll('rooms=')), [400, 'BAD_REQUEST']);
    const outsider = await api(`${ts.url}/api/poll?rooms=a:b`, { headers: { Authorization: `Bearer ${await ts.token('o', { 'x:*': ['sub'] })}` } });
    assert.deepEqual([outsider.status, (outsider.body.error as { code: string }).code], [403, 'PERMISSION_DENIED']);
    const anon = await api(`${ts.url}/api/poll?rooms=a:b`);
    assert.deepEqual([anon.status, (anon.body.error as { code: string }).code], [401, 'NOT_AUTHENTICATED']);
    assert.equal((await api(`${ts.url}/healthz`)).status, 200);
  });
});
