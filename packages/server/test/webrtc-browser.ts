/**
 * Browser harness of the WebRTC tests: the client SDK bundled for the browser with esbuild, served
 * with a tiny page from a route of the in-process test server (same origin: no CORS), and system
 * Chromium driven by playwright-core.
 *
 * Chromium flag: `--disable-features=WebRtcHideLocalIpsWithMdns`. Without it, host candidates are
 * `<uuid>.local` mDNS names; two pages still connect, but a four-page mesh needed ICE restarts for
 * some pairs (about 64 s instead of 10 s), so the tests use plain IP host candidates (README §WebRTC, "Testing in a real browser").
 */
import { build } from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '@aqueduct/testkit';
import type { HttpModule } from '../src/http/http-module.js';
import { startTestServer, type TestServer } from './helpers.js';

/**
 * Playwright polls `waitForFunction` with requestAnimationFrame by default, which a background
 * headless page may not run; interval polling works for every page.
 */
export const POLL_MS = 50;

export const WEBRTC_CHROMIUM_ARGS = ['--disable-features=WebRtcHideLocalIpsWithMdns'];

let bundle: Promise<string> | undefined;

/** The SDK as one ESM file for the browser (built once per test process). */
export function sdkBundle(): Promise<string> {
  bundle ??= build({
    entryPoints: ['packages/client/src/index.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['aqueduct-source'],
    write: false,
    logLevel: 'silent',
  }).then((r) => r.outputFiles[0].text);
  return bundle;
}

/**
 * The page: loads the SDK and defines `boot(opts)`, which connects, opens a mesh with two channels
 * (`chat` reliable ordered, `cursor` unordered without retransmits) and records what happens in
 * `window.log`. With `hold: true`, outgoing signals wait until `release()` (simultaneous offers).
 */
const PAGE = `<!doctype html><meta charset="utf-8"><title>aqueduct webrtc test</title>
<script type="module">
import * as aq from '/__test/sdk.js';
window.aq = aq;
window.boot = async (opts) => {
  const client = new aq.AqueductClient({ url: location.origin, token: opts.token, reconnect: { minDelayMs: 50, maxDelayMs: 500 } });
  const log = { messages: [], paths: [], errors: [], tracks: [], trace: [] };
  window.log = log;
  const t0 = performance.now();
  const trace = (...a) => { if (log.trace.length < 500) log.trace.push(Math.round(performance.now() - t0) + 'ms ' + a.join(' ')); };
  const mesh = client.peers(opts.room, { ...(opts.mesh || {}), channels: { chat: { ordered: true }, cursor: { ordered: false, maxRetransmits: 0 } } });
  window.client = client;
  window.mesh = mesh;
  // Signal trace for failure reports: what went out and came in, per peer.
  const describe = (p) => p && p.aq === 'mesh' ? 'gen=' + p.gen + ' ack=' + p.ack + (p.sdp ? ' ' + p.sdp.type : '') + (p.candidates ? ' cand=' + p.candidates.length : '') : 'app';
  {
    const room = mesh.room;
    const send = room.signal.bind(room);
    room.signal = (to, payload) => { trace('out', to, describe(payload)); return send(to, payload).catch((e) => { trace('out-failed', to, e.code); throw e; }); };
    room.on('signal', (from, payload) => trace('in', from.client, describe(payload)));
    room.on('presence.join', (m) => trace('join', m.client, m.mesh));
    room.on('presence.leave', (m) => trace('leave', m.client));
  }
  mesh.on('peer', (p) => trace('peer', p.id, p.polite ? 'polite' : 'impolite'));
  // hold(): outgoing signals wait until release() (to make both sides offer at the same moment).
  window.hold = () => {
    const room = mesh.room;
    const send = room.signal.bind(room);
    window.held = [];
    room.signal = (to, payload) => new Promise((resolve, reject) => window.held.push({ payload, go: () => send(to, payload).then(resolve, reject) }));
    window.release = () => { room.signal = send; for (const h of window.held.splice(0)) h.go(); };
  };
  if (opts.hold) window.hold();
  for (const ch of ['chat', 'cursor']) mesh.channel(ch).on('message', (from, data, info) => log.messages.push({ ch, from, data, via: info.via }));
  mesh.on('path', (id, path) => { log.paths.push({ id, path }); trace('path', id, path); });
  mesh.on('error', (e) => { log.errors.push(e.code + ': ' + e.message); trace('error', e.code, e.message); });
  mesh.on('track', (id, track) => log.tracks.push({ id, kind: track.kind }));
  try {
    await mesh.ready();
    return { ok: true, id: client.clientId };
  } catch (e) {
    return { ok: false, code: e.code, message: e.message };
  }
};
window.pathOf = (id) => window.mesh && window.mesh.path(id);
window.booted = true;
</script>`;

function testPageModule(js: string): HttpModule {
  return {
    name: 'webrtc-test-page',
    async handle(req, res, url) {
      if (url.pathname === '/__test/sdk.js') {
        res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(js);
        return true;
      }
      if (url.pathname === '/__test/page.html') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(PAGE);
        return true;
      }
      return false;
    },
  };
}

