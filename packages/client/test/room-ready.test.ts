import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ClientCloseCodes, CloseCodes } from '@aqueduct/protocol';
import { AqueductError } from '../src/index.js';
import { startRealServer, type RealServer } from './real-server.js';

/** `room.ready()` settles on a final close: it rejects with CLOSED and the close code. */
describe('room.ready() on a final close', () => {
  let s: RealServer;
  before(async () => { s = await startRealServer(); });
  after(async () => { await s.close(); });

  const closeOf = async (p: Promise<void>): Promise<AqueductError> => {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof AqueductError, `an AqueductError, got ${String(err)}`);
      return err;
    }
    assert.fail('ready() resolved');
  };

  test('a rejected static token (4500, no reconnect): ready() rejects with the close code', async () => {
    const c = s.client('not-a-jwt');
    const err = await closeOf(c.room('chat:a').ready());
    assert.equal(err.code, 'CLOSED');
    assert.equal(err.closeCode, CloseCodes.AUTH_FAILED.code);
    assert.equal(c.state, 'closed');
    // A room asked for after the final close rejects too, with the same close.
    const later = await closeOf(c.room('chat:b').ready());
    assert.equal(later.closeCode, CloseCodes.AUTH_FAILED.code);
  });

  test('an operator disconnect (4502) after the join: ready() rejects instead of waiting forever', async () => {
    const c = s.client(await s.token('victim', { 'chat:*': ['sub', 'pub'] }));
    const room = c.room('chat:d');
    await room.ready();
    const disconnected = new Promise<number>((resolve) => c.once('disconnected', (d) => resolve(d.code)));
    const res = await s.api('/api/rooms/chat:d/disconnect', { user: 'victim' });
    assert.equal(res.status, 200);
    assert.equal(await disconnected, CloseCodes.FORCE_DISCONNECT.code);
    const err = await closeOf(room.ready());
    assert.equal(err.code, 'CLOSED');
    assert.equal(err.closeCode, CloseCodes.FORCE_DISCONNECT.code);
    assert.equal(err.closeReason, CloseCodes.FORCE_DISCONNECT.reason);
    // A publish after the final close is refused the same way, not queued forever.
    await assert.rejects(room.publish({ n: 1 }), (e: AqueductError) => e.code === 'CLOSED');
  });

  test('client.close() while a join waits: ready() rejects with the client close code', async () => {
    const c = s.client(await s.token('u', { 'chat:*': ['sub'] }), { autoConnect: false });
    const ready = c.room('chat:c').ready();
    c.close();
    const err = await closeOf(ready);
    assert.equal(err.code, 'CLOSED');
    assert.equal(err.closeCode, ClientCloseCodes.CLOSED.code);
  });

  test('a temporary drop does not reject ready(): the room is re-joined', async () => {
    const c = s.client(await s.token('t', { 'chat:*': ['sub'] }));
    const room = c.room('chat:t');
    await room.ready();
    const rejoined = new Promise<boolean>((resolve) => room.once('joined', (j) => resolve(j.rejoin)));
    c.reconnectNow();
    const waiting = room.ready();
    assert.equal(await rejoined, true);
    await waiting;
  });
});
