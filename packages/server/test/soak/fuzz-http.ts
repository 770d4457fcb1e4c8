/**
 * Fuzzed HTTP input: query strings of SSE (`/api/events`) and long polling (`/api/poll`), and
 * bodies of every POST endpoint listed in `/api/openapi.json`. Every answer must be a 2xx/4xx (or
 * 503 UNAVAILABLE); a 5xx other than 503 is counted as a server error.
 */
import fc from 'fast-check';

export interface HttpStats {
  tried: number;
  /** Answers by status class, e.g. "4xx": 1234. */
  statuses: Map<string, number>;
  /** 5xx other than 503, with what caused them (first few). */
  serverErrors: number;
  examples: string[];
}

export function newHttpStats(): HttpStats {
  return { tried: 0, statuses: new Map(), serverErrors: 0, examples: [] };
}

const KEYS = ['rooms', 'token', 'lastEventId', 'cursor', 'timeoutMs', 'limit', 'named', 'since', 'codec', 'room'];
const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('fuzz:a', 'fuzz:a,fuzz:b', 'fuzz:*', ',,,', '-1', '1e308', '99999999999999999', 'x'.repeat(5000), '%00', 'fuzz:a~abc~12', 'abc:12', '0'),
  fc.nat().map(String),
);
const query = fc.oneof(
  fc.array(fc.tuple(fc.constantFrom(...KEYS), value), { maxLength: 6 }).map((kv) => kv.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')),
  fc.string({ maxLength: 80 }).map((s) => s.replace(/[#\s]/g, '')),
);

const bodyObject = fc.record({
  room: fc.oneof(fc.constantFrom('fuzz:a', 'other:x', ''), fc.string({ maxLength: 30 }), fc.jsonValue({ maxDepth: 1 })),
  data: fc.jsonValue({ maxDepth: 3 }),
  event: fc.oneof(fc.string({ maxLength: 70 }), fc.jsonValue({ maxDepth: 1 })),
  volatile: fc.jsonValue({ maxDepth: 1 }),
  idempotencyKey: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 1 })),
  user: fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 1 })),
  name: fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 1 })),
  label: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 1 })),
  version: fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 1 })),
  path: fc.oneof(fc.constantFrom('relay', 'direct'), fc.jsonValue({ maxDepth: 1 })),
}, { requiredKeys: [] });

interface Body { text: string | Buffer; type?: string }
const body: fc.Arbitrary<Body> = fc.oneof(
  bodyObject.map((o) => ({ text: JSON.stringify(o), type: 'application/json' })),
  fc.jsonValue({ maxDepth: 3 }).map((v) => ({ text: JSON.stringify(v) ?? 'null', type: 'application/json' })),
  fc.string({ maxLength: 100 }).map((s) => ({ text: s, type: 'application/json' })),
  fc.uint8Array({ maxLength: 100 }).map((b) => ({ text: Buffer.from(b), type: 'application/octet-stream' })),
  fc.string({ maxLength: 50 }).map((s) => ({ text: s })),
  fc.nat({ max: 50_000 }).map((n) => ({ text: '['.repeat(n) + ']'.repeat(n), type: 'application/json' })),
  fc.constant({ text: JSON.stringify({ room: 'fuzz:a', data: 'x'.repeat(200_000) }), type: 'application/json' }),
  fc.constant({ text: '{"__proto__":{"polluted":true},"room":"fuzz:a","data":1}', type: 'application/json' }),
);

const PATH_VALUES = ['fuzz%3Aa', 'doc%3Afuzz-0', 'other%3Ax', '%ZZ', '..%2F..', 'x'.repeat(300), ''];

function record(stats: HttpStats, status: number, what: string): void {
  stats.tried++;
  const cls = `${Math.floor(status / 100)}xx`;
  stats.statuses.set(cls, (stats.statuses.get(cls) ?? 0) + 1);
  if (status >= 500 && status !== 503) {
    stats.serverErrors++;
    if (stats.examples.length < 10) stats.examples.push(`${status} ${what}`);
  }
}

async function limited<T>(items: T[], parallel: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => { while (next < items.length) await fn(items[next++]); }));
}

/** `n` SSE and long-poll requests with fuzzed query strings (half each). */
export async function fuzzStreams(baseUrl: string, token: string, n: number, seed: number, stats: HttpStats): Promise<void> {
  const queries = fc.sample(fc.tuple(query, fc.boolean(), fc.boolean()), { numRuns: n, seed });
  await limited(queries, 16, async ([q, sse, withToken]) => {
    const path = sse ? '/api/events' : '/api/poll';
    const qs = withToken && !q.includes('token=') ? `${q}&token=${token}` : q;
    const ctl = new AbortController();
    // Streams stay open (SSE) or wait (poll): the status line is what is checked.
    const timer = setTimeout(() => ctl.abort(), 300);
    try {
      const res = await fetch(`${baseUrl}${path}?${qs}`, { signal: ctl.signal });
      record(stats, res.status, `GET ${path}?${qs.slice(0, 120)}`);
      ctl.abort();
    } catch (err) {
      // Aborted while waiting for a poll's answer: the server accepted it (200 once it answers).
      if ((err as Error).name === 'AbortError') record(stats, 200, '');
      else throw err;
    } finally {
      clearTimeout(timer);
    }
  });
}

/** `n` POSTs with fuzzed bodies, spread over every POST route of `/api/openapi.json`. */
export async function fuzzPosts(baseUrl: string, auths: string[], n: number, seed: number, stats: HttpStats): Promise<string[]> {
  const spec = (await (await fetch(`${baseUrl}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const routes = Object.entries(spec.paths).filter(([, ops]) => 'post' in ops).map(([p]) => p);
  if (routes.length === 0) throw new Error('openapi.json lists no POST routes');
  const cases = fc.sample(fc.tuple(fc.nat(), body, fc.nat(), fc.nat()), { numRuns: n, seed });
  await limited(cases, 16, async ([r, b, a, v]) => {
    const route = routes[r % routes.length];
    const path = route.replace(/\{[^}]+\}/g, () => PATH_VALUES[v % PATH_VALUES.length]);
    const headers: Record<string, string> = {};
    if (b.type) headers['content-type'] = b.type;
    const auth = auths[a % auths.length];
    if (auth) headers.authorization = auth;
    const res = await fetch(baseUrl + path, { method: 'POST', headers, body: typeof b.text === 'string' ? b.text : new Uint8Array(b.text) });
    await res.arrayBuffer();
    record(stats, res.status, `POST ${path} ${String(b.text).slice(0, 120)}`);
  });
  return routes;
}