export interface BootResult { ok: boolean; id?: string; code?: string; message?: string }

export interface Harness {
  ts: TestServer;
  browser: Browser;
  /** A page in its own browser context (its own user), with the SDK loaded. */
  open(): Promise<Page>;
  /** Boots the page's mesh with a fresh token for `sub`. */
  boot(page: Page, sub: string, room: string, opts?: { mesh?: Record<string, unknown>; hold?: boolean }): Promise<BootResult>;
  close(): Promise<void>;
}

export const MESH_GRANTS = { 'call:*': ['sub', 'pub', 'presence', 'signal'] };

/** Starts the server (with `config`), mounts the test page, and launches Chromium. */
export async function startHarness(config: Parameters<typeof startTestServer>[0] = {}): Promise<Harness> {
  const js = await sdkBundle();
  const ts = await startTestServer(config);
  ts.server.use(testPageModule(js));
  let browser: Browser;
  try {
    browser = await launchChromium(WEBRTC_CHROMIUM_ARGS);
  } catch (err) {
    await ts.close();
    throw err;
  }
  const contexts: BrowserContext[] = [];
  return {
    ts,
    browser,
    async open() {
      const ctx = await browser.newContext();
      contexts.push(ctx);
      const page = await ctx.newPage();
      await page.goto(`${ts.url}/__test/page.html`);
      await page.waitForFunction(() => (window as unknown as { booted?: boolean }).booted === true, undefined, { polling: POLL_MS });
      return page;
    },
    async boot(page, sub, room, opts = {}) {
      const token = await ts.token(sub, MESH_GRANTS);
      return page.evaluate((o) => (window as unknown as { boot(o: unknown): Promise<BootResult> }).boot(o), { token, room, ...opts });
    },
    async close() {
      for (const ctx of contexts) await ctx.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
      await ts.close();
    },
  };
}

/** Waits (in the page, event-driven polling by Playwright) until the page's mesh reaches `peerId` over WebRTC. */
/**
 * Upper bound for in-page waits. Generous on purpose: on a starved machine ICE can need a restart
 * and the mesh's retry, which take tens of seconds; a healthy run finishes in about a second.
 */
const BROWSER_WAIT_MS = Number(process.env.AQ_TEST_BROWSER_WAIT_MS) || 90_000;

export function waitForP2p(page: Page, peerId: string, timeoutMs = BROWSER_WAIT_MS): Promise<string> {
  return reporting(page, async () => {
    const handle = await page.waitForFunction(
      (id) => {
        const p = (window as unknown as { pathOf(id: string): string | undefined }).pathOf(id);
        return p === 'p2p-direct' || p === 'p2p-relay' ? p : false;
      },
      peerId,
      { timeout: timeoutMs, polling: POLL_MS },
    );
    return (await handle.jsonValue()) as string;
  });
}

