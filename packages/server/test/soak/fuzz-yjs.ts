/**
 * Fuzzed `/yjs/:doc` frames (y-websocket protocol): real updates of random edits and real awareness
 * updates (accepted), and mutated or random sync / awareness / auth / unknown messages (rejected:
 * the connection is closed with 4400-range codes, the document stays intact).
 */
import fc from 'fast-check';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { endConnection, opened, recordClose, type PumpConn, type PumpStats, type PumpTarget } from './pump.js';

function message(type: number, sub: number | undefined, payload: Uint8Array): Buffer {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, type);
  if (sub !== undefined) encoding.writeVarUint(e, sub);
  encoding.writeVarUint8Array(e, payload);
  return Buffer.from(encoding.toUint8Array(e));
}

/** An awareness update: `[count, (clientId, clock, json state)*]`. */
function awareness(entries: Array<[number, number, string]>): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, entries.length);
  for (const [client, clock, state] of entries) {
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, clock);
    encoding.writeVarString(e, state);
  }
  return encoding.toUint8Array(e);
}

const edit = fc.record({ kind: fc.constantFrom('text', 'map', 'array'), at: fc.nat(), text: fc.string({ maxLength: 30 }), del: fc.nat({ max: 5 }) });

/** Real updates: random edits of a fresh doc (each update independent, so any order applies). */
function realUpdate(edits: Array<{ kind: string; at: number; text: string; del: number }>, clientId: number): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = clientId;
  for (const e of edits) {
    if (e.kind === 'text') {
      const t = doc.getText('t');
      t.insert(e.at % (t.length + 1), e.text);
      if (e.del > 0 && t.length > 0) t.delete(e.at % t.length, Math.min(e.del, t.length - (e.at % t.length)));
    } else if (e.kind === 'map') doc.getMap('m').set(e.text.slice(0, 8) || 'k', e.at);
    else doc.getArray<string>('a').insert(0, [e.text]);
  }
  const u = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return u;
}

function mutate(b: Uint8Array, at: number, v: number): Uint8Array {
  const c = Uint8Array.from(b);
  if (c.length > 0) c[at % c.length] = v;
  return c;
}

const accepted = fc.oneof(
  fc.tuple(fc.array(edit, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 2 ** 30 })).map(([es, id]) => message(0, 2, realUpdate(es, id))),
  fc.tuple(fc.array(edit, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 2 ** 30 })).map(([es, id]) => message(0, 1, realUpdate(es, id))),
  fc.tuple(fc.integer({ min: 1, max: 2 ** 30 }), fc.nat({ max: 1000 }), fc.jsonValue({ maxDepth: 2 })).map(([c, k, s]) => message(1, undefined, awareness([[c, k, JSON.stringify({ user: s })]]))),
  fc.constant(Buffer.from([3])), // query awareness
  fc.constant(Buffer.from([2, 0])), // auth (ignored from clients)
);

const rejected = fc.oneof(
  fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)),
  fc.tuple(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.nat(), fc.nat({ max: 255 })).map(([es, at, v]) => message(0, 2, mutate(realUpdate(es, 7), at, v))),
  fc.tuple(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.nat()).map(([es, n]) => { const u = realUpdate(es, 9); return message(0, 2, u.subarray(0, n % u.length)); }),
  fc.uint8Array({ maxLength: 40 }).map((b) => message(0, 0, b)), // step 1 with a garbage state vector
  fc.uint8Array({ maxLength: 60 }).map((b) => message(1, undefined, b)), // garbage awareness
  fc.tuple(fc.integer({ min: 1, max: 2 ** 30 }), fc.string({ maxLength: 30 })).map(([c, s]) => message(1, undefined, awareness([[c, 1, s]]))), // non-JSON state
  fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constant('{}')), { minLength: 5, maxLength: 20 }).map((es) => message(1, undefined, awareness(es))), // too many client ids
  fc.nat({ max: 2 ** 20 }).map((t) => message(t + 4, undefined, new Uint8Array(0))), // unknown message type
  fc.constantFrom(
    Buffer.from([0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f]), // update length 2^32-1, no bytes
    Buffer.from([0, 9]), Buffer.from([0]), Buffer.from([]),
    message(0, 2, Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])), // an update claiming 2^32 structs
  ),
);

/** `n` inputs, 3 in 5 accepted-shaped (batched), the rest rejected-shaped (one per connection). */
export function yjsInputs(n: number, seed: number): { structured: Buffer[]; malformed: Buffer[] } {
  const nBad = Math.round((n * 2) / 5);
  return {
    structured: fc.sample(accepted, { numRuns: n - nBad, seed }),
    malformed: fc.sample(rejected, { numRuns: nBad, seed: seed + 1 }),
  };
}

/** A `/yjs/:doc` target. Sentinel: sync step 1 (an empty state vector), answered with step 2 in order. */
export function yjsTarget(yjsUrl: string, docs: string[], token: string, stats: PumpStats, deflate: boolean): PumpTarget {
  let k = 0;
  const step1 = message(0, 0, Y.encodeStateVector(new Y.Doc()));
  return {
    async connect(): Promise<PumpConn> {
      const doc = docs[k++ % docs.length];
      const ws = new WebSocket(`${yjsUrl}/${encodeURIComponent(doc)}?token=${encodeURIComponent(token)}`, { perMessageDeflate: deflate });
      recordClose(ws, stats);
      const waiting: Array<(ok: boolean) => void> = [];
      let first!: () => void;
      const synced = new Promise<void>((r) => { first = r; });
      ws.on('message', (data) => {
        const b = data as Buffer;
        // The server's sync step 1 opens the connection; each step 2 answers one step 1 of ours.
        if (b[0] === 0 && b[1] === 0) first();
        if (b[0] === 0 && b[1] === 1) waiting.shift()?.(true);
      });
      ws.on('close', () => { first(); for (const f of waiting.splice(0)) f(false); });
      ws.on('error', () => { /* reported by close */ });
      await opened(ws);
      await synced;
      return {
        get open() { return ws.readyState === WebSocket.OPEN; },
        send(f) {
          if (ws.readyState !== WebSocket.OPEN) return;
          // A step 1 among the inputs is answered too: wait for its answer as for a sentinel.
          if (f[0] === 0 && f[1] === 0 && typeof f !== 'string') waiting.push(() => {});
          ws.send(f);
        },
        sentinel() {
          if (ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
          return new Promise<boolean>((resolve) => { waiting.push(resolve); ws.send(step1); });
        },
        close() { endConnection(ws); },
      };
    },
  };
}
