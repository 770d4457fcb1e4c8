import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { ChaosProxy, startRedis, type RedisHandle } from '@aqueduct/testkit';
import { BrokerUnavailableError, type PublishOptions } from '../src/broker/broker.js';
import { RedisBroker } from '../src/broker/broker-redis.js';
import { runBrokerConformance } from './conformance/broker-conformance.js';
import { Recorder } from './conformance/recorder.js';

const OPTS: PublishOptions = { historySize: 1000, historyTtlMs: 60_000, idempotencyTtlMs: 60_000 };

/** Retries `fn` until it resolves (Redis coming back has no event the test can await directly). */
async function eventually<T>(fn: () => Promise<T>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

let redis: RedisHandle;
before(async () => { redis = await startRedis(); });
after(async () => { await redis?.stop(); });

runBrokerConformance('redis', {
  shared: true,
  async node(handler) {
    const broker = new RedisBroker({ url: redis.url });
    await broker.start(handler);
    return broker;
  },
});

describe('RedisBroker failures', () => {
  const brokers: RedisBroker[] = [];
  const node = async (url: string, opts: Partial<ConstructorParameters<typeof RedisBroker>[0]> = {}) => {
    const rec = new Recorder();
    const broker = new RedisBroker({ url, commandTimeoutMs: 2000, ...opts });
    brokers.push(broker);
    await broker.start(rec);
    return { rec, broker };
  };
  after(async () => { await Promise.all(brokers.map((b) => b.close())); });

  test('a dropped subscriber connection is caught up from history: every publication once, in order', async () => {
    const a = await node(redis.url);
    const b = await node(redis.url);
    const room = `gap:${randomUUID().slice(0, 8)}`;
    await a.broker.subscribe(room);
    const admin = new Redis(redis.url);
    after(() => admin.disconnect());
    const total = 400;
    for (let i = 1; i <= total; i++) {
      await b.broker.publish(room, { data: i }, OPTS);
      // Kill every pub/sub connection twice mid-stream: messages published meanwhile are lost on the wire.
      if (i === 100 || i === 250) await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    }
    await a.rec.until(() => a.rec.pubs(room).length >= total, `${total} publications on node A`);
    assert.deepEqual(a.rec.pubs(room).map((p) => p.offset), Array.from({ length: total }, (_, i) => i + 1));
    assert.deepEqual(a.rec.resets(room), []);
  });

  test('random cuts of a node\'s Redis connections during a stream: every publication once, in order', async () => {
    const proxy = new ChaosProxy({ targetPort: redis.port });
    const port = await proxy.listen();
    after(() => proxy.close());
    const a = await node(`redis://127.0.0.1:${port}`);
    const b = await node(redis.url);
    const room = `chaos:${randomUUID().slice(0, 8)}`;
    await a.broker.subscribe(room);
    const total = 2000;
    proxy.startRandomCuts({ minMs: 20, maxMs: 80 });
    // History holds the whole stream, so every gap the cuts make can be filled from it.
    const opts = { ...OPTS, historySize: 10_000 };
    for (let base = 0; base < total; base += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, k) => b.broker.publish(room, { data: base + k }, opts)));
    }
    // The last cut may have hidden the tail; a final publish after the cuts stop reveals any gap.
    proxy.stopRandomCuts();
    await b.broker.publish(room, { data: 'end' }, opts);
    await a.rec.until(() => a.rec.pubs(room).length >= total + 1, `${total + 1} publications through the cuts`, 60_000);
    assert.ok(proxy.cuts > 0, 'connections were cut');
    assert.deepEqual(a.rec.pubs(room).map((p) => p.offset), Array.from({ length: total + 1 }, (_, i) => i + 1));
    assert.deepEqual(a.rec.resets(room), []);
  });

  test('Redis restarted with its data lost: onReset for subscribed rooms, recovered:false, service resumes', async () => {
    const own = await startRedis();
    after(() => own.stop());
    const a = await node(own.url);
    const b = await node(own.url);
    const room = `reset:${randomUUID().slice(0, 8)}`;
    await a.broker.subscribe(room);
    let old = { epoch: '', offset: 0 };
    for (let i = 1; i <= 5; i++) old = await b.broker.publish(room, { data: i }, OPTS);
    await a.rec.until(() => a.rec.pubs(room).length === 5);

    await own.restart();
    await a.rec.until(() => a.rec.resets(room).length > 0, 'onReset after the restart');
    const reset = a.rec.resets(room)[0];
    assert.notEqual(reset.epoch, old.epoch);
    assert.equal(reset.offset, 0);

    // Node B may still be reconnecting (its own backoff).
    const page = await eventually(() => b.broker.history(room, { since: { epoch: old.epoch, offset: old.offset }, limit: 100 }), 'history on node B');
    assert.equal(page.recovered, false);
    assert.equal(page.epoch, reset.epoch);

    const next = await eventually(() => b.broker.publish(room, { data: 'after' }, OPTS), 'publish after restart');
    assert.deepEqual({ epoch: next.epoch, offset: next.offset }, { epoch: reset.epoch, offset: 1 });
    await a.rec.until(() => a.rec.pubs(room).length === 6);
    assert.deepEqual(a.rec.pubs(room)[5], { epoch: reset.epoch, offset: 1, data: 'after' });
  });

  /** A Redis behind a proxy the test can make unreachable without freeing any port. */
  async function reachableRedis() {
    const own = await startRedis();
    const proxy = new ChaosProxy({ targetPort: own.port });
    const port = await proxy.listen();
    after(async () => { await proxy.close(); await own.stop(); });
    return { url: `redis://127.0.0.1:${port}`, proxy };
  }

  test('Redis down: operations reject with BrokerUnavailableError, health says so, service resumes', async () => {
    const { url, proxy } = await reachableRedis();
    const a = await node(url);
    const room = `down:${randomUUID().slice(0, 8)}`;
    await a.broker.subscribe(room);
    await a.broker.publish(room, { data: 1 }, OPTS);
    assert.equal(a.broker.health().ok, true);

    proxy.block();
    const err = await eventually(async () => {
      try {
        await a.broker.publish(room, { data: 'lost?' }, OPTS);
      } catch (e) {
        return e;
      }
      throw new Error('publish still succeeds');
    }, 'publish failing');
    assert.ok(err instanceof BrokerUnavailableError, String(err));
    assert.equal((err as BrokerUnavailableError).temporary, true);
    await assert.rejects(a.broker.history(room, { limit: 1 }), BrokerUnavailableError);
    await assert.rejects(a.broker.position(room), BrokerUnavailableError);
    await assert.rejects(a.broker.publishEphemeral(room, { kind: 'volatile', data: 1 }), BrokerUnavailableError);
    await assert.rejects(a.broker.subscribe(`${room}-2`), BrokerUnavailableError);
    assert.equal(a.broker.health().ok, false, JSON.stringify(a.broker.health()));

    proxy.unblock();
    await eventually(async () => { if (!a.broker.health().ok) throw new Error('not healthy'); }, 'health back');
    const out = await eventually(() => a.broker.publish(room, { data: 'back' }, OPTS), 'publish after recovery');
    await a.rec.until(() => a.rec.pubs(room).some((p) => p.data === 'back'), 'delivery after recovery');
    assert.equal(out.offset, 2, 'same Redis, same epoch: the failed publish was not stored');
    assert.deepEqual(a.rec.pubs(room).map((p) => p.offset), [1, 2]);
  });

  test('Redis unreachable at start: the broker starts degraded and connects when Redis appears', async () => {
    const { url, proxy } = await reachableRedis();
    proxy.block();
    const a = await node(url, { connectTimeoutMs: 300 });
    assert.equal(a.broker.health().ok, false);
    await assert.rejects(a.broker.publish('late:x', { data: 1 }, OPTS), BrokerUnavailableError);
    proxy.unblock();
    await eventually(async () => { if (!a.broker.health().ok) throw new Error('not healthy'); }, 'health');
    const room = `late:${randomUUID().slice(0, 8)}`;
    await a.broker.subscribe(room);
    await a.broker.publish(room, { data: 1 }, OPTS);
    await a.rec.until(() => a.rec.pubs(room).length === 1);
    const user = `u-${randomUUID()}`;
    await eventually(async () => {
      await a.broker.publishControl({ kind: 'disconnect', user });
      await a.rec.until(() => a.rec.controls().some((c) => c.user === user), 'control', 500);
    }, 'control channel subscribed after late connect');
  });
});