/** Runs an in-page wait; if it fails, the error carries the page's mesh report. */
async function reporting<T>(page: Page, wait: () => Promise<T>): Promise<T> {
  try {
    return await wait();
  } catch (err) {
    throw new Error(`${(err as Error).message}\nmesh state of the waiting page:\n${await meshReport(page)}`, { cause: err });
  }
}

/** What a page's mesh did (signal trace, paths, errors) and where each peer connection stands: for failure messages. */
export async function meshReport(page: Page): Promise<string> {
  try {
    return await page.evaluate(() => {
      const w = window as unknown as {
        client?: { clientId?: string };
        log?: { trace: string[]; errors: string[] };
        mesh?: { peerList: Array<{ id: string; path: string; polite: boolean }>; connection(id: string): RTCPeerConnection | undefined };
      };
      const peers = (w.mesh?.peerList ?? []).map((p) => {
        const pc = w.mesh?.connection(p.id);
        return `${p.id} ${p.path} ${p.polite ? 'polite' : 'impolite'} ` + (pc ? `sig=${pc.signalingState} ice=${pc.iceConnectionState} gather=${pc.iceGatheringState} conn=${pc.connectionState}` : 'no pc');
      });
      return [`self ${w.client?.clientId}`, ...peers, ...(w.log?.errors ?? []).map((e) => `error ${e}`), ...(w.log?.trace ?? [])].join('\n');
    });
  } catch (err) {
    return `(no report: ${(err as Error).message})`;
  }
}

/** Sends on a channel from the page (to every peer). Returns the peers it could not reach. */
export function send(page: Page, channel: string, data: unknown): Promise<string[]> {
  return page.evaluate(([ch, d]) => (window as unknown as { mesh: { channel(n: string): { send(d: unknown): string[] } } }).mesh.channel(ch as string).send(d), [channel, data] as const);
}

export interface LoggedMessage { ch: string; from: string; data: unknown; via: string }

/** Waits until the page has received a message matching `match` (JSON-equal data on channel). */
export function waitForMessage(page: Page, ch: string, data: unknown, timeoutMs = BROWSER_WAIT_MS): Promise<LoggedMessage> {
  return reporting(page, async () => {
    const handle = await page.waitForFunction(
      ([c, d]) => (window as unknown as { log: { messages: LoggedMessage[] } }).log.messages.find((m) => m.ch === c && JSON.stringify(m.data) === d) ?? false,
      [ch, JSON.stringify(data)] as const,
      { timeout: timeoutMs, polling: POLL_MS },
    );
    return (await handle.jsonValue()) as LoggedMessage;
  });
}

/** Waits until the page's `channel` DataChannel to `peerId` is open. */
export async function waitForChannelOpen(page: Page, peerId: string, channel = 'chat', timeoutMs = BROWSER_WAIT_MS): Promise<void> {
  await reporting(page, () => page.waitForFunction(
    ([id, ch]) => (window as unknown as { mesh: { channel(n: string): { isOpen(id: string): boolean } } }).mesh.channel(ch).isOpen(id),
    [peerId, channel] as const,
    { timeout: timeoutMs, polling: POLL_MS },
  ));
}

/** Waits until `fn(arg)` is truthy in the page (interval polling). */
export async function waitInPage<A extends string | undefined>(page: Page, fn: (arg: A) => unknown, arg: A, timeoutMs = BROWSER_WAIT_MS): Promise<void> {
  // Plain values (strings) are passed to the page as they are; the cast only bridges Playwright's Unboxed<A>.
  await reporting(page, () => page.waitForFunction(fn as (arg: unknown) => unknown, arg as unknown, { timeout: timeoutMs, polling: POLL_MS }));
}
