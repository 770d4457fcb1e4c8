import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { ChaosProxy, launchChromium } from '@aqueduct/testkit';
import { decodeCursor } from '@aqueduct/protocol';
import { connectClient, startTestServer, until, type TestServer } from './helpers.js';
import { ROOMS, TOTAL, api, assertExactlyOnce, publishMany } from './sse-helpers.js';

const API_KEY = 'test-api-key-0123456789abcdef';

/**
 * A page at `http://localhost:PORT` (a different origin from the `127.0.0.1` stream URLs, so CORS
 * is exercised) whose native EventSource records every event in `window.got`.
 */
const PAGE = `<!doctype html><meta charset="utf-8"><title>aqueduct sse test</title>
<script>
window.got = [];
window.readies = 0;
window.errors = 0;
window.open = (url, names) => {
  const es = new EventSource(url);
  const record = (ev) => window.got.push({ type: ev.type, data: JSON.parse(ev.data), id: ev.lastEventId });
  for (const n of ['message', 'reset', ...names]) es.addEventListener(n, record);
  es.addEventListener('ready', () => { window.readies++; });
  es.onerror = () => { window.errors++; };
  window.es = es;
};
window.startSdk = async (url, token) => {
  const aq = await import('/__test/sdk.js');
  const log = { messages: [], ready: 0, errors: [], states: [] };
  window.sdkLog = log;
  aq.subscribeEvents({
    url, token, rooms: ['news:sdk'],
    handlers: {
      message: (m) => log.messages.push({ room: m.room, event: m.event, data: m.data }),
      ready: () => { log.ready++; },
      error: (e) => log.errors.push(e.code + ':' + e.temporary),
      state: (s) => log.states.push(s),
    },
  });
  aq.subscribeEvents({ url, token: 'bad-token', rooms: ['news:sdk'], handlers: { error: (e) => log.errors.push(e.code + ':' + e.temporary) } });
};
</script>`;

