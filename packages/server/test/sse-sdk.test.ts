import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AqueductError, subscribeEvents, type EventMessage, type EventsState, type SseResetData } from '@aqueduct/client';
import { ChaosProxy } from '@aqueduct/testkit';
import { connectClient, startTestServer, until, type TestServer } from './helpers.js';
import { api } from './sse-helpers.js';

const API_KEY = 'test-api-key-0123456789abcdef';

interface Recorder {
  messages: Array<EventMessage<{ n: number }>>;
  resets: SseResetData[];
  readies: number;
  errors: AqueductError[];
  states: EventsState[];
}

function recorder(): Recorder & { handlers: Parameters<typeof subscribeEvents<{ n: number }>>[0]['handlers'] } {
  const r: Recorder = { messages: [], resets: [], readies: 0, errors: [], states: [] };
  return Object.assign(r, {
    handlers: {
      message: (m: EventMessage<{ n: number }>) => r.messages.push(m),
      reset: (info: SseResetData) => r.resets.push(info),
      ready: () => { r.readies++; },
      error: (e: AqueductError) => r.errors.push(e),
      state: (s: EventsState) => r.states.push(s),
    },
  });
}

describe('client SDK: client.events() and subscribeEvents()', () => {
  let ts: TestServer;
  let proxy: ChaosProxy;
  before(async () => {
    ts = await startTestServer({ apiKey: API_KEY, jwt: { clockSkewSec: 0 }, sse: { retryMs: 50 }, namespaces: { tiny: { historySize: 2 } } });
    proxy = new ChaosProxy({ targetPort: Number(new URL(ts.url).port) });
    await proxy.listen();
  });
  after(async () => {
    await proxy.close();
    await ts.close();
  });

  const publish = (room: string, data: unknown, event?: string) =>
    api(`${ts.url}/api/publish`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { room, data, event } });

  test('typed messages (every event name), ready, and exact resume after a cut', async () => {
    const client = connectClient(`http://127.0.0.1:${proxy.port}`, await ts.token('sdk', { 'news:*': ['sub', 'pub'] }));
    const r = recorder();
    const sub = client.events<{ n: number }>(['news:s1', 'news:s2'], r.handlers);
    await until(() => r.readies === 1, 10_000, 'ready');
    assert.equal(sub.state, 'open');
    await publish('news:s1', { n: 1 });
    await publish('news:s2', { n: 2 }, 'custom-name');
    await until(() => r.messages.length === 2, 5000, 'two messages');
    assert.deepEqual(r.messages.map((m) => [m.room, m.event, m.data.n, m.volatile]), [['news:s1', 'message', 1, false], ['news:s2', 'custom-name', 2, false]]);
    const idBefore = sub.lastEventId;
    proxy.cutAll();
    for (let n = 3; n <= 20; n++) await publish(n % 2 ? 'news:s1' : 'news:s2', { n });
    await until(() => r.messages.length === 20, 10_000, 'all twenty');
    for (const room of ['news:s1', 'news:s2']) {
      const ns = r.messages.filter((m) => m.room === room).map((m) => m.data.n);
      assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `${room} in order`);
      assert.equal(new Set(ns).size, 10, `${room} exactly once`);
    }
    assert.ok(r.readies >= 2);
    assert.notEqual(sub.lastEventId, idBefore);
    sub.close();
    assert.equal(sub.state, 'closed');
    client.close();
  });

  test('the reset signal reaches the app', async () => {
    const token = await ts.token('sdk', { 'tiny:*': ['sub'] });
    const r1 = recorder();
    const first = subscribeEvents({ url: ts.url, token, rooms: ['tiny:r'], handlers: r1.handlers });
    await until(() => r1.readies === 1, 10_000, 'ready');
    const id = first.lastEventId;
    first.close();
    for (let n = 0; n < 5; n++) await publish('tiny:r', { n });
    const r2 = recorder();
    const second = subscribeEvents({ url: ts.url, token, rooms: ['tiny:r'], handlers: r2.handlers, lastEventId: id });
    await until(() => r2.readies === 1, 10_000, 'ready');
    assert.deepEqual(r2.resets.map((x) => [x.room, x.offset]), [['tiny:r', 5]]);
    await publish('tiny:r', { n: 99 });
    await until(() => r2.messages.length === 1, 5000, 'live after reset');
    second.close();
  });

  test('an expired token is replaced by the token function and nothing is lost', async () => {
    let issued = 0;
    const token = async () => ts.token('expiring', { 'news:*': ['sub'] }, { ttlSec: issued++ === 0 ? 2 : 3600 });
    const r = recorder();
    const sub = subscribeEvents<{ n: number }>({ url: ts.url, token, rooms: ['news:exp'], handlers: r.handlers, reconnect: { minDelayMs: 20, maxDelayMs: 100 } });
    await until(() => r.readies === 1, 10_000, 'ready');
    await publish('news:exp', { n: 1 });
    // The server ends the stream when the first token expires (event: disconnect, 4003, reconnect).
    await until(() => r.readies === 2, 10_000, 'reopened with a fresh token');
    await publish('news:exp', { n: 2 });
    await until(() => r.messages.length === 2, 5000, 'both');
    assert.deepEqual(r.messages.map((m) => m.data.n), [1, 2]);
    assert.ok(issued >= 2);
    sub.close();
  });

  test('permanent failures are reported with their code and close the subscription', async () => {
    const r = recorder();
    const sub = subscribeEvents({ url: ts.url, token: 'not-a-token', rooms: ['news:x'], handlers: r.handlers });
    await until(() => sub.state === 'closed', 10_000, 'closed');
    assert.equal(r.errors[0]?.code, 'TOKEN_INVALID');
    assert.equal(r.errors[0]?.temporary, false);
    const r2 = recorder();
    const sub2 = subscribeEvents({ url: ts.url, token: await ts.token('x', { 'news:*': ['sub'] }), rooms: ['secret:x'], handlers: r2.handlers });
    await until(() => sub2.state === 'closed', 10_000, 'closed');
    assert.equal(r2.errors[0]?.code, 'PERMISSION_DENIED');
  });

  test('a server disconnect with reconnect: false stops the helper', async () => {
    const token = await ts.token('kicked', { 'news:*': ['sub'] });
    const r = recorder();
    const sub = subscribeEvents({ url: ts.url, token, rooms: ['news:kick'], handlers: r.handlers });
    await until(() => r.readies === 1, 10_000, 'ready');
    const res = await api(`${ts.url}/api/rooms/news:kick/disconnect`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { user: 'kicked' } });
    assert.equal(res.status, 200);
    await until(() => sub.state === 'closed', 10_000, 'closed');
    assert.equal(r.errors[0]?.code, 'CLOSED');
  });
});
