/**
 * Fuzzed `/ws` room-bus frames, JSON and MessagePack (PROTOCOL.md): well-shaped requests with
 * random field values (the connection stays open: error replies), and malformed frames (random
 * text and bytes, mutated valid frames, hostile MessagePack headers, deep nesting, oversize).
 */
import fc from 'fast-check';
import { pack, unpack } from 'msgpackr';
import WebSocket from 'ws';
import { endConnection, opened, recordClose, type PumpConn, type PumpStats, type PumpTarget } from './pump.js';

/** Sentinel request ids: far above the fuzzed ones (< 2^31), below 2^53. */
let sentinelId = 2 ** 40;

const ROOMS = ['fuzz:a', 'fuzz:b', 'fuzz:mesh', 'other:x', '', ':', 'fuzz:' + 'x'.repeat(300), 'fuzz:\u0000', 'fuzz:é'];
const TYPES = ['auth', 'refresh', 'join', 'leave', 'pub', 'presence', 'history', 'signal', 'pong', 'ping', 'reply', 'msg', '__proto__', 'constructor'];

const anyJson = fc.jsonValue({ maxDepth: 3 });
const id = fc.oneof(fc.nat({ max: 2 ** 31 - 1 }), fc.integer(), fc.double(), fc.string({ maxLength: 4 }), fc.constant(null), fc.constant(-1));
const room = fc.oneof(fc.constantFrom(...ROOMS), fc.string({ maxLength: 80 }));
const position = fc.oneof(anyJson, fc.record({ epoch: fc.oneof(fc.string({ maxLength: 80 }), anyJson), offset: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 53), anyJson) }, { requiredKeys: [] }));

/** A request-shaped object: a known (or random) type with random, partly wrong-typed fields. */
export const requestArb = fc.record({
  t: fc.oneof(fc.constantFrom(...TYPES), fc.string({ maxLength: 12 })),
  id,
  room,
  data: anyJson,
  token: fc.oneof(fc.string({ maxLength: 40 }), fc.constant('a.b.c'), fc.constant('x'.repeat(9000))),
  since: position,
  history: fc.oneof(fc.integer(), fc.constant(1e9), anyJson),
  limit: fc.oneof(fc.integer(), anyJson),
  cid: fc.oneof(fc.string({ maxLength: 200 }), anyJson),
  event: fc.oneof(fc.string({ maxLength: 80 }), anyJson),
  volatile: anyJson,
  to: fc.string({ maxLength: 20 }),
  payload: anyJson,
  mesh: anyJson,
}, { requiredKeys: ['t'] });

/** Malformed text: random strings, broken/mutated JSON, deep nesting, prototype keys. */
const malformedText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.tuple(requestArb, fc.nat(), fc.nat({ max: 255 })).map(([r, at, b]) => {
    const s = Buffer.from(JSON.stringify(r));
    if (s.length > 0) s[at % s.length] = b; // one byte flipped
    return s.toString('latin1');
  }),
  fc.tuple(requestArb, fc.nat()).map(([r, n]) => { const s = JSON.stringify(r); return s.slice(0, n % (s.length + 1)); }),
  fc.nat({ max: 100_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.constantFrom('{"t":"pub","id":1,"room":"fuzz:a","data":{"__proto__":{"polluted":1}}}', '{"__proto__":{"t":"pub"}}', 'null', '1e999', '"x"', '[]', '{}', '{"t":null,"id":1}'),
);

/** Malformed MessagePack: random bytes, truncated/mutated frames, headers claiming huge sizes, ext types. */
const malformedPack = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.tuple(requestArb, fc.nat(), fc.nat({ max: 255 })).map(([r, at, b]) => {
    const s = Buffer.from(pack(r));
    if (s.length > 0) s[at % s.length] = b;
    return s;
  }),
  fc.tuple(requestArb, fc.nat()).map(([r, n]) => { const s = Buffer.from(pack(r)); return s.subarray(0, n % (s.length + 1)); }),
  fc.constantFrom(
    Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), // array32 of 2^32-1 elements
    Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]), // map32
    Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x41]), // str32
    Buffer.from([0xc6, 0x7f, 0xff, 0xff, 0xff]), // bin32
    Buffer.from([0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01]), // ext32
    Buffer.from([0xd4, 0xff, 0x00]), // fixext1, timestamp type
    Buffer.from([0xd6, 0x72, 0, 0, 0, 0]), // msgpackr record extension
    Buffer.from([0xc1]), // never-used byte
  ),
  fc.nat({ max: 50_000 }).map((n) => Buffer.alloc(n, 0x91)), // deeply nested fixarrays
);

