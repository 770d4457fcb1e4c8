import { constants, deflateRawSync } from 'node:zlib';
import type { PerMessageDeflateOptions, WebSocket } from 'ws';
import type { CompressionConfig } from './compression-config.js';
import { frameFor } from './ws-frame.js';

/**
 * permessage-deflate (RFC 7692) for connections whose frames the server builds itself
 * (ws-frame.ts): a broadcast is compressed once per codec and window size, and the same frame goes
 * to every subscriber that negotiated the extension with `server_no_context_takeover`. This matches
 * `ws`'s lib/permessage-deflate.js byte for byte in what the peer sees: raw deflate, flushed with
 * Z_SYNC_FLUSH, the 4-byte tail `00 00 ff ff` removed, RSV1 set on the (single, final) frame.
 * Inflating what clients send stays with `ws` (its Receiver limits the inflated size to
 * `maxPayload` and closes with 1009 beyond it).
 */

/** How the server writes data frames to one connection. */
export type WireCompression =
  /** Uncompressed frames (extension not negotiated, or a window `zlib` cannot honour). */
  | { readonly mode: 'none' }
  /** Pre-compressed frames shared by every connection with the same window (no context takeover). */
  | { readonly mode: 'shared'; readonly windowBits: number }
  /** Server context takeover: `ws` compresses each message for this connection alone (`ws.send`). */
  | { readonly mode: 'per-connection' };

const NONE: WireCompression = { mode: 'none' };
const PER_CONNECTION: WireCompression = { mode: 'per-connection' };
const SHARED = new Map<number, WireCompression>();
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** The `perMessageDeflate` option of a `WebSocketServer` (`false` when compression is off). */
export function perMessageDeflateOptions(c: CompressionConfig): PerMessageDeflateOptions | false {
  if (!c.enabled) return false;
  return {
    threshold: c.thresholdBytes,
    serverNoContextTakeover: c.serverNoContextTakeover,
    clientNoContextTakeover: c.clientNoContextTakeover,
    serverMaxWindowBits: c.serverMaxWindowBits,
    clientMaxWindowBits: c.clientMaxWindowBits,
    concurrencyLimit: c.concurrencyLimit,
    zlibDeflateOptions: { level: c.level, memLevel: c.memLevel },
  };
}

interface NegotiatedParams {
  server_no_context_takeover?: boolean;
  server_max_window_bits?: number;
}

/** What a connection negotiated (read from `ws`'s accepted extension parameters). */
export function negotiatedCompression(ws: WebSocket): WireCompression {
  const ext = (ws as unknown as { _extensions?: Record<string, { params?: NegotiatedParams | null } | undefined> })._extensions;
  const params = ext?.['permessage-deflate']?.params;
  if (!params) return NONE;
  if (!params.server_no_context_takeover) return PER_CONNECTION;
  const windowBits = typeof params.server_max_window_bits === 'number' ? params.server_max_window_bits : 15;
  // zlib's raw deflate cannot use an 8-bit window (it silently uses 9): uncompressed frames are
  // always allowed, so such a connection simply gets those.
  if (windowBits < 9) return NONE;
  let w = SHARED.get(windowBits);
  if (!w) SHARED.set(windowBits, (w = { mode: 'shared', windowBits }));
  return w;
}

/** The header length and payload of an unmasked frame built by ws-frame.ts. */
export function framePayload(frame: Buffer): Buffer {
  const len = frame[1] & 0x7f;
  return frame.subarray(len < 126 ? 2 : len === 126 ? 4 : 10);
}

/**
 * Compresses server frames, each at most once per window size (cached on the frame Buffer, so a
 * broadcast to many connections costs one compression).
 */
export class FrameDeflater {
  private readonly cache = new Map<number, WeakMap<Buffer, Buffer>>();
  /** Compressions done (each frame once per window size); exposed for tests and benchmarks. */
  compressions = 0;

  constructor(private readonly config: CompressionConfig) {}

  /**
   * The compressed form of an uncompressed final frame `frame` (opcode 1 or 2), or `frame` itself
   * when its payload is below `thresholdBytes` or would not shrink.
   */
  frame(frame: Buffer, windowBits: number): Buffer {
    let byFrame = this.cache.get(windowBits);
    if (!byFrame) this.cache.set(windowBits, (byFrame = new WeakMap()));
    let out = byFrame.get(frame);
    if (out) return out;
    out = this.compress(frame, windowBits);
    byFrame.set(frame, out);
    return out;
  }

  private compress(frame: Buffer, windowBits: number): Buffer {
    const payload = framePayload(frame);
    if (payload.length < this.config.thresholdBytes) return frame;
    this.compressions++;
    const z = deflateRawSync(payload, {
      level: this.config.level,
      memLevel: this.config.memLevel,
      windowBits,
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    const n = z.length >= 4 && z.subarray(z.length - 4).equals(TAIL) ? z.length - 4 : z.length;
    if (n >= payload.length) return frame;
    const { out, offset } = frameFor(n, (frame[0] & 0x0f) === 2);
    out[0] |= 0x40; // RSV1: compressed message
    z.copy(out, offset, 0, n);
    return out;
  }
}

/** A connection whose data frames the server writes itself (the `/yjs` rooms). */
export interface FrameTarget {
  readonly ws: WebSocket;
  readonly socket: { write(chunk: Buffer): boolean };
  readonly wire: WireCompression;
}

/**
 * Writes the uncompressed frames `wires` (`all`: their concatenation, when the caller has it) to
 * `t` in one socket write, compressed as `t` negotiated. `memo` lets the connections of one
 * broadcast share the compressed concatenation (one compression per window size, not per
 * connection).
 */
export function writeFrames(t: FrameTarget, wires: readonly Buffer[], all: Buffer | undefined, deflater: FrameDeflater | undefined, memo?: Map<number, Buffer>): void {
  const wire = t.wire;
  if (wire.mode === 'none' || !deflater) {
    t.socket.write(all ?? (wires.length === 1 ? wires[0] : Buffer.concat(wires)));
    return;
  }
  if (wire.mode === 'per-connection') {
    for (const w of wires) t.ws.send(framePayload(w), { binary: true });
    return;
  }
  let out = memo?.get(wire.windowBits);
  if (!out) {
    out = wires.length === 1 ? deflater.frame(wires[0], wire.windowBits) : Buffer.concat(wires.map((w) => deflater.frame(w, wire.windowBits)));
    memo?.set(wire.windowBits, out);
  }
  t.socket.write(out);
}

/** Sends one binary message to `t` (compressed as negotiated), in order with `writeFrames`. */
export function sendBinary(t: FrameTarget, data: Uint8Array, deflater: FrameDeflater | undefined): void {
  const wire = t.wire;
  if (wire.mode === 'shared' && deflater) {
    const { out, offset } = frameFor(data.byteLength, true);
    out.set(data, offset);
    t.socket.write(deflater.frame(out, wire.windowBits));
    return;
  }
  // 'none': the Sender writes synchronously (no compression negotiated); 'per-connection': the
  // Sender compresses and keeps order with `writeFrames`, which uses it too.
  t.ws.send(data, { binary: true });
}

/** `WireCompression` of a connection on a server without compression. */
export const NO_COMPRESSION: WireCompression = NONE;
