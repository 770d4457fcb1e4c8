import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { User } from '../auth/grants.js';
import type { WireCompression } from '../ws/ws-deflate.js';
import type { LiveDoc } from './live-doc.js';
import type { YjsRoom } from './yjs-broadcast.js';
import { awarenessEntries } from './yjs-wire.js';

/** One `/yjs/:doc` connection as the pipe tracks it. */
export interface Conn {
  ws: WebSocket;
  /** The upgraded socket under `ws`: broadcasts write pre-encoded frames to it (see ws-frame.ts). */
  socket: Duplex;
  /** permessage-deflate as negotiated (ws-deflate.ts). */
  wire: WireCompression;
  doc: string;
  state: 'opening' | 'open' | 'closed';
  user?: User;
  canWrite: boolean;
  live?: LiveDoc;
  room?: Room;
  /** Awareness client ids this connection set (removed when it closes). */
  awarenessIds: Set<number>;
  /** Frames received while opening or paused, processed in order afterwards. */
  pending: Buffer[];
  pendingBytes: number;
  toldReadOnly: boolean;
  /** Updates submitted and not yet settled; reading pauses above the limit (TCP backpressure). */
  inflight: number;
  paused: boolean;
  alive: boolean;
  timers: NodeJS.Timeout[];
  /** An update of this connection was vetoed by onDocUpdate (backend hooks): later ones are refused too. */
  vetoed?: boolean;
}

/** The local connections of one loaded document. */
export type Room = YjsRoom<Conn>;

export function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * The awareness client ids `conn` would hold after `update`, checked before the update touches the
 * shared awareness. Stock clients echo other clients' states back (unchanged clocks: no effect) and
 * remove timed-out ones (null), so only new non-null states for ids nobody else holds count as this
 * connection's own. Throws on a malformed update.
 */
export function awarenessIdsAfter(conn: Conn, live: LiveDoc, update: Uint8Array): Set<number> {
  const ids = new Set(conn.awarenessIds);
  for (const { id, clock, json } of awarenessEntries(update)) {
    const known = live.awareness.meta.get(id);
    if (json === 'null' || (known && known.clock >= clock)) continue;
    const holder = holderOf(conn, id);
    if (!holder || holder === conn) ids.add(id);
  }
  return ids;
}

function holderOf(conn: Conn, id: number): Conn | undefined {
  for (const c of conn.room?.conns ?? []) if (c.awarenessIds.has(id)) return c;
  return undefined;
}
