import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AqueductClient, type RoomMessage, type WebSocketConstructor, type WebSocketLike } from '../src/index.js';

/**
 * The SDK's side of gap-free recovery, against a scripted server: frames that arrive in one read
 * (a join reply and the live messages behind it) are dispatched synchronously one after another,
 * before the reply's promise continues. The room must still apply the reply's publications first.
 */
class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  binaryType = 'arraybuffer';
  readonly sent: Array<Record<string, unknown>> = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  constructor(readonly url: string) { FakeSocket.all.push(this); }
  send(data: string | Uint8Array): void { this.sent.push(JSON.parse(String(data))); }
  close(): void { this.readyState = 3; }
  open(): void { this.readyState = 1; this.onopen?.({}); }
  /** Delivers frames back to back, as one network read would. */
  push(...frames: unknown[]): void { for (const f of frames) this.onmessage?.({ data: JSON.stringify(f) }); }
  drop(): void { this.readyState = 3; this.onclose?.({ code: 1006, reason: '' }); }
  async request(t: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 200; i++) {
      const frame = this.sent.find((f) => f.t === t);
      if (frame) return frame;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`no ${t} request`);
  }
}

const pub = (offset: number) => ({ epoch: 'e1', offset, data: { n: offset } });

async function connected(socket: FakeSocket): Promise<void> {
  socket.open();
  const auth = await socket.request('auth');
  socket.push({ t: 'reply', id: auth.id, result: { client: 'c1', user: 'u', expiresAt: Date.now() + 3600_000, node: 'n', pingIntervalMs: 25_000 } });
}

test('live messages in the same read as the join reply come after its publications', async () => {
  FakeSocket.all = [];
  const client = new AqueductClient({
    url: 'ws://fake', token: 't', WebSocket: FakeSocket as unknown as WebSocketConstructor,
    reconnect: { minDelayMs: 1, maxDelayMs: 2 },
  });
  const room = client.room('chat:x');
  const got: number[] = [];
  let resets = 0;
  room.on('message', (m: RoomMessage) => got.push(m.offset!));
  room.on('reset', () => resets++);

  const first = FakeSocket.all[0];
  await connected(first);
  const join1 = await first.request('join');
  first.push({ t: 'reply', id: join1.id, result: { epoch: 'e1', offset: 5, recovered: false, publications: [] } }, { t: 'msg', room: 'chat:x', ...pub(6) });
  await room.ready();
  assert.deepEqual(got, [6]);

  first.drop();
  for (let i = 0; i < 200 && FakeSocket.all.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  const second = FakeSocket.all[1];
  await connected(second);
  const join2 = await second.request('join');
  assert.deepEqual(join2.since, { epoch: 'e1', offset: 6 });
  // Recovery of 7..9 and the live 10, 11 in one read; a duplicate 9 as well.
  second.push(
    { t: 'reply', id: join2.id, result: { epoch: 'e1', offset: 9, recovered: true, publications: [pub(7), pub(8), pub(9)] } },
    { t: 'msg', room: 'chat:x', ...pub(9) },
    { t: 'msg', room: 'chat:x', ...pub(10) },
    { t: 'msg', room: 'chat:x', ...pub(11) },
  );
  for (let i = 0; i < 200 && got.length < 6; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(got, [6, 7, 8, 9, 10, 11]);
  assert.equal(resets, 0);
  client.close();
});

test('a recovery in chunks (more: true) re-joins from each chunk until the last', async () => {
  FakeSocket.all = [];
  const client = new AqueductClient({ url: 'ws://fake', token: 't', WebSocket: FakeSocket as unknown as WebSocketConstructor, reconnect: { minDelayMs: 1, maxDelayMs: 2 } });
  const room = client.room('chat:y');
  const got: number[] = [];
  room.on('message', (m: RoomMessage) => got.push(m.offset!));
  const s1 = FakeSocket.all[0];
  await connected(s1);
  const j = await s1.request('join');
  s1.push({ t: 'reply', id: j.id, result: { epoch: 'e1', offset: 2, recovered: false, publications: [] } });
  await room.ready();
  s1.drop();
  for (let i = 0; i < 200 && FakeSocket.all.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  const s2 = FakeSocket.all[1];
  await connected(s2);
  const a = await s2.request('join');
  assert.deepEqual(a.since, { epoch: 'e1', offset: 2 });
  s2.sent.length = 0;
  s2.push({ t: 'reply', id: a.id, result: { epoch: 'e1', offset: 4, recovered: true, more: true, publications: [pub(3), pub(4)] } });
  const b = await s2.request('join');
  assert.deepEqual(b.since, { epoch: 'e1', offset: 4 });
  assert.equal(room.isJoined, false);
  s2.push({ t: 'reply', id: b.id, result: { epoch: 'e1', offset: 6, recovered: true, publications: [pub(5), pub(6)] } }, { t: 'msg', room: 'chat:y', ...pub(7) });
  for (let i = 0; i < 200 && got.length < 5; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(got, [3, 4, 5, 6, 7]);
  assert.equal(room.isJoined, true);
  client.close();
});
