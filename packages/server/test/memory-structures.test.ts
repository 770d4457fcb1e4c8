// The compact per-connection / per-room structures behind the idle-memory figures: they must behave
// exactly like the plain Map/Set/array forms they replace.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { Authenticator } from '../src/auth/auth.js';
import { MemoryBroker } from '../src/broker/broker-memory.js';
import type { PublishOptions } from '../src/broker/broker.js';
import { parseConfig } from '../src/config.js';
import { Hub, type Subscriber } from '../src/core/hub.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { MemoryPresence } from '../src/presence/presence-memory.js';
import { TokenBucket } from '../src/core/rate-limiter.js';
import { SmallMap } from '../src/core/small-map.js';

describe('SmallMap', () => {
  test('behaves like a Map under random operations (order included)', () => {
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let round = 0; round < 500; round++) {
      const small = new SmallMap<number>();
      const map = new Map<string, number>();
      for (let i = 0; i < 40; i++) {
        const key = `k${rnd(4)}`;
        const op = rnd(10);
        if (op < 4) {
          small.set(key, i);
          map.set(key, i);
        } else if (op < 8) {
          assert.equal(small.delete(key), map.delete(key));
        } else if (op === 8) {
          small.clear();
          map.clear();
        }
        assert.equal(small.size, map.size);
        assert.equal(small.get(key), map.get(key));
        assert.equal(small.has(key), map.has(key));
        assert.deepEqual([...small], [...map]);
      }
    }
  });
});

describe('MemoryPresence single-member rooms', () => {
  test('one member, a second, back to one and none', async () => {
    const p = new MemoryPresence();
    const a = { client: 'a', user: 'u1' };
    const b = { client: 'b', user: 'u2' };
    await p.add('r', a);
    await p.remove('r', 'other');
    assert.deepEqual(await p.list('r'), [a]);
    const a2 = { client: 'a', user: 'u1', info: { n: 2 } };
    await p.add('r', a2);
    assert.deepEqual(await p.list('r'), [a2]);
    await p.add('r', b);
    assert.deepEqual(await p.list('r'), [a2, b]);
    await p.remove('r', 'a');
    assert.deepEqual(await p.list('r'), [b]);
    await p.add('r', a);
    assert.deepEqual(await p.list('r'), [b, a]);
    await p.remove('r', 'a');
    await p.remove('r', 'b');
    assert.deepEqual(await p.list('r'), []);
  });
});

describe('MemoryBroker history ring', () => {
  const opts = (historySize: number): PublishOptions => ({ historySize, historyTtlMs: 60_000, idempotencyTtlMs: 60_000 });
  const offsets = async (b: MemoryBroker, room: string, limit = 100) => (await b.history(room, { limit })).publications.map((p) => p.offset);

  test('grows with the publications, wraps at historySize, follows a historySize change', async () => {
    const b = new MemoryBroker();
    await b.start({ onPublication() {}, onEphemeral() {}, onReset() {}, onControl() {} });
    assert.deepEqual(await offsets(b, 'r'), []);
    for (let i = 0; i < 2; i++) await b.publish('r', { data: i }, opts(3));
    assert.deepEqual(await offsets(b, 'r'), [1, 2]);
    for (let i = 0; i < 5; i++) await b.publish('r', { data: i }, opts(3));
    assert.deepEqual(await offsets(b, 'r'), [5, 6, 7]);
    assert.deepEqual(await offsets(b, 'r', 2), [6, 7]);
    const since = await b.history('r', { since: { epoch: (await b.position('r')).epoch, offset: 5 }, limit: 100 });
    assert.equal(since.recovered, true);
    assert.deepEqual(since.publications.map((p) => p.offset), [6, 7]);
    // Larger: keeps what it had and grows on.
    for (let i = 0; i < 3; i++) await b.publish('r', { data: i }, opts(5));
    assert.deepEqual(await offsets(b, 'r'), [6, 7, 8, 9, 10]);
    // Smaller: keeps the latest that fit.
    await b.publish('r', { data: 0 }, opts(2));
    assert.deepEqual(await offsets(b, 'r'), [10, 11]);
    // An idempotency key on a room that never had one.
    const first = await b.publish('q', { data: 1 }, { ...opts(3), idempotencyKey: 'k' });
    const again = await b.publish('q', { data: 1 }, { ...opts(3), idempotencyKey: 'k' });
    assert.deepEqual(again, { ...first, duplicate: true });
  });
});