export interface WsFuzzInputs {
  structured: Array<string | Buffer>;
  malformed: Array<string | Buffer>;
}

/** `n` inputs for one codec, 4 in 5 well-shaped; deterministic for a seed. */
export function wsInputs(codec: 'json' | 'msgpack', n: number, seed: number): WsFuzzInputs {
  const nMal = Math.round(n / 5);
  const requests = fc.sample(requestArb, { numRuns: n - nMal, seed });
  const structured = requests.map((r) => (codec === 'json' ? JSON.stringify(r) : Buffer.from(pack(r))));
  const malformed: Array<string | Buffer> = codec === 'json'
    ? fc.sample(fc.oneof(malformedText, fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b))), { numRuns: nMal, seed: seed + 1 })
    : fc.sample(fc.oneof(malformedPack, fc.string({ maxLength: 50 })), { numRuns: nMal, seed: seed + 1 });
  // A few oversize frames (1009 with the default 64 KiB limit).
  for (let i = 0; i < Math.min(5, nMal); i++) malformed[i * Math.floor(nMal / 5)] = codec === 'json' ? JSON.stringify({ t: 'pub', id: 1, room: 'fuzz:a', data: 'x'.repeat(70_000) }) : Buffer.from(pack({ t: 'pub', id: 1, room: 'fuzz:a', data: 'x'.repeat(70_000) }));
  return { structured, malformed };
}

/** A `/ws` target: connects with `?token=`, sentinel = an unknown-type request answered in order. */
export function wsTarget(wsUrl: string, token: string, codec: 'json' | 'msgpack', stats: PumpStats, deflate: boolean): PumpTarget {
  const subprotocol = codec === 'json' ? 'aqueduct.json.v1' : 'aqueduct.msgpack.v1';
  const encode = (m: unknown) => (codec === 'json' ? JSON.stringify(m) : Buffer.from(pack(m)));
  return {
    async connect(): Promise<PumpConn> {
      const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`, subprotocol, { perMessageDeflate: deflate });
      recordClose(ws, stats);
      let authed!: () => void;
      const ready = new Promise<void>((r) => { authed = r; });
      const waiting = new Map<number, (ok: boolean) => void>();
      ws.on('message', (data, isBinary) => {
        let m: { t?: string; id?: number };
        try {
          m = (isBinary ? unpack(data as Buffer) : JSON.parse(String(data))) as typeof m;
        } catch { return; }
        if (m.t === 'ping') { ws.send(encode({ t: 'pong' })); return; }
        if (m.t !== 'reply' || typeof m.id !== 'number') return;
        if (m.id === 0) authed();
        waiting.get(m.id)?.(true);
        waiting.delete(m.id);
      });
      ws.on('close', () => { authed(); for (const f of waiting.values()) f(false); waiting.clear(); });
      ws.on('error', () => { /* reported by close */ });
      await opened(ws);
      await ready;
      return {
        get open() { return ws.readyState === WebSocket.OPEN; },
        send(f) { if (ws.readyState === WebSocket.OPEN) ws.send(f); },
        sentinel() {
          if (ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
          const sid = sentinelId++;
          return new Promise<boolean>((resolve) => {
            waiting.set(sid, resolve);
            ws.send(encode({ t: '__sentinel', id: sid }));
          });
        },
        close() { endConnection(ws); },
      };
    },
  };
}
