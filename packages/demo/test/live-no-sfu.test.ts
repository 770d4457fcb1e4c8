/**
 * The live-stream page on a server without an SFU (no Janus configured): chat, reactions and the
 * leaderboard work, and the page says why there is no video — without console errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '@aqueduct/testkit';
import { startTestServer, type TestServer } from '../../server/test/helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WAIT = { timeout: 30_000 };

describe('live-stream page without an SFU', () => {
  let ts: TestServer;
  let browser: Browser;
  const problems: string[] = [];

  async function open(role: string, name: string): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1024, height: 700 } });
    const page = await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`${name}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`${name}: pageerror ${e.message}`));
    await page.goto(`${ts.url}/live?room=nosfu&role=${role}&name=${name}`);
    await page.locator('#connection-badge[data-state="online"]').waitFor(WAIT);
    return page;
  }

  before(async () => {
    const build = spawnSync(process.execPath, ['packages/demo/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, `demo build failed:\n${build.stdout}\n${build.stderr}`);
    ts = await startTestServer({ demo: true, apiKey: 'live-nosfu-api-key-0123456789' });
    browser = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
  });

  after(async () => {
    await browser?.close();
    await ts?.close();
  });

  test('chat works and the page says the video is unavailable', async () => {
    const host = await open('host', 'Hana');
    const viewer = await open('viewer', 'Vic');
    await host.locator('#page-status', { hasText: /Video: .*not configured/ }).waitFor(WAIT);
    await viewer.locator('#page-status', { hasText: /Video: .*not configured/ }).waitFor(WAIT);
    assert.equal(await viewer.locator('#stage-tiles video').count(), 0);
    await viewer.locator('#chat-input').fill('is anyone streaming?');
    await viewer.locator('#chat-input').press('Enter');
    await host.locator('#chat-log .chat-line', { hasText: 'is anyone streaming?' }).waitFor(WAIT);
    await viewer.locator('#board-status[data-state="open"]').waitFor(WAIT);
  });

  test('no errors in any browser console', () => {
    assert.deepEqual(problems, []);
  });
});
