import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChaosProxy, startRedis, type RedisHandle } from '@aqueduct/testkit';
import { RedisDocBus } from '../src/docs/doc-bus-redis.js';
import type { RemoteDocUpdate } from '../src/docs/doc-bus.js';

let redis: RedisHandle;
before(async () => { redis = await startRedis(); });
after(async () => { await redis?.stop(); });

test('RedisDocBus carries updates between nodes, per document, until unsubscribed', async () => {
  const a = new RedisDocBus({ url: redis.url });
  const b = new RedisDocBus({ url: redis.url });
  after(() => Promise.all([a.close(), b.close()]));
  const got: RemoteDocUpdate[] = [];
  let notify = () => undefined as void;
  const off = b.subscribe('doc:one', (m) => { got.push(m); notify(); });
  const other: RemoteDocUpdate[] = [];
  b.subscribe('doc:two', (m) => other.push(m));
  // Wait until the subscription is live: publish until something arrives.
  const first = new Promise<void>((r) => { notify = r; });
  const tick = setInterval(() => a.publish({ doc: 'doc:one', update: new Uint8Array([0]), node: 'A', author: 'probe', seq: 0 }), 20);
  await first;
  clearInterval(tick);
  got.length = 0;
  const arrived = new Promise<void>((r) => { notify = () => { if (got.some((m) => m.author === 'alice')) r(); }; });
  a.publish({ doc: 'doc:one', update: new Uint8Array([1, 2, 3]), node: 'A', author: 'alice', seq: 7 });
  await arrived;
  const m = got.find((x) => x.author === 'alice')!;
  assert.deepEqual({ ...m, update: [...m.update] }, { doc: 'doc:one', update: [1, 2, 3], node: 'A', author: 'alice', seq: 7 });
  assert.equal(other.length, 0, 'other documents see nothing');
  off();
  assert.equal(a.health().ok, true);
});

test('RedisDocBus asks for a resync once a subscription is live and after a reconnect', async () => {
  const proxy = new ChaosProxy({ targetPort: redis.port });
  const port = await proxy.listen();
  const bus = new RedisDocBus({ url: `redis://127.0.0.1:${port}` });
  after(async () => { await bus.close(); await proxy.close(); });
  const resyncs: string[] = [];
  let wake = () => undefined as void;
  bus.onResync((doc) => { resyncs.push(doc); wake(); });
  const next = (n: number) => new Promise<void>((r) => { wake = () => { if (resyncs.length >= n) r(); }; wake(); });
  bus.subscribe('doc:r', () => undefined);
  await next(1);
  assert.deepEqual(resyncs, ['doc:r'], 'after the subscription took effect');
  proxy.cutAll();
  await next(2);
  assert.deepEqual(resyncs, ['doc:r', 'doc:r'], 'after the reconnect');
});
