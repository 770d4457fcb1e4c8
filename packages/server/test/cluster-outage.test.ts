import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { AqueductClient, type RoomMessage, type WebSocketConstructor } from '@aqueduct/client';
import {
  ChaosProxy, signToken, spawnServer, startPostgres, startRedis,
  type PostgresHandle, type RedisHandle, type ServerProcess,
} from '@aqueduct/testkit';
import { connectProvider, synced, type TestProvider } from './docs-helpers.js';

/*
 * Issue 5 failure behaviour, end to end: two server processes reach Redis and PostgreSQL through
 * proxies the test can block (an outage that frees no port).
 */

const SECRET = 'cluster-outage-secret-0123456789';
const GRANTS = { 'chat:*': ['sub', 'pub', 'presence'], 'doc:*': ['sub', 'pub'] };

let redis: RedisHandle;
let db: PostgresHandle;
let redisProxy: ChaosProxy;
let pgProxy: ChaosProxy;
let F: ServerProcess;
let G: ServerProcess;
const clients: AqueductClient[] = [];
const providers: TestProvider[] = [];

const token = (sub: string) => signToken(SECRET, { sub, rooms: GRANTS });

function client(url: string, jwt: string): AqueductClient {
  const c = new AqueductClient({ url, token: jwt, WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: { minDelayMs: 20, maxDelayMs: 300 } });
  clients.push(c);
  return c;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ready = async (n: ServerProcess) => (await fetch(`${n.url}/readyz`)).status === 200;

before(async () => {
  [redis, db] = await Promise.all([startRedis(), startPostgres()]);
  redisProxy = new ChaosProxy({ targetPort: redis.port });
  pgProxy = new ChaosProxy({ targetPort: db.port });
  const [rp, pp] = await Promise.all([redisProxy.listen(), pgProxy.listen()]);
  const env = {
    REDIS_URL: `redis://127.0.0.1:${rp}`,
    DATABASE_URL: db.url.replace(`:${db.port}/`, `:${pp}/`),
    AQUEDUCT_JWT_SECRET: SECRET,
    AQUEDUCT_SET: 'redis.commandTimeoutMs=2000;postgres.queryTimeoutMs=2000;postgres.connectTimeoutMs=1000',
  };
  F = await spawnServer({ env: { ...env, AQUEDUCT_NODE_ID: 'node-f' } });
  G = await spawnServer({ env: { ...env, AQUEDUCT_NODE_ID: 'node-g' } });
});

after(async () => {
  for (const p of providers) p.destroy();
  for (const c of clients) c.close();
  await Promise.all([F?.kill(), G?.kill()]);
  await Promise.all([redisProxy?.close(), pgProxy?.close()]);
  await Promise.all([redis?.stop(), db?.stop()]);
});

describe('cluster outages', () => {
  test('Redis unreachable: publishes fail with UNAVAILABLE, nobody is disconnected, /readyz says so, service resumes', async () => {
    const room = `chat:outage-${randomUUID().slice(0, 8)}`;
    const reader = client(F.url, await token('reader'));
    const writer = client(G.url, await token('writer'));
    let disconnects = 0;
    for (const c of [reader, writer]) c.on('disconnected', () => { disconnects++; });
    const r = reader.room(room);
    const got: RoomMessage[] = [];
    r.on('message', (m) => got.push(m));
    const w = writer.room(room);
    await Promise.all([r.ready(), w.ready()]);
    await w.publish({ n: 1 });
    await until(() => got.length === 1, 'first delivery');

    redisProxy.block();
    await until(async () => !(await ready(F)), '/readyz on F to report Redis down');
    const err = await w.publish({ n: 'during' }).then(() => undefined, (e: { code?: string; temporary?: boolean }) => e);
    assert.equal(err?.code, 'UNAVAILABLE', `publish during the outage: ${JSON.stringify(err)}`);
    const body = (await (await fetch(`${F.url}/readyz`)).json()) as { ok: boolean; checks: Record<string, { ok: boolean }> };
    assert.equal(body.ok, false);

    redisProxy.unblock();
    await until(() => ready(F), '/readyz on F back to 200');
    await until(async () => w.publish({ n: 2 }).then(() => true, () => false), 'publish after the outage');
    await until(() => got.some((m) => (m.data as { n: unknown }).n === 2), 'delivery after the outage');
    assert.deepEqual(got.map((m) => (m.data as { n: unknown }).n), [1, 2], 'the refused publish was not stored; nothing lost, nothing doubled');
    assert.equal(disconnects, 0, 'no client was disconnected');
  });

  test('PostgreSQL unreachable: document writes are refused, not lost; /readyz says so; they land once it returns', async () => {
    const doc = `doc:outage-${randomUUID().slice(0, 8)}`;
    const jwt = await token('editor');
    const editor = connectProvider(`${F.url.replace('http', 'ws')}/yjs`, doc, jwt);
    providers.push(editor);
    await synced(editor);
    editor.ydoc.getText('text').insert(0, 'before ');

    const contentOn = async (n: ServerProcess) => {
      const res = await fetch(`${n.url}/api/docs/${encodeURIComponent(doc)}`, { headers: { authorization: `Bearer ${jwt}` } });
      if (res.status !== 200) return undefined;
      return ((await res.json()) as { content: { text: string } }).content.text;
    };
    await until(async () => (await contentOn(G)) === 'before ', 'first edit visible on G');

    pgProxy.block();
    editor.ydoc.getText('text').insert(7, 'during');
    // The store probe runs every 5 s.
    await until(async () => !(await ready(F)), '/readyz on F to report the document store down', 30_000);
    assert.ok(editor.closes.some((c) => c.code === 1013), `the editor's connection was closed with 1013 (try again later): ${JSON.stringify(editor.closes)}`);

    pgProxy.unblock();
    await until(() => ready(F), '/readyz on F back to 200', 30_000);
    // The provider reconnects and re-syncs; the refused edit is stored now and reaches G.
    await until(async () => (await contentOn(G)) === 'before during', 'the edit made during the outage on G', 30_000);
  });
});
