import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ChaosProxy, signToken, spawnServer, startNats, startPostgres, type NatsHandle } from '@aqueduct/testkit';
import { NatsDocBus } from '../src/cluster/doc-bus-nats.js';
import type { RemoteDocUpdate } from '../src/docs/doc-bus.js';
import { connectProvider, synced } from './docs-helpers.js';

/* On NATS, Yjs document updates cross nodes over core NATS (README §NATS JetStream). */

let nats: NatsHandle;
before(async () => { nats = await startNats(); });
after(async () => { await nats?.stop(); });

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('NatsDocBus carries updates between nodes, per document, until unsubscribed', async () => {
  const a = new NatsDocBus({ url: nats.url });
  const b = new NatsDocBus({ url: nats.url });
  after(() => Promise.all([a.close(), b.close()]));
  const live: string[] = [];
  b.onResync((doc) => live.push(doc));
  const got: RemoteDocUpdate[] = [];
  const other: RemoteDocUpdate[] = [];
  const off = b.subscribe('doc:one', (m) => got.push(m));
  b.subscribe('doc:two', (m) => other.push(m));
  await until(() => live.includes('doc:one') && a.health().ok, 'subscription live (resync asked)');
  a.publish({ doc: 'doc:one', update: new Uint8Array([1, 2, 3]), node: 'A', author: 'alice', seq: 7 });
  await until(() => got.length === 1, 'the update on node B');
  assert.deepEqual({ ...got[0], update: [...got[0].update] }, { doc: 'doc:one', update: [1, 2, 3], node: 'A', author: 'alice', seq: 7 });
  assert.equal(other.length, 0, 'other documents see nothing');
  off();
  a.publish({ doc: 'doc:one', update: new Uint8Array([4]), node: 'A', author: 'alice', seq: 8 });
  a.publish({ doc: 'doc:two', update: new Uint8Array([5]), node: 'A', author: 'alice', seq: 1 });
  await until(() => other.length === 1, 'doc:two still subscribed');
  assert.equal(got.length, 1, 'nothing after unsubscribe');
});

test('NatsDocBus: while NATS is unreachable publishes are dropped (not queued), health says so; resync after the reconnect', async () => {
  const proxy = new ChaosProxy({ targetPort: nats.port });
  const port = await proxy.listen();
  const bus = new NatsDocBus({ url: `nats://127.0.0.1:${port}` });
  after(async () => { await bus.close(); await proxy.close(); });
  const resyncs: string[] = [];
  bus.onResync((doc) => resyncs.push(doc));
  bus.subscribe('doc:r', () => undefined);
  await until(() => resyncs.length === 1, 'resync once the subscription is live');
  proxy.block();
  proxy.cutAll();
  await until(() => !bus.health().ok, 'health not ok while NATS is unreachable');
  bus.publish({ doc: 'doc:r', update: new Uint8Array([1]), node: 'A', author: 'x', seq: 1 }); // dropped, no throw
  proxy.unblock();
  await until(() => resyncs.length === 2 && bus.health().ok, 'resync after the reconnect');
  assert.deepEqual(resyncs, ['doc:r', 'doc:r']);
});

test('two server processes on NATS (no Redis): y-websocket editors on different nodes see each other live', async () => {
  const db = await startPostgres();
  after(() => db.stop());
  const secret = 'nats-docs-secret-0123456789abcdef';
  const env = { NATS_URL: nats.url, DATABASE_URL: db.url, AQUEDUCT_JWT_SECRET: secret };
  const A = await spawnServer({ env: { ...env, AQUEDUCT_NODE_ID: 'nd-a' } });
  const B = await spawnServer({ env: { ...env, AQUEDUCT_NODE_ID: 'nd-b' } });
  after(() => Promise.all([A.kill('SIGTERM'), B.kill('SIGTERM')]));
  for (const n of [A, B]) {
    const res = await fetch(`${n.url}/readyz`);
    assert.equal(res.status, 200, await res.text());
  }
  const jwt = await signToken(secret, { sub: 'editor', rooms: { 'doc:*': ['sub', 'pub'] } });
  const doc = `doc:nats-${randomUUID().slice(0, 8)}`;
  const ea = connectProvider(`${A.url.replace('http', 'ws')}/yjs`, doc, jwt);
  const eb = connectProvider(`${B.url.replace('http', 'ws')}/yjs`, doc, jwt);
  after(() => { ea.destroy(); eb.destroy(); });
  await Promise.all([synced(ea), synced(eb)]);
  for (let i = 0; i < 10; i++) {
    ea.ydoc.getText('t').insert(ea.ydoc.getText('t').length, `a${i} `);
    eb.ydoc.getText('t').insert(0, `b${i} `);
    // Each side must see the other's edit while both stay connected (no reconnect, no reload).
    await until(() => eb.ydoc.getText('t').toString().includes(`a${i} `) && ea.ydoc.getText('t').toString().includes(`b${i} `), `round ${i} crossed nodes`);
  }
  await until(() => ea.ydoc.getText('t').toString() === eb.ydoc.getText('t').toString(), 'converged');
  assert.equal(ea.ydoc.getText('t').length, 60, 'every insert of both editors');
});
