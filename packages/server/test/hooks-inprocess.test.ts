import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AqueductError } from '@aqueduct/client';
import { HookDenied, type PublishHookContext, type ServerHooks } from '../src/index.js';
import { connectClient, rawSocket, until } from './helpers.js';
import { API_KEY, sseStatus, startHooksServer, type HooksTestServer } from './hooks-helpers.js';
import { rawYjs } from './docs-helpers.js';

/** Done-means 3 (issue 17): in-process backend hooks deny and rewrite on every pipe. */
describe('backend hooks, in-process', () => {
  let ts: HooksTestServer;
  const seen: { publish: PublishHookContext[]; joins: string[]; connects: string[] } = { publish: [], joins: [], connects: [] };
  const hooks: ServerHooks = {
    onConnect({ user, transport, req }) {
      seen.connects.push(`${transport}:${user.id}:${req ? 'req' : 'noreq'}`);
      if (user.id === 'banned') return { allow: false, code: 'BANNED', message: 'you are banned' };
      if (user.id === 'flaky') throw new Error('backend exploded');
    },
    onJoin({ user, room, transport }) {
      seen.joins.push(`${transport}:${user.id}:${room}`);
      if (room.endsWith(':secret')) return { allow: false, code: 'NOT_A_MEMBER', message: `${user.id} is not a member of ${room}` };
      if (room.endsWith(':private')) throw new HookDenied('PRIVATE_ROOM', 'private room');
      return true;
    },
    async onPublish(ctx) {
      seen.publish.push(ctx);
      await new Promise((r) => setImmediate(r)); // async hooks are awaited
      const data = ctx.data as { text?: string; spam?: boolean; n?: number };
      // Slower for earlier publications: the hook must not reorder a connection's publications.
      if (ctx.room === 'chat:order' && typeof data.n === 'number') await new Promise((r) => setTimeout(r, (10 - (data.n ?? 0)) * 15));
      if (data.spam) return { allow: false, code: 'SPAM', message: 'no spam' };
      if (typeof data.text === 'string' && data.text.includes('darn')) return { data: { text: data.text.replaceAll('darn', '****'), moderated: true } };
      return undefined;
    },
  };

  before(async () => { ts = await startHooksServer(hooks); });
  after(async () => { await ts.close(); });

  test('onJoin denies a WebSocket join with the app code; other rooms join', async () => {
    const client = connectClient(ts.wsUrl, await ts.token('alice', { 'chat:*': ['sub', 'pub'] }));
    try {
      const open = client.room('chat:open');
      await open.ready();
      const secret = client.room('chat:secret');
      const err = await secret.ready().then(() => undefined, (e: AqueductError) => e);
      assert.ok(err, 'join of chat:secret must fail');
      assert.equal(err.code, 'NOT_A_MEMBER');
      assert.match(err.message, /alice is not a member of chat:secret/);
      assert.ok(seen.joins.includes('ws:alice:chat:open'));
      // Thrown HookDenied: the same.
      const raw = await rawSocket(ts.wsUrl);
      await raw.request({ t: 'auth', id: 1, token: await ts.token('alice', { 'chat:*': ['sub'] }) });
      const reply = await raw.request({ t: 'join', id: 2, room: 'chat:private' });
      assert.deepEqual(reply.error, { code: 'PRIVATE_ROOM', message: 'private room', temporary: false });
      // A history read is a read of the room: asked too.
      const history = await raw.request({ t: 'history', id: 3, room: 'chat:secret' });
      assert.equal((history.error as { code: string }).code, 'NOT_A_MEMBER');
      raw.close();
    } finally {
      client.close();
    }
  });

  test('onJoin denies SSE, long polling, HTTP history and a /yjs document', async () => {
    const token = await ts.token('bob', { 'chat:*': ['sub', 'pub'], 'doc:*': ['sub', 'pub'] });
    const sse = await sseStatus(`${ts.url}/api/events?rooms=chat:open,chat:secret`, token);
    assert.equal(sse.status, 403);
    assert.equal(JSON.parse(sse.body).error.code, 'NOT_A_MEMBER');
    assert.equal((await sseStatus(`${ts.url}/api/events?rooms=chat:open`, token)).status, 200);
    const poll = await ts.api('GET', '/api/poll?rooms=chat:secret', token);
    assert.equal(poll.status, 403);
    assert.equal((poll.body.error as { code: string }).code, 'NOT_A_MEMBER');
    const history = await ts.api('GET', `/api/rooms/${encodeURIComponent('chat:secret')}/history`, token);
    assert.equal(history.status, 403);
    const doc = await rawYjs(ts.yjsUrl, 'doc:secret', token);
    const closed = await doc.closed;
    assert.equal(closed.code, 4403);
    assert.match(doc.denied().join(' '), /NOT_A_MEMBER/);
    assert.ok(seen.joins.includes('yjs:bob:doc:secret'));
    assert.ok(seen.connects.includes('yjs:bob:req'));
    assert.ok(seen.connects.includes('sse:bob:req'));
  });

  test('onConnect denies a WebSocket connection (reply code, close 4504) and SSE (403); a throwing hook fails closed (HOOK_FAILED)', async () => {
    const raw = await rawSocket(ts.wsUrl);
    const reply = await raw.request({ t: 'auth', id: 1, token: await ts.token('banned', { 'chat:*': ['sub'] }) });
    assert.deepEqual(reply.error, { code: 'BANNED', message: 'you are banned', temporary: false });
    assert.equal(await raw.closed, 4504);
    assert.ok(seen.connects.includes('ws:banned:req'), 'the hook sees the upgrade request');
    const sse = await sseStatus(`${ts.url}/api/events?rooms=chat:open`, await ts.token('banned', { 'chat:*': ['sub'] }));
    assert.equal(sse.status, 403);
    assert.equal(JSON.parse(sse.body).error.code, 'BANNED');
    const flaky = await rawSocket(ts.wsUrl);
    const failed = await flaky.request({ t: 'auth', id: 1, token: await ts.token('flaky', { 'chat:*': ['sub'] }) });
    assert.deepEqual(failed.error, { code: 'HOOK_FAILED', message: 'backend hook connect failed', temporary: true });
    assert.equal(await flaky.closed, 4007);
    const sseFlaky = await sseStatus(`${ts.url}/api/events?rooms=chat:open`, await ts.token('flaky', { 'chat:*': ['sub'] }));
    assert.equal(sseFlaky.status, 503);
    assert.equal(JSON.parse(sseFlaky.body).error.code, 'HOOK_FAILED');
  });

  test("a slow onPublish keeps a connection's publications in order", async () => {
    const client = connectClient(ts.wsUrl, await ts.token('olga', { 'chat:*': ['sub', 'pub'] }));
    try {
      const room = client.room('chat:order');
      const got: number[] = [];
      room.on('message', (m) => got.push((m.data as { n: number }).n));
      await room.ready();
      await Promise.all(Array.from({ length: 10 }, (_, n) => room.publish({ n })));
      await until(() => got.length === 10, 10_000, 'ten deliveries');
      assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      client.close();
    }
  });

  test('onPublish denies (ws and HTTP) and rewrites: subscribers and history get the rewrite', async () => {
    const token = await ts.token('carol', { 'chat:*': ['sub', 'pub'] });
    const pub = connectClient(ts.wsUrl, token);
    const sub = connectClient(ts.wsUrl, await ts.token('dan', { 'chat:*': ['sub'] }));
    try {
      const got: unknown[] = [];
      const rs = sub.room('chat:mod');
      rs.on('message', (m) => got.push(m.data));
      await rs.ready();
      const rp = pub.room('chat:mod');
      await rp.ready();
      await assert.rejects(rp.publish({ spam: true }), { code: 'SPAM' });
      const http = await ts.api('POST', '/api/publish', token, { room: 'chat:mod', data: { spam: true } });
      assert.equal(http.status, 403);
      assert.equal((http.body.error as { code: string }).code, 'SPAM');
      await rp.publish({ text: 'oh darn' });
      const viaHttp = await ts.api('POST', '/api/publish', token, { room: 'chat:mod', data: { text: 'darn it' } });
      assert.equal(viaHttp.status, 200);
      await rp.publish({ text: 'hello' });
      await until(() => got.length === 3, 10_000, 'three deliveries');
      assert.deepEqual(got, [{ text: 'oh ****', moderated: true }, { text: '**** it', moderated: true }, { text: 'hello' }]);
      const history = await ts.api('GET', `/api/rooms/${encodeURIComponent('chat:mod')}/history`, API_KEY);
      assert.deepEqual((history.body.publications as Array<{ data: unknown }>).map((p) => p.data), got);
      const last = seen.publish.filter((c) => c.room === 'chat:mod').map((c) => `${c.transport}:${c.user.id}`);
      assert.deepEqual(last, ['ws:carol', 'http:carol', 'ws:carol', 'http:carol', 'ws:carol']);
      // The API key is the app's backend itself: not asked.
      const server = await ts.api('POST', '/api/publish', API_KEY, { room: 'chat:mod', data: { spam: true } });
      assert.equal(server.status, 200);
    } finally {
      pub.close();
      sub.close();
    }
  });
});
