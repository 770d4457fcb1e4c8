/**
 * The offline-first SDK on Node against a real server: the outbox and room positions survive a
 * "restart" of the client object (a new client on the same store), resends keep every message
 * exactly once (also one the server published before the first client saw its ack), limits drop
 * entries and say so, and two clients on one store (two tabs) never both send an entry.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { AqueductClient, OutboxDrop, RoomMessage, WebSocketConstructor, WebSocketLike } from '../src/index.js';
import { MemoryStore, offlineStorage, type OfflineStorageOptions } from '../src/offline.js';
import { FileStore } from '../src/storage-file.js';
import { startRealServer, type RealServer } from './real-server.js';

const ROOMS = { 'chat:*': ['sub', 'pub', 'presence'] };
const WAIT_MS = 20_000;

/** Resolves when `check` holds; polls (with a deadline) — the condition is the assertion. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A `ws` WebSocket whose incoming frames are swallowed while `hold.on` (an ack lost with the tab). */
function holdingWebSocket(hold: { on: boolean }): WebSocketConstructor {
  return class Holding implements WebSocketLike {
    private readonly ws: WebSocket;
    binaryType = 'arraybuffer';
    onopen: WebSocketLike['onopen'] = null;
    onclose: WebSocketLike['onclose'] = null;
    onerror: WebSocketLike['onerror'] = null;
    onmessage: WebSocketLike['onmessage'] = null;
    constructor(url: string, protocols?: string | string[]) {
      const ws = new WebSocket(url, protocols);
      ws.binaryType = 'arraybuffer';
      ws.onopen = (ev) => this.onopen?.(ev);
      ws.onclose = (ev) => this.onclose?.(ev);
      ws.onerror = (ev) => this.onerror?.(ev);
      ws.onmessage = (ev) => { if (!hold.on) this.onmessage?.(ev); };
      this.ws = ws;
    }
    get readyState(): number { return this.ws.readyState; }
    send(data: string | Uint8Array): void { this.ws.send(data); }
    close(code?: number, reason?: string): void { this.ws.close(code, reason); }
  };
}

