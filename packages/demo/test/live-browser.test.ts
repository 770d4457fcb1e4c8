/**
 * The live-stream room app (`/live`) in a real browser (Debian Chromium through playwright-core,
 * fake camera and microphone): a host on video, three viewers, chat flying as danmaku, volatile
 * reactions, a leaderboard fed by `scripts/live-feed.mjs` over the HTTP publish API and received
 * over SSE, and a late viewer who gets the recent chat from history. Screenshots go to
 * test-artifacts/screenshots/ (docs/screenshots/ with UPDATE_SCREENSHOTS=1).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { janusRooms, janusSessions, launchChromium, startJanus, type JanusHandle } from '@aqueduct/testkit';
import { startTestServer, type TestServer } from '../../server/test/helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCREENSHOTS = fileURLToPath(new URL(process.env.UPDATE_SCREENSHOTS === '1' ? '../../../docs/screenshots/' : '../../../test-artifacts/screenshots/', import.meta.url));
const API_KEY = 'live-test-api-key-0123456789';
const SLUG = 'e2e';
const WAIT = { timeout: 30_000 };
/** Fake camera and microphone, granted without a prompt; loopback ICE candidates (no mDNS names). */
const MEDIA_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--disable-features=WebRtcHideLocalIpsWithMdns'];
/** Chat lines each of two senders publishes at once (the burst the viewers must get in order, once). */
const BURST = 30;
/** Leaderboard snapshots the feed script posts. */
const FEED_COUNT = 15;

interface ChatEntry { offset: number; nonce: string; text: string; user?: string; history: boolean }
interface PageLog { chat: ChatEntry[]; board: Array<{ seq: number; offset: number }>; reactions: { sent: number; received: number; refused: number } }

/** The page's media session (`window.live.media`, the SDK's MediaSession): its RTP stats. */
interface MediaStats { stats(): Promise<{ publisher?: RTCStatsReport; subscriber?: RTCStatsReport } | undefined> }

const logOf = (page: Page) => page.evaluate(() => {
  const l = (window as unknown as { live: { log: PageLog } }).live.log;
  return JSON.parse(JSON.stringify(l)) as PageLog;
});

