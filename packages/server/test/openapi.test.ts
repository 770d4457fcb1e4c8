/**
 * `/api/openapi.json` against the running server, both ways:
 * - every documented operation is called for real (a table of requests below, at least one per
 *   operation): the status must be the one expected and listed in the document, the content type one
 *   it documents, and JSON bodies must match the documented schema;
 * - on every documented path, the methods it does not document are not served (405, or 404 "no route");
 * - every route literal in the server's source (`'/api/...'`, `'/healthz'`, prefixes such as
 *   `'/yjs/'`) is a documented path, a prefix of one, or a listed alias answering like its target.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from './helpers.js';
import { checkSchema } from './schema-check.js';

const API_KEY = 'openapi-test-key-0123456789abcdef';
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
type Method = (typeof METHODS)[number];

/** Paths the server answers like a documented one (checked by a real request to both). */
const ALIASES: Record<string, string> = { '/index.html': '/', '/admin/': '/admin', '/live/': '/live' };

type Operation = { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> };
type Doc = Record<string, unknown> & { paths: Record<string, Record<string, unknown>> };

interface Answer { status: number; type: string; body: unknown; text: string; headers: Headers }

describe('OpenAPI document ⇄ the routes the server answers', () => {
  let ts: TestServer;
  let doc: Doc;
  let user: Record<string, string>;
  const asKey = { Authorization: `Bearer ${API_KEY}` };
  /** `METHOD template` → operation; filled from the document. */
  const operations = new Map<string, Operation>();
  /** Operations called by the table, and one concrete URL per documented path. */
  const called = new Set<string>();
  const sampleUrl = new Map<string, string>();

  before(async () => {
    ts = await startTestServer({
      apiKey: API_KEY,
      demo: true,
      turn: { secret: 'turn-secret', urls: ['turn:turn.example:3478'], stunUrls: ['stun:stun.example:3478'] },
    });
    const res = await fetch(`${ts.url}/api/openapi.json`);
    doc = (await res.json()) as Doc;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const m of METHODS) {
        const op = item[m.toLowerCase()] as Operation | undefined;
        if (op) operations.set(`${m} ${path}`, op);
      }
    }
    user = { Authorization: `Bearer ${await ts.token('alice', { 'doc:*': ['sub', 'pub'], 'news:*': ['sub', 'pub', 'presence', 'signal'] })}` };
  });
  after(async () => { await ts.close(); });

  async function send(method: Method, path: string, init: { headers?: Record<string, string>; json?: unknown; body?: string } = {}): Promise<Answer> {
    const headers = new Headers(init.headers);
    let body = init.body;
    if (init.json !== undefined) {
      headers.set('Content-Type', 'application/json');
      body = JSON.stringify(init.json);
    }
    const ac = new AbortController();
    const res = await fetch(`${ts.url}${path}`, { method, headers, body, signal: ac.signal });
    const type = (res.headers.get('content-type') ?? '').split(';')[0].trim();
    if (type === 'text/event-stream') {
      ac.abort(); // a stream: the headers are the answer
      return { status: res.status, type, body: undefined, text: '', headers: res.headers };
    }
    const text = await res.text();
    let parsed: unknown;
    if (type === 'application/json' && text !== '') parsed = JSON.parse(text);
    return { status: res.status, type, body: parsed, text, headers: res.headers };
  }

  /** A WebSocket upgrade: 101, or the status of the refusal. */
  function upgrade(path: string, protocol?: string): Promise<number> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`${ts.url.replace('http', 'ws')}${path}`, protocol);
      ws.on('upgrade', (res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => ws.terminate());
      ws.on('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      ws.on('error', () => resolve(0));
    });
  }

  /** Checks one answer against the documented operation `METHOD template`. */
  function conforms(op: string, url: string, expect: number, a: { status: number; type?: string; body?: unknown; text?: string }): void {
    const operation = operations.get(op);
    assert.ok(operation, `${op} is documented`);
    called.add(op);
    const template = op.slice(op.indexOf(' ') + 1);
    if (!sampleUrl.has(template)) sampleUrl.set(template, url.split('?')[0]);
    assert.equal(a.status, expect, `${op} (${url}): status ${a.status}, expected ${expect}: ${a.text?.slice(0, 200)}`);
    const response = operation.responses[String(a.status)];
    assert.ok(response, `${op}: status ${a.status} is documented (documented: ${Object.keys(operation.responses).join(', ')})`);
    if (!response.content || a.type === undefined || op.startsWith('HEAD ')) return;
    const media = response.content[a.type];
    assert.ok(media, `${op} ${a.status}: content type ${a.type} is documented (${Object.keys(response.content).join(', ')})`);
    if (a.type === 'application/json') {
      const problems = checkSchema(doc, media.schema, a.body);
      assert.deepEqual(problems, [], `${op} ${a.status}: body matches the documented schema: ${JSON.stringify(a.body)?.slice(0, 300)}`);
    }
  }

  async function call(op: string, url: string, expect: number, init: { headers?: Record<string, string>; json?: unknown; body?: string } = {}): Promise<Answer> {
    const method = op.slice(0, op.indexOf(' ')) as Method;
    const a = await send(method, url, init);
    conforms(op, url, expect, a);
    return a;
  }

  test('the document is valid: unique operationIds, every $ref resolves', () => {
    const ids = [...operations.values()].map((o) => (o as unknown as { operationId: string }).operationId);
    assert.equal(new Set(ids).size, ids.length, `duplicate operationId: ${ids.filter((x, i) => ids.indexOf(x) !== i).join(', ')}`);
    const refs = JSON.stringify(doc).match(/"#\/components\/schemas\/[^"]+"/g) ?? [];
    const schemas = (doc.components as { schemas: Record<string, unknown> }).schemas;
    for (const r of new Set(refs)) assert.ok(r.slice('"#/components/schemas/'.length, -1) in schemas, `${r} resolves`);
  });

  test('every documented operation answers with a documented status, content type and body', async () => {
    // Streams and the room API.
    await call('GET /api/events', '/api/events?rooms=news:a', 200, { headers: user });
    await call('GET /api/events', '/api/events', 400, { headers: user });
    await call('GET /api/events', '/api/events?rooms=news:a', 401);
    await call('GET /api/events', '/api/events?rooms=chat:a', 403, { headers: user });
    await call('GET /api/poll', '/api/poll?rooms=news:a,news:b', 200, { headers: user });
    await call('GET /api/poll', '/api/poll?rooms=news:a&cursor=forged', 400, { headers: user });
    await call('POST /api/publish', '/api/publish', 200, { headers: asKey, json: { room: 'news:a', data: { n: 1 }, event: 'e' } });
    await call('POST /api/publish', '/api/publish', 200, { headers: user, json: { room: 'news:a', data: 2, volatile: true } });
    await call('POST /api/publish', '/api/publish', 415, { headers: asKey, body: '{}' });
    await call('POST /api/publish', '/api/publish', 400, { headers: asKey, json: { room: 'bad room', data: 1 } });
    const poll = await call('GET /api/poll', '/api/poll?rooms=news:a&cursor=' + encodeURIComponent(await startCursor()) + '&timeoutMs=0', 200, { headers: user });
    assert.ok(Array.isArray((poll.body as { events: unknown[] }).events));
    await call('GET /api/rooms/{room}/history', '/api/rooms/news%3Aa/history?limit=10', 200, { headers: user });
    await call('GET /api/rooms/{room}/history', '/api/rooms/news%3Aa/history?since=garbage', 400, { headers: user });
    await call('GET /api/rooms/{room}/presence', '/api/rooms/news%3Aa/presence', 200, { headers: user });
    await call('POST /api/rooms/{room}/disconnect', '/api/rooms/news%3Aa/disconnect', 200, { headers: asKey, json: { user: 'bob' } });
    await call('POST /api/rooms/{room}/disconnect', '/api/rooms/news%3Aa/disconnect', 403, { headers: user, json: { user: 'bob' } });
    await call('POST /api/rooms/{room}/disconnect', '/api/rooms/news%3Aa/disconnect', 401, { json: { user: 'bob' } });
    await call('GET /api/openapi.json', '/api/openapi.json', 200);
    await call('HEAD /api/openapi.json', '/api/openapi.json', 200);

    // Documents.
    const d = '/api/docs/doc%3Aa';
    await call('GET /api/docs/{doc}', d, 200, { headers: user });
    await call('GET /api/docs/{doc}', '/api/docs/doc%3Aa', 401);
    await call('GET /api/docs/{doc}', '/api/docs/chat%3Aa', 403, { headers: user });
    const created = await call('POST /api/docs/{doc}/versions', `${d}/versions`, 201, { headers: user, json: { label: 'first' } });
    const id = (created.body as { version: { id: string } }).version.id;
    await call('POST /api/docs/{doc}/versions', `${d}/versions`, 201, { headers: user });
    await call('POST /api/docs/{doc}/versions', `${d}/versions`, 400, { headers: user, json: { label: 7 } });
    await call('GET /api/docs/{doc}/versions', `${d}/versions?limit=10`, 200, { headers: user });
    await call('GET /api/docs/{doc}/versions/{id}', `${d}/versions/${id}`, 200, { headers: user });
    await call('GET /api/docs/{doc}/versions/{id}', `${d}/versions/999999`, 404, { headers: user });
    await call('GET /api/docs/{doc}/versions/{id}', `${d}/versions/%E0%A4`, 400, { headers: user });
    await call('GET /api/docs/{doc}/diff', `${d}/diff?from=${id}`, 200, { headers: user });
    await call('GET /api/docs/{doc}/diff', `${d}/diff`, 400, { headers: user });
    await call('POST /api/docs/{doc}/restore', `${d}/restore`, 200, { headers: user, json: { version: id } });
    await call('POST /api/docs/{doc}/restore', `${d}/restore`, 404, { headers: user, json: { version: '999999' } });
    await call('GET /api/docs/{doc}/audit', `${d}/audit?limit=5`, 200, { headers: user });
    await call('GET /api/docs/{doc}/audit', `${d}/audit?limit=0`, 200, { headers: user });
    await call('GET /api/docs/{doc}/audit', `${d}/audit?sinceTime=yesterday`, 400, { headers: user });

    // WebRTC.
    const ice = await call('GET /api/ice-servers', '/api/ice-servers?room=news:a', 200, { headers: user });
    assert.equal((ice.body as { turn: boolean }).turn, true);
    await call('GET /api/ice-servers', '/api/ice-servers', 403, { headers: { Authorization: `Bearer ${await ts.token('nosignal', { 'news:*': ['sub'] })}` } });
    await call('POST /api/webrtc/stats', '/api/webrtc/stats', 200, { headers: user, json: { path: 'relay' } });
    await call('POST /api/webrtc/stats', '/api/webrtc/stats', 400, { headers: user, json: { path: 'carrier-pigeon' } });

    // Operations.
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      await call(`GET ${path}`, path, 200);
      await call(`HEAD ${path}`, path, 200);
    }

    // Demo and admin.
    const page = await call('GET /', '/', 200);
    await call('GET /', '/', 304, { headers: { 'If-None-Match': page.headers.get('etag') ?? '' } });
    await call('HEAD /', '/', 200);
    await call('GET /admin', '/admin', 200);
    await call('HEAD /admin', '/admin', 200);
    await call('GET /live', '/live?role=viewer', 200);
    await call('HEAD /live', '/live', 200);
    await call('GET /whiteboard', '/whiteboard', 200);
    await call('HEAD /whiteboard', '/whiteboard', 200);
    await call('GET /sw.js', '/sw.js', 200);
    await call('HEAD /sw.js', '/sw.js', 200);
    await call('GET /build/{file}', '/build/demo.js', 200);
    await call('HEAD /build/{file}', '/build/demo.js', 200);
    await call('GET /{asset}', '/style.css', 200);
    await call('HEAD /{asset}', '/style.css', 200);
    await call('POST /api/demo/token', '/api/demo/token', 200, { json: {} });
    await call('POST /api/demo/token', '/api/demo/token', 400, { json: { color: 'blue' } });
    await call('GET /api/admin/stats', '/api/admin/stats', 200, { headers: asKey });
    await call('GET /api/admin/stats', '/api/admin/stats', 401, { headers: user });
    await call('GET /api/admin/sfu', '/api/admin/sfu', 200, { headers: asKey });
    await call('GET /api/admin/sfu', '/api/admin/sfu', 401, { headers: user });

    // CORS preflights: every /api/* path behind the CORS layer.
    for (const op of operations.keys()) {
      if (!op.startsWith('OPTIONS ')) continue;
      const url = op.slice(8).replace('{room}', 'news%3Aa').replace('{doc}', 'doc%3Aa').replace('{id}', id);
      await call(op, url, 204, { headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'GET' } });
    }

    // WebSocket upgrades (and a plain GET on them).
    conforms('GET /ws', '/ws', 101, { status: await upgrade('/ws', 'aqueduct.json.v1') });
    conforms('GET /yjs/{doc}', '/yjs/doc:a', 101, { status: await upgrade(`/yjs/doc:a?token=${user.Authorization.slice(7)}`) });
    conforms('GET /yjs/{doc}', '/yjs/bad%20doc', 400, { status: await upgrade('/yjs/bad%20doc') });
    await call('GET /ws', '/ws', 404);

    const missing = [...operations.keys()].filter((op) => !called.has(op));
    assert.deepEqual(missing, [], 'every documented operation is called by this test');
  });

  /** The cursor of news:a as GET /api/poll answers it without one. */
  async function startCursor(): Promise<string> {
    const a = await send('GET', '/api/poll?rooms=news:a', { headers: user });
    return (a.body as { cursor: string }).cursor;
  }

  test('methods a documented path does not document are not served (405, or 404 no route)', async () => {
    assert.ok(sampleUrl.size > 0, 'runs after the operations test');
    for (const [template, url] of sampleUrl) {
      const item = doc.paths[template];
      for (const m of METHODS) {
        if (item[m.toLowerCase()]) continue;
        const a = await send(m, url, { headers: { ...asKey, 'Content-Type': 'application/json' }, body: m === 'GET' || m === 'HEAD' ? undefined : '{}' });
        const noRoute = a.status === 404 && (m === 'HEAD' || String((a.body as { error?: { message?: string } } | undefined)?.error?.message).startsWith('no route'));
        assert.ok(a.status === 405 || noRoute, `${m} ${url} is not documented, but answered ${a.status} ${a.text.slice(0, 200)}`);
      }
    }
  });

  test('every route literal in the server source is documented', async () => {
    const srcDir = new URL('../src/', import.meta.url).pathname;
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith('.ts') && !name.startsWith('openapi')) files.push(p);
      }
    };
    walk(srcDir);
    const literals = new Map<string, string>();
    for (const file of files) {
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      for (const m of code.matchAll(/'(\/[a-z][A-Za-z0-9_.\-/]*)'/g)) literals.set(m[1], file.slice(srcDir.length));
    }
    assert.ok(literals.has('/api/publish') && literals.has('/healthz') && literals.has('/yjs/'), `the scan finds the routes (${[...literals.keys()].join(' ')})`);
    const documented = Object.keys(doc.paths);
    for (const [literal, file] of literals) {
      const covered = documented.includes(literal) || (literal.endsWith('/') && documented.some((p) => p.startsWith(literal))) || literal in ALIASES;
      assert.ok(covered, `route literal '${literal}' (${file}) is not in /api/openapi.json`);
    }
    for (const [alias, target] of Object.entries(ALIASES)) {
      assert.ok(documented.includes(target), `${target} is documented`);
      const [a, b] = [await send('GET', alias), await send('GET', target)];
      assert.deepEqual([a.status, a.type], [b.status, b.type], `${alias} answers like ${target}`);
    }
  });
});
