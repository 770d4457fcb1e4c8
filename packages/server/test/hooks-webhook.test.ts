import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { AqueductError } from '@aqueduct/client';
import { signWebhook, verifyWebhookSignature } from '../src/index.js';
import { connectClient, nextEvent, rawSocket, until } from './helpers.js';
import { API_KEY, startHooksServer, type HooksTestServer } from './hooks-helpers.js';
import { connectProvider, synced } from './docs-helpers.js';

const SECRET = 'webhook-secret-0123456789abcdef';

interface Received {
  hook: string;
  body: Record<string, unknown>;
  verified: boolean;
  delivery: string;
  attempt: string;
}

/**
 * The app's backend in the test: a real HTTP server that verifies every request's signature (401
 * when it does not verify) and decides. Rooms `*:secret` are denied, publications with `spam` are
 * denied, texts are upper-cased (a rewrite); rooms `slow:*` never get an answer (timeout).
 */
class Backend {
  readonly received: Received[] = [];
  private server!: Server;
  private readonly hanging = new Set<ServerResponse>();
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/aqueduct-hooks`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const verified = verifyWebhookSignature({
      secret: SECRET,
      signature: req.headers['x-aqueduct-signature'] as string | undefined,
      timestamp: req.headers['x-aqueduct-timestamp'] as string | undefined,
      body: raw,
    });
    const body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    this.received.push({ hook: String(req.headers['x-aqueduct-hook']), body, verified, delivery: String(req.headers['x-aqueduct-delivery']), attempt: String(req.headers['x-aqueduct-attempt']) });
    const answer = (status: number, json: unknown): void => { res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json)); };
    if (!verified) return answer(401, { error: 'bad signature' });
    const room = String(body.room ?? '');
    if (room.startsWith('slow:')) { this.hanging.add(res); return; } // never answers
    switch (body.hook) {
      case 'connect':
        return answer(200, (body.user as { id: string }).id === 'banned' ? { allow: false, code: 'BANNED', message: 'banned by the backend' } : { allow: true });
      case 'join':
        return answer(200, room.endsWith(':secret') ? { allow: false, code: 'NOT_A_MEMBER', message: 'not a member' } : {});
      case 'publish': {
        const data = body.data as { text?: string; spam?: boolean };
        if (data.spam) return answer(200, { allow: false, code: 'SPAM', message: 'spam' });
        if (typeof data.text === 'string') return answer(200, { allow: true, data: { text: data.text.toUpperCase(), by: 'backend' } });
        return answer(200, { allow: true });
      }
      case 'docUpdate': {
        // The backend sees the Yjs update (base64); inserted text travels as UTF-8 inside it.
        const update = Buffer.from(String(body.update), 'base64');
        return answer(200, update.includes('forbidden') ? { allow: false, code: 'FORBIDDEN_WORD', message: 'vetoed by the backend' } : {});
      }
      default:
        return answer(400, { error: 'unknown hook' });
    }
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Done-means 3 (issue 17): the same hooks as signed webhooks to the app's backend. */
describe('backend hooks as webhooks', () => {
  const backend = new Backend();
  let ts: HooksTestServer;
  before(async () => {
    await backend.start();
    ts = await startHooksServer(undefined, { hooks: { webhookUrl: backend.url, webhookSecret: SECRET, timeoutMs: 300, retries: 1, retryBackoffMs: 20 } });
  });
  after(async () => {
    await ts.close();
    await backend.close();
  });

  test('requests are signed (HMAC-SHA256 over timestamp.body) and carry the documented fields', async () => {
    const client = connectClient(ts.wsUrl, await ts.token('alice', { 'chat:*': ['sub', 'pub'] }));
    try {
      await client.room('chat:open').ready();
      const connect = backend.received.find((r) => r.hook === 'connect' && (r.body.user as { id: string }).id === 'alice');
      assert.ok(connect, 'connect webhook received');
      assert.equal(connect.verified, true);
      assert.equal(connect.body.transport, 'ws');
      assert.equal(typeof connect.body.client, 'string');
      assert.equal(typeof connect.body.node, 'string');
      assert.equal(typeof connect.body.headers, 'object');
      assert.equal(typeof connect.body.remoteAddress, 'string');
      const join = backend.received.find((r) => r.hook === 'join' && r.body.room === 'chat:open');
      assert.ok(join);
      assert.equal(join.verified, true);
      assert.deepEqual({ hook: join.body.hook, room: join.body.room, transport: join.body.transport, user: join.body.user }, { hook: 'join', room: 'chat:open', transport: 'ws', user: { id: 'alice' } });
    } finally {
      client.close();
    }
    // The signature covers timestamp and body: a changed body or another secret does not verify.
    const ts0 = String(Date.now());
    const sig = signWebhook(SECRET, ts0, '{"a":1}');
    assert.equal(verifyWebhookSignature({ secret: SECRET, signature: sig, timestamp: ts0, body: '{"a":1}' }), true);
    assert.equal(verifyWebhookSignature({ secret: SECRET, signature: sig, timestamp: ts0, body: '{"a":2}' }), false);
    assert.equal(verifyWebhookSignature({ secret: 'another-secret-0123456789', signature: sig, timestamp: ts0, body: '{"a":1}' }), false);
    assert.equal(verifyWebhookSignature({ secret: SECRET, signature: sig, timestamp: String(Date.now() - 600_000), body: '{"a":1}' }), false);
  });

  test('the webhook denies a join (ws and SSE) and a connection', async () => {
    const client = connectClient(ts.wsUrl, await ts.token('bob', { 'chat:*': ['sub'] }));
    try {
      const err = await client.room('chat:secret').ready().then(() => undefined, (e: AqueductError) => e);
      assert.equal(err?.code, 'NOT_A_MEMBER');
    } finally {
      client.close();
    }
    const sse = await ts.api('GET', '/api/poll?rooms=chat:secret', await ts.token('bob', { 'chat:*': ['sub'] }));
    assert.equal(sse.status, 403);
    assert.equal((sse.body.error as { code: string }).code, 'NOT_A_MEMBER');
    const raw = await rawSocket(ts.wsUrl);
    const reply = await raw.request({ t: 'auth', id: 1, token: await ts.token('banned', { 'chat:*': ['sub'] }) });
    assert.deepEqual(reply.error, { code: 'BANNED', message: 'banned by the backend', temporary: false });
    assert.equal(await raw.closed, 4504);
  });

  test('the webhook denies and rewrites publications: subscribers and history get the rewrite', async () => {
    const token = await ts.token('carol', { 'chat:*': ['sub', 'pub'] });
    const client = connectClient(ts.wsUrl, token);
    try {
      const room = client.room('chat:hooked');
      const got: unknown[] = [];
      room.on('message', (m) => got.push(m.data));
      await room.ready();
      await assert.rejects(room.publish({ spam: true }), { code: 'SPAM' });
      await room.publish({ text: 'quiet please' });
      const http = await ts.api('POST', '/api/publish', token, { room: 'chat:hooked', data: { text: 'via http' } });
      assert.equal(http.status, 200);
      await until(() => got.length === 2, 10_000, 'two deliveries');
      assert.deepEqual(got, [{ text: 'QUIET PLEASE', by: 'backend' }, { text: 'VIA HTTP', by: 'backend' }]);
      const history = await ts.api('GET', `/api/rooms/${encodeURIComponent('chat:hooked')}/history`, API_KEY);
      assert.deepEqual((history.body.publications as Array<{ data: unknown }>).map((p) => p.data), got);
    } finally {
      client.close();
    }
  });

  test('a webhook that does not answer within hooks.timeoutMs: retried once, then denied with HOOK_FAILED (fail closed)', async () => {
    const client = connectClient(ts.wsUrl, await ts.token('dora', { 'slow:*': ['sub', 'pub'] }));
    try {
      const started = Date.now();
      const room = client.room('slow:room');
      // HOOK_FAILED is temporary: the SDK reports it and retries the join with backoff.
      const err = await nextEvent<AqueductError>(room, 'error', 20_000);
      const took = Date.now() - started;
      assert.equal(err.code, 'HOOK_FAILED');
      assert.equal(err.temporary, true);
      // 2 attempts of 300 ms + 20 ms backoff.
      assert.ok(took >= 600, `took ${took} ms`);
      const first = backend.received.find((r) => r.hook === 'join' && r.body.room === 'slow:room');
      const attempts = backend.received.filter((r) => r.hook === 'join' && r.body.room === 'slow:room' && r.delivery === first?.delivery);
      assert.equal(attempts.length, 2);
      assert.equal(attempts[0].delivery, attempts[1].delivery, 'a retry is the same delivery');
      assert.deepEqual(attempts.map((a) => a.attempt), ['1', '2']);
      assert.ok(attempts.every((a) => a.verified));
    } finally {
      client.close();
    }
  });

  test('docUpdate by webhook (opt-in): a vetoed update is neither stored nor broadcast', async () => {
    const docs = await startHooksServer(undefined, { hooks: { webhookUrl: backend.url, webhookSecret: SECRET, webhookEvents: ['docUpdate'], timeoutMs: 2000 } });
    const t = await docs.token('frank', { 'doc:*': ['sub', 'pub'] });
    const a = connectProvider(docs.yjsUrl, 'doc:webhook', t);
    const b = connectProvider(docs.yjsUrl, 'doc:webhook', t);
    try {
      await Promise.all([synced(a), synced(b)]);
      a.ydoc.getText('text').insert(0, 'allowed ');
      await until(() => b.ydoc.getText('text').toString() === 'allowed ', 10_000, 'b sees the allowed edit');
      a.ydoc.getText('text').insert(8, 'forbidden');
      await until(() => a.closes.length > 0, 10_000, 'sender closed');
      assert.equal(a.closes[0].code, 4422);
      assert.match(a.denied.join(' '), /FORBIDDEN_WORD/);
      assert.equal((await docs.server.docs.readJson('doc:webhook')).content.text, 'allowed ');
      assert.equal(b.ydoc.getText('text').toString(), 'allowed ');
      const calls = backend.received.filter((r) => r.hook === 'docUpdate' && r.body.doc === 'doc:webhook');
      assert.ok(calls.length >= 2 && calls.every((c) => c.verified && (c.body.user as { id: string }).id === 'frank'));
    } finally {
      a.destroy();
      b.destroy();
      await docs.close();
    }
  });

  test('hooks.failOpen: an unreachable webhook allows (publications pass unchanged)', async () => {
    const open = await startHooksServer(undefined, { hooks: { webhookUrl: 'http://127.0.0.1:9/unreachable', webhookSecret: SECRET, timeoutMs: 200, retries: 0, failOpen: true } });
    const closed = await startHooksServer(undefined, { hooks: { webhookUrl: 'http://127.0.0.1:9/unreachable', webhookSecret: SECRET, timeoutMs: 200, retries: 0 } });
    try {
      const a = connectClient(open.wsUrl, await open.token('erin', { 'chat:*': ['sub', 'pub'] }));
      const room = a.room('chat:open');
      const got: unknown[] = [];
      room.on('message', (m) => got.push(m.data));
      await room.ready();
      await room.publish({ text: 'unchanged' });
      await until(() => got.length === 1, 10_000, 'delivery');
      assert.deepEqual(got, [{ text: 'unchanged' }]);
      a.close();
      const raw = await rawSocket(closed.wsUrl);
      const reply = await raw.request({ t: 'auth', id: 1, token: await closed.token('erin', { 'chat:*': ['sub'] }) });
      assert.equal((reply.error as { code: string }).code, 'HOOK_FAILED');
      assert.equal(await raw.closed, 4007);
    } finally {
      await open.close();
      await closed.close();
    }
  });
});
