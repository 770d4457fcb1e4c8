/**
 * Demo tokens are short-lived: the page must keep every pipe working past the first token's expiry
 * (the SDK refreshes through the token function; the Yjs provider and the SSE stream pick up the new
 * token on their next connect). Runs with the shortest allowed lifetime, 60 s, so it mostly waits.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '@aqueduct/testkit';
import { startTestServer, type TestServer } from '../../server/test/helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const API_KEY = 'demo-refresh-api-key-0123456789';
const TTL_SEC = 60;

describe('demo pages outlive their first token', () => {
  let ts: TestServer;
  let browser: Browser;
  let alice: Page;
  let bob: Page;
  const problems: string[] = [];

  async function open(name: string): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const page = await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`${name}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`${name}: pageerror ${e.message}`));
    await page.goto(`${ts.url}/?room=refresh&name=${name}`);
    await page.locator('#connection-badge[data-state="online"]').waitFor({ timeout: 20_000 });
    await page.locator('#doc-status[data-synced="true"]').waitFor({ timeout: 20_000 });
    await page.locator('#announcement-status[data-state="open"]').waitFor({ timeout: 20_000 });
    return page;
  }

  const tokenOf = (page: Page) => page.evaluate(() => (window as unknown as { aqueduct: { tokens: { identity?: { token: string; expiresAt: number } } } }).aqueduct.tokens.identity);

  before(async () => {
    const build = spawnSync(process.execPath, ['packages/demo/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, `demo build failed:\n${build.stdout}\n${build.stderr}`);
    ts = await startTestServer({ demo: true, apiKey: API_KEY, demoTokenTtlSec: TTL_SEC });
    browser = await launchChromium();
    alice = await open('Alice');
    bob = await open('Bob');
  });

  after(async () => {
    await browser?.close();
    await ts?.close();
  });

  test('after the first token expired: a new token, and chat, document and announcements still work', { timeout: 180_000 }, async () => {
    const first = await tokenOf(alice);
    assert.ok(first);
    await alice.evaluate(`(() => {
      const badge = document.getElementById('connection-badge');
      const log = [badge.dataset.state];
      new MutationObserver(() => { if (log[log.length - 1] !== badge.dataset.state) log.push(badge.dataset.state); })
        .observe(badge, { attributes: true });
      window.badgeLog = log;
    })()`);
    // The SDK refreshes 30 s before expiry; the page fetches a new demo token for it.
    await alice.waitForFunction((old) => {
      const id = (window as unknown as { aqueduct: { tokens: { identity?: { token: string } } } }).aqueduct.tokens.identity;
      return id !== undefined && id.token !== old;
    }, first.token, { timeout: TTL_SEC * 1000 });
    const second = await tokenOf(alice);
    assert.ok(second && second.expiresAt > first.expiresAt);
    // Wait until the first token is past its expiry (plus the server's clock skew allowance).
    const wait = first.expiresAt + 6000 - Date.now();
    if (wait > 0) await alice.waitForTimeout(wait);

    await alice.locator('#chat-input').fill('still here after expiry');
    await alice.locator('#chat-input').press('Enter');
    await bob.locator('#chat-log .chat-line', { hasText: 'still here after expiry' }).waitFor({ timeout: 20_000 });

    await alice.locator('.cm-content').click();
    await alice.keyboard.type('edit after expiry');
    await bob.waitForFunction(() => (document.querySelector('.cm-content')?.textContent ?? '').includes('edit after expiry'), undefined, { timeout: 20_000 });

    const res = await fetch(`${ts.url}/api/publish`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ room: 'demo:announcements', data: { text: 'after expiry' }, event: 'announcement' }),
    });
    assert.equal(res.status, 200);
    await alice.locator('#announcements li', { hasText: 'after expiry' }).waitFor({ timeout: 20_000 });
    await bob.locator('#announcements li', { hasText: 'after expiry' }).waitFor({ timeout: 20_000 });

    // The bus connection refreshed in place: the badge never left "online".
    assert.deepEqual(await alice.evaluate(() => (window as unknown as { badgeLog: string[] }).badgeLog), ['online']);
    assert.deepEqual(problems, []);
  });
});
