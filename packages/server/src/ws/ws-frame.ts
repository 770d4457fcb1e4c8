/**
 * One complete, unmasked, final WebSocket binary frame (RFC 6455 §5.2) as a server sends it:
 * header and payload in one Buffer. A broadcast encodes the frame once and writes the same Buffer
 * to every recipient's socket (one write each, no per-recipient header or framing work). Only for
 * connections without permessage-deflate, whose frames the `ws` sender writes synchronously and
 * unchanged, so frames written this way and through `ws` never interleave.
 */
export function binaryFrame(payload: Uint8Array): Buffer {
  const { out, offset } = binaryFrameFor(payload.byteLength);
  out.set(payload, offset);
  return out;
}

/**
 * A frame whose payload of `n` bytes the caller writes itself from `offset` (saves encoding the
 * message into a buffer of its own first).
 */
export function binaryFrameFor(n: number): { out: Buffer; offset: number } {
  return frameFor(n, true);
}

/** A text (`binary: false`) or binary frame with room for `n` payload bytes from `offset`. */
export function frameFor(n: number, binary: boolean): { out: Buffer; offset: number } {
  const headerBytes = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(headerBytes + n);
  out[0] = binary ? 0x82 : 0x81; // FIN + opcode 2 (binary) or 1 (text)
  if (n < 126) {
    out[1] = n;
  } else if (n < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  return { out, offset: headerBytes };
}

/** The payload size of a frame made by `binaryFrame` / `binaryFrameFor`. */
export function framePayloadBytes(frame: Buffer): number {
  const len = frame[1] & 0x7f;
  return frame.byteLength - (len < 126 ? 2 : len === 126 ? 4 : 10);
}
