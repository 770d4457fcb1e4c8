import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RoomMessage } from '@aqueduct/client';
import { connectClient, startTestServer, until, type TestServer } from './helpers.js';

describe('room bus: two SDK clients', () => {
  let ts: TestServer;
  before(async () => { ts = await startTestServer(); });
  after(async () => { await ts.close(); });

  for (const codec of ['json', 'msgpack'] as const) {
    test(`exchange messages both ways (${codec})`, async () => {
      const room = `chat:${codec}`;
      const a = connectClient(ts.url, await ts.token('alice', { 'chat:*': ['sub', 'pub', 'presence'] }), { codec });
      const b = connectClient(ts.url, await ts.token('bob', { 'chat:*': ['sub', 'pub', 'presence'] }), { codec });
      const ra = a.room(room);
      const rb = b.room(room);
      const gotA: RoomMessage[] = [];
      const gotB: RoomMessage[] = [];
      ra.on('message', (m) => gotA.push(m));
      rb.on('message', (m) => gotB.push(m));
      await Promise.all([ra.ready(), rb.ready()]);
      const ack1 = await ra.publish({ text: 'hello from alice' });
      const ack2 = await rb.publish({ text: 'hello from bob' }, { event: 'chat' });
      assert.equal(ack2.offset, (ack1.offset ?? 0) + 1);
      await until(() => gotA.length === 2 && gotB.length === 2, 5000, 'deliveries');
      assert.deepEqual(gotB.map((m) => m.data), [{ text: 'hello from alice' }, { text: 'hello from bob' }]);
      assert.deepEqual(gotA.map((m) => m.data), gotB.map((m) => m.data));
      assert.equal(gotA[0].from?.user, 'alice');
      assert.equal(gotA[1].event, 'chat');
      await until(() => ra.members.length === 2, 5000, 'presence');
      assert.deepEqual(ra.members.map((m) => m.user).sort(), ['alice', 'bob']);
      a.close();
      b.close();
    });
  }

  test('a client without pub cannot publish; one without a grant cannot join', async () => {
    const reader = connectClient(ts.url, await ts.token('carol', { 'chat:*': ['sub'] }));
    const room = reader.room('chat:lobby');
    await room.ready();
    await assert.rejects(room.publish('nope'), { code: 'PERMISSION_DENIED' });
    const outsider = connectClient(ts.url, await ts.token('dave', { 'other:*': ['sub', 'pub'] }));
    const r2 = outsider.room('chat:lobby');
    await assert.rejects(r2.ready(), { code: 'PERMISSION_DENIED' });
    reader.close();
    outsider.close();
  });

  test('a publish resent with the same id is published once', async () => {
    const c = connectClient(ts.url, await ts.token('erin', { 'chat:*': ['sub', 'pub'] }));
    const room = c.room('chat:dedupe');
    await room.ready();
    const got: RoomMessage[] = [];
    room.on('message', (m) => got.push(m));
    // Publish, then cut the connection before the ack can be processed: the SDK resends with the same id.
    const p = room.publish({ n: 1 });
    c.reconnectNow();
    const ack = await p;
    await until(() => got.length >= 1, 5000, 'delivery');
    const again = await room.publish({ n: 2 });
    await until(() => got.length >= 2, 5000, 'second delivery');
    assert.equal(got.filter((m) => (m.data as { n: number }).n === 1).length, 1);
    assert.equal(again.offset, (ack.offset ?? 0) + 1);
    c.close();
  });
});