describe('Hub', () => {
  const sub = (id: string): Subscriber => ({ id, user: undefined, deliver() {}, deliverEphemeral() {}, reset() {}, disconnect() {} });

  test('topRooms is roomStats sorted (most subscribers, then name) and cut', async () => {
    const config = parseConfig({});
    const hub = new Hub(new MemoryBroker(), new MemoryPresence(), config, new Metrics({ node: 't' }), createLogger('silent'));
    const names = ['b', 'a', 'é', 'e', 'A', 'z', 'ab', 'aa'];
    let n = 0;
    for (let i = 0; i < 60; i++) {
      const room = `${names[i % names.length]}${i % 5}`;
      for (let k = 0; k <= (i * 7) % 4; k++) await hub.subscribe(room, sub(`s${n++}`));
    }
    for (const limit of [1, 3, 10, 100]) {
      for (const exclude of [undefined, 'b0']) {
        const expected = hub.roomStats()
          .sort((x, y) => y.subscribers - x.subscribers || x.room.localeCompare(y.room))
          .filter((r) => r.room !== exclude)
          .slice(0, limit);
        assert.deepEqual(hub.topRooms(limit, exclude), expected);
      }
    }
    assert.equal(hub.roomCount, hub.roomStats().length);
  });

  test('a room with one subscriber, then two, then none', async () => {
    const config = parseConfig({});
    const hub = new Hub(new MemoryBroker(), new MemoryPresence(), config, new Metrics({ node: 't' }), createLogger('silent'));
    const a = sub('a');
    const b = sub('b');
    await hub.subscribe('r', a);
    assert.deepEqual(hub.roomStats(), [{ room: 'r', subscribers: 1 }]);
    await hub.subscribe('r', b);
    assert.deepEqual(hub.roomStats(), [{ room: 'r', subscribers: 2 }]);
    hub.unsubscribe('r', a);
    hub.unsubscribe('r', a);
    assert.deepEqual(hub.roomStats(), [{ room: 'r', subscribers: 1 }]);
    hub.unsubscribe('r', b);
    assert.deepEqual(hub.roomStats(), []);
    await hub.subscribe('r', a);
    hub.unsubscribe('r', b);
    assert.deepEqual(hub.roomStats(), [{ room: 'r', subscribers: 1 }]);
  });
});

describe('TokenBucket.isFull', () => {
  test('full when new, not after a take, full again once refilled', () => {
    const bucket = new TokenBucket(10, 2, 1000);
    assert.equal(bucket.isFull(1000), true);
    assert.equal(bucket.take(1000), true);
    assert.equal(bucket.isFull(1000), false);
    assert.equal(bucket.isFull(1050), false);
    assert.equal(bucket.isFull(1100), true);
  });
});

describe('Authenticator', () => {
  const secret = 'memory-structures-secret-0123456789';
  const sign = (alg: 'HS256' | 'HS384' | 'HS512', sub: string, rooms: Record<string, string[]>) =>
    new SignJWT({ rooms }).setProtectedHeader({ alg }).setSubject(sub).setExpirationTime('1h').sign(new TextEncoder().encode(secret));

  test('tokens with the same rooms claim share their parsed grants; every HMAC algorithm verifies', async () => {
    const auth = new Authenticator(parseConfig({ jwt: { secret } }).jwt);
    const u1 = await auth.verify(await sign('HS256', 'u1', { 'chat:*': ['sub', 'pub'] }));
    const u2 = await auth.verify(await sign('HS384', 'u2', { 'chat:*': ['sub', 'pub'] }));
    const u3 = await auth.verify(await sign('HS512', 'u3', { 'chat:*': ['sub'] }));
    assert.equal(u1.grants, u2.grants);
    assert.notEqual(u1.grants, u3.grants);
    assert.deepEqual(u1.grants.map((g) => ({ ...g, perms: [...g.perms] })), [{ pattern: 'chat:', prefix: true, perms: ['sub', 'pub'] }]);
    assert.ok(Object.isFrozen(u1.grants) && Object.isFrozen(u1.grants[0]));
    const none = await auth.verify(await sign('HS256', 'u4', {}));
    assert.deepEqual(none.grants, []);
  });
});