describe('offline-first client (Node)', () => {
  let server: RealServer;
  let dir: string;

  before(async () => {
    server = await startRealServer();
    dir = mkdtempSync(join(tmpdir(), 'aqueduct-offline-'));
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An online observer of `room` that counts every text it sees. */
  async function observer(room: string): Promise<{ counts: Map<string, number>; client: AqueductClient }> {
    const client = server.client(await server.token('watcher', ROOMS));
    const counts = new Map<string, number>();
    const r = client.room(room);
    r.on('message', (m: RoomMessage) => {
      const text = (m.data as { text: string }).text;
      counts.set(text, (counts.get(text) ?? 0) + 1);
    });
    await r.ready();
    return { counts, client };
  }

  const offline = (store: OfflineStorageOptions['store'], extra: Partial<OfflineStorageOptions> = {}) => offlineStorage({ store, positionFlushMs: 10, ...extra });

  test('outbox of a client that never connected is resent by the next client on the same file, once each', async () => {
    const path = join(dir, 'restart.json');
    const token = await server.token('alice', ROOMS);
    const watch = await observer('chat:restart');

    const first = server.client(token, { autoConnect: false, offline: offline(new FileStore({ path })) });
    await first.restored;
    const promises = ['one', 'two', 'three'].map((text) => first.room('chat:restart', { autoJoin: false }).publish({ text }));
    for (const p of promises) p.catch(() => undefined); // rejected with CLOSED below
    await until(() => first.pendingPublishes().length === 3, 'three queued');
    first.close();
    // The file holds the three entries (a real restart would read just this).
    const savedTexts = (): string[] => {
      let saved: Record<string, { entry: { data: { text: string } } }> = {};
      try { saved = JSON.parse(readFileSync(path, 'utf8')) as typeof saved; } catch { /* not written yet */ }
      return Object.entries(saved).filter(([k]) => k.startsWith('aqueduct/o/')).map(([, v]) => v.entry.data.text);
    };
    await until(() => savedTexts().length === 3, 'three entries in the file');
    assert.deepEqual(savedTexts(), ['one', 'two', 'three']);

    const second = server.client(token, { offline: offline(new FileStore({ path })) });
    const restored: string[] = [];
    second.on('outboxrestore', (entries) => restored.push(...entries.map((e) => (e.data as { text: string }).text)));
    const acks: boolean[] = [];
    second.on('outboxack', (a) => acks.push(a.duplicate));
    await second.restored;
    assert.deepEqual(restored, ['one', 'two', 'three']);
    await until(() => acks.length === 3, 'three acks');
    await until(() => watch.counts.size === 3, 'three messages seen');
    assert.deepEqual([...watch.counts], [['one', 1], ['two', 1], ['three', 1]]);
    assert.equal(second.pendingPublishes().length, 0);
    await until(() => !Object.keys(JSON.parse(readFileSync(path, 'utf8')) as object).some((k) => k.startsWith('aqueduct/o/')), 'file outbox empty');
    second.close();
    watch.client.close();
  });

  test('a publish the server took before the ack reached the client is not doubled by the next client', async () => {
    const store = new MemoryStore();
    const token = await server.token('bob', ROOMS);
    const watch = await observer('chat:held');
    const hold = { on: false };
    const first = server.client(token, { WebSocket: holdingWebSocket(hold), offline: offline(store) });
    await first.room('chat:held').ready();
    hold.on = true; // from now on the client hears nothing: the ack is lost with the "tab"
    first.room('chat:held').publish({ text: 'exactly once' }).catch(() => undefined);
    await until(() => watch.counts.get('exactly once') === 1, 'the server published it');
    assert.equal(first.pendingPublishes().length, 1, 'no ack reached the first client');
    first.close();

    const second = server.client(token, { offline: offline(store) });
    const acks: Array<{ duplicate: boolean }> = [];
    second.on('outboxack', (a) => acks.push(a));
    await until(() => acks.length === 1, 'the resend acknowledged');
    assert.equal(acks[0].duplicate, true, 'the server recognised the id');
    // Give a wrongly doubled message time to arrive: the next publish is seen after it would have been.
    await second.room('chat:held').publish({ text: 'marker' });
    await until(() => watch.counts.get('marker') === 1, 'marker');
    assert.equal(watch.counts.get('exactly once'), 1);
    second.close();
    watch.client.close();
  });

  test('room positions are restored: the next client gets exactly what it missed', async () => {
    const store = new MemoryStore();
    const token = await server.token('carol', ROOMS);
    const first = server.client(token, { offline: offline(store) });
    const seen1: number[] = [];
    const room1 = first.room('chat:pos');
    room1.on('message', (m) => seen1.push((m.data as { n: number }).n));
    await room1.ready();
    for (const n of [1, 2]) await server.api('/api/publish', { room: 'chat:pos', data: { n } });
    await until(() => seen1.length === 2, 'two delivered');
    // Positions are written 10 ms after a change: wait until the store has the second one.
    const last = room1.lastPosition?.offset;
    for (let i = 0; i < 2000 && (await store.get<{ offset: number }>('aqueduct/p/chat:pos'))?.offset !== last; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await store.get<{ offset: number }>('aqueduct/p/chat:pos'))?.offset, last);
    first.close();
    for (const n of [3, 4]) await server.api('/api/publish', { room: 'chat:pos', data: { n } });

    const second = server.client(token, { offline: offline(store) });
    const seen2: number[] = [];
    const room2 = second.room('chat:pos', { history: 50 });
    room2.on('message', (m) => seen2.push((m.data as { n: number }).n));
    const info = await new Promise<{ recovered: boolean; rejoin: boolean }>((resolve) => room2.once('joined', resolve));
    assert.equal(info.rejoin, true, 'the first join resumed from the saved position');
    assert.equal(info.recovered, true);
    assert.deepEqual(seen2, [3, 4], 'exactly the missed ones, not the history');
    second.close();
  });

  test('the SSE position is saved: the next subscription gets exactly what it missed', async () => {
    const store = new MemoryStore();
    const token = await server.token('sse-reader', ROOMS);
    const first = server.client(token, { autoConnect: false, offline: offline(store) });
    const got1: number[] = [];
    let ready = false;
    const sub1 = first.events(['chat:sse'], { message: (m) => got1.push((m.data as { n: number }).n), ready: () => { ready = true; } });
    await until(() => ready, 'first stream ready');
    for (const n of [1, 2]) await server.api('/api/publish', { room: 'chat:sse', data: { n } });
    await until(() => got1.length === 2, 'two events');
    const key = 'aqueduct/e/chat:sse';
    for (let i = 0; i < 2000 && (await store.get(key)) !== sub1.lastEventId; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await store.get(key), sub1.lastEventId);
    sub1.close();
    first.close();
    for (const n of [3, 4]) await server.api('/api/publish', { room: 'chat:sse', data: { n } });

    const second = server.client(token, { autoConnect: false, offline: offline(store) });
    const got2: number[] = [];
    const sub2 = second.events(['chat:sse'], { message: (m) => got2.push((m.data as { n: number }).n) });
    await until(() => got2.length >= 2, 'the missed events');
    await server.api('/api/publish', { room: 'chat:sse', data: { n: 5 } });
    await until(() => got2.includes(5), 'a live event');
    assert.deepEqual(got2, [3, 4, 5]);
    sub2.close();
    second.close();
  });

  test('limits: a full outbox refuses, old and unconfirmed entries are dropped and reported', async () => {
    const store = new MemoryStore();
    const token = await server.token('dave', ROOMS);
    const first = server.client(token, { autoConnect: false, offline: offline(store, { outboxMax: 2 }) });
    await first.restored;
    const room = first.room('chat:limits', { autoJoin: false });
    room.publish({ text: 'old-1' }).catch(() => undefined);
    room.publish({ text: 'old-2' }).catch(() => undefined);
    await assert.rejects(room.publish({ text: 'third' }), (e: { code?: string }) => e.code === 'QUEUE_FULL');
    first.close();
    await new Promise((r) => setTimeout(r, 30));

    // The next client allows entries 10 ms old at most: both are dropped, the app is told.
    const second = server.client(token, { offline: offline(store, { outboxMaxAgeMs: 10 }) });
    const drops: OutboxDrop[] = [];
    second.on('outboxdrop', (d) => drops.push(d));
    await until(() => drops.length === 2, 'two drops');
    assert.deepEqual(drops.map((d) => [d.reason, (d.data as { text: string }).text]), [['expired', 'old-1'], ['expired', 'old-2']]);
    assert.equal((await store.list('aqueduct/o/')).length, 0, 'dropped entries leave the store');
    second.close();

    // Sent but never acknowledged, and older than the resend window: dropped as unconfirmed.
    const hold = { on: false };
    const third = server.client(token, { WebSocket: holdingWebSocket(hold), offline: offline(store) });
    await third.room('chat:limits').ready();
    hold.on = true;
    third.room('chat:limits').publish({ text: 'maybe sent' }).catch(() => undefined);
    await until(() => third.pendingPublishes()[0]?.sentAt !== undefined, 'sent');
    await new Promise((r) => setTimeout(r, 30));
    third.close();
    const fourth = server.client(token, { offline: offline(store, { resendWindowMs: 10 }) });
    const drops4: OutboxDrop[] = [];
    fourth.on('outboxdrop', (d) => drops4.push(d));
    await until(() => drops4.length === 1, 'unconfirmed drop');
    assert.equal(drops4[0].reason, 'unconfirmed');
    fourth.close();

    // Restored entries beyond outboxMax: the oldest are dropped as overflow.
    const many = server.client(token, { autoConnect: false, offline: offline(store) });
    await many.restored;
    for (const text of ['o-1', 'o-2', 'o-3']) many.room('chat:limits', { autoJoin: false }).publish({ text }).catch(() => undefined);
    await until(() => many.pendingPublishes().length === 3, 'three queued');
    many.close();
    const small = server.client(token, { autoConnect: false, offline: offline(store, { outboxMax: 2 }) });
    const dropsSmall: OutboxDrop[] = [];
    small.on('outboxdrop', (d) => dropsSmall.push(d));
    await small.restored;
    await until(() => dropsSmall.length === 1, 'overflow drop');
    assert.deepEqual(dropsSmall.map((d) => [d.reason, (d.data as { text: string }).text]), [['overflow', 'o-1']]);
    assert.deepEqual(small.pendingPublishes().map((e) => (e.data as { text: string }).text), ['o-2', 'o-3']);
    small.close();
    const rest = server.client(token, { offline: offline(store) });
    const acked: string[] = [];
    rest.on('outboxack', (a) => acked.push(a.id));
    await until(() => acked.length === 2, 'the two kept ones sent');
    rest.close();

    // Queued as one user, restored by another: not sent as the wrong user.
    const fifth = server.client(token, { offline: offline(store) });
    await fifth.room('chat:limits').ready();
    fifth.reconnectNow();
    const queued = fifth.room('chat:limits').publish({ text: 'as dave' });
    queued.catch(() => undefined);
    fifth.close();
    const sixth = server.client(await server.token('eve', ROOMS), { offline: offline(store) });
    const drops6: OutboxDrop[] = [];
    sixth.on('outboxdrop', (d) => drops6.push(d));
    await until(() => drops6.length === 1, 'user-changed drop');
    assert.equal(drops6[0].reason, 'user-changed');
    sixth.close();
  });

  test('two clients on one store (two tabs): each sends its own; a closed one\'s entries are taken over once', async () => {
    const store = new MemoryStore();
    const token = await server.token('frank', ROOMS);
    const watch = await observer('chat:tabs');
    const tabA = server.client(token, { autoConnect: false, offline: offline(store) });
    const tabB = server.client(token, { autoConnect: false, offline: offline(store) });
    await Promise.all([tabA.restored, tabB.restored]);
    tabA.room('chat:tabs', { autoJoin: false }).publish({ text: 'from A' }).catch(() => undefined);
    tabB.room('chat:tabs', { autoJoin: false }).publish({ text: 'from B' }).catch(() => undefined);
    await until(() => tabA.pendingPublishes().length === 1 && tabB.pendingPublishes().length === 1, 'queued in both');
    // A third tab opening now must not take the entries of live tabs.
    const tabC = server.client(token, { offline: offline(store) });
    await tabC.restored;
    assert.equal(tabC.pendingPublishes().length, 0);
    tabA.connect();
    tabB.connect();
    await until(() => watch.counts.size === 2, 'both delivered');
    assert.deepEqual([...watch.counts].sort(), [['from A', 1], ['from B', 1]]);

    // Tab A queues while offline, then closes: tab C (waiting on A's lock) takes it over and sends it.
    tabA.reconnectNow();
    tabA.close();
    const tabD = server.client(token, { autoConnect: false, offline: offline(store) });
    await tabD.restored;
    tabD.room('chat:tabs', { autoJoin: false }).publish({ text: 'from D' }).catch(() => undefined);
    await until(() => tabD.pendingPublishes().length === 1, 'queued in D');
    tabD.close();
    await until(() => watch.counts.get('from D') === 1, 'D\'s message sent by another tab');
    // A doubled message would arrive before a later one from the same sender.
    await tabB.room('chat:tabs').publish({ text: 'marker' });
    await until(() => watch.counts.get('marker') === 1, 'marker');
    assert.equal(watch.counts.get('from D'), 1);
    assert.equal((await store.list('aqueduct/o/')).length, 0);
    tabB.close();
    tabC.close();
    watch.client.close();
  });
});
