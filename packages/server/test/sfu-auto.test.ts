import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { janusSessions, waitForNoJanusLeftovers } from '@aqueduct/testkit';
import { startSfuHarness, waitForVideo, type SfuHarness } from './sfu-browser.js';

/**
 * `mode: 'auto'`: the mesh while the room is small (`sfu.meshMaxParticipants` = 2 here), the SFU once
 * it outgrows it; the mesh members move to the SFU when the server announces it.
 */
const GRANTS = { 'live:*': ['sub', 'pub', 'presence', 'signal', 'media'] };
const ROOM = 'live:auto';

async function modes(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { log: { modes: string[] } }).log.modes);
}

describe('media mode auto (Chromium)', () => {
  let h: SfuHarness;
  const pages: Page[] = [];

  before(async () => {
    h = await startSfuHarness({ sfu: { meshMaxParticipants: 2 } });
    for (let i = 0; i < 3; i++) pages.push(await h.open());
  });

  after(async () => {
    await h?.close();
  });

  test('two pages use the mesh; a third moves the room to the SFU and everyone receives everyone', { timeout: 300_000 }, async () => {
    for (let i = 0; i < 2; i++) {
      const r = await h.boot(pages[i], `user${i}`, ROOM, { mode: 'auto', grants: GRANTS });
      assert.equal(r.ok, true, `${r.code} ${r.message}`);
    }
    for (let i = 0; i < 2; i++) await waitForVideo(pages[i], 1, undefined, { liveOnly: true });
    assert.deepEqual(await modes(pages[0]), ['mesh']);
    assert.deepEqual(await modes(pages[1]), ['mesh']);
    assert.deepEqual(await janusSessions(h.janus), [], 'a small room does not touch Janus');

    const r = await h.boot(pages[2], 'user2', ROOM, { mode: 'auto', grants: GRANTS });
    assert.equal(r.ok, true, `${r.code} ${r.message}`);
    assert.deepEqual(await modes(pages[2]), ['sfu']);
    for (const page of pages) await waitForVideo(page, 2);
    assert.deepEqual(await modes(pages[0]), ['mesh', 'sfu']);
    assert.deepEqual(await modes(pages[1]), ['mesh', 'sfu']);
    assert.equal((await janusSessions(h.janus)).length, 3);
    for (const page of pages) await page.evaluate(() => (window as unknown as { media: { leave(): Promise<void> } }).media.leave());
    assert.deepEqual(await janusSessions(h.janus), []);
    await waitForNoJanusLeftovers(h.janus);
  });
});
