/**
 * The demo and the admin dashboard in a real browser (Debian Chromium through playwright-core):
 * two users in two browser contexts edit, chat, see each other, go offline and back, receive an
 * announcement posted from /admin, and restore a version. Screenshots go to test-artifacts/screenshots/
 * (docs/screenshots/ with UPDATE_SCREENSHOTS=1).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '@aqueduct/testkit';
import { startTestServer, type TestServer } from '../../server/test/helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
// The README's pictures are refreshed on request (UPDATE_SCREENSHOTS=1); a plain run writes its
// screenshots to test-artifacts/ (ignored by git), so running the tests never dirties the tree.
const SCREENSHOTS = fileURLToPath(new URL(process.env.UPDATE_SCREENSHOTS === '1' ? '../../../docs/screenshots/' : '../../../test-artifacts/screenshots/', import.meta.url));
const API_KEY = 'demo-test-api-key-0123456789';
const ROOM = 'e2e';
const WAIT = { timeout: 20_000 };
/**
 * Chromium hides host ICE candidates behind mDNS names that this sandbox cannot resolve; with the
 * real loopback addresses two contexts on one machine connect peer-to-peer directly.
 */
const WEBRTC_ARGS = ['--disable-features=WebRtcHideLocalIpsWithMdns'];

interface ConsoleProblem { page: string; text: string }

