import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { janusRooms, janusSessions } from '@aqueduct/testkit';
import { mediaStats, startSfuHarness, waitForVideo, type SfuHarness } from './sfu-browser.js';

/** Simulcast through Janus, a viewer without a camera, and re-joining after a bus reconnect (issue 13). */
describe('SFU simulcast and bus reconnect (Chromium)', () => {
  let h: SfuHarness;
  let host: Page;
  let viewer: Page;
  const ROOM = 'live:simulcast';

  before(async () => {
    h = await startSfuHarness();
    host = await h.open();
    viewer = await h.open();
  });

  after(async () => {
    await h?.close();
  });

  test('a simulcast publisher uploads three VP8 layers on one m-line; a viewer without a camera decodes one', { timeout: 300_000 }, async () => {
    assert.equal((await h.boot(host, 'host', ROOM, { simulcast: true })).ok, true);
    const r = await h.boot(viewer, 'viewer', ROOM, { publish: false, grants: { 'live:*': ['sub', 'media:subscribe'] } });
    assert.equal(r.ok, true, `${r.code} ${r.message}`);
    await waitForVideo(viewer, 1);
    const out = (await mediaStats(host)).outbound;
    assert.equal(new Set(out.map((o) => o.mid)).size, 1, `one video m-line: ${JSON.stringify(out)}`);
    assert.deepEqual(out.map((o) => o.rid).sort(), ['h', 'l', 'm']);
    // The viewer sends nothing.
    assert.equal((await mediaStats(viewer)).outbound.length, 0);
    assert.equal((await janusSessions(h.janus)).length, 2);
  });

  test('after a bus reconnect the page re-joins the SFU (new connection id) and receives again; no Janus session leaks', { timeout: 300_000 }, async () => {
    const before = await viewer.evaluate(() => (window as unknown as { client: { clientId: string } }).client.clientId);
    await host.evaluate(() => (window as unknown as { client: { reconnectNow(): void } }).client.reconnectNow());
    await viewer.evaluate(() => (window as unknown as { client: { reconnectNow(): void } }).client.reconnectNow());
    await viewer.waitForFunction((id) => (window as unknown as { client: { clientId?: string } }).client.clientId !== id, before, { polling: 100, timeout: 60_000 });
    const t0 = Date.now();
    await waitForVideo(viewer, 1);
    // The host's new feed comes from its new connection.
    const hostId = await host.evaluate(() => (window as unknown as { client: { clientId: string } }).client.clientId);
    const peers = await viewer.evaluate(() => (window as unknown as { liveVideo(): Array<{ peerId: string }> }).liveVideo().map((t) => t.peerId));
    assert.deepEqual(peers, [hostId]);
    console.log(`# SFU re-join after a bus reconnect: viewer decoding again ${Date.now() - t0} ms after its new connection`);
    assert.equal((await janusSessions(h.janus)).length, 2);
    for (const page of [host, viewer]) await page.evaluate(() => (window as unknown as { media: { leave(): Promise<void> } }).media.leave());
    assert.deepEqual(await janusSessions(h.janus), []);
    assert.deepEqual(await janusRooms(h.janus), []);
  });
});
