import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeCursor, type PollResult } from '@aqueduct/protocol';
import type { BrokerHandler } from '../src/broker/broker.js';
import { MemoryBroker } from '../src/broker/broker-memory.js';
import { createServer, type AqueductServer } from '../src/index.js';
import { TEST_SECRET, until } from './helpers.js';
import { RawSse, api } from './sse-helpers.js';

/** A memory broker whose hub callbacks the test can drive (a Redis broker calls onReset after data loss). */
class ObservableBroker extends MemoryBroker {
  callbacks?: BrokerHandler;
  override async start(handler: BrokerHandler): Promise<void> {
    this.callbacks = handler;
    await super.start(handler);
  }
}

describe('SSE and polling: history lost while streaming', () => {
  let server: AqueductServer;
  let broker: ObservableBroker;
  let dataDir: string;
  let token: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-test-'));
    broker = new ObservableBroker();
    server = await createServer({ config: { port: 0, dataDir, logLevel: 'silent', jwt: { secret: TEST_SECRET }, shutdown: { readyzGraceMs: 0 } }, broker });
    token = await server.auth.sign({ sub: 'u', rooms: { 'live:*': ['sub'] }, ttlSec: 600 });
  });
  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a broker reset reaches an open stream and a waiting poll as event: reset', async () => {
    const sse = new RawSse(`${server.url}/api/events?rooms=live:a,live:b&token=${token}`);
    await sse.until(() => sse.events.some((e) => e.event === 'ready'), 5000, 'ready');
    const start = (await api(`${server.url}/api/poll?rooms=live:a&token=${token}`)).body as unknown as PollResult;
    const waiting = api(`${server.url}/api/poll?rooms=live:a&token=${token}&cursor=${start.cursor}`);
    await until(() => server.hub.roomStats().find((r) => r.room === 'live:a')?.subscribers === 2, 5000, 'poll waiting');
    broker.callbacks?.onReset('live:a', { epoch: 'fresh', offset: 7 });
    await sse.until(() => sse.events.some((e) => e.event === 'reset'), 5000, 'reset');
    const reset = sse.events.find((e) => e.event === 'reset');
    assert.deepEqual(JSON.parse(reset?.data ?? '{}'), { room: 'live:a', epoch: 'fresh', offset: 7 });
    assert.deepEqual(decodeCursor(reset?.id ?? '')['live:a'], { epoch: 'fresh', offset: 7 });
    const polled = (await waiting).body as unknown as PollResult;
    assert.deepEqual(polled.events.map((e) => e.type === 'reset' && [e.room, e.epoch, e.offset]), [['live:a', 'fresh', 7]]);
    // A publication of a new epoch without a reset first: the stream announces the reset itself.
    broker.callbacks?.onPublication('live:b', { epoch: 'other', offset: 3, data: 'x' });
    await sse.until(() => sse.events.filter((e) => e.event === 'reset').length === 2, 5000, 'second reset');
    const last = sse.events.slice(-2);
    assert.deepEqual(JSON.parse(last[0].data), { room: 'live:b', epoch: 'other', offset: 2 });
    assert.equal((JSON.parse(last[1].data) as { offset: number }).offset, 3);
    sse.close();
  });
});
