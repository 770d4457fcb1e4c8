// The `aqueduct_token` cookie: a malformed value (bad percent-escape, garbage) is a bad credential —
// 401 with a clear code, nothing logged as a server error, the server stays up (issue 17, Done-means 5).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import pino from 'pino';
import { createServer } from '../src/node.js';
import type { AqueductServer } from '../src/server.js';
import { TEST_SECRET } from './helpers.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('aqueduct_token cookie (Done-means 5)', () => {
  let server: AqueductServer;
  let dataDir: string;
  const logged: Array<{ level: number; msg: string }> = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-cookie-'));
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logged.push(JSON.parse(line) as { level: number; msg: string });
        cb();
      },
    });
    server = await createServer({
      config: { port: 0, dataDir, logLevel: 'info', jwt: { secret: TEST_SECRET }, shutdown: { readyzGraceMs: 0 } },
      logger: pino({ level: 'info' }, sink),
    });
  });
  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const get = (path: string, cookie: string) => fetch(`${server.url}${path}`, { headers: { Cookie: cookie } });

  for (const [what, cookie] of [
    ['a broken percent-escape', 'aqueduct_token=%E0%A4%A'],
    ['a lone %', 'theme=dark; aqueduct_token=abc%; other=1'],
    ['garbage', 'aqueduct_token=not.a.jwt'],
  ] as const) {
    test(`${what} → 401 TOKEN_INVALID on the HTTP API and SSE, no server error logged`, async () => {
      for (const path of ['/api/rooms/chat:a/history', '/api/events?rooms=chat:a']) {
        const res = await get(path, cookie);
        assert.equal(res.status, 401, `${path}: ${res.status}`);
        const body = (await res.json()) as { error?: { code?: string } };
        assert.equal(body.error?.code, 'TOKEN_INVALID', `${path}: ${JSON.stringify(body)}`);
      }
      assert.deepEqual(logged.filter((l) => l.level >= 50), [], 'nothing logged at error level');
    });
  }

  test('a malformed cookie on the /yjs upgrade is refused like a bad token; the server stays up', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/yjs/doc:cookie`, { headers: { Cookie: 'aqueduct_token=%E0%A4%A' } });
    const outcome = await new Promise<string>((resolve) => {
      ws.on('close', (code) => resolve(`close ${code}`));
      ws.on('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`));
      ws.on('error', () => undefined);
    });
    assert.notEqual(outcome, 'http 500', outcome);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.deepEqual(logged.filter((l) => l.level >= 50), [], 'nothing logged at error level');
  });

  test('a valid token in the cookie (percent-encoded or not) still authenticates', async () => {
    const token = await server.auth.sign({ sub: 'carol', rooms: { 'chat:*': ['sub'] } as never, ttlSec: 600 });
    for (const value of [token, encodeURIComponent(token)]) {
      const res = await get('/api/rooms/chat:a/history', `aqueduct_token=${value}`);
      assert.equal(res.status, 200, await res.text());
    }
  });
});
