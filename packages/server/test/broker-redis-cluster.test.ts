import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import WebSocket from 'ws';
import { AqueductClient, type RoomMessage, type WebSocketConstructor } from '@aqueduct/client';
import { signToken, spawnServer, startRedisCluster, type RedisClusterHandle } from '@aqueduct/testkit';
import { createBackends } from '../src/cluster/backends.js';
import type { PublishOptions } from '../src/broker/broker.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { RedisPresence } from '../src/presence/presence-redis.js';
import { runBrokerConformance } from './conformance/broker-conformance.js';
import { runPresenceConformance } from './conformance/presence-conformance.js';
import { Recorder } from './conformance/recorder.js';

/* Issue 14: the broker and presence conformance suites on a Redis Cluster of 3 masters, built from
 * the config (`redisUrl` = the seed nodes, `redis.cluster` = true) exactly as a server does. */

let cluster: RedisClusterHandle;
before(async () => { cluster = await startRedisCluster({ masters: 3 }); });
after(async () => { await cluster?.stop(); });

const logger = createLogger('silent');
const backends = () => createBackends(loadConfig({ env: {}, overrides: { redisUrl: cluster.url, redis: { cluster: true } } }), logger, {});

runBrokerConformance('Redis Cluster, 3 masters', {
  shared: true,
  async node(handler) {
    const { broker, presence } = await backends();
    await presence.close();
    await broker.start(handler);
    return broker;
  },
});

runPresenceConformance('Redis Cluster, 3 masters', {
  shared: true,
  async node() {
    const { broker, presence } = await backends();
    await broker.close();
    return presence;
  },
});

const OPTS: PublishOptions = { historySize: 100, historyTtlMs: 60_000, idempotencyTtlMs: 60_000 };

/** Polls `check` (a key expiring has no event). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Redis Cluster', () => {
  test('a room\'s keys share one slot; rooms spread over every master', async () => {
    const { broker, presence } = await backends();
    await broker.start(new Recorder());
    after(async () => { await broker.close(); await presence.close(); });
    const tag = randomUUID().slice(0, 8);
    const rooms = Array.from({ length: 60 }, (_, i) => `spread:${tag}-${i}`);
    for (const r of rooms) {
      await broker.publish(r, { data: r }, OPTS);
      await broker.publish(r, { data: r }, { ...OPTS, idempotencyKey: 'k1' });
      await presence.add(r, { client: `c-${r}`, user: 'u' });
    }
    const perNode = await Promise.all(cluster.nodes.map(async (n) => {
      const c = new Redis(n.url);
      try {
        return await c.keys(`aq:{spread:${tag}-*}:*`);
      } finally {
        c.disconnect();
      }
    }));
    // meta, history, idempotency key and presence hash of each room, all on one master.
    assert.equal(perNode.flat().length, rooms.length * 4, `keys per master: ${perNode.map((k) => k.length)}`);
    assert.ok(perNode.every((k) => k.length > 0), `every master holds rooms: ${perNode.map((k) => k.length)}`);
    for (const r of rooms) {
      const holders = perNode.filter((keys) => keys.some((k) => k.startsWith(`aq:{${r}}:`)));
      assert.equal(holders.length, 1, `${r} lives on one master`);
      assert.equal(holders[0].filter((k) => k.startsWith(`aq:{${r}}:`)).length, 4);
    }
  });

  test('a publication reaches a node whose subscriber is on another master (pub/sub across the cluster)', async () => {
    const nodes = await Promise.all([0, 1, 2].map(async () => {
      const rec = new Recorder();
      const { broker, presence } = await backends();
      await presence.close();
      await broker.start(rec);
      after(() => broker.close());
      return { rec, broker };
    }));
    const tag = randomUUID().slice(0, 8);
    const rooms = Array.from({ length: 12 }, (_, i) => `x:${tag}-${i}`);
    for (const n of nodes) for (const r of rooms) await n.broker.subscribe(r);
    for (const r of rooms) for (let i = 0; i < 5; i++) await nodes[i % 3].broker.publish(r, { data: i }, OPTS);
    for (const n of nodes) {
      await n.rec.until(() => rooms.every((r) => n.rec.pubs(r).length === 5), 'every publication on every node');
      for (const r of rooms) assert.deepEqual(n.rec.pubs(r).map((p) => [p.offset, p.data]), [[1, 0], [2, 1], [3, 2], [4, 3], [5, 4]]);
    }
  });

  test('a dead node\'s presence entries vanish within the TTL (liveness across slots)', async () => {
    const make = () => new RedisPresence({ url: cluster.url, cluster: true, heartbeatMs: 100, ttlMs: 400 });
    const live = make();
    const dead = make();
    after(() => live.close());
    const r = `pres:dead-${randomUUID().slice(0, 8)}`;
    await live.add(r, { client: 'l1', user: 'liz' });
    await dead.add(r, { client: 'd1', user: 'dan' });
    assert.equal((await live.list(r)).length, 2);
    dead.abandon();
    await until(async () => (await live.list(r)).length === 1, 'the dead node\'s member to vanish');
    assert.deepEqual(await live.list(r), [{ client: 'l1', user: 'liz' }]);
    // The sweep removed it from Redis, not just from the listing.
    const c = new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
    after(() => c.disconnect());
    assert.deepEqual(Object.keys(await c.hgetall(`aq:{${r}}:p`)), ['l1']);
  });
});

describe('servers on a Redis Cluster (REDIS_URL = seed nodes, REDIS_CLUSTER=1)', () => {
  test('two nodes: ready; a client on A receives B\'s publications in order, once; presence across nodes', async () => {
    const secret = 'redis-cluster-secret-0123456789ab';
    const env = { REDIS_URL: cluster.url, REDIS_CLUSTER: '1', AQUEDUCT_JWT_SECRET: secret };
    const [A, B] = await Promise.all([spawnServer({ env: { ...env, AQUEDUCT_NODE_ID: 'rc-a' } }), spawnServer({ env: { ...env, AQUEDUCT_NODE_ID: 'rc-b' } })]);
    const clients: AqueductClient[] = [];
    after(async () => {
      for (const c of clients) c.close();
      await Promise.all([A.kill('SIGTERM'), B.kill('SIGTERM')]);
    });
    for (const n of [A, B]) assert.equal((await fetch(`${n.url}/readyz`)).status, 200, n.logs());
    const tok = (sub: string) => signToken(secret, { sub, rooms: { 'chat:*': ['sub', 'pub', 'presence'] } });
    const client = async (url: string, sub: string) => {
      const c = new AqueductClient({ url, token: await tok(sub), WebSocket: WebSocket as unknown as WebSocketConstructor });
      clients.push(c);
      return c;
    };
    const room = `chat:rc-${randomUUID().slice(0, 8)}`;
    const reader = (await client(A.url, 'reader')).room(room);
    const got: RoomMessage[] = [];
    reader.on('message', (m) => got.push(m));
    await reader.ready();
    const writer = (await client(B.url, 'writer')).room(room);
    await writer.ready();
    for (let i = 0; i < 200; i++) await writer.publish({ i });
    await until(async () => got.length >= 200, '200 deliveries on A');
    assert.deepEqual(got.map((m) => m.offset), Array.from({ length: 200 }, (_, i) => i + 1));
    assert.deepEqual(got.map((m) => (m.data as { i: number }).i), Array.from({ length: 200 }, (_, i) => i));
    await until(async () => (await reader.presence()).map((m) => m.user).sort().join() === 'reader,writer', 'both users present on A');
  });
});