describe('live-stream room app in a real browser', () => {
  let ts: TestServer;
  let janus: JanusHandle;
  let browser: Browser;
  let host: Page;
  const viewers: Page[] = [];
  const problems: string[] = [];

  async function open(role: 'host' | 'cohost' | 'viewer', name: string, viewport = { width: 1280, height: 800 }): Promise<Page> {
    const ctx = await browser.newContext({ viewport });
    const page = await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`${name}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`${name}: pageerror ${e.message}`));
    await page.goto(`${ts.url}/live?room=${SLUG}&role=${role}&name=${name}`);
    await page.locator('#connection-badge[data-state="online"]').waitFor(WAIT);
    await page.locator('#board-status[data-state="open"]').waitFor(WAIT);
    await page.waitForFunction(() => (window as unknown as { live?: { room: { isJoined: boolean } } }).live?.room.isJoined === true, undefined, WAIT);
    return page;
  }

  before(async () => {
    const build = spawnSync(process.execPath, ['packages/demo/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, `demo build failed:\n${build.stdout}\n${build.stderr}`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    janus = await startJanus();
    ts = await startTestServer({ demo: true, apiKey: API_KEY, sfu: { janusUrl: janus.url, apiSecret: janus.apiSecret, adminUrl: janus.adminUrl, adminSecret: janus.adminSecret } });
    browser = await launchChromium(MEDIA_ARGS);
    host = await open('host', 'Hana');
    for (const name of ['Vic', 'Wes', 'Xia']) viewers.push(await open('viewer', name, { width: 1024, height: 700 }));
  });

  after(async () => {
    await browser?.close();
    await ts?.close();
    await janus?.stop();
  });

  test('tokens carry the role: viewers may not publish media, hosts may', async () => {
    const post = (body: unknown) => fetch(`${ts.url}/api/demo/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await post({ role: 'director' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST');
    const viewer = (await (await post({ role: 'viewer' })).json()) as { role: string; rooms: Record<string, string[]> };
    const hostToken = (await (await post({ role: 'host' })).json()) as { role: string; rooms: Record<string, string[]> };
    assert.equal(viewer.role, 'viewer');
    assert.equal(hostToken.role, 'host');
    assert.deepEqual(viewer.rooms['demo:*'], ['sub', 'pub', 'presence', 'signal']);
    assert.deepEqual(viewer.rooms['demo:live-*'], ['media:subscribe']);
    assert.deepEqual(hostToken.rooms['demo:live-*'], ['media']);
    const page = await fetch(`${ts.url}/live`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /build\/live\.js/);
  });

  test('the host\'s video reaches all three viewers through the SFU; viewers upload nothing', async () => {
    // The host publishes the fake camera; the stage shows the local preview and the media session connects.
    await host.locator('#media-badge[data-state="connected"]').waitFor(WAIT);
    for (const [i, page] of viewers.entries()) {
      await page.locator('#media-badge[data-state="connected"]').waitFor(WAIT);
      // The host's tile: a video element that decodes frames from the SFU.
      await page.waitForFunction(() => {
        const v = document.querySelector<HTMLVideoElement>('#stage-tiles .tile.host video');
        return !!v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 0;
      }, undefined, WAIT);
      const first = await page.evaluate(() => document.querySelector<HTMLVideoElement>('#stage-tiles .tile.host video')!.getVideoPlaybackQuality().totalVideoFrames);
      // Frames keep coming (live video, not one frame).
      await page.waitForFunction((n) => document.querySelector<HTMLVideoElement>('#stage-tiles .tile.host video')!.getVideoPlaybackQuality().totalVideoFrames > n + 5, first, WAIT);
      const stats = await page.evaluate(async () => {
        const { media } = (window as unknown as { live: { media: MediaStats } }).live;
        const s = await media.stats();
        // (No named inner functions: tsx would wrap them in a helper the page lacks.)
        const out = [...(s?.publisher?.values() ?? [])].filter((x: { type: string; kind?: string }) => x.type === 'outbound-rtp' && x.kind === 'video');
        const inb = [...(s?.subscriber?.values() ?? [])].filter((x: { type: string; kind?: string }) => x.type === 'inbound-rtp' && x.kind === 'video');
        return { outboundVideo: out.length, framesDecoded: inb.reduce((n: number, x: { framesDecoded?: number }) => n + (x.framesDecoded ?? 0), 0) };
      });
      assert.equal(stats.outboundVideo, 0, `viewer ${i} uploads video`);
      assert.ok(stats.framesDecoded > 0, `viewer ${i} decoded no frames (${JSON.stringify(stats)})`);
      assert.equal(await page.locator('#stage-tiles video').count(), 1, `viewer ${i} shows one tile (the host)`);
      assert.match((await page.locator('#stage-tiles .tile.host .tile-label').textContent()) ?? '', /Hana/);
    }
    // The host's own page: its preview, and one video upload whatever the audience.
    const hostStats = await host.evaluate(async () => {
      const { media } = (window as unknown as { live: { media: MediaStats } }).live;
      const s = await media.stats();
      return [...(s?.publisher?.values() ?? [])].filter((x: { type: string; kind?: string }) => x.type === 'outbound-rtp' && x.kind === 'video').length;
    });
    assert.equal(hostStats, 1);
    // A viewer's token has media:subscribe only: even a page that tries to publish is refused
    // (and keeps watching: the Janus restart below checks this page too).
    const refused = await viewers[0].evaluate(async () => {
      const { media } = (window as unknown as { live: { media: { publish(s: MediaStream): Promise<void> } } }).live;
      const stream = await navigator.mediaDevices.getUserMedia({ video: true });
      try {
        await media.publish(stream);
        return 'published';
      } catch (err) {
        return (err as { code?: string }).code ?? String(err);
      } finally {
        for (const t of stream.getTracks()) t.stop();
      }
    });
    assert.equal(refused, 'PERMISSION_DENIED');
    assert.equal(await viewers[0].locator('#media-badge').getAttribute('data-state'), 'connected');
    assert.ok((await janusSessions(janus)).length >= 4, 'every page has a Janus session');
    assert.equal((await janusRooms(janus)).length, 1, 'one Janus room for the live room');
  });

  test('danmaku: a burst of chat from two senders reaches every viewer in order, exactly once, and flies', async (t) => {
    const startedAt = Date.now();
    // Both senders publish their burst at once, through the page's own send path.
    const burst = (page: Page, prefix: string) => page.evaluate(async ([p, n]) => {
      const chat = (window as unknown as { live: { chat: { send(text: string): Promise<number> } } }).live.chat;
      return Promise.all(Array.from({ length: n }, (_, i) => chat.send(`${p}-${i + 1}`)));
    }, [prefix, BURST] as const);
    const [hostOffsets, viewerOffsets] = await Promise.all([burst(host, 'hana'), burst(viewers[0], 'vic')]);
    // Each sender's lines got increasing positions in the order sent.
    for (const offs of [hostOffsets, viewerOffsets]) assert.deepEqual(offs, [...offs].sort((a, b) => a - b));
    // And one line typed into the form like a person would.
    await viewers[1].locator('#chat-input').fill('hello from the form');
    await viewers[1].locator('#chat-input').press('Enter');
    const total = 2 * BURST + 1;

    const pages = [host, ...viewers];
    for (const page of pages) {
      await page.waitForFunction((n) => (window as unknown as { live: { log: PageLog } }).live.log.chat.filter((e) => !e.history).length >= n, total, WAIT);
    }
    t.diagnostic(`${2 * BURST + 1} chat lines from two senders on all ${pages.length} pages after ${Date.now() - startedAt} ms (shared 2-core machine, not a benchmark)`);
    const logs = await Promise.all(pages.map(logOf));
    const reference = logs[0].chat.map((e) => e.nonce);
    for (const [i, log] of logs.entries()) {
      const live = log.chat.filter((e) => !e.history);
      assert.equal(live.length, total, `page ${i}: ${live.length} lines`);
      // Exactly once, and the same order everywhere: the room's order.
      assert.equal(new Set(live.map((e) => e.nonce)).size, total, `page ${i} has a duplicate`);
      assert.deepEqual(live.map((e) => e.nonce), reference, `page ${i} saw another order`);
      for (let k = 1; k < live.length; k++) assert.ok(live[k].offset > live[k - 1].offset, `page ${i}: offsets not increasing at ${k}`);
      // Each sender's lines in the order they were sent.
      for (const prefix of ['hana', 'vic']) {
        const mine = live.filter((e) => e.text.startsWith(`${prefix}-`)).map((e) => e.text);
        assert.deepEqual(mine, Array.from({ length: BURST }, (_, j) => `${prefix}-${j + 1}`), `page ${i}, sender ${prefix}`);
      }
    }
    // The DOM shows them once too, and danmaku flew across the stage.
    for (const page of viewers) {
      assert.equal(await page.locator('#chat-log .chat-line .text', { hasText: /^vic-7$/ }).count(), 1);
      assert.equal(await page.locator('#chat-log .chat-line .text', { hasText: 'hello from the form' }).count(), 1);
    }
    await viewers[2].locator('#danmaku-layer .danmaku').first().waitFor(WAIT);
  });

  test('reactions are volatile: they reach everyone and are not stored', async () => {
    const before = await Promise.all(viewers.map(logOf));
    await viewers[2].locator('button.reaction[data-kind="heart"]').click();
    await viewers[2].locator('button.reaction[data-kind="fire"]').click();
    for (const [i, page] of [host, ...viewers].entries()) {
      const had = i === 0 ? 0 : before[i - 1].reactions.received;
      await page.waitForFunction((n) => (window as unknown as { live: { log: PageLog } }).live.log.reactions.received >= n, i === 0 ? 2 : had + 2, WAIT);
    }
    await viewers[0].locator('#reaction-layer .reaction-float').first().waitFor(WAIT);
    // Not in the room's history: a late viewer will not see them.
    const res = await fetch(`${ts.url}/api/rooms/${encodeURIComponent(`demo:live-${SLUG}`)}/history?limit=1000`, { headers: { Authorization: `Bearer ${API_KEY}` } });
    const page = (await res.json()) as { publications: Array<{ event?: string }> };
    assert.ok(page.publications.length > 0);
    assert.ok(page.publications.every((p) => p.event === 'chat'), 'a reaction was stored');
  });

  test('leaderboard: the feed script\'s updates arrive over SSE on every viewer, in order, exactly once', async (t) => {
    const startedAt = Date.now();
    const feed = spawn(process.execPath, ['scripts/live-feed.mjs', '--url', ts.url, '--key', API_KEY, '--room', SLUG, '--count', String(FEED_COUNT), '--interval-ms', '40', '--quiet'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    feed.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const code = await new Promise<number | null>((resolve) => feed.on('exit', resolve));
    assert.equal(code, 0, `live-feed failed: ${stderr}`);
    for (const page of viewers) await page.locator(`#board-list[data-seq="${FEED_COUNT}"]`).waitFor(WAIT);
    t.diagnostic(`${FEED_COUNT} snapshots posted 40 ms apart, all on ${viewers.length} viewers after ${Date.now() - startedAt} ms`);
    for (const page of viewers) {
      const { board } = await logOf(page);
      assert.deepEqual(board.map((b) => b.seq), Array.from({ length: FEED_COUNT }, (_, i) => i + 1));
      assert.equal(await page.locator('#board-list li').count(), 5);
      assert.match((await page.locator('#stock-count').textContent()) ?? '', /^\d+$/);
    }
  });

  test('a late viewer gets the recent chat from history, then live chat', async () => {
    const late = await open('viewer', 'Yan', { width: 390, height: 844 });
    viewers.push(late);
    const expected = (await logOf(host)).chat.slice(-50).map((e) => e.nonce);
    const { chat, board } = await logOf(late);
    assert.deepEqual(chat.filter((e) => e.history).map((e) => e.nonce), expected);
    assert.equal(await late.locator('#chat-log .chat-line.history').count(), expected.length);
    // The board starts from the latest snapshot rather than empty.
    assert.deepEqual(board.map((b) => b.seq), [FEED_COUNT]);
    await host.locator('#chat-input').fill('welcome, latecomer');
    await host.locator('#chat-input').press('Enter');
    await late.locator('#chat-log .chat-line:not(.history) .text', { hasText: 'welcome, latecomer' }).waitFor(WAIT);
    // Every control is labelled (reaction buttons are icons: they carry aria-labels).
    for (const page of [host, late]) {
      const unlabelled = await page.evaluate(() => [
        ...[...document.querySelectorAll('input')].filter((i) => i.labels?.length === 0 && !i.getAttribute('aria-label')).map((i) => `input#${i.id}`),
        ...[...document.querySelectorAll('button')].filter((b) => !(b.textContent ?? '').trim() && !b.getAttribute('aria-label')).map((b) => `button#${b.id}`),
      ]);
      assert.deepEqual(unlabelled, []);
    }
    // A phone-sized screen: one column, nothing wider than the viewport.
    assert.equal(await late.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
  });

  test('a co-host joins the stage; screenshot of a viewer\'s page', async () => {
    // A co-host goes on stage, and a fresh viewer (desktop-sized) watches both.
    const cohost = await open('cohost', 'Cora');
    await cohost.locator('#media-badge[data-state="connected"]').waitFor(WAIT);
    const zoe = await open('viewer', 'Zoe');
    await zoe.waitForFunction(() => {
      const videos = [...document.querySelectorAll<HTMLVideoElement>('#stage-tiles video')];
      return videos.length === 2 && videos.every((v) => v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 0);
    }, undefined, WAIT);
    // The host's tile comes first; a viewer has no camera controls.
    assert.match((await zoe.locator('#stage-tiles .tile').first().textContent()) ?? '', /Hana/);
    assert.equal(await zoe.locator('#host-controls').isVisible(), false);
    assert.equal(await cohost.locator('#host-controls').isVisible(), true);
    // Let the picture settle (the SFU's bandwidth estimate ramps up over the first seconds).
    await zoe.waitForFunction(() => [...document.querySelectorAll<HTMLVideoElement>('#stage-tiles video')].every((v) => v.getVideoPlaybackQuality().totalVideoFrames > 60), undefined, WAIT);
    await viewers[0].evaluate(() => {
      const live = (window as unknown as { live: { chat: { send(t: string): Promise<number> }; reactions: { send(k: string): boolean } } }).live;
      for (const t of ['what a goal!!', 'hello from Lisbon', 'first time here', 'encore!', 'can you show the mug again?']) void live.chat.send(t);
      for (const k of ['heart', 'heart', 'star', 'smile', 'heart', 'fire']) live.reactions.send(k);
    });
    await zoe.locator('#danmaku-layer .danmaku', { hasText: 'can you show the mug again?' }).waitFor(WAIT);
    // For the picture: wait until the lines are well on stage.
    await zoe.waitForFunction(() => {
      const stage = document.getElementById('stage')!.getBoundingClientRect();
      const line = [...document.querySelectorAll('#danmaku-layer .danmaku')].find((n) => n.textContent === 'can you show the mug again?');
      return !!line && line.getBoundingClientRect().left < stage.left + stage.width * 0.55;
    }, undefined, WAIT);
    await viewers[0].evaluate(() => { for (const k of ['heart', 'star', 'heart']) (window as unknown as { live: { reactions: { send(k: string): boolean } } }).live.reactions.send(k); });
    await zoe.locator('#reaction-layer .reaction-float').first().waitFor(WAIT);
    await zoe.screenshot({ path: `${SCREENSHOTS}live.png` });
    await cohost.context().close();
    // The co-host left: the stage is back to the host alone.
    await zoe.waitForFunction(() => document.querySelectorAll('#stage-tiles video').length === 1, undefined, WAIT);
  });

  test('Janus restarts mid-stream: the stage comes back on every viewer without a reload', async (t) => {
    const frames = (page: Page) => page.evaluate(() => document.querySelector<HTMLVideoElement>('#stage-tiles .tile.host video')?.getVideoPlaybackQuality().totalVideoFrames ?? -1);
    const watched = viewers.slice(0, 3);
    // Every viewer's tile element is replaced when the track ends: mark the current ones.
    for (const page of watched) await page.evaluate(() => document.querySelector('#stage-tiles .tile.host')?.setAttribute('data-before-restart', ''));
    const startedAt = Date.now();
    await janus.restart();
    for (const [i, page] of watched.entries()) {
      const why = () => page.evaluate(() => `badge=${document.getElementById('media-badge')?.dataset.state} status=${document.getElementById('page-status')?.textContent} tiles=${document.querySelectorAll('#stage-tiles .tile').length} before=${document.querySelectorAll('[data-before-restart]').length}`);
      await page.waitForFunction(() => {
        const tile = document.querySelector('#stage-tiles .tile.host');
        const v = tile?.querySelector('video');
        return !!tile && !tile.hasAttribute('data-before-restart') && !!v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 0;
      }, undefined, { timeout: 60_000 }).catch(async (err: Error) => { throw new Error(`viewer ${i}: ${await why()}: ${err.message}`); });
      const n = await frames(page);
      await page.waitForFunction((k) => (document.querySelector<HTMLVideoElement>('#stage-tiles .tile.host video')?.getVideoPlaybackQuality().totalVideoFrames ?? 0) > k + 5, n, WAIT);
    }
    t.diagnostic(`host video back on ${watched.length} viewers ${Date.now() - startedAt} ms after the Janus restart began`);
    assert.equal(await host.locator('#media-badge').getAttribute('data-state'), 'connected');
  });

  test('no errors in any browser console', () => {
    assert.deepEqual(problems, []);
  });
});
