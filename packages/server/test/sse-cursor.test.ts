import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeCursor, encodeCursor, type Position } from '@aqueduct/protocol';
import { fastCursor } from '../src/streams/stream-events.js';

/** A seeded generator, so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

const ROOM_CHARS = 'abcXYZ019_.-';
const REST_CHARS = `${ROOM_CHARS}:@/`;
const EPOCH_CHARS = 'abcdefXYZ0123456789-_';
const pick = (r: () => number, chars: string, n: number) => Array.from({ length: n }, () => chars[Math.floor(r() * chars.length)]).join('');

describe('cursor encoding on the hot path', () => {
  test('fastCursor produces exactly the bytes of encodeCursor (seeded random positions)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const entries: Array<[string, Position]> = [];
      const n = 1 + Math.floor(r() * 5);
      for (let i = 0; i < n; i++) {
        const room = `${pick(r, ROOM_CHARS, 1 + Math.floor(r() * 8))}${r() < 0.7 ? `:${pick(r, REST_CHARS, 1 + Math.floor(r() * 20))}` : ''}`;
        if (entries.some(([x]) => x === room)) continue;
        entries.push([room, { epoch: pick(r, EPOCH_CHARS, 1 + Math.floor(r() * 12)), offset: Math.floor(r() * 2 ** 40) }]);
      }
      // Integer-like names would be reordered by an object; streams keep their own order, so compare via the object too.
      const obj: Record<string, Position> = Object.create(null) as Record<string, Position>;
      for (const [room, p] of entries) obj[room] = p;
      const fast = fastCursor(Object.entries(obj));
      assert.equal(fast, encodeCursor(obj), `seed ${seed}`);
      assert.deepEqual({ ...decodeCursor(fast) }, { ...obj });
    }
  });
});
