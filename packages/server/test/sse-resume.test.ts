import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventSource } from 'eventsource';
import { ChaosProxy } from '@aqueduct/testkit';
import type { SseMessageData } from '@aqueduct/protocol';
import { startTestServer, until, type TestServer } from './helpers.js';
import { ROOMS, TOTAL, assertExactlyOnce, publishMany } from './sse-helpers.js';

const API_KEY = 'test-api-key-0123456789abcdef';

describe('SSE resume: the connection is killed mid-stream', () => {
  let ts: TestServer;
  let proxy: ChaosProxy;
  before(async () => {
    ts = await startTestServer({ apiKey: API_KEY, sse: { retryMs: 50 }, namespaces: { feed: { historySize: 10_000 } } });
    proxy = new ChaosProxy({ targetPort: Number(new URL(ts.url).port) });
    await proxy.listen();
  });
  after(async () => {
    await proxy.close();
    await ts.close();
  });

  test(`${TOTAL} events over three rooms, three cuts: every event exactly once, in order per room (eventsource package)`, async (t) => {
    const token = await ts.token('reader', { 'feed:*': ['sub'] });
    const es = new EventSource(`http://127.0.0.1:${proxy.port}/api/events?rooms=${ROOMS.join(',')}&token=${encodeURIComponent(token)}`);
    const received: Array<{ room: string; i: number; offset: number }> = [];
    let readies = 0;
    let errors = 0;
    let lastId = '';
    es.addEventListener('message', (ev) => {
      const m = JSON.parse(ev.data as string) as SseMessageData;
      assert.ok(ev.lastEventId, 'every publication has an id');
      lastId = ev.lastEventId;
      received.push({ room: m.room, i: (m.data as { i: number }).i, offset: m.offset as number });
    });
    es.addEventListener('ready', () => { readies++; });
    es.addEventListener('reset', () => assert.fail('no reset expected: history covers every gap'));
    es.onerror = () => { errors++; };
    await until(() => readies === 1, 10_000, 'first ready');
    const behind: number[] = [];
    let cuts = 0;
    await publishMany(ts, ROOMS, TOTAL, [1200, 2600, 4100], async (published) => {
      // Cut a live stream: a cut that lands while the client is still reconnecting cuts nothing.
      await until(() => readies > cuts, 10_000, `stream connected again before cut ${cuts + 1}`);
      cuts++;
      behind.push(published - received.length);
      proxy.cutAll();
    });
    await until(() => received.length >= TOTAL, 60_000, `all ${TOTAL} events (have ${received.length})`);
    // Nothing more arrives after the last one (no duplicates in flight).
    await ts.server.publish('feed:a', { i: -1 });
    await until(() => received.length === TOTAL + 1, 10_000, 'sentinel');
    es.close();
    received.pop();
    assertExactlyOnce(received, ROOMS, TOTAL);
    assert.ok(readies >= 4, `reconnected ${readies - 1} times`);
    assert.ok(errors >= 3);
    assert.ok(proxy.accepted >= 4);
    assert.ok(lastId.length > 0);
    t.diagnostic(`reconnects: ${readies - 1}, connections through the proxy: ${proxy.accepted}, events not yet received at each cut: ${behind.join(', ')}`);
  });
});
