import type { FrameDeflater, FrameTarget } from '../ws/ws-deflate.js';
import { writeFrames } from '../ws/ws-deflate.js';
import { framePayloadBytes } from '../ws/ws-frame.js';
import type { Metrics } from '../metrics.js';
import type { LiveDoc } from './live-doc.js';

/** A broadcast frame waiting for its room's flush, and the connection it skips (its sender). */
export interface Outgoing {
  wire: Buffer;
  except: unknown;
}

/** The local connections of one loaded document (C: the connection type of the pipe). */
export interface YjsRoom<C extends FrameTarget> {
  live: LiveDoc;
  conns: Set<C>;
  off: Array<() => void>;
  /** Broadcast frames not written yet, in order (see `flushRoom`). */
  outbox: Outgoing[];
  /** Writes the outbox (called by the transport's Flusher); returns the number of frames. */
  flush(): number;
  readonly flushPhase: number;
  flushSample: number;
}

/**
 * Writes the room's queued frames: one socket write per connection. Connections that sent none
 * of the frames (nearly all of them) get the same concatenated Buffer; a sender gets the frames
 * minus its own. `writable` says whether a connection can take more (and closes slow ones).
 */
export function flushRoomFrames<C extends FrameTarget>(room: YjsRoom<C>, writable: (c: C) => boolean, deflater: FrameDeflater | undefined, hot: Metrics['hot']): number {
    const out = room.outbox;
    if (out.length === 0) return 0; // flushed early (a reply or close went first), or the room emptied
    room.outbox = [];
    let all: Buffer;
    const wires = out.map((f) => f.wire);
    const memo = new Map<number, Buffer>();
    let skips: Set<unknown> | undefined;
    let payloadBytes = 0;
    if (out.length === 1) {
      all = out[0].wire;
      payloadBytes = framePayloadBytes(all);
    } else {
      skips = new Set();
      for (const f of out) {
        skips.add(f.except);
        payloadBytes += framePayloadBytes(f.wire);
      }
      all = Buffer.concat(wires);
    }
    let messages = 0;
    let bytes = 0;
    for (const c of room.conns) {
      if (!writable(c)) continue;
      if (skips === undefined) {
        if (c === out[0].except) continue;
        writeFrames(c, wires, all, deflater, memo);
        messages++;
        bytes += payloadBytes;
      } else if (!skips.has(c)) {
        writeFrames(c, wires, all, deflater, memo);
        messages += out.length;
        bytes += payloadBytes;
      } else {
        const mine: Buffer[] = [];
        for (const f of out) {
          if (f.except === c) continue;
          mine.push(f.wire);
          bytes += framePayloadBytes(f.wire);
        }
        if (mine.length === 0) continue;
        writeFrames(c, mine, undefined, deflater);
        messages += mine.length;
      }
    }
    hot.yjsMessagesOut += messages;
    hot.yjsBytesOut += bytes;
    return out.length;
}
