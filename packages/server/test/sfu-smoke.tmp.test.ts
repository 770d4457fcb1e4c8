import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSfuHarness, waitForVideo, mediaStats } from './sfu-browser.js';

test('two pages through janus', { timeout: 180_000 }, async () => {
  const h = await startSfuHarness({ logLevel: 'info' } as never);
  try {
    const a = await h.open();
    const b = await h.open();
    const ra = await h.boot(a, 'alice', 'live:one');
    console.log('a', ra);
    const rb = await h.boot(b, 'bob', 'live:one');
    console.log('b', rb);
    await waitForVideo(a, 1, 40_000);
    await waitForVideo(b, 1, 40_000);
    console.log(JSON.stringify(await mediaStats(a)));
  } catch (e) {
    console.log(h.janus.logs().split('\n').slice(-40).join('\n'));
    throw e;
  } finally {
    await h.close();
  }
});
