import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { send, startHarness, waitForChannelOpen, waitForMessage, waitForP2p, waitInPage, type Harness } from './webrtc-browser.js';

/** Headless Chromium pages meshing through Aqueduct's signaling (host candidates, no TURN). */
describe('webrtc mesh in Chromium', { timeout: 900_000 }, () => {
  let h: Harness;
  before(async () => { h = await startHarness({ limits: { maxMeshPeers: 4 } }); });
  after(async () => { await h?.close(); });

  const closePages = async (pages: Page[]) => { for (const p of pages) await p.context().close(); };

  test('two pages open DataChannels and exchange messages both ways', async () => {
    const [a, b] = [await h.open(), await h.open()];
    const ra = await h.boot(a, 'alice', 'call:two');
    const rb = await h.boot(b, 'bob', 'call:two');
    assert.ok(ra.ok && rb.ok, JSON.stringify([ra, rb]));
    const idA = ra.id as string;
    const idB = rb.id as string;
    assert.equal(await waitForP2p(a, idB), 'p2p-direct');
    assert.equal(await waitForP2p(b, idA), 'p2p-direct');
    // Reliable ordered channel, both ways; wait for each side's DataChannel to be open first.
    await waitForChannelOpen(a, idB);
    await waitForChannelOpen(b, idA);
    assert.deepEqual(await send(a, 'chat', { text: 'hello bob' }), []);
    assert.deepEqual(await send(b, 'chat', { text: 'hello alice' }), []);
    const atB = await waitForMessage(b, 'chat', { text: 'hello bob' });
    const atA = await waitForMessage(a, 'chat', { text: 'hello alice' });
    assert.deepEqual([atB.from, atB.via], [idA, 'p2p']);
    assert.deepEqual([atA.from, atA.via], [idB, 'p2p']);
    // Order on the reliable channel.
    for (let i = 0; i < 20; i++) await send(a, 'chat', { n: i });
    await waitForMessage(b, 'chat', { n: 19 });
    const ns = await b.evaluate(() => (window as never as { log: { messages: Array<{ ch: string; data: { n?: number } }> } }).log.messages.filter((m) => m.ch === 'chat' && m.data.n !== undefined).map((m) => m.data.n));
    assert.deepEqual(ns, Array.from({ length: 20 }, (_, i) => i));
    // The unordered, no-retransmit channel carries data too (loopback loses nothing).
    await waitForChannelOpen(b, idA, 'cursor');
    await send(b, 'cursor', { x: 1, y: 2 });
    assert.equal((await waitForMessage(a, 'cursor', { x: 1, y: 2 })).via, 'p2p');
    // Channel options reached the DataChannel.
    const opts = await a.evaluate((id) => {
      const pc = (window as never as { mesh: { connection(id: string): RTCPeerConnection } }).mesh.connection(id);
      return { pc: pc.connectionState };
    }, idB);
    assert.equal(opts.pc, 'connected');
    // Stats from the selected candidate pair: direct (host), RTT measured.
    const stats = await a.evaluate(async (id) => (window as never as { mesh: { stats(id: string): Promise<unknown> } }).mesh.stats(id), idB) as { relayed: boolean; rttMs?: number; localCandidateType?: string };
    assert.equal(stats.relayed, false);
    assert.equal(stats.localCandidateType, 'host');
    assert.ok(stats.rttMs === undefined || stats.rttMs >= 0);
    // Each side reported its connection as direct.
    await waitForMetric(h, 'direct', 2);
    await closePages([a, b]);
  });

  test('a new pair: only the impolite side offers first (no offer collision on connect)', async () => {
    const [a, b] = [await h.open(), await h.open()];
    const ra = await h.boot(a, 'alice', 'call:first-offer');
    const rb = await h.boot(b, 'bob', 'call:first-offer');
    await waitForP2p(a, rb.id as string);
    await waitForP2p(b, ra.id as string);
    // The trace of each page: offers it sent. Only the impolite one (higher client id) sent one.
    const offersSent = (p: Page) => p.evaluate(() => (window as never as { log: { trace: string[] } }).log.trace.filter((l) => / out \S+ gen=\d+ ack=-?\d+ offer$/.test(l)).length);
    const polite = (ra.id as string) < (rb.id as string) ? a : b;
    const impolite = polite === a ? b : a;
    assert.equal(await offersSent(polite), 0);
    assert.equal(await offersSent(impolite), 1);
    await closePages([a, b]);
  });

  test('both pages renegotiate at the same moment (offer collision): perfect negotiation resolves it', async () => {
    const [a, b] = [await h.open(), await h.open()];
    const ra = await h.boot(a, 'alice', 'call:glare');
    const rb = await h.boot(b, 'bob', 'call:glare');
    assert.ok(ra.ok && rb.ok);
    await waitForP2p(a, rb.id as string);
    await waitForP2p(b, ra.id as string);
    // Hold outgoing signals on both sides, then both add a video track: each makes an offer and
    // holds it, so each receives the other's offer while in have-local-offer.
    for (const p of [a, b]) {
      await p.evaluate(() => {
        const w = window as never as { hold(): void; mesh: { addTrack(t: MediaStreamTrack, s: MediaStream): void } };
        w.hold();
        const canvas = document.createElement('canvas');
        canvas.width = canvas.height = 16;
        (canvas.getContext('2d') as CanvasRenderingContext2D).fillRect(0, 0, 16, 16);
        const stream = canvas.captureStream(5);
        w.mesh.addTrack(stream.getVideoTracks()[0], stream);
      });
    }
    const offerHeld = (id: string) => (window as never as { held: Array<{ payload: { sdp?: { type: string } } }>; mesh: { connection(id: string): RTCPeerConnection | undefined } }).held.some((x) => x.payload.sdp?.type === 'offer') &&
      (window as never as { mesh: { connection(id: string): RTCPeerConnection | undefined } }).mesh.connection(id)?.signalingState === 'have-local-offer';
    await waitInPage(a, offerHeld, rb.id as string);
    await waitInPage(b, offerHeld, ra.id as string);
    await Promise.all([a.evaluate(() => (window as never as { release(): void }).release()), b.evaluate(() => (window as never as { release(): void }).release())]);
    // Each side ends up receiving the other's track, over the same connection.
    const gotVideoFrom = (from: string) => (window as never as { log: { tracks: Array<{ id: string; kind: string }> } }).log.tracks.some((t) => t.id === from && t.kind === 'video');
    await waitInPage(a, gotVideoFrom, rb.id as string);
    await waitInPage(b, gotVideoFrom, ra.id as string);
    await waitForChannelOpen(a, rb.id as string);
    await waitForChannelOpen(b, ra.id as string);
    await send(a, 'chat', 'ping');
    await send(b, 'chat', 'pong');
    assert.equal((await waitForMessage(b, 'chat', 'ping')).via, 'p2p');
    assert.equal((await waitForMessage(a, 'chat', 'pong')).via, 'p2p');
    for (const p of [a, b]) assert.deepEqual(await p.evaluate(() => (window as never as { log: { errors: string[] } }).log.errors), []);
    await closePages([a, b]);
  });

  test('a page that reloads rejoins and its peer reconnects without reloading', async () => {
    const [a, b] = [await h.open(), await h.open()];
    const ra = await h.boot(a, 'alice', 'call:reload');
    const rb = await h.boot(b, 'bob', 'call:reload');
    await waitForP2p(b, ra.id as string);
    await b.reload();
    await waitInPage(b, () => (window as never as { booted?: boolean }).booted === true, undefined);
    const rb2 = await h.boot(b, 'bob', 'call:reload');
    assert.ok(rb2.ok);
    assert.notEqual(rb2.id, rb.id);
    // Alice (not reloaded) drops the old peer when presence says it left, and connects to the new one.
    await waitForP2p(a, rb2.id as string);
    await waitInPage(a, (old) => (window as never as { mesh: { path(id: string): string | undefined } }).mesh.path(old) === undefined, rb.id as string);
    await waitForChannelOpen(b, ra.id as string);
    await waitForChannelOpen(a, rb2.id as string);
    await send(b, 'chat', 'back again');
    const got = await waitForMessage(a, 'chat', 'back again');
    assert.deepEqual([got.from, got.via], [rb2.id, 'p2p']);
    await send(a, 'chat', 'welcome back');
    assert.equal((await waitForMessage(b, 'chat', 'welcome back')).via, 'p2p');
    await closePages([a, b]);
  });

  test('a fresh connection started by one side is followed by the other (connection generations)', async () => {
    const [a, b] = [await h.open(), await h.open()];
    const ra = await h.boot(a, 'alice', 'call:fresh');
    const rb = await h.boot(b, 'bob', 'call:fresh');
    await waitForP2p(a, rb.id as string);
    await waitForP2p(b, ra.id as string);
    // Remember Bob's current connection object, then let Alice start afresh.
    await b.evaluate(([id]) => { (window as never as { oldPc: unknown }).oldPc = (window as never as { mesh: { connection(id: string): unknown } }).mesh.connection(id); }, [ra.id as string] as const);
    await a.evaluate((id) => (window as never as { mesh: { reconnect(id: string): void } }).mesh.reconnect(id), rb.id as string);
    await waitInPage(b, (id) => {
      const w = window as never as { oldPc: RTCPeerConnection; mesh: { connection(id: string): RTCPeerConnection | undefined; channel(n: string): { isOpen(id: string): boolean } } };
      const pc = w.mesh.connection(id);
      return pc !== undefined && pc !== w.oldPc && w.oldPc.connectionState === 'closed' && w.mesh.channel('chat').isOpen(id);
    }, ra.id as string);
    await waitForChannelOpen(a, rb.id as string);
    await send(a, 'chat', 'fresh');
    await send(b, 'chat', 'fresh too');
    assert.equal((await waitForMessage(b, 'chat', 'fresh')).via, 'p2p');
    assert.equal((await waitForMessage(a, 'chat', 'fresh too')).via, 'p2p');
    for (const p of [a, b]) assert.deepEqual(await p.evaluate(() => (window as never as { log: { errors: string[] } }).log.errors), []);
    await closePages([a, b]);
  });

  test('media tracks are added and removed (renegotiation over the same connection)', async () => {
    const [a, b] = [await h.open(), await h.open()];
    const ra = await h.boot(a, 'alice', 'call:media');
    const rb = await h.boot(b, 'bob', 'call:media');
    await waitForP2p(a, rb.id as string);
    await waitForP2p(b, ra.id as string);
    // A canvas stream is a real video track without camera permissions.
    await a.evaluate(() => {
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = 16;
      const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
      ctx.fillRect(0, 0, 16, 16);
      const stream = canvas.captureStream(5);
      const w = window as never as { mesh: { addTrack(t: MediaStreamTrack, s: MediaStream): void }; track: MediaStreamTrack };
      w.track = stream.getVideoTracks()[0];
      w.mesh.addTrack(w.track, stream);
    });
    await waitInPage(b, (from) => (window as never as { log: { tracks: Array<{ id: string; kind: string }> } }).log.tracks.some((t) => t.id === from && t.kind === 'video'), ra.id as string);
    await a.evaluate(() => {
      const w = window as never as { mesh: { removeTrack(t: MediaStreamTrack): void }; track: MediaStreamTrack };
      w.mesh.removeTrack(w.track);
    });
    // After renegotiation the receiving transceiver no longer receives.
    await waitInPage(b, (from) => {
      const pc = (window as never as { mesh: { connection(id: string): RTCPeerConnection } }).mesh.connection(from);
      const video = pc.getTransceivers().filter((t) => t.receiver.track.kind === 'video');
      return video.length > 0 && video.every((t) => t.currentDirection === 'inactive' || t.currentDirection === 'sendonly');
    }, ra.id as string);
    // The data path is unaffected.
    await waitForChannelOpen(a, rb.id as string);
    await send(a, 'chat', 'still here');
    assert.equal((await waitForMessage(b, 'chat', 'still here')).via, 'p2p');
    await closePages([a, b]);
  });

  test("a page whose WebSocket reconnects (new client id) rebuilds its mesh", async () => {
    const [a, b] = [await h.open(), await h.open()];
    const ra = await h.boot(a, 'alice', 'call:ws');
    const rb = await h.boot(b, 'bob', 'call:ws');
    await waitForP2p(a, rb.id as string);
    await a.evaluate(() => (window as never as { client: { reconnectNow(): void } }).client.reconnectNow());
    await waitInPage(a, (old) => {
      const w = window as never as { mesh: { id?: string } };
      return w.mesh.id !== undefined && w.mesh.id !== old;
    }, ra.id as string);
    const newA = await a.evaluate(() => (window as never as { mesh: { id: string } }).mesh.id);
    await waitForP2p(a, rb.id as string);
    await waitForP2p(b, newA);
    await waitForChannelOpen(b, newA);
    await send(b, 'chat', 'hello again');
    const got = await waitForMessage(a, 'chat', 'hello again');
    assert.equal(got.via, 'p2p');
    await closePages([a, b]);
  });

  test('four pages form a full mesh; the fifth past the limit of 4 gets MESH_FULL', async () => {
    const pages: Page[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await h.open();
      const r = await h.boot(p, `user${i}`, 'call:four');
      assert.ok(r.ok, JSON.stringify(r));
      pages.push(p);
      ids.push(r.id as string);
    }
    // Every pair connected peer-to-peer: 4 x 3 directed links.
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) if (i !== j) await waitForP2p(pages[i], ids[j], 60_000);
    }
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) if (i !== j) await waitForChannelOpen(pages[i], ids[j]);
    }
    await send(pages[0], 'chat', 'to all');
    for (let i = 1; i < 4; i++) assert.equal((await waitForMessage(pages[i], 'chat', 'to all')).via, 'p2p');
    const fifth = await h.open();
    const r5 = await h.boot(fifth, 'user4', 'call:four');
    assert.equal(r5.ok, false);
    assert.equal(r5.code, 'MESH_FULL');
    const errors = await fifth.evaluate(() => (window as never as { log: { errors: string[] } }).log.errors);
    assert.ok(errors.some((e) => e.startsWith('MESH_FULL')), JSON.stringify(errors));
    // A member leaving (closing the mesh) frees the seat; the others drop it cleanly.
    await pages[3].evaluate(() => (window as never as { mesh: { close(): Promise<void> } }).mesh.close());
    await waitInPage(pages[0], (id) => (window as never as { mesh: { path(id: string): string | undefined } }).mesh.path(id) === undefined, ids[3]);
    await closePages([...pages, fifth]);
  });
});

async function waitForMetric(h: Harness, path: string, atLeast: number): Promise<void> {
  const re = new RegExp(`aqueduct_webrtc_connections_total\\{path="${path}"[^}]*\\} (\\d+)`);
  for (let i = 0; i < 200; i++) {
    const text = await h.ts.server.metrics.registry.metrics();
    const m = re.exec(text);
    if (m && Number(m[1]) >= atLeast) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`metric path=${path} did not reach ${atLeast}`);
}
