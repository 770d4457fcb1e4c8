/**
 * The demo/admin HTTP module without a browser: demo tokens (and their refusals), the landing page
 * when demo mode is off, the admin stats API (key required, per-node report, cluster view over
 * Redis), and the static file server (types, ETags, no escaping the root).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisHandle } from '@aqueduct/testkit';
import { StaticFiles } from '../src/http/static-files.js';
import { connectClient, startTestServer, type TestServer } from './helpers.js';

const API_KEY = 'demo-http-test-key-0123456789';

async function post(url: string, body: unknown, headers: Record<string, string> = { 'Content-Type': 'application/json' }): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const errorCode = (json: Record<string, unknown>) => (json.error as { code: string } | undefined)?.code;

describe('demo mode off', () => {
  let ts: TestServer;
  before(async () => { ts = await startTestServer({ apiKey: API_KEY }); });
  after(() => ts.close());

  test('/ is a landing page that says demo mode is off; no demo tokens', async () => {
    const res = await fetch(`${ts.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await res.text(), /demo mode <strong>off<\/strong>/);
    const token = await post(`${ts.url}/api/demo/token`, {});
    assert.equal(token.status, 404);
    assert.equal(errorCode(token.json), 'NOT_FOUND');
  });

  test('/admin is served (its data needs the key)', async () => {
    const res = await fetch(`${ts.url}/admin`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<title>Aqueduct admin<\/title>/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  });
});

describe('demo tokens', () => {
  let ts: TestServer;
  before(async () => { ts = await startTestServer({ demo: true, apiKey: API_KEY, demoTokenTtlSec: 600 }); });
  after(() => ts.close());

  test('a token for demo:* rooms with a generated name and colour', async () => {
    const { status, json } = await post(`${ts.url}/api/demo/token`, {});
    assert.equal(status, 200);
    assert.match(String(json.user), /^demo-[0-9a-f]{12}$/);
    assert.match(String(json.color), /^#[0-9a-f]{6}$/);
    const user = await ts.server.auth.verify(String(json.token));
    assert.equal(user.id, json.user);
    assert.deepEqual(user.info, { name: json.name, color: json.color });
    const lifetimeSec = (user.expiresAt - Date.now()) / 1000;
    assert.ok(lifetimeSec > 590 && lifetimeSec <= 600, `token lives ${lifetimeSec} s`);
    assert.deepEqual(user.grants.map((g) => [g.pattern, g.prefix, [...g.perms].sort()]), [['demo:', true, ['presence', 'pub', 'signal', 'sub']]]);
  });

  test('a given user id, name and colour are kept (a reload is the same person)', async () => {
    const { status, json } = await post(`${ts.url}/api/demo/token`, { user: 'demo-abc123', name: ' Zoë  B ', color: '#12AB34' });
    assert.equal(status, 200);
    assert.equal(json.user, 'demo-abc123');
    assert.equal(json.name, 'Zoë  B');
    assert.equal(json.color, '#12ab34');
  });

  test('the token works on the bus in demo rooms only', async () => {
    const { json } = await post(`${ts.url}/api/demo/token`, {});
    const client = connectClient(ts.url, String(json.token));
    try {
      await client.room('demo:lobby').ready();
      const refused = client.room('chat:lobby');
      const err = await new Promise<{ code: string }>((resolve) => refused.on('error', resolve));
      assert.equal(err.code, 'PERMISSION_DENIED');
    } finally {
      client.close();
    }
  });

  test('bad requests get clear errors', async () => {
    const cases: Array<[unknown, string]> = [
      [{ user: 'admin' }, 'user'],
      [{ user: 'demo-ABC123' }, 'user'],
      [{ name: '' }, 'name'],
      [{ name: 'x'.repeat(33) }, 'name'],
      [{ name: '<script>' }, 'name'],
      [{ color: 'red' }, 'color'],
      [[], 'object'],
    ];
    for (const [body, word] of cases) {
      const { status, json } = await post(`${ts.url}/api/demo/token`, body);
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(errorCode(json), 'BAD_REQUEST');
      assert.match((json.error as { message: string }).message, new RegExp(word));
    }
    assert.equal((await post(`${ts.url}/api/demo/token`, 'name=x', { 'Content-Type': 'text/plain' })).status, 415);
    assert.equal((await post(`${ts.url}/api/demo/token`, { name: 'x'.repeat(2000) })).status, 413);
    assert.equal((await fetch(`${ts.url}/api/demo/token`)).status, 405);
    // The server is still fine.
    assert.equal((await post(`${ts.url}/api/demo/token`, {})).status, 200);
  });

  test('/ serves the demo page with a CSP', async () => {
    const res = await fetch(`${ts.url}/`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<script type="module" src="\/build\/demo.js">/);
    assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  });
});

describe('admin stats', () => {
  let ts: TestServer;
  before(async () => { ts = await startTestServer({ apiKey: API_KEY, admin: { statsIntervalMs: 200 } }); });
  after(() => ts.close());

  test('needs the API key', async () => {
    assert.equal((await fetch(`${ts.url}/api/admin/stats`)).status, 401);
    assert.equal((await fetch(`${ts.url}/api/admin/stats`, { headers: { Authorization: 'Bearer wrong-key-0123456789' } })).status, 401);
    const userToken = await ts.token('alice', { 'demo:*': ['sub'] });
    const res = await fetch(`${ts.url}/api/admin/stats`, { headers: { Authorization: `Bearer ${userToken}` } });
    assert.equal(res.status, 401);
    assert.equal(errorCode((await res.json()) as Record<string, unknown>), 'NOT_AUTHENTICATED');
    assert.equal((await fetch(`${ts.url}/api/admin/stats`, { method: 'POST', headers: { 'X-API-Key': API_KEY } })).status, 405);
  });

  test('reports connections, rooms with member counts and message rates of this node', async () => {
    const token = await ts.token('alice', { 'chat:*': ['sub', 'pub'] });
    const client = connectClient(ts.url, token);
    try {
      const room = client.room('chat:stats');
      await room.ready();
      for (let i = 0; i < 5; i++) await room.publish({ i });
      type Stats = { node: string; nodes: Array<{ node: string; connectionsTotal: number; connections: Record<string, number>; rooms: Array<{ room: string; subscribers: number }>; messagesIn: number; series: Array<{ inPerSec: number }> }> };
      let stats: Stats | undefined;
      const read = async () => {
        const res = await fetch(`${ts.url}/api/admin/stats`, { headers: { 'X-API-Key': API_KEY } });
        assert.equal(res.status, 200);
        stats = (await res.json()) as Stats;
      };
      // Rates come from samples: wait until a sample saw the publishes.
      const start = Date.now();
      for (;;) {
        await read();
        if (stats && stats.nodes[0].series.some((s) => s.inPerSec > 0)) break;
        assert.ok(Date.now() - start < 15_000, 'no sample saw the messages');
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(stats);
      assert.equal(stats.nodes.length, 1);
      const self = stats.nodes[0];
      assert.equal(self.node, ts.server.nodeId);
      assert.equal(stats.node, ts.server.nodeId);
      assert.equal(self.connections.ws, 1);
      assert.equal(self.connectionsTotal, 1);
      assert.deepEqual(self.rooms.find((r) => r.room === 'chat:stats'), { room: 'chat:stats', subscribers: 1 });
      assert.ok(self.messagesIn >= 5);
    } finally {
      client.close();
    }
  });
});

describe('admin stats without a configured key', () => {
  test('demo mode generates one in the data dir; otherwise stats are refused', async () => {
    const off = await startTestServer({});
    try {
      const res = await fetch(`${off.url}/api/admin/stats`, { headers: { Authorization: 'Bearer something-long-enough' } });
      assert.equal(res.status, 403);
      assert.equal(errorCode((await res.json()) as Record<string, unknown>), 'PERMISSION_DENIED');
    } finally {
      await off.close();
    }
    const on = await startTestServer({ demo: true });
    try {
      const key = readFileSync(join(on.server.config.dataDir, 'api-key'), 'utf8').trim();
      assert.ok(key.length >= 16);
      const res = await fetch(`${on.url}/api/admin/stats`, { headers: { Authorization: `Bearer ${key}` } });
      assert.equal(res.status, 200);
    } finally {
      await on.close();
    }
  });
});

describe('admin stats of a cluster (two nodes over Redis)', () => {
  let redis: RedisHandle;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    redis = await startRedis();
    a = await startTestServer({ apiKey: API_KEY, redisUrl: redis.url, nodeId: 'node-a', admin: { statsIntervalMs: 200 } });
    b = await startTestServer({ apiKey: API_KEY, redisUrl: redis.url, nodeId: 'node-b', admin: { statsIntervalMs: 200 } });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  test('each node lists every live node, itself first', async () => {
    const client = connectClient(b.url, await b.token('bob', { 'chat:*': ['sub'] }));
    try {
      await client.room('chat:on-b').ready();
      type Stats = { nodes: Array<{ node: string; rooms: Array<{ room: string; subscribers: number }> }> };
      let stats: Stats = { nodes: [] };
      const start = Date.now();
      while (!(stats.nodes.length === 2 && stats.nodes[1].rooms.some((r) => r.room === 'chat:on-b'))) {
        assert.ok(Date.now() - start < 15_000, `cluster view incomplete: ${JSON.stringify(stats)}`);
        await new Promise((r) => setTimeout(r, 100));
        stats = (await (await fetch(`${a.url}/api/admin/stats`, { headers: { 'X-API-Key': API_KEY } })).json()) as Stats;
      }
      assert.deepEqual(stats.nodes.map((n) => n.node), ['node-a', 'node-b']);
    } finally {
      client.close();
    }
  });
});

describe('static files', () => {
  let root: string;
  let http: Server;
  let url: string;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'aqueduct-static-'));
    mkdirSync(join(root, 'build'));
    writeFileSync(join(root, 'build', 'app.js'), 'console.log(1)');
    writeFileSync(join(root, 'style.css'), 'body{}');
    writeFileSync(join(root, '.secret'), 'no');
    const files = new StaticFiles(root);
    http = createHttpServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
      files.serve(req, res, path).then((served) => {
        if (!served) { res.writeHead(404); res.end(); }
      }, () => { res.writeHead(500); res.end(); });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const addr = http.address() as { port: number };
    url = `http://127.0.0.1:${addr.port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => http.close(() => resolve()));
    rmSync(root, { recursive: true, force: true });
  });

  test('content types, ETags and 304', async () => {
    const js = await fetch(`${url}/build/app.js`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(js.headers.get('cache-control'), 'no-cache');
    const etag = js.headers.get('etag');
    assert.ok(etag);
    const again = await fetch(`${url}/build/app.js`, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    assert.equal((await fetch(`${url}/style.css`)).headers.get('content-type'), 'text/css; charset=utf-8');
  });

  test('nothing outside the root, no dotfiles, no directories', async () => {
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/build/..%2f..%2fpackage.json', '/.secret', '/build', '/missing.js', '/%E0%A4%A']) {
      const res = await fetch(`${url}${path}`);
      assert.equal(res.status, 404, path);
    }
  });
});

describe('the whiteboard page', () => {
  test('served with a CSP in demo mode only', async () => {
    const on = await startTestServer({ demo: true });
    const off = await startTestServer({});
    try {
      const res = await fetch(`${on.url}/whiteboard`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /<script type="module" src="\/build\/whiteboard.js">/);
      assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      assert.equal((await fetch(`${on.url}/whiteboard.css`)).status, 200);
      const refused = await fetch(`${off.url}/whiteboard`);
      assert.equal(refused.status, 404);
      await refused.arrayBuffer();
    } finally {
      await on.close();
      await off.close();
    }
  });
});
