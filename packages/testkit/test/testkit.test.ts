import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ChaosProxy, freePort, signToken, startCoturn, startPostgres, startRedis, waitForPort } from '../src/index.js';

describe('testkit', () => {
  test('freePort returns a bindable port', async () => {
    const port = await freePort();
    assert.ok(port > 0);
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    await new Promise<void>((r) => srv.close(() => r()));
  });

  test('redis starts, serves, restarts empty on the same port, stops', async () => {
    const redis = await startRedis();
    after(() => redis.stop());
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 50, retryStrategy: () => 50 });
    // Connection errors while Redis restarts are expected; commands retry.
    client.on('error', () => undefined);
    after(() => client.disconnect());
    await client.connect();
    await client.set('k', 'v');
    assert.equal(await client.get('k'), 'v');
    await redis.restart();
    assert.equal(await client.get('k'), null, 'data is lost on restart');
    await redis.stop();
    await assert.rejects(waitForPort(redis.port, 200));
  });

  test('postgres starts, serves queries, survives kill+start, stops', async () => {
    const db = await startPostgres();
    after(() => db.stop());
    const c1 = new pg.Client({ connectionString: db.url });
    await c1.connect();
    await c1.query('CREATE TABLE t (x int)');
    await c1.query('INSERT INTO t VALUES (42)');
    await c1.end();
    await db.kill();
    await db.start();
    const c2 = new pg.Client({ connectionString: db.url });
    await c2.connect();
    const { rows } = await c2.query<{ x: number }>('SELECT x FROM t');
    assert.deepEqual(rows, [{ x: 42 }]);
    await c2.end();
    await db.stop();
  });

  test('coturn starts listening and stops', async () => {
    const turn = await startCoturn({ secret: 'test-secret-123' });
    after(() => turn.stop());
    assert.match(turn.urls[0], /^turn:127\.0\.0\.1:\d+\?transport=udp$/);
    await waitForPort(turn.port, 1000);
    await turn.stop();
  });

  test('ChaosProxy forwards, delays and cuts', async () => {
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    after(() => new Promise<void>((r) => echo.close(() => r())));
    const addr = echo.address();
    const proxy = new ChaosProxy({ targetPort: typeof addr === 'object' && addr ? addr.port : 0 });
    after(() => proxy.close());
    const port = await proxy.listen();

    const sock = connect({ port, host: '127.0.0.1' });
    await once(sock, 'connect');
    const roundTrip = async (s: Socket, text: string) => {
      const got = once(s, 'data');
      s.write(text);
      return String((await got)[0]);
    };
    assert.equal(await roundTrip(sock, 'hello'), 'hello');

    proxy.setLatency(150);
    const t0 = Date.now();
    assert.equal(await roundTrip(sock, 'slow'), 'slow');
    // Both directions are delayed, so the round trip is at least twice the latency.
    assert.ok(Date.now() - t0 >= 290, 'latency applies both ways');
    proxy.setLatency(0);

    const closed = once(sock, 'close');
    assert.equal(proxy.cutAll(), 1);
    await closed;
    assert.equal(proxy.connections, 0);

    // Random cuts eventually cut a live connection.
    const s2 = connect({ port, host: '127.0.0.1' });
    await once(s2, 'connect');
    const closed2 = once(s2, 'close');
    proxy.startRandomCuts({ minMs: 10, maxMs: 30 });
    await closed2;
    proxy.stopRandomCuts();
    assert.ok(proxy.cuts >= 2);

    // Blocked: new connections are closed at once; unblocked: traffic flows again.
    proxy.block();
    const s3 = connect({ port, host: '127.0.0.1' });
    s3.on('error', () => undefined);
    await once(s3, 'close');
    proxy.unblock();
    const s4 = connect({ port, host: '127.0.0.1' });
    await once(s4, 'connect');
    assert.equal(await roundTrip(s4, 'again'), 'again');
    s4.destroy();
  });

  test('signToken makes a JWT with sub and rooms', async () => {
    const jwt = await signToken('a-very-long-test-secret', { sub: 'alice', rooms: { 'chat:*': ['sub'] } });
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as { sub: string; rooms: unknown };
    assert.equal(payload.sub, 'alice');
    assert.deepEqual(payload.rooms, { 'chat:*': ['sub'] });
  });
});

describe('spawnServer', () => {
  test('starts the CLI from source, reports its URL, and stops on SIGTERM', async () => {
    const { spawnServer } = await import('../src/index.js');
    const server = await spawnServer({ env: { AQUEDUCT_JWT_SECRET: 'a-very-long-test-secret' } });
    after(() => server.kill('SIGKILL'));
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const exit = await server.kill();
    assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', server.logs());
  });
});
