/**
 * The offline-first demo in a real browser (Debian Chromium through playwright-core): queued chat
 * messages and document edits survive a reload without network (the service worker serves the app
 * shell, the SDK restores its outbox from IndexedDB, y-indexeddb the document), and every message
 * arrives exactly once — also one the server published just before its tab closed, and with two
 * tabs of one user queueing at the same time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page, Request, WebSocketRoute } from 'playwright-core';
import { launchChromium } from '@aqueduct/testkit';
import { startTestServer, type TestServer } from '../../server/test/helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WAIT = { timeout: 30_000 };

interface Problem { page: string; text: string }

/** The fixed demo identity of a context's tabs (sessionStorage is per tab; a reopened tab keeps it). */
function identityScript(user: string, name: string): string {
  return `try { if (!sessionStorage.getItem('aqueduct.demo.identity')) sessionStorage.setItem('aqueduct.demo.identity', ${JSON.stringify(JSON.stringify({ user, name, color: '#2a9d8f' }))}); } catch {}`;
}

/** Outbox entries in the demo's IndexedDB store (what a reload would restore). */
const storedOutbox = (page: Page) => page.evaluate(() => new Promise<number>((resolve, reject) => {
  const req = indexedDB.open('aqueduct-demo');
  req.onerror = () => reject(req.error);
  req.onsuccess = () => {
    const db = req.result;
    if (!db.objectStoreNames.contains('kv')) { db.close(); resolve(0); return; }
    const keys = db.transaction('kv', 'readonly').objectStore('kv').getAllKeys();
    keys.onsuccess = () => { db.close(); resolve(keys.result.filter((k) => String(k).includes('/o/')).length); };
    keys.onerror = () => reject(keys.error);
  };
}));

