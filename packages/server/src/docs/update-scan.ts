import { isUtf8 } from 'node:buffer';

/**
 * A bounds-checked walk over a Yjs v1 update that mirrors, read for read, what `Y.applyUpdate`
 * and `Y.decodeUpdate` (yjs 13, lib0 decoders; the two differ slightly, and only inputs both read
 * alike are accepted) read from it, without building anything. It answers one question: is this
 * update *provably* safe to hand to Yjs on the server thread?
 *
 * `true` means every read Yjs will make stays inside the buffer (so each of its loops, all of
 * which consume at least one byte per turn, ends), every string is valid UTF-8 (lib0 decodes
 * with `fatal: true`), every JSON string parses, every content and type reference is one Yjs
 * knows, and every struct clock + length and deletion clock + length is at most `maxClock`.
 * `false` means "not shown": the update may still be fine (a subdocument, deep nesting, a very
 * long varint) and is then checked the slow way, in the validation worker. The scan never
 * rejects on its own, so a divergence from Yjs can only send an update the slow way.
 *
 * Work is linear in the update's size: each loop turn consumes at least one byte, and nesting of
 * `any` values is capped at MAX_ANY_DEPTH.
 *
 * With `starts`, the first clock of each client's structs is appended to it as `client, clock`
 * pairs (in the update's order; meaningful only when the scan returns true).
 */
export function scanUpdateV1(update: Uint8Array, maxClock: number, starts?: number[]): boolean {
  const s: Cursor = { arr: update, pos: 0, maxClock, starts };
  try {
    readStructs(s);
    readDeleteSet(s);
    return true;
  } catch (err) {
    if (err === STOP) return false;
    // JSON.parse and TextDecoder throw their own errors: equally "not shown".
    return false;
  }
}

interface Cursor {
  readonly arr: Uint8Array;
  pos: number;
  readonly maxClock: number;
  readonly starts?: number[];
}

/** Thrown (never escapes) when something cannot be shown safe. Preallocated: no stack capture. */
const STOP = Object.freeze({ stop: true });

/** `any` values nested deeper than this are left to the worker (lib0's readAny recurses). */
const MAX_ANY_DEPTH = 32;

/**
 * Varints longer than this many bytes (values of 2^49 and more) are left to the worker: lib0
 * throws on some of them, and no valid clock, length or count gets near.
 */
const MAX_VARINT_BYTES = 7;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function varUint(s: Cursor): number {
  const { arr } = s;
  let num = 0;
  let mult = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (s.pos >= arr.length) throw STOP;
    const r = arr[s.pos++];
    num += (r & 0x7f) * mult;
    if (r < 0x80) return num;
    mult *= 128;
  }
  throw STOP;
}

/** lib0 readVarInt: sign and 6 bits in the first byte, then 7 bits per byte. */
function varInt(s: Cursor): void {
  if (s.pos >= s.arr.length) throw STOP;
  const first = s.arr[s.pos++];
  if (first < 0x80) return;
  for (let i = 1; i < MAX_VARINT_BYTES; i++) {
    if (s.pos >= s.arr.length) throw STOP;
    if (s.arr[s.pos++] < 0x80) return;
  }
  throw STOP;
}

/** Skips `n` bytes that must exist. */
function bytes(s: Cursor, n: number): void {
  if (n > s.arr.length - s.pos) throw STOP;
  s.pos += n;
}

/** A varint-prefixed byte array (lib0 readVarUint8Array). */
function varBytes(s: Cursor): void {
  bytes(s, varUint(s));
}

/** A lib0 var string: must be valid UTF-8. Returns its byte length (>= its UTF-16 length). */
function varString(s: Cursor): number {
  const n = varUint(s);
  if (n > s.arr.length - s.pos) throw STOP;
  if (n > 0 && !isUtf8(s.arr.subarray(s.pos, s.pos + n))) throw STOP;
  s.pos += n;
  return n;
}