describe('demo in a real browser', () => {
  let ts: TestServer;
  let browser: Browser;
  let ctxA: BrowserContext;
  let ctxB: BrowserContext;
  let ctxAdmin: BrowserContext;
  let alice: Page;
  let bob: Page;
  let admin: Page;
  const problems: ConsoleProblem[] = [];

  function watch(page: Page, name: string): void {
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push({ page: name, text: msg.text() });
    });
    page.on('pageerror', (err) => problems.push({ page: name, text: `pageerror: ${err.message}` }));
  }

  async function openDemo(ctx: BrowserContext, name: string): Promise<Page> {
    const page = await ctx.newPage();
    watch(page, name);
    await page.goto(`${ts.url}/?room=${ROOM}&name=${name}`);
    await page.locator('#connection-badge[data-state="online"]').waitFor(WAIT);
    await page.locator('#doc-status[data-synced="true"]').waitFor(WAIT);
    return page;
  }

  /** The editor's document text (not the DOM text: remote caret labels live in the DOM too). */
  const editorText = (page: Page) => page.evaluate(() => (window as unknown as { aqueduct: { editor: { view: { state: { doc: { toString(): string } } } } } }).aqueduct.editor.view.state.doc.toString());
  const chatCount = (page: Page, text: string) => page.locator('#chat-log .chat-line .text', { hasText: text }).count();

  before(async () => {
    // The bundle under test is built from the current sources (npm test builds too; this keeps a
    // single-file run honest).
    const build = spawnSync(process.execPath, ['packages/demo/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, `demo build failed:\n${build.stdout}\n${build.stderr}`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    ts = await startTestServer({ demo: true, apiKey: API_KEY });
    browser = await launchChromium(WEBRTC_ARGS);
    ctxA = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // Bob is on a phone-sized screen: the layout must work there too.
    ctxB = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    ctxAdmin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    alice = await openDemo(ctxA, 'Alice');
    bob = await openDemo(ctxB, 'Bob');
  });

  after(async () => {
    await browser?.close();
    await ts?.close();
  });

  test('typing in one editor shows in the other with the author\'s caret', async () => {
    await alice.locator('.cm-content').click();
    await alice.keyboard.type('Hello from Alice');
    await bob.waitForFunction(() => document.querySelector('.cm-content')?.textContent?.includes('Hello from Alice'), undefined, WAIT);
    // The remote caret is labelled with the author's name (y-codemirror.next awareness).
    await bob.waitForFunction(() => [...document.querySelectorAll('.cm-ySelectionInfo')].some((n) => n.textContent === 'Alice'), undefined, WAIT);
  });

  test('chat reaches both, presence lists both, typing indicator and pointer travel', async () => {
    await alice.locator('#presence-list li', { hasText: 'Bob' }).waitFor(WAIT);
    await bob.locator('#presence-list li', { hasText: 'Alice' }).waitFor(WAIT);

    await bob.locator('#chat-input').fill('hi Alice');
    await alice.locator('#typing', { hasText: 'Bob is typing' }).waitFor(WAIT);
    await bob.locator('#chat-input').press('Enter');
    await alice.locator('#chat-log .chat-line', { hasText: 'hi Alice' }).waitFor(WAIT);
    await bob.locator('#chat-log .chat-line', { hasText: 'hi Alice' }).waitFor(WAIT);

    // Pointers: Alice moves over the workspace; Bob sees her labelled pointer move.
    const box = await alice.locator('#workspace').boundingBox();
    assert.ok(box);
    await alice.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
    const pointer = bob.locator('.pointer', { hasText: 'Alice' });
    await pointer.waitFor(WAIT);
    const first = await pointer.getAttribute('data-x');
    await alice.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6, { steps: 4 });
    await bob.waitForFunction((x) => {
      const p = [...document.querySelectorAll<HTMLElement>('.pointer')].find((n) => n.textContent?.includes('Alice'));
      return p !== undefined && p.dataset.x !== x;
    }, first, WAIT);
    // Alice and Bob reach each other over a direct DataChannel, and the badge says so.
    await bob.locator('#pointer-path[data-path="p2p-direct"]', { hasText: 'P2P' }).waitFor(WAIT);
    await alice.locator('#pointer-path[data-path="p2p-direct"]', { hasText: 'P2P' }).waitFor(WAIT);
  });

  test('accessible: labelled controls, keyboard way out of the editor, no sideways scrolling on a phone', async () => {
    for (const page of [alice, bob]) {
      const unlabelled = await page.evaluate(() => [
        ...[...document.querySelectorAll('input')].filter((i) => i.labels?.length === 0 && !i.getAttribute('aria-label')).map((i) => `input#${i.id}`),
        ...[...document.querySelectorAll('button')].filter((b) => !(b.textContent ?? '').trim() && !b.getAttribute('aria-label')).map((b) => `button#${b.id}`),
      ]);
      assert.deepEqual(unlabelled, []);
    }
    // Keyboard only: Esc then Tab leaves the editor (Tab alone indents), Enter sends a chat message.
    await alice.locator('.cm-content').focus();
    await alice.keyboard.press('Escape');
    await alice.keyboard.press('Tab');
    assert.equal(await alice.evaluate(() => document.activeElement?.closest('.cm-editor') === null), true);
    await alice.getByLabel('Message', { exact: true }).focus();
    await alice.keyboard.type('typed with the keyboard');
    await alice.keyboard.press('Enter');
    await bob.locator('#chat-log .chat-line', { hasText: 'typed with the keyboard' }).waitFor(WAIT);
    // Bob's 390 px wide screen: one column, nothing wider than the viewport.
    assert.equal(await bob.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
  });

  test('a browser without WebRTC gets pointers via the server, and the badge says so', async () => {
    const ctxC = await browser.newContext({ viewport: { width: 1024, height: 700 } });
    await ctxC.addInitScript('delete window.RTCPeerConnection;');
    const carol = await openDemo(ctxC, 'Carol');
    await carol.locator('#pointer-path[data-path="server"]', { hasText: 'via server' }).waitFor(WAIT);
    // Alice now has one peer over P2P and one over the server: the badge names the weakest path.
    await alice.locator('#pointer-path[data-path="server"]').waitFor(WAIT);
    const title = await alice.locator('#pointer-path').getAttribute('title');
    assert.match(title ?? '', /1 peer P2P/);
    assert.match(title ?? '', /1 peer via server/);
    const box = await carol.locator('#workspace').boundingBox();
    assert.ok(box);
    await carol.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.5, { steps: 3 });
    await alice.locator('.pointer', { hasText: 'Carol' }).waitFor(WAIT);
    await carol.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.2, { steps: 3 });
    await alice.locator('.pointer', { hasText: 'Carol' }).waitFor(WAIT);
    await ctxC.close();
    // Carol left: her pointer goes, and Alice is back to P2P only.
    await alice.locator('.pointer', { hasText: 'Carol' }).waitFor({ state: 'detached', ...WAIT });
    await alice.locator('#pointer-path[data-path="p2p-direct"]').waitFor(WAIT);
  });

  test('offline: edits merge, chat arrives once, the badge tells the truth', async (t) => {
    // Record every state the badge shows on Bob's page from here on.
    // (A string, not a function: tsx would wrap named inner functions in a helper the page lacks.)
    await bob.evaluate(`(() => {
      const badge = document.getElementById('connection-badge');
      const log = [];
      const record = () => {
        const entry = badge.dataset.state + '|' + badge.dataset.queued + '|' + badge.textContent;
        if (log[log.length - 1] !== entry) log.push(entry);
      };
      record();
      new MutationObserver(record).observe(badge, { attributes: true, childList: true, characterData: true, subtree: true });
      window.badgeLog = log;
    })()`);

    await ctxB.setOffline(true);
    await bob.locator('#connection-badge[data-state="offline"]').waitFor(WAIT);

    // Bob edits and chats while offline; Alice edits at the same time.
    await bob.locator('.cm-content').click();
    await bob.keyboard.press('Control+End');
    await bob.keyboard.type(' +Bob-offline');
    await bob.locator('#chat-input').fill('sent while offline');
    await bob.locator('#chat-input').press('Enter');
    await bob.locator('#connection-badge[data-state="offline"][data-queued="1"]').waitFor(WAIT);
    await bob.locator('#chat-outbox .chat-line', { hasText: 'sent while offline' }).waitFor(WAIT);
    await alice.locator('.cm-content').click();
    await alice.keyboard.press('Control+Home');
    await alice.keyboard.type('Alice-online+ ');
    assert.equal(await chatCount(alice, 'sent while offline'), 0, 'an offline message cannot have arrived');

    await ctxB.setOffline(false);
    await bob.locator('#connection-badge[data-state="online"][data-queued="0"]').waitFor(WAIT);
    await alice.locator('#chat-log .chat-line', { hasText: 'sent while offline' }).waitFor(WAIT);
    await bob.locator('#chat-log .chat-line', { hasText: 'sent while offline' }).waitFor(WAIT);

    // Both edits are in both editors, identical.
    await bob.waitForFunction(() => {
      const t = document.querySelector('.cm-content')?.textContent ?? '';
      return t.includes('Alice-online+') && t.includes('+Bob-offline');
    }, undefined, WAIT);
    await alice.waitForFunction(() => (document.querySelector('.cm-content')?.textContent ?? '').includes('+Bob-offline'), undefined, WAIT);
    assert.equal(await editorText(alice), await editorText(bob));

    // Exactly once, on both sides, and nothing left in the outbox. A second reconnect must not
    // duplicate anything either.
    await bob.evaluate(() => (window as unknown as { aqueduct: { client: { reconnectNow(): void } } }).aqueduct.client.reconnectNow());
    await bob.locator('#connection-badge[data-state="online"]').waitFor(WAIT);
    await bob.locator('#chat-input').fill('after reconnect');
    await bob.locator('#chat-input').press('Enter');
    await alice.locator('#chat-log .chat-line', { hasText: 'after reconnect' }).waitFor(WAIT);
    // Bob's own copy may come back after Alice's: only then has it left his outbox.
    await bob.locator('#chat-log .chat-line', { hasText: 'after reconnect' }).waitFor(WAIT);
    assert.equal(await chatCount(alice, 'sent while offline'), 1);
    assert.equal(await chatCount(bob, 'sent while offline'), 1);
    assert.equal(await bob.locator('#chat-outbox .chat-line').count(), 0);

    const log = await bob.evaluate(() => (window as unknown as { badgeLog: string[] }).badgeLog);
    t.diagnostic(`badge states on Bob's page: ${log.map((e) => e.split('|')[2]).join(' → ')}`);
    const states = log.map((e) => e.split('|')[0]);
    assert.equal(states[0], 'online', log.join('\n'));
    assert.ok(states.includes('offline'), `badge never said offline:\n${log.join('\n')}`);
    assert.ok(log.some((e) => e.startsWith('offline|1|') && e.includes('1 queued')), `badge never showed the queued message:\n${log.join('\n')}`);
    // Truth: never "online" between going offline and the queued message being delivered.
    const offAt = states.indexOf('offline');
    const backAt = states.indexOf('online', offAt);
    assert.ok(backAt > offAt, log.join('\n'));
    assert.ok(states.slice(offAt, backAt).every((s) => s !== 'online'), log.join('\n'));
  });

  test('an announcement posted from /admin appears in both demo pages', async () => {
    admin = await ctxAdmin.newPage();
    watch(admin, 'admin');
    await admin.goto(`${ts.url}/admin`);
    await admin.locator('#api-key').fill(API_KEY);
    await admin.locator('#key-form button[type="submit"]').click();
    await admin.locator('#poll-badge[data-state="online"]').waitFor(WAIT);
    // Two demo pages hold a bus connection, a document connection and an SSE stream each.
    await admin.waitForFunction(() => Number(document.getElementById('stat-connections')?.textContent) >= 2, undefined, WAIT);
    await admin.locator('#rooms-table tr[data-room="demo:e2e"]').waitFor(WAIT);

    await admin.locator('#announce-text').fill('Maintenance at 18:00');
    await admin.locator('#announce-form button[type="submit"]').click();
    await admin.locator('#action-status', { hasText: 'Announcement posted' }).waitFor(WAIT);
    await alice.locator('#announcements li', { hasText: 'Maintenance at 18:00' }).waitFor(WAIT);
    await bob.locator('#announcements li', { hasText: 'Maintenance at 18:00' }).waitFor(WAIT);
  });

  test('restoring a version in one page changes the text in the other live', async () => {
    await alice.locator('#version-label').fill('checkpoint');
    await alice.locator('#version-form button[type="submit"]').click();
    await alice.locator('#version-list li', { hasText: 'checkpoint' }).waitFor(WAIT);
    const atCheckpoint = await editorText(alice);

    await alice.locator('.cm-content').click();
    await alice.keyboard.press('Control+End');
    await alice.keyboard.type(' (after the checkpoint)');
    await bob.waitForFunction(() => (document.querySelector('.cm-content')?.textContent ?? '').includes('(after the checkpoint)'), undefined, WAIT);

    await alice.locator('#version-list li', { hasText: 'checkpoint' }).getByRole('button', { name: /Restore/ }).click();
    await bob.waitForFunction(() => !(document.querySelector('.cm-content')?.textContent ?? '').includes('(after the checkpoint)'), undefined, WAIT);
    assert.equal(await editorText(bob), atCheckpoint);
    assert.equal(await editorText(alice), atCheckpoint);
  });

  test('screenshots of both pages and the dashboard', async () => {
    // Let everyone see a pointer and a chat line in the pictures.
    const box = await bob.locator('#workspace').boundingBox();
    assert.ok(box);
    await bob.mouse.move(box.x + box.width * 0.5, box.y + 120);
    await alice.locator('.pointer', { hasText: 'Bob' }).waitFor(WAIT);
    await alice.screenshot({ path: `${SCREENSHOTS}demo-alice.png` });
    await bob.screenshot({ path: `${SCREENSHOTS}demo-bob-phone.png`, fullPage: true });
    await admin.waitForFunction(() => (document.querySelector('#chart-traffic polyline')?.getAttribute('points') ?? '').split(' ').length > 3, undefined, WAIT);
    await admin.screenshot({ path: `${SCREENSHOTS}admin.png`, fullPage: true });
  });

  test('the dashboard disconnects a user, and that user\'s badge says so', async () => {
    await admin.locator('#rooms-table tr[data-room="demo:e2e"]').getByRole('button', { name: /Show members/ }).click();
    await admin.locator('#members-table tr', { hasText: 'Bob' }).waitFor(WAIT);
    await admin.locator('#members-table tr', { hasText: 'Bob' }).getByRole('button', { name: /Disconnect Bob/ }).click();
    await admin.locator('#action-status', { hasText: 'Disconnected' }).waitFor(WAIT);
    // Close 4502 "disconnected by server": the SDK does not reconnect, and the badge does not pretend.
    await bob.locator('#connection-badge[data-state="offline"]', { hasText: 'disconnected by server' }).waitFor(WAIT);
    await alice.locator('#presence-list li', { hasText: 'Bob' }).waitFor({ state: 'detached', ...WAIT });
    assert.equal(await alice.locator('#connection-badge').getAttribute('data-state'), 'online');
  });

  test('no errors in any browser console', () => {
    assert.deepEqual(problems, []);
  });
});
