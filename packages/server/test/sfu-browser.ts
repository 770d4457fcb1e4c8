/**
 * Browser harness of the SFU tests: a Janus of the test's own (testkit `startJanus`), an in-process
 * server configured with it, the SDK bundle served with a small page, and system Chromium with fake
 * media devices. Pages boot `client.media(room, { mode: 'sfu' })`, publish a small fake camera and
 * record the tracks they receive; `mediaStats` reads `getStats` of both SFU connections.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, startJanus, type JanusHandle } from '@aqueduct/testkit';
import type { HttpModule } from '../src/http/http-module.js';
import { startTestServer, type TestServer } from './helpers.js';
import { POLL_MS, WEBRTC_CHROMIUM_ARGS, sdkBundle } from './webrtc-browser.js';

export const MEDIA_GRANTS = { 'live:*': ['sub', 'media'] };

export const SFU_CHROMIUM_ARGS = [...WEBRTC_CHROMIUM_ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

/** Upper bound of in-page waits (a starved machine decodes slowly; a healthy run needs seconds). */
export const SFU_WAIT_MS = Number(process.env.AQ_TEST_BROWSER_WAIT_MS) || 120_000;

const PAGE = `<!doctype html><meta charset="utf-8"><title>aqueduct sfu test</title>
<script type="module">
import * as aq from '/__test/sdk.js';
window.aq = aq;
window.boot = async (opts) => {
  const client = new aq.AqueductClient({ url: location.origin, token: opts.token, reconnect: { minDelayMs: 50, maxDelayMs: 500 } });
  const log = { states: [], errors: [], added: 0, removed: 0 };
  window.log = log;
  window.client = client;
  // Remote tracks now live, by track id.
  window.live = new Map();
  const media = client.media(opts.room, { mode: opts.mode || 'sfu', simulcast: !!opts.simulcast, rejoinMinDelayMs: 200, rejoinMaxDelayMs: 2000 });
  window.media = media;
  log.modes = [];
  media.on('mode', (m) => log.modes.push(m));
  media.on('state', (s) => log.states.push(s));
  media.on('error', (e) => log.errors.push(e.code + ': ' + e.message));
  media.on('track', (t) => { log.added++; window.live.set(t.track.id, { kind: t.track.kind, peerId: t.peerId, userId: t.userId, feed: t.feed }); });
  media.on('trackremoved', (t) => { log.removed++; window.live.delete(t.track.id); });
  try {
    if (opts.publish !== false) {
      window.stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: { width: 160, height: 120, frameRate: 10 } });
    }
    await media.join();
    if (window.stream) await media.publish(window.stream);
    return { ok: true, id: client.clientId };
  } catch (e) {
    return { ok: false, code: e.code, message: e.message };
  }
};
window.liveVideo = () => [...window.live.values()].filter((t) => t.kind === 'video');
window.mediaStats = async () => {
  const s = await window.media.stats();
  const out = { outbound: [], inbound: [] };
  if (s && s.publisher) s.publisher.forEach((r) => { if (r.type === 'outbound-rtp' && r.kind === 'video') out.outbound.push({ ssrc: r.ssrc, rid: r.rid || null, mid: r.mid || null, packetsSent: r.packetsSent, framesEncoded: r.framesEncoded }); });
  if (s && s.subscriber) s.subscriber.forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') out.inbound.push({ ssrc: r.ssrc, mid: r.mid || null, trackIdentifier: r.trackIdentifier, framesDecoded: r.framesDecoded || 0 }); });
  return out;
};
window.booted = true;
</script>`;

function pageModule(js: string): HttpModule {
  return {
    name: 'sfu-test-page',
    async handle(_req, res, url) {
      if (url.pathname === '/__test/sdk.js') {
        res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(js);
        return true;
      }
      if (url.pathname === '/__test/sfu.html') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(PAGE);
        return true;
      }
      return false;
    },
  };
}

export interface BootResult { ok: boolean; id?: string; code?: string; message?: string }

export interface MediaStats {
  outbound: Array<{ ssrc: number; rid: string | null; mid: string | null; packetsSent: number; framesEncoded: number }>;
  inbound: Array<{ ssrc: number; mid: string | null; trackIdentifier: string; framesDecoded: number }>;
}

export interface SfuHarness {
  janus: JanusHandle;
  ts: TestServer;
  browser: Browser;
  open(): Promise<Page>;
  boot(page: Page, sub: string, room: string, opts?: { simulcast?: boolean; publish?: boolean; grants?: Record<string, string[]>; mode?: 'sfu' | 'mesh' | 'auto' }): Promise<BootResult>;
  close(): Promise<void>;
}

/** Starts Janus, the server (configured for it, plus `config`), the page route and Chromium. */
export async function startSfuHarness(config: Parameters<typeof startTestServer>[0] = {}): Promise<SfuHarness> {
  const js = await sdkBundle();
  const janus = await startJanus();
  let ts: TestServer | undefined;
  let browser: Browser | undefined;
  try {
    ts = await startTestServer({
      ...config,
      sfu: { janusUrl: janus.url, apiSecret: janus.apiSecret, adminUrl: janus.adminUrl, adminSecret: janus.adminSecret, reconnectMinMs: 100, reconnectMaxMs: 1000, ...(config.sfu ?? {}) },
    });
    ts.server.use(pageModule(js));
    browser = await launchChromium(SFU_CHROMIUM_ARGS);
  } catch (err) {
    await ts?.close();
    await janus.stop();
    throw err;
  }
  const server = ts;
  const b = browser;
  const contexts: BrowserContext[] = [];
  return {
    janus, ts: server, browser: b,
    async open() {
      const ctx = await b.newContext();
      contexts.push(ctx);
      const page = await ctx.newPage();
      await page.goto(`${server.url}/__test/sfu.html`);
      await page.waitForFunction(() => (window as unknown as { booted?: boolean }).booted === true, undefined, { polling: POLL_MS });
      return page;
    },
    async boot(page, sub, room, opts = {}) {
      const token = await server.token(sub, opts.grants ?? MEDIA_GRANTS);
      return page.evaluate((o) => (window as unknown as { boot(o: unknown): Promise<BootResult> }).boot(o), { token, room, simulcast: opts.simulcast, publish: opts.publish, mode: opts.mode });
    },
    async close() {
      for (const ctx of contexts) await ctx.close().catch(() => undefined);
      await b.close().catch(() => undefined);
      await server.close().catch(() => undefined);
      await janus.stop();
    },
  };
}

export function mediaStats(page: Page): Promise<MediaStats> {
  return page.evaluate(() => (window as unknown as { mediaStats(): Promise<MediaStats> }).mediaStats());
}

/** Waits until the page has `n` live remote video tracks and decodes frames on `n` inbound video streams. */
export async function waitForVideo(page: Page, n: number, timeoutMs = SFU_WAIT_MS, opts: { liveOnly?: boolean } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const live = await page.evaluate(() => (window as unknown as { liveVideo(): unknown[] }).liveVideo().length);
    const stats = await mediaStats(page);
    const decoding = stats.inbound.filter((s) => s.framesDecoded > 0).length;
    if (opts.liveOnly && live === n) return;
    if (live === n && decoding >= n) return;
    last = `live=${live} decoding=${decoding} inbound=${JSON.stringify(stats.inbound)}`;
    if (Date.now() > deadline) {
      const log = await page.evaluate(() => JSON.stringify((window as unknown as { log: unknown }).log));
      throw new Error(`page did not get ${n} decoding video tracks in ${timeoutMs} ms: ${last}\nlog: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

