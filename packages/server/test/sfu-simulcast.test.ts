import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { janusSessions, waitForNoJanusLeftovers } from '@aqueduct/testkit';
import { mediaStats, startSfuHarness, waitForVideo, type SfuHarness } from './sfu-browser.js';

/** Simulcast through Janus, a viewer without a camera, and re-joining after a bus reconnect (issue 13). */
describe('SFU simulcast and bus reconnect (Chromium)', () => {
  let h: SfuHarness;
  let host: Page;
  let viewer: Page;
  const ROOM = 'live:simulcast';

  before(async () => {
    h = await startSfuHarness({ sfu: { maxPublishers: 1 } });
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

  test('sfu.maxPublishers: a second publisher gets MEDIA_FULL', { timeout: 300_000 }, async () => {
    const extra = await h.open();
    const r = await h.boot(extra, 'cohost', ROOM);
    assert.deepEqual([r.ok, r.code], [false, 'MEDIA_FULL'], r.message);
    assert.equal((await janusSessions(h.janus)).length, 3, 'joined, but not publishing');
    assert.equal(await extra.evaluate(() => (window as unknown as { media: { state: string } }).media.state), 'connected');
    await extra.evaluate(() => (window as unknown as { media: { leave(): Promise<void> } }).media.leave());
    assert.equal((await janusSessions(h.janus)).length, 2);
    await extra.close();
  });

  test('after a bus reconnect the page re-joins the SFU (new connection id) and receives again; no Janus session leaks', { timeout: 300_000 }, async () => {
    const id = (p: Page) => p.evaluate(() => (window as unknown as { client: { clientId?: string } }).client.clientId);
    const [hostBefore, viewerBefore] = [await id(host), await id(viewer)];
    await host.evaluate(() => (window as unknown as { client: { reconnectNow(): void } }).client.reconnectNow());
    await viewer.evaluate(() => (window as unknown as { client: { reconnectNow(): void } }).client.reconnectNow());
    for (const [page, old] of [[host, hostBefore], [viewer, viewerBefore]] as const) {
      await page.waitForFunction((o) => { const c = (window as unknown as { client: { clientId?: string } }).client.clientId; return c !== undefined && c !== o; }, old, { polling: 100, timeout: 60_000 });
    }
    const t0 = Date.now();
    const hostId = await id(host);
    // The viewer receives the host's feed from the host's new connection (the old one is gone).
    await viewer.waitForFunction((hid) => {
      const live = (window as unknown as { liveVideo(): Array<{ peerId: string }> }).liveVideo();
      return live.length === 1 && live[0].peerId === hid;
    }, hostId, { polling: 100, timeout: 120_000 });
    await waitForVideo(viewer, 1);
    console.log(`# SFU re-join after a bus reconnect: viewer decoding again ${Date.now() - t0} ms after its new connection`);
    assert.equal((await janusSessions(h.janus)).length, 2);
    for (const page of [host, viewer]) await page.evaluate(() => (window as unknown as { media: { leave(): Promise<void> } }).media.leave());
    assert.deepEqual(await janusSessions(h.janus), [], 'sessions end with the leaves');
    const ms = await waitForNoJanusLeftovers(h.janus);
    console.log(`# no Janus room or session ${ms} ms after the last leave`);
  });
});