describe('SSE in headless Chromium (native EventSource)', () => {
  let ts: TestServer;
  let browser: Browser;
  let proxy: ChaosProxy;
  let page: Page;
  before(async () => {
    ts = await startTestServer({ apiKey: API_KEY, sse: { retryMs: 50 }, namespaces: { feed: { historySize: 10_000 } } });
    proxy = new ChaosProxy({ targetPort: Number(new URL(ts.url).port) });
    await proxy.listen();
    // The client SDK as one ESM file for the browser.
    const sdk = (await build({
      entryPoints: ['packages/client/src/index.ts'], bundle: true, format: 'esm', platform: 'browser',
      conditions: ['aqueduct-source'], write: false, logLevel: 'silent',
    })).outputFiles[0].text;
    ts.server.use({
      name: 'sse-test-page',
      async handle(_req, res, url) {
        if (url.pathname === '/__test/sdk.js') {
          res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
          res.end(sdk);
          return true;
        }
        if (url.pathname !== '/__test/sse-page') return false;
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(PAGE);
        return true;
      },
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await proxy?.close();
    await ts?.close();
  });

  async function openPage(): Promise<Page> {
    const p = await browser.newPage();
    // Served by the server itself: Chromium lets a loopback page (not a route-fulfilled one) reach loopback.
    await p.goto(`http://localhost:${new URL(ts.url).port}/__test/sse-page`);
    return p;
  }

  test('receives HTTP-API and room-bus publications in order, with ids (cross-origin)', async () => {
    page = await openPage();
    const token = await ts.token('browser', { 'news:*': ['sub'] });
    await page.evaluate(([url]) => (window as unknown as { open(u: string, n: string[]): void }).open(url, ['alert']), [`${ts.url}/api/events?rooms=news:x,news:y&token=${encodeURIComponent(token)}`]);
    await page.waitForFunction(() => (window as unknown as { readies: number }).readies === 1, undefined, { timeout: 10_000 });
    const writer = connectClient(ts.url, await ts.token('writer', { 'news:*': ['sub', 'pub'] }));
    const y = writer.room('news:y');
    await y.ready();
    const publish = (room: string, data: unknown, event?: string) =>
      api(`${ts.url}/api/publish`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { room, data, event } });
    await publish('news:x', 1);
    await y.publish(2);
    await publish('news:x', 3, 'alert');
    await y.publish(4, { event: 'alert' });
    await page.waitForFunction(() => (window as unknown as { got: unknown[] }).got.length === 4, undefined, { timeout: 10_000 });
    writer.close();
    const got = await page.evaluate(() => (window as unknown as { got: Array<{ type: string; data: { room: string; data: number; offset: number }; id: string }> }).got);
    assert.deepEqual(got.map((e) => [e.type, e.data.room, e.data.data]), [
      ['message', 'news:x', 1], ['message', 'news:y', 2], ['alert', 'news:x', 3], ['alert', 'news:y', 4],
    ]);
    for (const e of got) assert.equal(decodeCursor(e.id)[e.data.room].offset, e.data.offset);
    await page.close();
  });

  test(`${TOTAL} events over three rooms with cuts: every event exactly once, in order per room`, async (t) => {
    page = await openPage();
    const token = await ts.token('browser', { 'feed:*': ['sub'] });
    await page.evaluate(([url]) => (window as unknown as { open(u: string, n: string[]): void }).open(url, []), [`http://127.0.0.1:${proxy.port}/api/events?rooms=${ROOMS.join(',')}&token=${encodeURIComponent(token)}`]);
    await page.waitForFunction(() => (window as unknown as { readies: number }).readies === 1, undefined, { timeout: 10_000 });
    const accepted = proxy.accepted;
    let cuts = 0;
    await publishMany(ts, ROOMS, TOTAL, [1500, 3500], async () => {
      // Cut a live stream: a cut that lands while the page is still reconnecting cuts nothing.
      await page.waitForFunction((n) => (window as unknown as { readies: number }).readies > n, cuts, { timeout: 10_000 });
      cuts++;
      proxy.cutAll();
    });
    await ts.server.publish('feed:a', { i: -1 });
    await page.waitForFunction((n) => (window as unknown as { got: unknown[] }).got.length >= n, TOTAL + 1, { timeout: 60_000, polling: 100 });
    const got = await page.evaluate(() => (window as unknown as { got: Array<{ type: string; data: { room: string; data: { i: number }; offset: number } }> }).got);
    const readies = await page.evaluate(() => (window as unknown as { readies: number }).readies);
    assert.ok(got.every((e) => e.type === 'message'), 'no reset');
    assert.equal(got.length, TOTAL + 1);
    got.pop();
    assertExactlyOnce(got.map((e) => ({ room: e.data.room, i: e.data.data.i, offset: e.data.offset })), ROOMS, TOTAL);
    assert.ok(readies >= 3, `reconnected ${readies - 1} times`);
    t.diagnostic(`Chromium reconnects: ${readies - 1}, proxy connections: ${proxy.accepted - accepted}`);
    await page.close();
  });

  test('the SDK over the native EventSource: typed messages, and error codes learnt with a probe', async () => {
    page = await openPage();
    const token = await ts.token('browser', { 'news:*': ['sub'] });
    type Win = { sdkLog: { messages: Array<{ room: string; event: string; data: unknown }>; ready: number; errors: string[]; states: string[] } };
    await page.evaluate(([url, tok]) => (window as unknown as { startSdk(u: string, t: string): Promise<void> }).startSdk(url, tok), [ts.url, token]);
    await page.waitForFunction(() => (window as unknown as Win).sdkLog.ready === 1, undefined, { timeout: 10_000 });
    await api(`${ts.url}/api/publish`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { room: 'news:sdk', data: { hello: 'browser' }, event: 'greeting' } });
    await page.waitForFunction(() => (window as unknown as Win).sdkLog.messages.length === 1, undefined, { timeout: 10_000 });
    await page.waitForFunction(() => (window as unknown as Win).sdkLog.errors.length === 1, undefined, { timeout: 10_000 });
    const log = await page.evaluate(() => (window as unknown as Win).sdkLog);
    assert.deepEqual(log.messages, [{ room: 'news:sdk', event: 'greeting', data: { hello: 'browser' } }]);
    assert.deepEqual(log.errors, ['TOKEN_INVALID:false']);
    assert.deepEqual(log.states, ['open']);
    await page.close();
  });
});
