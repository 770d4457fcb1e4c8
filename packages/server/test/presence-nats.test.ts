import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startNats, type NatsHandle } from '@aqueduct/testkit';
import { NatsPresence } from '../src/presence/presence-nats.js';
import { runPresenceConformance } from './conformance/presence-conformance.js';

let nats: NatsHandle;
before(async () => { nats = await startNats(); });
after(async () => { await nats?.stop(); });

runPresenceConformance('nats', { shared: true, node: async () => new NatsPresence({ url: nats.url }) });

/** Polls `check` (a KV entry expiring has no event the test can await). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('NatsPresence node liveness', () => {
  const stores: NatsPresence[] = [];
  const make = (url = nats.url) => {
    // Its own bucket prefix: the TTL is the bucket's, and the conformance suite's bucket has the default.
    const p = new NatsPresence({ url, prefix: 'live', heartbeatMs: 200, ttlMs: 1000 });
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
    dead.abandon();
    await until(async () => (await live.list(r)).length === 1, 'the dead node\'s member to vanish');
    assert.deepEqual(await live.list(r), [{ client: 'l1', user: 'liz' }]);
    // Several TTLs later the live node's member is still there (its rewrites keep it).
    await new Promise((res) => setTimeout(res, 2500));
    assert.deepEqual(await live.list(r), [{ client: 'l1', user: 'liz' }]);
  });

  test('a dead node\'s members are removed by a live node\'s sweep and announced as presence.leave once', async () => {
    const { connect } = await import('nats');
    const { decodeFeed } = await import('../src/broker/nats-wire.js');
    const { natsNames } = await import('../src/broker/nats-names.js');
    const r = `pres:sweep-${randomUUID().slice(0, 8)}`;
    const nc = await connect({ servers: nats.url });
    after(() => nc.close());
    const leaves: unknown[] = [];
    nc.subscribe(natsNames('live').feedSubject(r), {
      callback: (err, msg) => {
        if (err) return;
        const m = decodeFeed(msg.data);
        if (m.kind === 'eph') leaves.push(m.message);
      },
    });
    await nc.flush();
    const live1 = make();
    const live2 = make();
    const dead = make();
    await live1.add(r, { client: 'l1', user: 'liz' });
    await live2.add(r, { client: 'l2', user: 'leo' });
    await dead.add(r, { client: 'd1', user: 'dan', info: { x: 1 } });
    dead.abandon();
    // Nobody calls list(): the heartbeat sweeps of the two live nodes find the dead entry.
    await until(async () => leaves.length > 0, 'a presence.leave announcement');
    await new Promise((res) => setTimeout(res, 1000));
    assert.deepEqual(leaves, [{ kind: 'presence.leave', member: { client: 'd1', user: 'dan', info: { x: 1 } } }], 'announced exactly once');
    assert.deepEqual((await live1.list(r)).map((m) => m.user).sort(), ['leo', 'liz']);
  });

  test('entries come back after nats-server restarts with its store deleted', async () => {
    const own = await startNats();
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
});
