import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { janusRooms, janusSessions, waitForNoJanusLeftovers } from '@aqueduct/testkit';
import { mediaStats, startSfuHarness, waitForVideo, type SfuHarness } from './sfu-browser.js';

/**
 * Issue 13, Done-means 1, 3 and 4: six Chromium pages (fake camera, 160x120 at 10 fps) in one room
 * through a real Janus; the same call survives a Janus kill and restart; nothing is left in Janus
 * after everyone leaves. One browser, one context per page (each its own user).
 */
const PAGES = 6;
const ROOM = 'live:six';
/** Documented bound (README §Media (SFU)): after Janus accepts connections again, every page receives all tracks within this. */
const RECOVERY_BOUND_MS = 30_000;

async function readyz(url: string): Promise<{ status: number; body: { ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> } }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: await res.json() as { ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> } };
}

async function framesDecoded(page: Page): Promise<Map<string, number>> {
  const s = await mediaStats(page);
  return new Map(s.inbound.map((i) => [i.mid ?? String(i.ssrc), i.framesDecoded]));
}

describe('SFU media through Janus (Chromium, 6 pages)', () => {
  let h: SfuHarness;
  const pages: Page[] = [];

  before(async () => {
    h = await startSfuHarness();
    for (let i = 0; i < PAGES; i++) pages.push(await h.open());
  });

  after(async () => {
    await h?.close();
  });

  test('each page receives and decodes the other five videos and uploads exactly one video stream', { timeout: 400_000 }, async () => {
    for (let i = 0; i < PAGES; i++) {
      const r = await h.boot(pages[i], `user${i}`, ROOM);
      assert.equal(r.ok, true, `page ${i} boot: ${r.code} ${r.message}`);
    }
    for (const page of pages) await waitForVideo(page, PAGES - 1);
    // Frames keep being decoded on every inbound video stream: sample twice.
    const first = await Promise.all(pages.map(framesDecoded));
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < PAGES; i++) {
      const later = await framesDecoded(pages[i]);
      assert.equal(later.size, PAGES - 1, `page ${i} has ${later.size} inbound video streams`);
      for (const [mid, n] of later) assert.ok(n > (first[i].get(mid) ?? 0), `page ${i} stream ${mid}: framesDecoded ${first[i].get(mid)} -> ${n}`);
      // The senders are the five other users.
      const senders = await pages[i].evaluate(() => (window as unknown as { liveVideo(): Array<{ userId: string }> }).liveVideo().map((t) => t.userId).sort());
      assert.deepEqual(senders, Array.from({ length: PAGES }, (_, k) => `user${k}`).filter((u) => u !== `user${i}`).sort());
      // One upload whatever the room size (a mesh would send five).
      const out = (await mediaStats(pages[i])).outbound;
      assert.equal(out.length, 1, `page ${i} outbound video streams: ${JSON.stringify(out)}`);
      assert.ok(out[0].packetsSent > 0);
    }
    const metrics = await (await fetch(`${h.ts.url}/metrics`)).text();
    assert.match(metrics, /^aqueduct_sfu_rooms\{[^}]*\} 1$/m);
    assert.match(metrics, new RegExp(`^aqueduct_sfu_publishers\\{[^}]*\\} ${PAGES}$`, 'm'));
    assert.match(metrics, new RegExp(`^aqueduct_sfu_subscribers\\{[^}]*\\} ${PAGES}$`, 'm'));
    assert.match(metrics, /^aqueduct_sfu_janus_rtt_seconds_count\{[^}]*request="message"[^}]*\} \d+$/m);
    assert.equal((await janusRooms(h.janus)).filter((r) => r.description === ROOM).length, 1);
  });

  test('Janus killed and restarted mid-call: every page receives all tracks again without reload; /readyz showed the outage', { timeout: 400_000 }, async () => {
    assert.equal((await readyz(h.ts.url)).status, 200);
    await h.janus.kill();
    // The outage shows on /readyz (the server notices the closed socket at once).
    const deadline = Date.now() + 20_000;
    let down: Awaited<ReturnType<typeof readyz>> | undefined;
    while (Date.now() < deadline) {
      const r = await readyz(h.ts.url);
      if (r.status === 503) { down = r; break; }
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(down, '/readyz never reported the SFU outage');
    assert.equal(down.body.checks.sfu?.ok, false);
    assert.match(down.body.checks.sfu?.detail ?? '', /janus/);
    // Pages notice: their remote tracks end and they try to re-join.
    for (const page of pages) {
      await page.waitForFunction(() => (window as unknown as { media: { state: string } }).media.state === 'reconnecting', undefined, { timeout: 30_000, polling: 100 });
    }
    await h.janus.restart();
    const restarted = Date.now();
    for (const page of pages) await waitForVideo(page, PAGES - 1, RECOVERY_BOUND_MS + 60_000);
    const recoveredMs = Date.now() - restarted;
    console.log(`# SFU recovery after Janus restart: all ${PAGES} pages decoding ${PAGES - 1} videos ${recoveredMs} ms after Janus answered again`);
    assert.ok(recoveredMs <= RECOVERY_BOUND_MS * 3, `recovery took ${recoveredMs} ms`); // the bound, with slack for a starved CI machine
    assert.equal((await readyz(h.ts.url)).status, 200);
    for (const page of pages) {
      assert.equal(await page.evaluate(() => (window as unknown as { media: { state: string } }).media.state), 'connected');
      assert.equal((await mediaStats(page)).outbound.length, 1);
    }
  });

  test('a page that leaves ends its tracks on the others; after every page leaves, no Janus room or session remains (Admin API)', { timeout: 120_000 }, async () => {
    assert.ok((await janusSessions(h.janus)).length >= PAGES, 'sessions exist during the call');
    const leave = (page: Page) => page.evaluate(() => (window as unknown as { media: { leave(): Promise<void> } }).media.leave());
    // The first one out: everyone else sees its video end (trackremoved) and keeps decoding the other four.
    await leave(pages[0]);
    for (const page of pages.slice(1)) {
      await page.waitForFunction(() => !(window as unknown as { liveVideo(): Array<{ userId: string }> }).liveVideo().some((t) => t.userId === 'user0'), undefined, { polling: 100, timeout: 60_000 });
      await waitForVideo(page, PAGES - 2);
    }
    for (const page of pages.slice(1)) await leave(page);
    // Leaves are acknowledged after Janus destroyed the session (and the room with the last one).
    assert.deepEqual(await janusSessions(h.janus), [], 'sessions end with the leaves');
    const ms = await waitForNoJanusLeftovers(h.janus);
    console.log(`# no Janus room or session ${ms} ms after the last leave`);
    const metrics = await (await fetch(`${h.ts.url}/metrics`)).text();
    assert.match(metrics, /^aqueduct_sfu_rooms\{[^}]*\} 0$/m);
  });
});
