import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { EventSource } from 'eventsource';
import { decodeCursor, encodeCursor, type SseMessageData } from '@aqueduct/protocol';
import { sseHttpOf } from '../src/http/api-mount.js';
import { formatEvent } from '../src/streams/sse-format.js';
import { connectClient, startTestServer, until, type TestServer } from './helpers.js';
import { RawSse, api } from './sse-helpers.js';

const API_KEY = 'test-api-key-0123456789abcdef';

describe('SSE: stream, ids, headers, heartbeats', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      apiKey: API_KEY,
      sse: { heartbeatMs: 150, retryMs: 500, maxStreamsPerUser: 3, maxRoomsPerStream: 4 },
      namespaces: { short: { historySize: 3 } },
    });
  });
  after(async () => { await ts.close(); });

  const publish = (room: string, data: unknown, extra: Record<string, unknown> = {}) =>
    api(`${ts.url}/api/publish`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { room, data, ...extra } });

  test('the eventsource package receives HTTP and room-bus publications in order, with ids', async () => {
    const token = await ts.token('reader', { 'news:*': ['sub'] });
    const es = new EventSource(`${ts.url}/api/events?rooms=news:a,news:b&token=${encodeURIComponent(token)}`);
    const got: Array<{ type: string; data: SseMessageData; id: string }> = [];
    const onEvent = (type: string) => (ev: MessageEvent) => got.push({ type, data: JSON.parse(ev.data as string) as SseMessageData, id: ev.lastEventId });
    es.addEventListener('message', onEvent('message'));
    es.addEventListener('alert', onEvent('alert'));
    const ready = new Promise<void>((resolve) => es.addEventListener('ready', () => resolve()));
    await ready;

    const writer = connectClient(ts.url, await ts.token('writer', { 'news:*': ['sub', 'pub'] }));
    const room = writer.room('news:b');
    await room.ready();
    assert.equal((await publish('news:a', { n: 1 })).status, 200);
    await room.publish({ n: 2 });
    assert.equal((await publish('news:a', { n: 3 }, { event: 'alert' })).status, 200);
    await room.publish({ n: 4 }, { event: 'alert' });
    await until(() => got.length === 4, 10_000, 'four events');
    writer.close();
    es.close();

    assert.deepEqual(got.map((e) => [e.type, e.data.room, (e.data.data as { n: number }).n]), [
      ['message', 'news:a', 1], ['message', 'news:b', 2], ['alert', 'news:a', 3], ['alert', 'news:b', 4],
    ]);
    assert.equal(got[1].data.from?.user, 'writer');
    assert.equal(got[2].data.event, 'alert');
    // Every id is the position of both rooms after that event.
    const last = decodeCursor(got[3].id);
    assert.deepEqual(Object.keys(last), ['news:a', 'news:b']);
    assert.equal(last['news:a'].offset, got[2].data.offset);
    assert.equal(last['news:b'].offset, got[3].data.offset);
    assert.equal(decodeCursor(got[0].id)['news:b'].offset, (got[1].data.offset as number) - 1);
  });

  test('headers, retry, ready, and heartbeats on an idle stream', async () => {
    const token = await ts.token('idle', { 'news:*': ['sub'] });
    const sse = new RawSse(`${ts.url}/api/events?rooms=news:idle`, { Authorization: `Bearer ${token}` });
    await sse.until(() => sse.events.some((e) => e.event === 'ready'), 5000, 'ready');
    assert.equal(sse.status, 200);
    assert.equal(sse.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(sse.headers['cache-control'], 'no-store');
    assert.equal(sse.headers['x-accel-buffering'], 'no');
    assert.equal(sse.retry, 500);
    const ready = sse.events.find((e) => e.event === 'ready');
    assert.ok(ready?.id);
    assert.deepEqual(Object.keys(JSON.parse(ready.data).rooms as object), ['news:idle']);
    await sse.until(() => sse.comments >= 2, 5000, 'two heartbeats');
    assert.match(sse.body, /\n: ping\n\n/);
    sse.close();
  });

  test('multi-line data is split into several data: lines', () => {
    assert.equal(formatEvent({ event: 'x', data: 'a\nb\r\nc', id: '1' }), 'event: x\ndata: a\ndata: b\ndata: c\nid: 1\n\n');
    assert.equal(formatEvent({ event: 'evil\nevent: y', data: 'd' }), 'event: evilevent: y\ndata: d\n\n');
    assert.equal(formatEvent({ data: '' }), 'data: \n\n');
  });

  test('a string with line breaks arrives intact', async () => {
    const token = await ts.token('lines', { 'news:*': ['sub'] });
    const sse = new RawSse(`${ts.url}/api/events?rooms=news:lines&token=${token}`);
    await sse.until(() => sse.events.some((e) => e.event === 'ready'), 5000, 'ready');
    await publish('news:lines', { text: 'one\ntwo\r\nthree' });
    await sse.until(() => sse.events.some((e) => e.event === 'message'), 5000, 'message');
    const msg = sse.events.find((e) => e.event === 'message');
    assert.equal((JSON.parse(msg?.data ?? '{}') as { data: { text: string } }).data.text, 'one\ntwo\r\nthree');
    sse.close();
  });

  test('Last-Event-ID resumes every room exactly; the header wins over ?lastEventId=', async () => {
    const token = await ts.token('resumer', { 'news:*': ['sub'] });
    const first = new RawSse(`${ts.url}/api/events?rooms=news:r1,news:r2&token=${token}`);
    await first.until(() => first.events.some((e) => e.event === 'ready'), 5000, 'ready');
    await publish('news:r1', 1);
    await publish('news:r2', 2);
    await first.until(() => first.events.filter((e) => e.event === 'message').length === 2, 5000, 'two');
    const id = first.lastId as string;
    const stale = first.events.find((e) => e.event === 'ready')?.id as string;
    first.close();
    await publish('news:r1', 3);
    await publish('news:r2', 4);
    await publish('news:r1', 5);
    const second = new RawSse(`${ts.url}/api/events?rooms=news:r1,news:r2&token=${token}&lastEventId=${stale}`, { 'Last-Event-ID': id });
    await second.until(() => second.events.some((e) => e.event === 'ready'), 5000, 'ready');
    const replayed = second.events.filter((e) => e.event === 'message').map((e) => (JSON.parse(e.data) as SseMessageData).data);
    // Room by room: r1's missed events, then r2's.
    assert.deepEqual(replayed, [3, 5, 4]);
    second.close();
    // ?lastEventId= alone works for clients that cannot set the header.
    const third = new RawSse(`${ts.url}/api/events?rooms=news:r1,news:r2&token=${token}&lastEventId=${id}`);
    await third.until(() => third.events.some((e) => e.event === 'ready'), 5000, 'ready');
    assert.deepEqual(third.events.filter((e) => e.event === 'message').map((e) => (JSON.parse(e.data) as SseMessageData).data), [3, 5, 4]);
    third.close();
  });

  test('history too short: event reset names the room, other rooms replay', async () => {
    const token = await ts.token('late', { '*': ['sub'] });
    const first = new RawSse(`${ts.url}/api/events?rooms=short:x,news:ok&token=${token}`);
    await first.until(() => first.events.some((e) => e.event === 'ready'), 5000, 'ready');
    const id = first.lastId as string;
    first.close();
    for (let i = 0; i < 10; i++) await publish('short:x', i);
    await publish('news:ok', 'kept');
    const second = new RawSse(`${ts.url}/api/events?rooms=short:x,news:ok&token=${token}`, { 'Last-Event-ID': id });
    await second.until(() => second.events.some((e) => e.event === 'ready'), 5000, 'ready');
    const [reset, msg] = second.events;
    assert.equal(reset.event, 'reset');
    const info = JSON.parse(reset.data) as { room: string; epoch: string; offset: number };
    assert.equal(info.room, 'short:x');
    assert.equal(info.offset, 10);
    assert.equal(decodeCursor(reset.id as string)['short:x'].offset, 10);
    assert.equal((JSON.parse(msg.data) as SseMessageData).data, 'kept');
    await publish('short:x', 'after');
    await second.until(() => second.events.some((e) => e.data.includes('"after"')), 5000, 'live after reset');
    second.close();
  });

  test('a memory broker that restarted: every room of an old id gets a reset', async () => {
    const token = await ts.token('restart', { 'news:*': ['sub'] });
    const first = new RawSse(`${ts.url}/api/events?rooms=news:restart&token=${token}`);
    await first.until(() => first.events.some((e) => e.event === 'ready'), 5000, 'ready');
    await publish('news:restart', 'before');
    await first.until(() => first.events.some((e) => e.event === 'message'), 5000, 'message');
    const id = first.lastId as string;
    first.close();
    // A new node with a fresh memory broker: the same rooms, new epochs.
    const other = await startTestServer({ apiKey: API_KEY });
    try {
      await api(`${other.url}/api/publish`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { room: 'news:restart', data: 'new life' } });
      const t2 = await other.token('restart', { 'news:*': ['sub'] });
      const second = new RawSse(`${other.url}/api/events?rooms=news:restart&token=${t2}`, { 'Last-Event-ID': id });
      await second.until(() => second.events.some((e) => e.event === 'ready'), 5000, 'ready');
      assert.equal(second.events[0].event, 'reset');
      const info = JSON.parse(second.events[0].data) as { room: string; epoch: string; offset: number };
      assert.equal(info.room, 'news:restart');
      assert.notEqual(info.epoch, decodeCursor(id)['news:restart'].epoch);
      assert.equal(info.offset, 1);
      second.close();
    } finally {
      await other.close();
    }
  });

  test('bad input gets the right status and code; the server stays up', async () => {
    const good = await ts.token('bad', { 'news:*': ['sub'] });
    const get = async (query: string, headers: Record<string, string> = {}) => {
      const s = new RawSse(`${ts.url}/api/events?${query}`, headers);
      await s.finished();
      return { status: s.status, code: s.status === 200 ? 'OK' : s.json().error?.code };
    };
    assert.deepEqual(await get('rooms=news:a'), { status: 401, code: 'NOT_AUTHENTICATED' });
    assert.deepEqual(await get(`rooms=news:a&token=garbage`), { status: 401, code: 'TOKEN_INVALID' });
    const expired = await ts.token('bad', { 'news:*': ['sub'] }, { ttlSec: -60 });
    assert.deepEqual(await get(`rooms=news:a&token=${expired}`), { status: 401, code: 'TOKEN_EXPIRED' });
    assert.deepEqual(await get(`rooms=secret:a&token=${good}`), { status: 403, code: 'PERMISSION_DENIED' });
    assert.deepEqual(await get(`rooms=news:a,secret:b&token=${good}`), { status: 403, code: 'PERMISSION_DENIED' });
    assert.deepEqual(await get(`token=${good}`), { status: 400, code: 'BAD_REQUEST' });
    assert.deepEqual(await get(`rooms=bad%20room&token=${good}`), { status: 400, code: 'INVALID_ROOM' });
    assert.deepEqual(await get(`rooms=news:1,news:2,news:3,news:4,news:5&token=${good}`), { status: 400, code: 'TOO_MANY_ROOMS' });
    assert.deepEqual(await get(`rooms=news:a&token=${good}`, { 'Last-Event-ID': 'not-a-cursor!' }), { status: 400, code: 'BAD_REQUEST' });
    assert.deepEqual(await get(`rooms=news:a&token=${good}&lastEventId=eyJub3QiOiJhbiBhcnJheSJ9`), { status: 400, code: 'BAD_REQUEST' });
    // Forged: the right epoch, an offset the room never reached.
    const probe = new RawSse(`${ts.url}/api/events?rooms=news:forge&token=${good}`);
    await probe.until(() => probe.events.some((e) => e.event === 'ready'), 5000, 'ready');
    const pos = decodeCursor(probe.lastId as string)['news:forge'];
    probe.close();
    const forged = encodeCursor({ 'news:forge': { epoch: pos.epoch, offset: pos.offset + 1000 } });
    const f = new RawSse(`${ts.url}/api/events?rooms=news:forge&token=${good}`, { 'Last-Event-ID': forged });
    await f.finished();
    assert.equal(f.status, 400);
    assert.equal(f.json().error?.code, 'BAD_REQUEST');
    assert.match(f.json().error?.message ?? '', /ahead of room news:forge/);
    const post = await api(`${ts.url}/api/events?rooms=news:a&token=${good}`, { method: 'POST' });
    assert.equal(post.status, 405);
    // Streams per user (3 here).
    const open = [0, 1, 2].map(() => new RawSse(`${ts.url}/api/events?rooms=news:many&token=${good}`));
    await Promise.all(open.map((s) => s.until(() => s.events.some((e) => e.event === 'ready'), 5000, 'ready')));
    assert.deepEqual(await get(`rooms=news:many&token=${good}`), { status: 429, code: 'RATE_LIMITED' });
    for (const s of open) s.close();
    await until(() => sseHttpOf(ts.server)?.registry.count({ id: 'bad', grants: [], expiresAt: 0 }) === 0, 5000, 'streams released');
    const again = new RawSse(`${ts.url}/api/events?rooms=news:many&token=${good}`);
    await again.until(() => again.events.some((e) => e.event === 'ready'), 5000, 'a stream after others closed');
    again.close();
    assert.equal((await api(`${ts.url}/healthz`)).status, 200);
  });

  test('odd inputs: BigInt data, a room named __proto__', async () => {
    const token = await ts.token('odd', { '*': ['sub'] });
    const sse = new RawSse(`${ts.url}/api/events?rooms=__proto__,news:big&token=${token}`);
    await sse.until(() => sse.events.some((e) => e.event === 'ready'), 5000, 'ready');
    assert.deepEqual(Object.keys(decodeCursor(sse.lastId as string)), ['__proto__', 'news:big']);
    await ts.server.publish('news:big', { n: 10n });
    await ts.server.publish('__proto__', 'proto');
    await sse.until(() => sse.events.filter((e) => e.event === 'message').length === 2, 5000, 'two events');
    const [big, proto] = sse.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data) as SseMessageData);
    assert.deepEqual(big.data, { n: '10' });
    assert.equal(proto.room, '__proto__');
    assert.equal(decodeCursor(sse.lastId as string)['__proto__'].offset, 1);
    sse.close();
  });

  test('shutdown ends streams with event: disconnect (4000, reconnect) and answers waiting polls', async () => {
    const node = await startTestServer();
    const token = await node.token('s', { 'news:*': ['sub'] });
    const sse = new RawSse(`${node.url}/api/events?rooms=news:bye&token=${token}`);
    await sse.until(() => sse.events.some((e) => e.event === 'ready'), 5000, 'ready');
    const start = await api(`${node.url}/api/poll?rooms=news:bye&token=${token}`);
    const waiting = api(`${node.url}/api/poll?rooms=news:bye&token=${token}&cursor=${start.body.cursor as string}`);
    await until(() => sseHttpOf(node.server)?.registry.size === 2, 5000, 'poll waiting');
    await node.close();
    await sse.until(() => sse.ended, 5000, 'stream ended');
    const last = sse.events[sse.events.length - 1];
    assert.equal(last.event, 'disconnect');
    assert.deepEqual(JSON.parse(last.data), { code: 4000, reason: 'server shutdown', reconnect: true });
    const polled = await waiting;
    assert.equal(polled.status, 200);
    assert.deepEqual((polled.body.events as Array<{ type: string; code: number }>).map((e) => [e.type, e.code]), [['disconnect', 4000]]);
  });

  test('a reader that never reads is closed with a bounded buffer', async (t) => {
    const slow = await startTestServer({ apiKey: API_KEY, sse: { bufferBytes: 256 * 1024 }, namespaces: { big: { historySize: 2 } } });
    try {
      const token = await slow.token('slow', { 'big:*': ['sub'] });
      const port = Number(new URL(slow.url).port);
      const socket = connect(port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(`GET /api/events?rooms=big:feed&token=${token} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
      // Read the headers, then never read again.
      await new Promise<void>((resolve) => socket.once('data', () => { socket.pause(); resolve(); }));
      const handle = sseHttpOf(slow.server);
      assert.ok(handle);
      await until(() => handle.streams.size === 1, 5000, 'stream open');
      const [stream] = [...handle.streams];
      const payload = 'x'.repeat(32 * 1024);
      let published = 0;
      // Kernel socket buffers absorb a few MB first; 64 MB is far beyond them.
      while (!stream.isClosed && published < 2000) {
        await slow.server.publish('big:feed', payload);
        published++;
        // Let the socket flush between publications, so the kernel buffers fill first.
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(stream.isClosed, `stream still open after ${published} publications`);
      t.diagnostic(`slow reader closed after ${published} publications`);
      assert.ok(stream.peakQueuedBytes <= 256 * 1024, `peak ${stream.peakQueuedBytes} bytes`);
      const metrics = await slow.server.metrics.registry.getSingleMetricAsString('aqueduct_slow_client_disconnects_total');
      assert.match(metrics, /transport="sse"[^\n]* 1/);
      socket.destroy();
      assert.equal((await api(`${slow.url}/healthz`)).status, 200);
    } finally {
      await slow.close();
    }
  });
});