/** A var string that Yjs passes to JSON.parse. */
function jsonString(s: Cursor, allowUndefined: boolean): void {
  const n = varUint(s);
  if (n > s.arr.length - s.pos) throw STOP;
  const text = utf8.decode(s.arr.subarray(s.pos, s.pos + n));
  s.pos += n;
  if (allowUndefined && text === 'undefined') return;
  JSON.parse(text);
}

/** lib0 readAny. */
function any(s: Cursor, depth: number): void {
  if (depth > MAX_ANY_DEPTH || s.pos >= s.arr.length) throw STOP;
  switch (s.arr[s.pos++]) {
    case 127: case 126: case 121: case 120: return; // undefined, null, false, true
    case 125: return varInt(s);
    case 124: return bytes(s, 4); // float32
    case 123: case 122: return bytes(s, 8); // float64, bigint64
    case 119: varString(s); return;
    case 118: { // object
      const n = varUint(s);
      for (let i = 0; i < n; i++) { varString(s); any(s, depth + 1); }
      return;
    }
    case 117: { // array
      const n = varUint(s);
      for (let i = 0; i < n; i++) any(s, depth + 1);
      return;
    }
    case 116: return varBytes(s);
    default: throw STOP;
  }
}

/** Item content by reference (yjs contentRefs); returns the struct's length (or an upper bound). */
function content(s: Cursor, ref: number): number {
  switch (ref) {
    case 1: return varUint(s); // ContentDeleted
    case 2: { // ContentJSON
      const n = varUint(s);
      for (let i = 0; i < n; i++) jsonString(s, true);
      return n;
    }
    case 3: varBytes(s); return 1; // ContentBinary
    case 4: return varString(s); // ContentString: UTF-16 length <= UTF-8 byte length
    case 5: jsonString(s, false); return 1; // ContentEmbed
    case 6: varString(s); jsonString(s, false); return 1; // ContentFormat
    case 7: { // ContentType: YArray, YMap, YText, YXmlElement(key), YXmlFragment, YXmlHook(key), YXmlText
      const typeRef = varUint(s);
      if (typeRef > 6) throw STOP;
      if (typeRef === 3 || typeRef === 5) varString(s);
      return 1;
    }
    case 8: { // ContentAny
      const n = varUint(s);
      for (let i = 0; i < n; i++) any(s, 0);
      return n;
    }
    // 9: ContentDoc (a subdocument with options from the wire) and anything unknown: the worker decides.
    default: throw STOP;
  }
}

function checkClock(s: Cursor, end: number): void {
  if (end > s.maxClock) throw STOP;
}

/** yjs readClientsStructRefs with UpdateDecoderV1. */
function readStructs(s: Cursor): void {
  const clients = varUint(s);
  for (let c = 0; c < clients; c++) {
    const structs = varUint(s);
    const client = varUint(s);
    let clock = varUint(s);
    checkClock(s, clock);
    if (structs > 0) s.starts?.push(client, clock);
    for (let i = 0; i < structs; i++) {
      if (s.pos >= s.arr.length) throw STOP;
      const info = s.arr[s.pos++];
      const ref = info & 0x1f;
      if (ref === 0 || info === 10) { // GC, Skip
        clock += varUint(s);
      } else if (ref === 10) {
        // applyUpdate reads this as a Skip, decodeUpdate as an item with unknown content: only
        // what both read alike is shown safe.
        throw STOP;
      } else {
        if (info & 0x80) { varUint(s); varUint(s); } // origin
        if (info & 0x40) { varUint(s); varUint(s); } // right origin
        if ((info & 0xc0) === 0) {
          if (varUint(s) === 1) varString(s); // parent: a root type's name...
          else { varUint(s); varUint(s); } // ...or the id of the parent item
          if (info & 0x20) varString(s); // parentSub
        }
        clock += content(s, ref);
      }
      checkClock(s, clock);
    }
  }
}

/** yjs readAndApplyDeleteSet with DSDecoderV1. */
function readDeleteSet(s: Cursor): void {
  const clients = varUint(s);
  for (let c = 0; c < clients; c++) {
    varUint(s); // client
    const deletes = varUint(s);
    for (let i = 0; i < deletes; i++) {
      const clock = varUint(s);
      checkClock(s, clock + varUint(s));
    }
  }
}
