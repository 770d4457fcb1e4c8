import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { startNats } from '@aqueduct/testkit';
import type { PublishOptions } from '../src/broker/broker.js';
import { NatsBroker } from '../src/broker/broker-nats.js';
import { Recorder } from './conformance/recorder.js';

/* Issue 14 / README §NATS JetStream: nats-server restarted with its JetStream store kept. */

const OPTS: PublishOptions = { historySize: 1000, historyTtlMs: 60_000, idempotencyTtlMs: 60_000 };

async function eventually<T>(fn: () => Promise<T>, what: string, timeoutMs = 30_000): Promise<T> {
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

test('nats-server restarted with its store kept: same epoch, history recovered, no reset, idempotency kept', async () => {
  const nats = await startNats();
  after(() => nats.stop());
  const mk = async () => {
    const rec = new Recorder();
    const broker = new NatsBroker({ url: nats.url, requestTimeoutMs: 2000, pingIntervalMs: 300 });
    await broker.start(rec);
    after(() => broker.close());
    return { rec, broker };
  };
  const a = await mk();
  const b = await mk();
  const room = `keep:${randomUUID().slice(0, 8)}`;
  await a.broker.subscribe(room);
  let last = { epoch: '', offset: 0 };
  for (let i = 1; i <= 5; i++) last = await b.broker.publish(room, { data: i }, { ...OPTS, idempotencyKey: `k${i}` });
  await a.rec.until(() => a.rec.pubs(room).length === 5, 'five publications before the restart');

  await nats.restart({ keepStore: true });

  // Publications after the restart continue the same epoch; the subscribed node gets them in order.
  const next = await eventually(() => b.broker.publish(room, { data: 6 }, OPTS), 'publish after the restart');
  assert.deepEqual({ epoch: next.epoch, offset: next.offset }, { epoch: last.epoch, offset: 6 });
  await a.rec.until(() => a.rec.pubs(room).length === 6, 'the publication after the restart');
  assert.deepEqual(a.rec.pubs(room).map((p) => [p.epoch, p.offset, p.data]), [1, 2, 3, 4, 5, 6].map((i) => [last.epoch, i, i]));
  assert.deepEqual(a.rec.resets(room), [], 'no reset: the store survived');
  // A client that saw offset 2 before the restart recovers the rest.
  const page = await eventually(() => a.broker.history(room, { since: { epoch: last.epoch, offset: 2 }, limit: 100 }), 'history after the restart');
  assert.equal(page.recovered, true);
  assert.deepEqual(page.publications.map((p) => p.data), [3, 4, 5, 6]);
  // A publish id acknowledged before the restart is still a duplicate.
  const dup = await b.broker.publish(room, { data: 'again' }, { ...OPTS, idempotencyKey: 'k3' });
  assert.deepEqual({ offset: dup.offset, duplicate: dup.duplicate }, { offset: 3, duplicate: true });
});
