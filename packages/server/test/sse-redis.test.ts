import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisHandle } from '@aqueduct/testkit';
import { type PollResult, type SseMessageData } from '@aqueduct/protocol';
import { startTestServer, type TestServer } from './helpers.js';
import { RawSse, api } from './sse-helpers.js';

const API_KEY = 'test-api-key-0123456789abcdef';

/** Two nodes on one redis-server: an SSE id or poll cursor from one node resumes exactly on the other. */
describe('SSE and polling across nodes (Redis broker)', () => {
  let redis: RedisHandle;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    redis = await startRedis();
    const config = { apiKey: API_KEY, redisUrl: redis.url, namespaces: { feed: { historySize: 1000 } } };
    a = await startTestServer(config);
    b = await startTestServer(config);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  const publish = (node: TestServer, room: string, data: unknown) =>
    api(`${node.url}/api/publish`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { room, data } });
  const messages = (s: RawSse) => s.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data) as SseMessageData);

  test('an id from node A resumes on node B: every event once, in order per room', async () => {
    const token = await a.token('roamer', { 'feed:*': ['sub'] });
    const rooms = 'feed:x,feed:y';
    const onA = new RawSse(`${a.url}/api/events?rooms=${rooms}&token=${token}`);
    await onA.until(() => onA.events.some((e) => e.event === 'ready'), 10_000, 'ready on A');
    for (let i = 0; i < 60; i++) await publish(b, i % 2 ? 'feed:y' : 'feed:x', i);
    await onA.until(() => messages(onA).length === 60, 10_000, '60 on A');
    // Resume from the id of the 30th event, on the other node, after more publications.
    const cut = onA.events.filter((e) => e.event === 'message')[29];
    onA.close();
    for (let i = 60; i < 100; i++) await publish(a, i % 2 ? 'feed:y' : 'feed:x', i);
    const onB = new RawSse(`${b.url}/api/events?rooms=${rooms}&token=${token}`, { 'Last-Event-ID': cut.id as string });
    await onB.until(() => onB.events.some((e) => e.event === 'ready'), 10_000, 'ready on B');
    await publish(a, 'feed:x', 100);
    await onB.until(() => messages(onB).length === 71, 10_000, 'replay and live on B');
    onB.close();
    assert.ok(!onB.events.some((e) => e.event === 'reset'), 'no reset: Redis history covers the gap');
    const got = [...messages(onA).slice(0, 30), ...messages(onB)];
    for (const room of ['feed:x', 'feed:y']) {
      const seq = got.filter((m) => m.room === room).map((m) => m.data as number);
      const expected = Array.from({ length: 101 }, (_, i) => i).filter((i) => (room === 'feed:y') === (i % 2 === 1));
      assert.deepEqual(seq, expected, `${room}: every event once, in order`);
    }
    // A poll cursor is the same value: B answers a cursor A produced.
    const start = (await api(`${a.url}/api/poll?rooms=${rooms}&token=${token}`)).body as unknown as PollResult;
    await publish(a, 'feed:y', 'via poll');
    const r = (await api(`${b.url}/api/poll?rooms=${rooms}&token=${token}&cursor=${start.cursor}&timeoutMs=5000`)).body as unknown as PollResult;
    assert.deepEqual(r.events.map((e) => e.type === 'message' && e.data), ['via poll']);
  });
});
