import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ChaosProxy, startRedis, type RedisHandle } from '@aqueduct/testkit';
import { RedisPresence } from '../src/presence/presence-redis.js';
import { runPresenceConformance } from './conformance/presence-conformance.js';

let redis: RedisHandle;
before(async () => { redis = await startRedis(); });
after(async () => { await redis?.stop(); });

runPresenceConformance('redis', { shared: true, node: async () => new RedisPresence({ url: redis.url }) });

/** Polls `check` (there is no event for a key expiring in Redis). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('RedisPresence node liveness', () => {
  const stores: RedisPresence[] = [];
  const make = (url = redis.url) => {
    const p = new RedisPresence({ url, heartbeatMs: 100, ttlMs: 400 });
    stores.push(p);
    return p;
  };
  after(async () => { await Promise.all(stores.map((p) => p.close())); });

  test('a dead node\'s members vanish within the TTL; a live node\'s stay', async () => {
    const live = make();
    const dead = make();
    const r = `pres:dead-${randomUUID().slice(0, 8)}`;
    await live.add(r, { client: 'l1', user: 'liz' });
    await dead.add(r, { client: 'd1', user: 'dan' });
    assert.equal((await live.list(r)).length, 2);
    const t0 = Date.now();
    dead.abandon();
    await until(async () => (await live.list(r)).length === 1, 'the dead node\'s member to vanish');
    const vanishedAfterMs = Date.now() - t0;
    // The documented bound is ttlMs after the last heartbeat; allow scheduling slack on a busy machine.
    assert.ok(vanishedAfterMs <= 400 + 2000, `vanished after ${vanishedAfterMs} ms`);
    assert.deepEqual(await live.list(r), [{ client: 'l1', user: 'liz' }]);
    // Several TTLs later the live node's member is still there (heartbeats keep it).
    await new Promise((res) => setTimeout(res, 1000));
    assert.deepEqual(await live.list(r), [{ client: 'l1', user: 'liz' }]);
  });

  test('a dead node\'s members are removed by a live node\'s sweep and announced as presence.leave once', async () => {
    const { Redis } = await import('ioredis');
    const { Packr } = await import('msgpackr');
    const r = `pres:sweep-${randomUUID().slice(0, 8)}`;
    const sub = new Redis(redis.url);
    after(() => sub.disconnect());
    const leaves: unknown[] = [];
    sub.on('messageBuffer', (_ch: Buffer, msg: Buffer) => {
      if (msg[0] === 0x65) leaves.push(new Packr({ useRecords: false, mapsAsObjects: true }).unpack(msg.subarray(1)));
    });
    await sub.subscribe(`aq:{${r}}:c`);
    const live1 = make();
    const live2 = make();
    const dead = make();
    await live1.add(r, { client: 'l1', user: 'liz' });
    await live2.add(r, { client: 'l2', user: 'leo' });
    await dead.add(r, { client: 'd1', user: 'dan', info: { x: 1 } });
    dead.abandon();
    // Nobody calls list(): the heartbeat sweep of the live nodes finds the dead entry.
    await until(async () => leaves.length > 0, 'a presence.leave announcement');
    await new Promise((res) => setTimeout(res, 500));
    assert.deepEqual(leaves, [{ kind: 'presence.leave', member: { client: 'd1', user: 'dan', info: { x: 1 } } }], 'announced exactly once');
    assert.deepEqual((await live1.list(r)).map((m) => m.user).sort(), ['leo', 'liz']);
  });

  test('entries come back after Redis restarts with its data lost', async () => {
    const own = await startRedis();
    after(() => own.stop());
    const p = make(own.url);
    const r = `pres:restart-${randomUUID().slice(0, 8)}`;
    await p.add(r, { client: 'c1', user: 'u1' });
    await own.restart();
    await until(async () => {
      try { return (await p.list(r)).length === 1; } catch { return false; }
    }, 'entries written back');
    assert.deepEqual(await p.list(r), [{ client: 'c1', user: 'u1' }]);
  });

  test('Redis down: operations reject with a temporary error', async () => {
    const own = await startRedis();
    // Behind a proxy: "down" without freeing a port another process could take.
    const proxy = new ChaosProxy({ targetPort: own.port });
    const port = await proxy.listen();
    after(async () => { await proxy.close(); await own.stop(); });
    const p = make(`redis://127.0.0.1:${port}`);
    const r = `pres:down-${randomUUID().slice(0, 8)}`;
    await p.add(r, { client: 'c1', user: 'u1' });
    proxy.block();
    await until(async () => !p.health().ok, 'health to drop');
    await assert.rejects(p.list(r), (err: Error & { temporary?: boolean }) => err.name === 'BrokerUnavailableError' && err.temporary === true);
    await assert.rejects(p.add(r, { client: 'c2', user: 'u2' }), { name: 'BrokerUnavailableError' });
    // Meanwhile the heartbeat lapses (TTL 400 ms) as if the node had died; the entries come back.
    await own.restart();
    proxy.unblock();
    await until(async () => {
      try { return (await p.list(r)).length === 2; } catch { return false; }
    }, 'both entries after Redis returns (the one added while down is written by the heartbeat)');
  });
});
