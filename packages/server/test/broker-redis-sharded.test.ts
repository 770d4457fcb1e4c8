import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { startRedis, type RedisHandle } from '@aqueduct/testkit';
import { BrokerUnavailableError, type PublishOptions } from '../src/broker/broker.js';
import { ShardedRedisBroker } from '../src/broker/broker-redis-sharded.js';
import { ShardRing } from '../src/broker/shard-ring.js';
import { ShardedRedisPresence } from '../src/presence/presence-redis-sharded.js';
import { runBrokerConformance } from './conformance/broker-conformance.js';
import { runPresenceConformance } from './conformance/presence-conformance.js';
import { Recorder } from './conformance/recorder.js';

const OPTS: PublishOptions = { historySize: 100, historyTtlMs: 60_000, idempotencyTtlMs: 60_000 };

let shards: RedisHandle[] = [];
const urls = () => shards.map((s) => s.url);
before(async () => { shards = await Promise.all([startRedis(), startRedis(), startRedis()]); });
after(async () => { await Promise.all(shards.map((s) => s.stop())); });

runBrokerConformance('redis, 3 shards', {
  shared: true,
  async node(handler) {
    const broker = new ShardedRedisBroker({ urls: urls() });
    await broker.start(handler);
    return broker;
  },
});

runPresenceConformance('redis, 3 shards', { shared: true, node: async () => new ShardedRedisPresence({ urls: urls() }) });

describe('rendezvous hashing', () => {
  test('the same room maps to the same shard whatever the listing order; adding a shard moves rooms only to it', () => {
    const ids = ['a:6379/0', 'b:6379/0', 'c:6379/0'];
    const ring = new ShardRing(ids.map((id) => ({ id, value: id })));
    const reversed = new ShardRing([...ids].reverse().map((id) => ({ id, value: id })));
    const grown = new ShardRing([...ids, 'd:6379/0'].map((id) => ({ id, value: id })));
    let moved = 0;
    for (let i = 0; i < 3000; i++) {
      const room = `chat:r${i}`;
      assert.equal(ring.of(room), reversed.of(room));
      if (grown.of(room) !== ring.of(room)) {
        moved++;
        assert.equal(grown.of(room), 'd:6379/0', 'a room that moves, moves to the new shard');
      }
    }
    // About a quarter moves; bounds wide enough never to flake, narrow enough to catch "everything moved".
    assert.ok(moved > 400 && moved < 1200, `moved ${moved} of 3000`);
  });
});

describe('sharded Redis failures', () => {
  test('rooms spread over every shard: each shard holds keys', async () => {
    const broker = new ShardedRedisBroker({ urls: urls() });
    await broker.start(new Recorder());
    after(() => broker.close());
    const tag = randomUUID().slice(0, 8);
    const rooms = Array.from({ length: 60 }, (_, i) => `spread:${tag}-${i}`);
    for (const r of rooms) await broker.publish(r, { data: r }, OPTS);
    const counts = await Promise.all(shards.map(async (s) => {
      const c = new Redis(s.url);
      try {
        return (await c.keys(`aq:{spread:${tag}-*}:m`)).length;
      } finally {
        c.disconnect();
      }
    }));
    assert.equal(counts.reduce((a, b) => a + b, 0), rooms.length, `each room on exactly one shard: ${counts}`);
    assert.ok(counts.every((c) => c > 0), `every shard holds rooms: ${counts}`);
    for (const r of rooms) {
      const c = new Redis(shards[broker.shardOf(r)].url);
      assert.equal(await c.exists(`aq:{${r}}:h`), 1, `${r} is on the shard the ring names`);
      c.disconnect();
    }
  });

  test('one shard killed: only its rooms are unavailable; the others keep flowing; it comes back', async () => {
    const own = await Promise.all([startRedis(), startRedis(), startRedis()]);
    after(() => Promise.all(own.map((s) => s.stop())));
    const mk = async () => {
      const rec = new Recorder();
      const broker = new ShardedRedisBroker({ urls: own.map((s) => s.url), commandTimeoutMs: 1000 });
      await broker.start(rec);
      after(() => broker.close());
      return { rec, broker };
    };
    const a = await mk();
    const b = await mk();
    const tag = randomUUID().slice(0, 8);
    const rooms = Array.from({ length: 30 }, (_, i) => `kill:${tag}-${i}`);
    for (const r of rooms) await a.broker.subscribe(r);
    const victim = 1;
    const onVictim = rooms.filter((r) => a.broker.shardOf(r) === victim);
    const others = rooms.filter((r) => a.broker.shardOf(r) !== victim);
    assert.ok(onVictim.length > 0 && others.length > 0);

    await own[victim].kill();
    for (const r of onVictim) await assert.rejects(b.broker.publish(r, { data: 'x' }, OPTS), BrokerUnavailableError);
    for (const r of others) await b.broker.publish(r, { data: 'during' }, OPTS);
    await a.rec.until(() => others.every((r) => a.rec.pubs(r).length === 1), 'publications on the live shards');
    assert.ok(others.every((r) => a.rec.pubs(r)[0].data === 'during'));
    assert.ok(onVictim.every((r) => a.rec.pubs(r).length === 0));
    assert.equal(a.broker.health().ok, true, 'a node stays ready while other shards are up');
    assert.match(a.broker.health().detail ?? '', /2\/3 shards up/);

    await own[victim].restart();
    for (const r of onVictim) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          await b.broker.publish(r, { data: 'after' }, OPTS);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    }
    await a.rec.until(() => onVictim.every((r) => a.rec.pubs(r).some((p) => p.data === 'after')), 'the restarted shard\'s rooms flow again');
  });
});
