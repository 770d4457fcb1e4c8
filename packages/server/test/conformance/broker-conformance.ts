import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type { Broker, PublishOptions } from '../../src/broker/broker.js';
import { Recorder } from './recorder.js';

/** How a conformance run makes brokers. */
export interface BrokerFactory {
  /** A started broker: one node. Nodes made by one factory share a backend when `shared` is true. */
  node(handler: Recorder): Promise<Broker>;
  /** Whether two nodes share history and fanout (false for the single-process memory broker). */
  shared: boolean;
}

const OPTS: PublishOptions = { historySize: 100, historyTtlMs: 60_000, idempotencyTtlMs: 60_000 };
const room = (label: string) => `conf:${label}-${randomUUID().slice(0, 8)}`;

/**
 * The Broker contract (see broker.ts), run against an implementation. Every test uses fresh rooms,
 * so one backend can serve the whole suite.
 */
export function runBrokerConformance(name: string, factory: BrokerFactory): void {
  describe(`Broker conformance: ${name}`, () => {
    const nodes: Broker[] = [];
    const make = async () => {
      const rec = new Recorder();
      const broker = await factory.node(rec);
      nodes.push(broker);
      return { rec, broker };
    };
    after(async () => {
      await Promise.all(nodes.map((b) => b.close()));
    });

    test('position of a new room is offset 0 of a stable epoch', async () => {
      const { broker } = await make();
      const r = room('pos');
      const p1 = await broker.position(r);
      const p2 = await broker.position(r);
      assert.equal(p1.offset, 0);
      assert.ok(p1.epoch.length > 0);
      assert.deepEqual(p2, p1);
      assert.equal(broker.health().ok, true);
    });

    test('publish assigns consecutive offsets in one epoch', async () => {
      const { broker } = await make();
      const r = room('seq');
      const start = await broker.position(r);
      const outs = [];
      for (let i = 0; i < 5; i++) outs.push(await broker.publish(r, { data: { i } }, OPTS));
      assert.deepEqual(outs.map((o) => o.offset), [1, 2, 3, 4, 5]);
      assert.ok(outs.every((o) => o.epoch === start.epoch && !o.duplicate));
      assert.deepEqual(await broker.position(r), { epoch: start.epoch, offset: 5 });
    });

    test('concurrent publishes get unique, gap-free offsets', async () => {
      const { broker } = await make();
      const r = room('conc');
      const outs = await Promise.all(Array.from({ length: 200 }, (_, i) => broker.publish(r, { data: i }, OPTS)));
      const offsets = outs.map((o) => o.offset).sort((a, b) => a - b);
      assert.deepEqual(offsets, Array.from({ length: 200 }, (_, i) => i + 1));
    });

    test('a subscribed node receives publications in offset order with data, event and from', async () => {
      const { rec, broker } = await make();
      const r = room('order');
      await broker.subscribe(r);
      const from = { client: 'c1', user: 'alice' };
      const outs = await Promise.all(Array.from({ length: 50 }, (_, i) => broker.publish(r, { data: { i, s: 'x' }, event: 'msg', from }, OPTS)));
      await rec.until(() => rec.pubs(r).length >= 50, '50 publications');
      const got = rec.pubs(r);
      assert.deepEqual(got.map((p) => p.offset), Array.from({ length: 50 }, (_, i) => i + 1));
      const byOffset = new Map(outs.map((o, i) => [o.offset, i]));
      for (const p of got) {
        assert.equal(p.epoch, outs[0].epoch);
        assert.deepEqual(p.data, { i: byOffset.get(p.offset), s: 'x' });
        assert.equal(p.event, 'msg');
        assert.deepEqual(p.from, from);
      }
    });

    test('history without since returns the latest `limit`, oldest first', async () => {
      const { broker } = await make();
      const r = room('hist');
      for (let i = 1; i <= 10; i++) await broker.publish(r, { data: i }, OPTS);
      const page = await broker.history(r, { limit: 3 });
      assert.equal(page.recovered, true);
      assert.equal(page.offset, 10);
      assert.deepEqual(page.publications.map((p) => p.data), [8, 9, 10]);
      assert.deepEqual((await broker.history(r, { limit: 0 })).publications, []);
    });

    test('history since a position returns exactly what was missed', async () => {
      const { broker } = await make();
      const r = room('since');
      let epoch = '';
      for (let i = 1; i <= 10; i++) epoch = (await broker.publish(r, { data: i }, OPTS)).epoch;
      const page = await broker.history(r, { since: { epoch, offset: 6 }, limit: 100 });
      assert.equal(page.recovered, true);
      assert.deepEqual(page.publications.map((p) => p.offset), [7, 8, 9, 10]);
      assert.deepEqual(page.publications.map((p) => p.data), [7, 8, 9, 10]);
      const limited = await broker.history(r, { since: { epoch, offset: 2 }, limit: 3 });
      assert.equal(limited.recovered, true);
      assert.deepEqual(limited.publications.map((p) => p.offset), [3, 4, 5], 'the earliest ones after since');
      const upToDate = await broker.history(r, { since: { epoch, offset: 10 }, limit: 100 });
      assert.equal(upToDate.recovered, true);
      assert.deepEqual(upToDate.publications, []);
    });

    test('recovery fails plainly: wrong epoch, offset ahead, trimmed history, no history', async () => {
      const { broker } = await make();
      const r = room('fail');
      let epoch = '';
      const small = { ...OPTS, historySize: 3 };
      for (let i = 1; i <= 10; i++) epoch = (await broker.publish(r, { data: i }, small)).epoch;
      const wrongEpoch = await broker.history(r, { since: { epoch: `${epoch}x`, offset: 9 }, limit: 100 });
      assert.equal(wrongEpoch.recovered, false);
      assert.deepEqual(wrongEpoch.publications, []);
      assert.equal(wrongEpoch.epoch, epoch);
      assert.equal(wrongEpoch.offset, 10);
      assert.equal((await broker.history(r, { since: { epoch, offset: 11 }, limit: 100 })).recovered, false);
      const trimmed = await broker.history(r, { since: { epoch, offset: 2 }, limit: 100 });
      assert.equal(trimmed.recovered, false);
      assert.deepEqual(trimmed.publications, []);
      const kept = await broker.history(r, { since: { epoch, offset: 7 }, limit: 100 });
      assert.equal(kept.recovered, true);
      assert.deepEqual(kept.publications.map((p) => p.offset), [8, 9, 10]);

      const r2 = room('nohist');
      const none = { ...OPTS, historySize: 0 };
      for (let i = 1; i <= 3; i++) epoch = (await broker.publish(r2, { data: i }, none)).epoch;
      assert.deepEqual((await broker.history(r2, { limit: 10 })).publications, []);
      assert.equal((await broker.history(r2, { since: { epoch, offset: 2 }, limit: 10 })).recovered, false);
    });

    test('expired history cannot be recovered', async () => {
      const { broker } = await make();
      const r = room('ttl');
      const { epoch } = await broker.publish(r, { data: 1 }, { ...OPTS, historyTtlMs: 1 });
      await broker.publish(r, { data: 2 }, { ...OPTS, historyTtlMs: 1 });
      // No event marks expiry; wait well past the 1 ms TTL.
      await new Promise((res) => setTimeout(res, 50));
      const page = await broker.history(r, { since: { epoch, offset: 0 }, limit: 10 });
      assert.equal(page.recovered, false);
      assert.deepEqual((await broker.history(r, { limit: 10 })).publications, []);
    });

    test('an idempotency key publishes once and returns the first position', async () => {
      const { rec, broker } = await make();
      const r = room('idem');
      await broker.subscribe(r);
      const first = await broker.publish(r, { data: 'a' }, { ...OPTS, idempotencyKey: 'k1' });
      const again = await broker.publish(r, { data: 'a' }, { ...OPTS, idempotencyKey: 'k1' });
      const other = await broker.publish(r, { data: 'b' }, { ...OPTS, idempotencyKey: 'k2' });
      assert.equal(first.duplicate, false);
      assert.deepEqual(again, { epoch: first.epoch, offset: first.offset, duplicate: true });
      assert.equal(other.offset, first.offset + 1);
      await rec.until(() => rec.pubs(r).length >= 2);
      assert.deepEqual(rec.pubs(r).map((p) => p.data), ['a', 'b']);
      assert.deepEqual((await broker.history(r, { limit: 10 })).publications.map((p) => p.data), ['a', 'b']);
    });

    test('fanout reaches only subscribed rooms, and stops after unsubscribe', async () => {
      const { rec, broker } = await make();
      const on = room('on');
      const off = room('off');
      await broker.subscribe(on);
      await broker.subscribe(on); // idempotent
      await broker.publish(off, { data: 'nobody' }, OPTS);
      await broker.publish(on, { data: 1 }, OPTS);
      await rec.until(() => rec.pubs(on).length === 1);
      assert.equal(rec.pubs(off).length, 0);
      await broker.unsubscribe(on);
      await broker.publish(on, { data: 2 }, OPTS);
      const marker = room('marker');
      await broker.subscribe(marker);
      await broker.publish(marker, { data: 'm' }, OPTS);
      await rec.until(() => rec.pubs(marker).length === 1);
      assert.equal(rec.pubs(on).length, 1, 'nothing after unsubscribe');
      assert.equal(rec.pubs(on)[0].data, 1);
    });

    test('ephemeral messages reach subscribed nodes and are not stored', async () => {
      const { rec, broker } = await make();
      const r = room('eph');
      await broker.subscribe(r);
      const member = { client: 'c1', user: 'u1', info: { name: 'U' } };
      await broker.publishEphemeral(r, { kind: 'volatile', data: { x: 1 }, event: 'typing', from: { client: 'c1', user: 'u1' } });
      await broker.publishEphemeral(r, { kind: 'signal', to: 'c2', from: { client: 'c1', user: 'u1' }, payload: { sdp: 'v=0' } });
      await broker.publishEphemeral(r, { kind: 'presence.join', member });
      await broker.publishEphemeral(r, { kind: 'presence.leave', member });
      await rec.until(() => rec.ephemerals(r).length >= 4);
      assert.deepEqual(rec.ephemerals(r).map((m) => m.kind), ['volatile', 'signal', 'presence.join', 'presence.leave']);
      assert.deepEqual(rec.ephemerals(r)[0], { kind: 'volatile', data: { x: 1 }, event: 'typing', from: { client: 'c1', user: 'u1' } });
      assert.deepEqual(rec.ephemerals(r)[2], { kind: 'presence.join', member });
      assert.deepEqual((await broker.history(r, { limit: 10 })).publications, []);
      assert.equal((await broker.position(r)).offset, 0);
    });

    test('control messages reach the node', async () => {
      const { rec, broker } = await make();
      const user = `u-${randomUUID()}`;
      await broker.publishControl({ kind: 'disconnect', user, room: 'chat:x' });
      await rec.until(() => rec.controls().some((c) => c.user === user));
      assert.deepEqual(rec.controls().find((c) => c.user === user), { kind: 'disconnect', user, room: 'chat:x' });
    });

    if (factory.shared) {
      test('two nodes: both subscribed nodes receive every publication once, in order; others none', async () => {
        const a = await make();
        const b = await make();
        const c = await make();
        const r = room('nodes');
        await a.broker.subscribe(r);
        await b.broker.subscribe(r);
        const ids = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).broker.publish(r, { data: i }, OPTS)));
        assert.equal(new Set(ids.map((o) => o.offset)).size, 100);
        await a.rec.until(() => a.rec.pubs(r).length >= 100, 'node A');
        await b.rec.until(() => b.rec.pubs(r).length >= 100, 'node B');
        const want = Array.from({ length: 100 }, (_, i) => i + 1);
        assert.deepEqual(a.rec.pubs(r).map((p) => p.offset), want);
        assert.deepEqual(b.rec.pubs(r).map((p) => p.offset), want);
        // History and idempotency are shared.
        assert.equal((await c.broker.history(r, { limit: 1000 })).publications.length, 100);
        const k = await a.broker.publish(r, { data: 'k' }, { ...OPTS, idempotencyKey: 'shared' });
        const k2 = await c.broker.publish(r, { data: 'k' }, { ...OPTS, idempotencyKey: 'shared' });
        assert.equal(k2.duplicate, true);
        assert.equal(k2.offset, k.offset);
        // Ephemeral and control cross nodes too.
        await c.broker.publishEphemeral(r, { kind: 'volatile', data: 'v' });
        await a.rec.until(() => a.rec.ephemerals(r).length === 1);
        await b.rec.until(() => b.rec.ephemerals(r).length === 1);
        assert.equal(c.rec.pubs(r).length + c.rec.ephemerals(r).length, 0, 'an unsubscribed node gets nothing');
        const user = `u-${randomUUID()}`;
        await a.broker.publishControl({ kind: 'disconnect', user });
        await c.rec.until(() => c.rec.controls().some((m) => m.user === user));
        await b.rec.until(() => b.rec.controls().some((m) => m.user === user));
      });
    }
  });
}
