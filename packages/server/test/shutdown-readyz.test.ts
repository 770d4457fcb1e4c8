// Graceful shutdown: /readyz answers 503 ("shutting down") for shutdown.readyzGraceMs BEFORE the
// node closes its connections (issue 17, Done-means 5), for a spawned `aqueduct serve` on SIGTERM
// and for an in-process close().
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CloseCodes } from '@aqueduct/protocol';
import { signToken, spawnServer } from '@aqueduct/testkit';
import { parseConfig } from '../src/config.js';
import { DEFAULT_READYZ_GRACE_MS, readyzGraceMs } from '../src/shutdown-config.js';
import { TEST_SECRET, rawSocket, startTestServer, type RawSocket } from './helpers.js';

interface Readiness { ok: boolean; reason?: string; checks: Record<string, { ok: boolean; detail?: string }> }

/** An authenticated room-bus socket joined to a room. */
async function joinedSocket(wsUrl: string, token: string): Promise<RawSocket> {
  const s = await rawSocket(wsUrl);
  const auth = await s.request({ t: 'auth', id: 1, token });
  assert.ok(auth.result, JSON.stringify(auth.error));
  const join = await s.request({ t: 'join', id: 2, room: 'chat:drain' });
  assert.ok(join.result, JSON.stringify(join.error));
  return s;
}

/**
 * Polls /readyz until it answers 503; asserts the socket is still open at that moment and that
 * the server still serves other routes. Returns the 503 body.
 */
async function seeNotReadyWhileConnected(url: string, socket: RawSocket, timeoutMs: number): Promise<Readiness> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    assert.equal(socket.closeCode, undefined, `the socket closed (${socket.closeCode}) before /readyz answered 503`);
    const res = await fetch(`${url}/readyz`);
    const body = (await res.json()) as Readiness;
    if (res.status === 503) {
      assert.equal(socket.closeCode, undefined, 'the socket is still open when /readyz fails');
      assert.equal(socket.ws.readyState, socket.ws.OPEN);
      assert.equal((await fetch(`${url}/healthz`)).status, 200, 'other routes still answer during the grace period');
      return body;
    }
    assert.equal(res.status, 200);
    if (Date.now() > deadline) throw new Error('/readyz never answered 503');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('shutdown: /readyz fails before connections close (Done-means 5)', () => {
  test('spawned `aqueduct serve`: after SIGTERM /readyz is 503 while a ws client is still connected, then the client gets 4000', async () => {
    const proc = await spawnServer({
      env: { AQUEDUCT_JWT_SECRET: TEST_SECRET, AQUEDUCT_SET: 'shutdown.readyzGraceMs=4000' },
    });
    try {
      const token = await signToken(TEST_SECRET, { sub: 'alice', rooms: { 'chat:*': ['sub', 'pub'] } });
      const socket = await joinedSocket(`${proc.url.replace('http', 'ws')}/ws`, token);
      assert.equal((await fetch(`${proc.url}/readyz`)).status, 200);
      const exited = proc.kill('SIGTERM');
      const body = await seeNotReadyWhileConnected(proc.url, socket, 30_000);
      assert.equal(body.ok, false);
      assert.equal(body.reason, 'shutting down');
      assert.deepEqual(body.checks.shutdown, { ok: false, detail: 'shutting down' });
      // After the grace period the node closes the connection with 4000 (reconnect elsewhere).
      assert.equal(await socket.closed, CloseCodes.SHUTDOWN.code);
      const exit = await exited;
      assert.equal(exit.code, 0, proc.logs());
    } finally {
      await proc.kill('SIGKILL');
    }
  });

  test('in-process close(): /readyz is 503 during shutdown.readyzGraceMs, connections close after it', async () => {
    const ts = await startTestServer({ shutdown: { readyzGraceMs: 1500 } });
    const socket = await joinedSocket(ts.wsUrl, await ts.token('bob', { 'chat:*': ['sub'] }));
    const closing = ts.close();
    const body = await seeNotReadyWhileConnected(ts.url, socket, 30_000);
    assert.equal(body.reason, 'shutting down');
    assert.equal(await socket.closed, CloseCodes.SHUTDOWN.code);
    await closing;
  });

  test('defaults: 2000 ms when Aqueduct owns the HTTP server, 0 when mounted on the app\'s server; configurable', () => {
    const config = parseConfig({});
    assert.equal(readyzGraceMs(config.shutdown, true), DEFAULT_READYZ_GRACE_MS);
    assert.equal(DEFAULT_READYZ_GRACE_MS, 2000);
    assert.equal(readyzGraceMs(config.shutdown, false), 0);
    assert.equal(readyzGraceMs(parseConfig({ shutdown: { readyzGraceMs: 7000 } }).shutdown, false), 7000);
    assert.throws(() => parseConfig({ shutdown: { readyzGraceMs: -1 } }));
  });
});
