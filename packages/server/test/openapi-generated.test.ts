/**
 * `/api/openapi.json` is generated from the schemas that validate the requests (issue 12, Done 4):
 * - no source file writes OpenAPI by hand (only the generator emits `$ref`s, `requestBody`s and
 *   parameter objects);
 * - every query parameter the document lists is one the route's schema reads: a documented integer
 *   refuses a non-integer, a documented required parameter refuses its absence, with 400 and a
 *   message naming it, on a running server;
 * - the route-level helpers give the codes and messages the pipes always gave.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../src/config.js';
import { HttpError } from '../src/http/http-util.js';
import { parseQuery } from '../src/http/route.js';
import { streamRoutes } from '../src/streams/stream-routes.js';
import { startTestServer, type TestServer } from './helpers.js';

const API_KEY = 'openapi-generated-key-0123456789abcdef';

/** Valid values for required query parameters (a new required parameter needs one here). */
const SAMPLES: Record<string, string> = { rooms: 'news:a', from: 'current' };
const PATH_VALUES: Record<string, string> = { room: 'news%3Aa', doc: 'doc%3Aa', id: '1' };

interface Parameter { name: string; in: string; required: boolean; schema: { type?: string } }
type Doc = { paths: Record<string, Record<string, { parameters?: Parameter[] }>> };

describe('OpenAPI is generated from the validating schemas', () => {
  let ts: TestServer;
  let doc: Doc;
  before(async () => {
    ts = await startTestServer({ apiKey: API_KEY, demo: true });
    doc = (await (await fetch(`${ts.url}/api/openapi.json`)).json()) as Doc;
  });
  after(async () => { await ts.close(); });

  test('no source file writes OpenAPI objects by hand', () => {
    const srcDir = new URL('../src/', import.meta.url).pathname;
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) { walk(p); continue; }
        if (!name.endsWith('.ts') || p.endsWith('/http/openapi-gen.ts')) continue;
        const code = readFileSync(p, 'utf8');
        // A $ref, a request body, a parameter object (`in: 'query', required`), a media type with a schema.
        for (const marker of [/#\/components\/schemas\//, /requestBody/, /in: '(query|path|header)', required/, /'application\/json': \{ schema/]) {
          if (marker.test(code)) offenders.push(`${p.slice(srcDir.length)}: ${marker.source}`);
        }
      }
    };
    walk(srcDir);
    assert.deepEqual(offenders, [], 'OpenAPI is written by hand; declare the route with route() (http/route.ts) instead');
  });

  test('every documented query parameter is validated by the route: bad integers and missing required ones answer 400', async () => {
    const headers = { Authorization: `Bearer ${API_KEY}` };
    let checked = 0;
    for (const [template, item] of Object.entries(doc.paths)) {
      const op = item.get;
      if (!template.startsWith('/api/') || !op?.parameters) continue;
      const path = template.replace(/\{(\w+)\}/g, (_, name: string) => PATH_VALUES[name] ?? assert.fail(`no sample for path parameter ${name}`));
      const query = op.parameters.filter((p) => p.in === 'query');
      const required = query.filter((p) => p.required);
      const base = new URLSearchParams();
      for (const p of required) base.set(p.name, SAMPLES[p.name] ?? assert.fail(`no sample for required query parameter ${p.name} of ${template}`));
      for (const p of required) {
        const without = new URLSearchParams(base);
        without.delete(p.name);
        const res = await fetch(`${ts.url}${path}?${without}`, { headers });
        const body = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(res.status, 400, `${template} without ${p.name}`);
        assert.match(body.error.message, new RegExp(p.name), `${template}: the message names ${p.name}`);
        checked++;
      }
      for (const p of query.filter((q) => q.schema.type === 'integer')) {
        const bad = new URLSearchParams(base);
        bad.set(p.name, 'abc');
        const res = await fetch(`${ts.url}${path}?${bad}`, { headers });
        const body = (await res.json()) as { error: { code: string; message: string } };
        assert.deepEqual([res.status, body.error.code], [400, 'BAD_REQUEST'], `${template}?${p.name}=abc`);
        assert.equal(body.error.message, `${p.name} must be a non-negative integer`);
        checked++;
      }
    }
    assert.ok(checked >= 8, `checked ${checked} parameters`);
  });

  test('the rooms parameter: the codes and messages of the stream pipes', () => {
    const config = parseConfig({ sse: { maxRoomsPerStream: 2 } });
    const { poll } = streamRoutes(config);
    const fail = (q: string): [number, string, string] => {
      try {
        parseQuery(poll, new URL(`http://x/api/poll?${q}`));
      } catch (err) {
        assert.ok(err instanceof HttpError);
        return [err.status, String(err.code), err.message];
      }
      return assert.fail(`${q} was accepted`);
    };
    assert.deepEqual(fail(''), [400, 'BAD_REQUEST', 'rooms is required: ?rooms=room1,room2']);
    assert.deepEqual(fail('rooms=,'), [400, 'BAD_REQUEST', 'rooms is required: ?rooms=room1,room2']);
    assert.deepEqual(fail('rooms=bad%20room'), [400, 'INVALID_ROOM', 'invalid room name "bad room"']);
    assert.deepEqual(fail('rooms=a,b&rooms=c'), [400, 'TOO_MANY_ROOMS', 'at most 2 rooms per stream']);
    assert.deepEqual(fail('rooms=a&timeoutMs=-1'), [400, 'BAD_REQUEST', 'timeoutMs must be a non-negative integer']);
    const ok = parseQuery(poll, new URL('http://x/api/poll?rooms=a,%20b&rooms=a&timeoutMs=99999999&limit='));
    assert.deepEqual(ok.rooms, ['a', 'b'], 'repeated and comma-separated, trimmed, deduplicated');
    assert.equal(ok.timeoutMs, config.sse.pollTimeoutMs, 'capped');
    assert.equal(ok.limit, config.limits.maxHistoryLimit, 'empty reads as absent');
  });
});
