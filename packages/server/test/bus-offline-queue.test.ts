import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connectClient, startTestServer, until, type TestServer } from './helpers.js';

let ts: TestServer;
before(async () => {
  ts = await startTestServer({ namespaces: { chat: { publishRatePerSec: 200, publishBurst: 100 } } });
});
after(async () => { await ts.close(); });

test('an offline queue larger than the publish burst is throttled and resent, never failed', async () => {
  const reader = connectClient(ts.url, await ts.token('reader', { 'chat:*': ['sub'] }));
  const got: number[] = [];
  const room = reader.room('chat:offline');
  room.on('message', (m) => got.push((m.data as { n: number }).n));
  await room.ready();

  // Queue 400 publishes before the writer ever connects, then connect: the resend outruns the burst.
  const writer = connectClient(ts.url, await ts.token('writer', { 'chat:*': ['pub'] }), { autoConnect: false, maxQueuedPublishes: 1000 });
  const wroom = writer.room('chat:offline', { autoJoin: false });
  const acks = Array.from({ length: 400 }, (_, n) => wroom.publish({ n }));
  writer.connect();
  const results = await Promise.all(acks);
  const offsets = new Set(results.map((r) => r.offset));
  assert.equal(offsets.size, 400, 'every publish resolved with its own offset');

  await until(() => got.length >= 400, 30_000, 'all deliveries');
  assert.equal(got.length, 400);
  assert.equal(new Set(got).size, 400, 'each message delivered exactly once');
  reader.close();
  writer.close();
});

test('server.publish refuses a publication larger than limits.maxMessageBytes', async () => {
  const max = ts.server.config.limits.maxMessageBytes;
  await assert.rejects(ts.server.publish('chat:big', { blob: 'x'.repeat(max + 1) }), /exceeds limits\.maxMessageBytes/);
  const ok = await ts.server.publish('chat:big', { blob: 'small' });
  assert.equal(ok?.offset, 1);
});
