import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type { DocBus, RemoteDocUpdate } from '../../src/docs/doc-bus.js';

/** How a conformance run makes document buses: one per node; nodes of one factory reach each other. */
export interface DocBusFactory {
  node(): Promise<DocBus>;
}

const doc = (label: string) => `doc:conf-${label}-${randomUUID().slice(0, 8)}`;
const msg = (d: string, author: string, seq: number, node = 'A'): RemoteDocUpdate => ({ doc: d, update: new Uint8Array([seq & 0xff, 1, 2]), node, author, seq });
const plain = (m: RemoteDocUpdate) => ({ ...m, update: [...m.update] });

/** Collects what a subscription receives and waits for it (event-based, bounded). */
class Inbox {
  readonly got: RemoteDocUpdate[] = [];
  private waiters: Array<() => void> = [];
  readonly push = (m: RemoteDocUpdate): void => {
    this.got.push(m);
    for (const w of this.waiters.splice(0)) w();
  };
  /** Real messages (the liveness probes left out). */
  get real(): RemoteDocUpdate[] { return this.got.filter((m) => m.author !== 'probe'); }
  async until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }
}

/**
 * Waits until `inbox` (subscribed to `d`) receives what `from` publishes: a subscription may take
 * effect asynchronously (Redis SUBSCRIBE). Probes carry author `probe`.
 */
async function live(from: DocBus, d: string, inbox: Inbox): Promise<void> {
  const tick = setInterval(() => from.publish(msg(d, 'probe', 0, 'P')), 20);
  try { await inbox.until(() => inbox.got.some((m) => m.author === 'probe'), `the subscription to ${d}`); } finally { clearInterval(tick); }
}

/**
 * The DocBus contract (doc-bus.ts), run against an implementation: what one node publishes reaches
 * the other nodes' subscribers of that document, intact and in order, and nobody else. (Delivery
 * may be at-most-once across outages; on a healthy link nothing is lost.)
 */
export function runDocBusConformance(name: string, factory: DocBusFactory): void {
  describe(`DocBus conformance: ${name}`, () => {
    const buses: DocBus[] = [];
    const make = async () => { const b = await factory.node(); buses.push(b); return b; };
    after(async () => { await Promise.all(buses.map((b) => b.close())); });

    test('an update published by one node reaches a subscriber on another, every field intact', async () => {
      const [a, b] = [await make(), await make()];
      const d = doc('intact');
      const inbox = new Inbox();
      const off = b.subscribe(d, inbox.push);
      await live(a, d, inbox);
      const sent = { doc: d, update: new Uint8Array([0, 255, 7, 128]), node: 'node-A', author: 'alice', seq: 42 };
      a.publish(sent);
      await inbox.until(() => inbox.real.length === 1, 'the update');
      assert.deepEqual(plain(inbox.real[0]), plain(sent));
      off();
      if (a.health) assert.equal(a.health().ok, true);
    });

    test('per document, updates arrive in publish order; other documents see none of them', async () => {
      const [a, b] = [await make(), await make()];
      const d = doc('order');
      const other = doc('other');
      const inbox = new Inbox();
      const others = new Inbox();
      b.subscribe(d, inbox.push);
      b.subscribe(other, others.push);
      await live(a, d, inbox);
      await live(a, other, others);
      for (let i = 1; i <= 50; i++) a.publish(msg(d, 'alice', i));
      await inbox.until(() => inbox.real.length === 50, '50 updates');
      assert.deepEqual(inbox.real.map((m) => m.seq), Array.from({ length: 50 }, (_, i) => i + 1));
      assert.equal(others.real.length, 0);
    });

    test('every subscriber of a document on a node receives it', async () => {
      const [a, b] = [await make(), await make()];
      const d = doc('fan');
      const one = new Inbox();
      const two = new Inbox();
      b.subscribe(d, one.push);
      b.subscribe(d, two.push);
      await live(a, d, one);
      await live(a, d, two);
      a.publish(msg(d, 'bob', 1));
      await one.until(() => one.real.length === 1, 'first subscriber');
      await two.until(() => two.real.length === 1, 'second subscriber');
    });

    test('after unsubscribing, nothing more arrives for that document', async () => {
      const [a, b] = [await make(), await make()];
      const gone = doc('gone');
      const barrier = doc('barrier');
      const goneInbox = new Inbox();
      const barrierInbox = new Inbox();
      const off = b.subscribe(gone, goneInbox.push);
      b.subscribe(barrier, barrierInbox.push);
      await live(a, gone, goneInbox);
      await live(a, barrier, barrierInbox);
      off();
      const before = goneInbox.got.length;
      // Let an asynchronous unsubscribe take effect: a later subscription on the same node going
      // live shows that the node's earlier commands were processed.
      const later = new Inbox();
      b.subscribe(doc('later'), later.push);
      for (let i = 1; i <= 5; i++) a.publish(msg(gone, 'carol', i));
      a.publish(msg(barrier, 'carol', 99));
      await barrierInbox.until(() => barrierInbox.real.length === 1, 'the barrier update');
      assert.equal(goneInbox.got.length, before, 'no update after unsubscribe');
    });

    test('close resolves and can be called on an idle bus', async () => {
      const bus = await factory.node();
      const d = doc('close');
      bus.subscribe(d, () => undefined);
      await bus.close();
    });
  });
}
