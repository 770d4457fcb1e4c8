import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisHandle } from '@aqueduct/testkit';
import { connectClient, startTestServer, until, type TestServer } from './helpers.js';

const FULL = ['sub', 'pub', 'presence', 'signal'];

/** Signaling and the mesh limit across two in-process nodes sharing one redis-server. */
describe('webrtc signaling across nodes (Redis)', { timeout: 120_000 }, () => {
  let redis: RedisHandle;
  let n1: TestServer;
  let n2: TestServer;
  before(async () => {
    redis = await startRedis();
    const config = { redisUrl: redis.url, limits: { maxMeshPeers: 2 } };
    n1 = await startTestServer({ ...config, nodeId: 'n1' });
    n2 = await startTestServer({ ...config, nodeId: 'n2' });
  });
  after(async () => {
    await n1?.close();
    await n2?.close();
    await redis?.stop();
  });

  test('a signal reaches its target on the other node; the mesh limit counts members of every node', async () => {
    const room = 'call:cluster';
    const a = connectClient(n1.url, await n1.token('alice', { 'call:*': FULL }));
    const b = connectClient(n2.url, await n2.token('bob', { 'call:*': FULL }));
    const c = connectClient(n2.url, await n2.token('carol', { 'call:*': FULL }));
    const ra = a.room(room, { mesh: true });
    const rb = b.room(room, { mesh: true });
    await Promise.all([ra.ready(), rb.ready()]);
    const got: Array<{ from: string; payload: unknown }> = [];
    rb.on('signal', (from, payload) => got.push({ from: from.client, payload }));
    await until(() => ra.members.some((m) => m.client === b.clientId), 10_000, 'presence across nodes');
    await ra.signal(b.clientId as string, { sdp: 'offer' });
    await until(() => got.length === 1, 10_000, 'cross-node signal');
    assert.deepEqual(got[0], { from: a.clientId, payload: { sdp: 'offer' } });
    // Carol, on node 2, is the third mesh member with a limit of 2: refused although node 2 has only one.
    const rc = c.room(room, { mesh: true });
    await assert.rejects(rc.ready(), { code: 'MESH_FULL' });
    // A client in another room, on the other node, cannot be signalled through this room.
    const other = c.room('call:elsewhere');
    await other.ready();
    await assert.rejects(ra.signal(c.clientId as string, 'hi'), { code: 'PEER_NOT_FOUND' });
    for (const x of [a, b, c]) x.close();
  });
});