describe('offline-first demo in a real browser', () => {
  let ts: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const problems: Problem[] = [];

  function watch(page: Page, name: string): void {
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push({ page: name, text: `${msg.text()} (${msg.location().url})` });
    });
    page.on('pageerror', (err) => problems.push({ page: name, text: `pageerror: ${err.message}` }));
  }

  /** Requests in flight per context, except the long-lived event stream. */
  const inFlight = new Map<BrowserContext, Set<Request>>();

  async function context(identity?: { user: string; name: string }): Promise<BrowserContext> {
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    if (identity) await ctx.addInitScript(identityScript(identity.user, identity.name));
    const pending = new Set<Request>();
    inFlight.set(ctx, pending);
    ctx.on('request', (r) => { if (!r.url().includes('/api/events')) pending.add(r); });
    ctx.on('requestfinished', (r) => pending.delete(r));
    ctx.on('response', (r) => pending.delete(r.request()));
    ctx.on('requestfailed', (r) => pending.delete(r));
    contexts.push(ctx);
    return ctx;
  }

  /**
   * Cuts a context's network once none of its requests is in flight: a request cut mid-way is
   * logged by Chromium as a console error, which is not what these tests are about.
   */
  async function goOffline(ctx: BrowserContext): Promise<void> {
    const pending = inFlight.get(ctx);
    const deadline = Date.now() + WAIT.timeout;
    while (pending && pending.size > 0) {
      if (Date.now() > deadline) throw new Error(`requests still in flight: ${[...pending].map((r) => r.url()).join(', ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await ctx.setOffline(true);
  }

  async function open(ctx: BrowserContext, room: string, name: string): Promise<Page> {
    const page = await ctx.newPage();
    watch(page, name);
    await page.goto(`${ts.url}/?room=${room}&name=${name}`);
    await page.locator('#connection-badge[data-state="online"]').waitFor(WAIT);
    await page.locator('#doc-status[data-synced="true"]').waitFor(WAIT);
    return page;
  }

  const chatCount = (page: Page, text: string) => page.locator('#chat-log .chat-line .text', { hasText: new RegExp(`^${text}$`) }).count();
  const queuedCount = (page: Page) => page.locator('#chat-outbox .chat-line').count();
  const editorText = (page: Page) => page.evaluate(() => (window as unknown as { aqueduct: { editor: { view: { state: { doc: { toString(): string } } } } } }).aqueduct.editor.view.state.doc.toString());

  async function say(page: Page, text: string): Promise<void> {
    await page.locator('#chat-input').fill(text);
    await page.locator('#chat-input').press('Enter');
    await page.locator('#chat-outbox .chat-line .text, #chat-log .chat-line .text', { hasText: new RegExp(`^${text}$`) }).first().waitFor(WAIT);
  }

  /** Waits until `page` shows `text` in its chat log (and then checks it is there once). */
  async function seesOnce(page: Page, text: string): Promise<void> {
    await page.locator('#chat-log .chat-line .text', { hasText: new RegExp(`^${text}$`) }).first().waitFor(WAIT);
    assert.equal(await chatCount(page, text), 1, `${text} shown ${await chatCount(page, text)} times`);
  }

  before(async () => {
    const build = spawnSync(process.execPath, ['packages/demo/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, `demo build failed:\n${build.stdout}\n${build.stderr}`);
    ts = await startTestServer({ demo: true });
    // Chromium hides host ICE candidates behind mDNS names this sandbox cannot resolve.
    browser = await launchChromium(['--disable-features=WebRtcHideLocalIpsWithMdns']);
  });

  after(async () => {
    await browser?.close();
    await ts?.close();
  });

  test('offline: 5 messages and edits survive a reload without network, then arrive exactly once', async () => {
    const ctxBob = await context({ user: 'demo-offlinebob1', name: 'Bob' });
    const bob = await open(ctxBob, 'off1', 'Bob');
    // The service worker controls the page: a reload without network gets the cached shell.
    await bob.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, WAIT);

    await goOffline(ctxBob);
    await bob.locator('#connection-badge[data-state="offline"]').waitFor(WAIT);
    // Alice comes while Bob is away (so no peer-mesh set-up of theirs is in flight at the cut).
    const alice = await open(await context(), 'off1', 'Alice');
    await bob.locator('.cm-content').click();
    await bob.keyboard.press('Control+End');
    await bob.keyboard.type('Bob wrote this offline.');
    const texts = [1, 2, 3, 4, 5].map((n) => `queued message ${n}`);
    for (const t of texts) await say(bob, t);
    await bob.locator('#connection-badge[data-state="offline"][data-queued="5"]').waitFor(WAIT);
    assert.equal(await queuedCount(bob), 5);
    // Every queued message is in IndexedDB before the reload.
    for (let i = 0; i < 100 && (await storedOutbox(bob)) < 5; i++) await bob.waitForTimeout(50);
    assert.equal(await storedOutbox(bob), 5);

    // Reload while still offline: the page comes from the service worker's cache.
    await bob.reload();
    await bob.locator('#connection-badge[data-state="offline"][data-queued="5"]').waitFor(WAIT);
    assert.equal(await queuedCount(bob), 5, 'the 5 messages are shown as queued after the reload');
    for (const t of texts) await bob.locator('#chat-outbox .chat-line.pending .text', { hasText: new RegExp(`^${t}$`) }).waitFor(WAIT);
    await bob.waitForFunction(() => (window as unknown as { aqueduct?: { editor: { view: { state: { doc: { toString(): string } } } } } }).aqueduct?.editor.view.state.doc.toString().includes('Bob wrote this offline.'), undefined, WAIT);
    for (const t of texts) assert.equal(await chatCount(alice, t), 0, 'nothing can have arrived yet');
    // Alice edits meanwhile: both edits must end up in both documents.
    await alice.locator('.cm-content').click();
    await alice.keyboard.press('Control+Home');
    await alice.keyboard.type('Alice online. ');

    await ctxBob.setOffline(false);
    await bob.locator('#connection-badge[data-state="online"][data-queued="0"]').waitFor(WAIT);
    for (const t of texts) {
      await seesOnce(alice, t);
      await seesOnce(bob, t);
    }
    assert.equal(await queuedCount(bob), 0);
    await bob.waitForFunction(() => {
      const t = (window as unknown as { aqueduct: { editor: { view: { state: { doc: { toString(): string } } } } } }).aqueduct.editor.view.state.doc.toString();
      return t.includes('Alice online.') && t.includes('Bob wrote this offline.');
    }, undefined, WAIT);
    await alice.waitForFunction(() => (document.querySelector('.cm-content')?.textContent ?? '').includes('Bob wrote this offline.'), undefined, WAIT);
    assert.equal(await editorText(alice), await editorText(bob));
    // A later message still arrives once: nothing of the queue was sent twice.
    await say(bob, 'after the queue');
    await seesOnce(alice, 'after the queue');
    for (const t of texts) assert.equal(await chatCount(alice, t), 1);
    for (let i = 0; i < 100 && (await storedOutbox(bob)) > 0; i++) await bob.waitForTimeout(50);
    assert.equal(await storedOutbox(bob), 0, 'acknowledged entries leave IndexedDB');
    assert.deepEqual(problems, []);
  });

  test('a tab closed after its publish reached the server but before the ack: not doubled on reopen', async () => {
    const ctxCarol = await context({ user: 'demo-heldcarol1', name: 'Carol' });
    // Every WebSocket of Carol's tabs runs through the test: while `hold`, nothing the server sends
    // reaches the page (the ack is lost with the tab, as if it closed right after sending).
    let hold = false;
    await ctxCarol.routeWebSocket(/\/ws$/, (ws: WebSocketRoute) => {
      const server = ws.connectToServer();
      server.onMessage((m) => { if (!hold) ws.send(m); });
    });
    const carol = await open(ctxCarol, 'off2', 'Carol');
    const alice = await open(await context(), 'off2', 'Alice');
    await carol.locator('#presence-list li', { hasText: 'Alice' }).waitFor(WAIT);

    hold = true;
    await say(carol, 'sent before the tab closed');
    // The server published it (Alice has it) while Carol's tab still waits for the ack.
    await seesOnce(alice, 'sent before the tab closed');
    assert.equal(await queuedCount(carol), 1);
    assert.equal(await storedOutbox(carol), 1);
    await carol.close();
    hold = false;

    // Reopened (same user, same origin): the SDK resends it with the same id; the server knows it.
    const again = await open(ctxCarol, 'off2', 'Carol');
    await again.locator('#connection-badge[data-state="online"][data-queued="0"]').waitFor(WAIT);
    await seesOnce(again, 'sent before the tab closed');
    await say(again, 'marker after reopen');
    await seesOnce(alice, 'marker after reopen');
    assert.equal(await chatCount(alice, 'sent before the tab closed'), 1);
    for (let i = 0; i < 100 && (await storedOutbox(again)) > 0; i++) await again.waitForTimeout(50);
    assert.equal(await storedOutbox(again), 0);
    assert.deepEqual(problems, []);
  });

  test('two tabs of one user queue offline; both tabs\' messages arrive once each, also a closed tab\'s', async () => {
    const ctxDana = await context({ user: 'demo-twotabsdana', name: 'Dana' });
    const tab1 = await open(ctxDana, 'off3', 'Dana');
    const tab2 = await open(ctxDana, 'off3', 'Dana');

    // The two tabs of one user see each other over a direct DataChannel before the cut.
    await tab1.locator('#pointer-path[data-path="p2p-direct"]').waitFor(WAIT);
    await tab2.locator('#pointer-path[data-path="p2p-direct"]').waitFor(WAIT);
    await goOffline(ctxDana);
    await tab1.locator('#connection-badge[data-state="offline"]').waitFor(WAIT);
    await tab2.locator('#connection-badge[data-state="offline"]').waitFor(WAIT);
    const alice = await open(await context(), 'off3', 'Alice');
    const mine = { tab1: ['tab one first', 'tab one second'], tab2: ['tab two first', 'tab two second'] };
    for (let i = 0; i < 2; i++) {
      await say(tab1, mine.tab1[i]);
      await say(tab2, mine.tab2[i]);
    }
    await tab1.locator('#connection-badge[data-queued="2"]').waitFor(WAIT);
    await tab2.locator('#connection-badge[data-queued="2"]').waitFor(WAIT);
    for (let i = 0; i < 100 && (await storedOutbox(tab1)) < 4; i++) await tab1.waitForTimeout(50);
    assert.equal(await storedOutbox(tab1), 4, 'one shared outbox holds both tabs\' entries');

    await ctxDana.setOffline(false);
    await tab1.locator('#connection-badge[data-state="online"][data-queued="0"]').waitFor(WAIT);
    await tab2.locator('#connection-badge[data-state="online"][data-queued="0"]').waitFor(WAIT);
    for (const t of [...mine.tab1, ...mine.tab2]) {
      await seesOnce(alice, t);
      await seesOnce(tab1, t);
      await seesOnce(tab2, t);
    }
    await say(tab1, 'two tabs marker');
    await seesOnce(alice, 'two tabs marker');
    for (const t of [...mine.tab1, ...mine.tab2]) assert.equal(await chatCount(alice, t), 1);
    for (let i = 0; i < 100 && (await storedOutbox(tab1)) > 0; i++) await tab1.waitForTimeout(50);
    assert.equal(await storedOutbox(tab1), 0);

    // A tab that closes with a queued message: the other tab (waiting on its Web Lock) takes the
    // entry over and sends it once the network is back.
    await goOffline(ctxDana);
    await tab2.locator('#connection-badge[data-state="offline"]').waitFor(WAIT);
    await say(tab2, 'left by a closed tab');
    for (let i = 0; i < 100 && (await storedOutbox(tab1)) < 1; i++) await tab1.waitForTimeout(50);
    assert.equal(await storedOutbox(tab1), 1);
    await tab2.close();
    await tab1.locator('#chat-outbox .chat-line', { hasText: 'left by a closed tab' }).waitFor(WAIT);
    await ctxDana.setOffline(false);
    await seesOnce(alice, 'left by a closed tab');
    await seesOnce(tab1, 'left by a closed tab');
    await tab1.locator('#connection-badge[data-state="online"][data-queued="0"]').waitFor(WAIT);
    await say(tab1, 'after the takeover');
    await seesOnce(alice, 'after the takeover');
    assert.equal(await chatCount(alice, 'left by a closed tab'), 1);
    assert.deepEqual(problems, []);
  });
});
