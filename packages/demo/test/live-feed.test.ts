/**
 * `scripts/live-feed.mjs`, the live-stream app's leaderboard feed: what it posts, and how it fails
 * (bad key, bad options, server unreachable after bounded retries).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '@aqueduct/testkit';
import { startTestServer, type TestServer } from '../../server/test/helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const API_KEY = 'live-feed-api-key-0123456789';

function feed(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['scripts/live-feed.mjs', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AQUEDUCT_API_KEY: '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('live-feed script', () => {
  let ts: TestServer;

  before(async () => {
    ts = await startTestServer({ apiKey: API_KEY });
  });

  after(async () => {
    await ts?.close();
  });

  test('posts --count snapshots to demo:live-<room>:board, seq 1..n, stock going down', async () => {
    const run = await feed(['--url', ts.url, '--room', 'shop', '--count', '4', '--interval-ms', '0', '--stock', '10'], { AQUEDUCT_API_KEY: API_KEY });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim().split('\n').length, 4);
    const res = await fetch(`${ts.url}/api/rooms/${encodeURIComponent('demo:live-shop:board')}/history`, { headers: { Authorization: `Bearer ${API_KEY}` } });
    const page = (await res.json()) as { publications: Array<{ event?: string; data: { seq: number; leaders: Array<{ name: string; score: number }>; stock: { left: number } } }> };
    assert.deepEqual(page.publications.map((p) => p.data.seq), [1, 2, 3, 4]);
    assert.ok(page.publications.every((p) => p.event === 'board' && p.data.leaders.length === 5));
    const stock = page.publications.map((p) => p.data.stock.left);
    assert.deepEqual(stock, [...stock].sort((a, b) => b - a));
    assert.ok(stock[3] < 10 && stock[3] >= 0);
  });

  test('a wrong key stops it at once with exit code 1', async () => {
    const run = await feed(['--url', ts.url, '--key', 'not-the-key-0123456789', '--count', '3', '--interval-ms', '0']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /seq 1 failed: HTTP 401 TOKEN_INVALID/);
  });

  test('bad options exit 2', async () => {
    assert.equal((await feed(['--url', ts.url, '--key', API_KEY, '--room', 'Not A Slug'])).code, 2);
    assert.equal((await feed(['--url', ts.url, '--key', API_KEY, '--count', '-1'])).code, 2);
  });

  test('an unreachable server: bounded retries, then exit code 1', async () => {
    const port = await freePort();
    const run = await feed(['--url', `http://127.0.0.1:${port}`, '--key', API_KEY, '--count', '1', '--retries', '2']);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.match(/retrying in/g)?.length, 2, run.stderr);
  });
});
