import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { CloseCodes, isValidRoomName } from '@aqueduct/protocol';
import { AuthError, type Authenticator } from '../auth/auth.js';
import { can, type User } from '../auth/grants.js';
import type { Config } from '../config.js';
import { DocsError, type DocManager, type LiveDoc } from '../docs/doc-manager.js';
import { UpdateRejected } from '../docs/update-validator.js';
import { requestToken } from '../http-util.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { Flusher } from '../write-coalescer.js';
import type { Hooks } from '../hooks/hooks.js';
import { docHookCheck, docHookClose, yjsAdmit } from '../hooks/yjs-hooks.js';
import { binaryFrame, binaryFrameFor, framePayloadBytes } from './ws-frame.js';
import { FrameDeflater, negotiatedCompression, NO_COMPRESSION, perMessageDeflateOptions, sendBinary, writeFrames, type WireCompression } from './ws-deflate.js';

/** y-websocket message types (first varuint of every frame). */
export const MessageType = { sync: 0, awareness: 1, auth: 2, queryAwareness: 3 } as const;
/** y-protocols sync sub-types. */
export const SyncType = { step1: 0, step2: 1, update: 2 } as const;

/**
 * Close codes of `/yjs/:doc`. The stock y-websocket client stops reconnecting on 4400–4499 and
 * retries on everything else, so permanent conditions use that range and transient ones reuse the
 * Aqueduct codes it retries (4000–4006) or the standard 1011/1013.
 */
export const DocCloseCodes = {
  /** Malformed frame, unknown message type, or an update/awareness message that was rejected. */
  INVALID_MESSAGE: { code: 4400, reason: 'invalid message' },
  /** Missing or invalid token. */
  AUTH_FAILED: { code: 4401, reason: 'authentication failed' },
  /** The token has no `sub` grant for this document. */
  PERMISSION_DENIED: { code: 4403, reason: 'permission denied' },
  /** Document or node at capacity, or the document could not be loaded / stored: retry later. */
  TRY_AGAIN_LATER: { code: 1013, reason: 'try again later' },
  /** The app's onDocUpdate hook vetoed an update (not stored, not broadcast). */
  UPDATE_VETOED: { code: 4422, reason: 'update vetoed' },
  TOKEN_EXPIRED: CloseCodes.TOKEN_EXPIRED,
  SHUTDOWN: CloseCodes.SHUTDOWN,
  SLOW_CONSUMER: CloseCodes.SLOW_CONSUMER,
  AUTH_TIMEOUT: CloseCodes.AUTH_TIMEOUT,
} as const;

const CLOSE_GRACE_MS = 2000;
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Conn {
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
  /** An update of this connection was vetoed by onDocUpdate: its later ones are refused too. */
  vetoed?: boolean;
}

/** A broadcast frame waiting for its room's flush, and the connection it skips (its sender). */
interface Outgoing {
  wire: Buffer;
  except: unknown;
}

/** The local connections of one loaded document. */
interface Room {
  live: LiveDoc;
  conns: Set<Conn>;
  off: Array<() => void>;
  /** Broadcast frames not written yet, in order (see `flushRoom`). */
  outbox: Outgoing[];
  /** Writes the outbox (called by the transport's Flusher); returns the number of frames. */
  flush(): number;
  readonly flushPhase: number;
  flushSample: number;
}

export interface YjsTransportDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  auth: Authenticator;
  manager: DocManager;
  /** Backend hooks (onConnect, onJoin, onDocUpdate). */
  hooks?: Hooks;
}

function frame(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
}

/** `[2, 0, reason]`: the y-protocols permission-denied auth message. */
export function permissionDeniedFrame(reason: string): Uint8Array {
  return frame((e) => {
    encoding.writeVarUint(e, MessageType.auth);
    encoding.writeVarUint(e, 0);
    encoding.writeVarString(e, reason);
  });
}

/**
 * The WebSocket frame of the sync message `[0, 2, varUint8Array(update)]`, built in one buffer
 * (what a broadcast writes to every socket).
 */
export function syncUpdateWire(update: Uint8Array): Buffer {
  let lenBytes = 1;
  for (let n = update.byteLength; n >= 0x80; n = Math.floor(n / 0x80)) lenBytes++;
  const { out, offset } = binaryFrameFor(2 + lenBytes + update.byteLength);
  let pos = offset;
  out[pos++] = MessageType.sync;
  out[pos++] = SyncType.update;
  for (let n = update.byteLength; ; n = Math.floor(n / 0x80)) {
    if (n < 0x80) { out[pos++] = n; break; }
    out[pos++] = (n & 0x7f) | 0x80;
  }
  out.set(update, pos);
  return out;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * `/yjs/:doc`: the y-websocket wire protocol (sync step 1 / step 2 / update, awareness, query
 * awareness, auth), so the stock `WebsocketProvider` connects unmodified. The token comes from
 * `?token=` (or an Authorization header / cookie); `sub` on the document's room lets a client read
 * and exchange awareness, `pub` lets it write.
 */
export class YjsTransport {
  private readonly wss: WebSocketServer;
  private readonly conns = new Set<Conn>();
  private readonly rooms = new Map<string, Room>();
  /** Schedules rooms' broadcast writes: next tick, or the room's slot when a window is open (write-coalescer.ts). */
  private readonly flusher: Flusher<Room>;
  private readonly heartbeat: NodeJS.Timeout;
  private closing = false;
  /** Plain tallies folded into the labelled counters when metrics are read (no label lookup per message). */
  private readonly hot: Metrics['hot'];
  private readonly deflater?: FrameDeflater;

  constructor(private readonly deps: YjsTransportDeps) {
    // Broadcasts write pre-encoded (and, with permessage-deflate, pre-compressed) frames straight to the sockets.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: deps.config.docs.maxMessageBytes, perMessageDeflate: perMessageDeflateOptions(deps.config.compression) });
    if (deps.config.compression.enabled) this.deflater = new FrameDeflater(deps.config.compression);
    this.hot = deps.metrics.hot;
    const { limits } = deps.config;
    this.flusher = new Flusher<Room>({ windowMs: deps.config.docs.writeCoalesceMs, writeShare: limits.writeShare, maxGapMs: limits.writeMaxGapMs });
    this.heartbeat = setInterval(() => this.sweep(), deps.config.limits.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  connectionCount(): number {
    return this.conns.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, docName: string): void {
    if (!isValidRoomName(docName)) return rejectUpgrade(socket, 400, 'Bad Request');
    if (this.closing || this.conns.size >= this.deps.config.docs.maxConnections) return rejectUpgrade(socket, 503, 'Service Unavailable');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, socket, req, docName));
  }

  private onConnection(ws: WebSocket, socket: Duplex, req: IncomingMessage, doc: string): void {
    const { metrics, config } = this.deps;
    const conn: Conn = { ws, socket, wire: this.deflater ? negotiatedCompression(ws) : NO_COMPRESSION, doc, state: 'opening', canWrite: false, awarenessIds: new Set(), pending: [], pendingBytes: 0, toldReadOnly: false, inflight: 0, paused: false, alive: true, timers: [] };
    this.conns.add(conn);
    metrics.connections.inc({ transport: 'yjs' });
    metrics.connectionsTotal.inc({ transport: 'yjs' });
    ws.on('pong', () => { conn.alive = true; });
    ws.on('error', (err) => this.deps.logger.debug({ err, doc }, 'yjs socket error'));
    ws.on('close', () => this.cleanup(conn));
    ws.on('message', (data) => {
      const buf = toBuffer(data);
      this.hot.yjsMessagesIn++;
      this.hot.yjsBytesIn += buf.byteLength;
      if (conn.state === 'open' && !conn.paused && conn.pending.length === 0) return this.onMessage(conn, buf);
      if (conn.state === 'closed') return;
      // Opening, or paused for backpressure: frames already read from the socket wait here.
      if (conn.state === 'opening' && conn.pending.length >= config.docs.maxPendingMessages) {
        return this.disconnect(conn, DocCloseCodes.INVALID_MESSAGE.code, 'too many messages before the document opened');
      }
      if (conn.pendingBytes + buf.byteLength > 2 * config.docs.maxMessageBytes) {
        return this.disconnect(conn, DocCloseCodes.TRY_AGAIN_LATER.code, 'too much data waiting');
      }
      conn.pending.push(buf);
      conn.pendingBytes += buf.byteLength;
    });
    const openTimer = setTimeout(() => this.disconnect(conn, DocCloseCodes.AUTH_TIMEOUT.code, 'document did not open in time'), config.docs.openTimeoutMs);
    conn.timers.push(openTimer);
    const url = new URL(req.url ?? '/', 'http://localhost');
    void this.open(conn, requestToken(req, url), req).finally(() => clearTimeout(openTimer));
  }

  private async open(conn: Conn, token: string | undefined, req?: IncomingMessage): Promise<void> {
    const { auth, manager, logger, metrics, config } = this.deps;
    if (!token) return this.deny(conn, DocCloseCodes.AUTH_FAILED.code, 'missing token: connect with ?token=');
    let user: User;
    try {
      user = await auth.verify(token);
    } catch (err) {
      const code = err instanceof AuthError ? err.code : 'TOKEN_INVALID';
      metrics.authFailures.inc({ code });
      logger.info({ doc: conn.doc, code }, 'yjs connection refused: bad token');
      return this.deny(conn, code === 'TOKEN_EXPIRED' ? DocCloseCodes.TOKEN_EXPIRED.code : DocCloseCodes.AUTH_FAILED.code, err instanceof Error ? err.message : 'invalid token');
    }
    if (conn.state === 'closed') return;
    if (!can(user, 'sub', conn.doc)) {
      logger.info({ doc: conn.doc, user: user.id }, 'yjs connection refused: no sub grant');
      return this.deny(conn, DocCloseCodes.PERMISSION_DENIED.code, `no permission to read ${conn.doc}`);
    }
    const refusal = await yjsAdmit(this.deps.hooks, user, conn.doc, req); // backend hooks
    if (refusal) return this.deny(conn, refusal.code, refusal.reason);
    if ((conn.state as Conn['state']) === 'closed') return;
    conn.user = user;
    conn.canWrite = can(user, 'pub', conn.doc);
    const existing = this.rooms.get(conn.doc);
    if (existing && existing.conns.size >= config.docs.maxConnectionsPerDoc) {
      return this.disconnect(conn, DocCloseCodes.TRY_AGAIN_LATER.code, 'too many connections to this document');
    }
    let live: LiveDoc;
    try {
      live = await manager.acquire(conn.doc);
    } catch (err) {
      const msg = err instanceof DocsError ? err.message : 'document unavailable';
      if (!(err instanceof DocsError)) logger.error({ err, doc: conn.doc }, 'acquiring a document failed');
      return this.disconnect(conn, DocCloseCodes.TRY_AGAIN_LATER.code, msg);
    }
    // The socket may have closed while the document loaded.
    if ((conn.state as Conn['state']) === 'closed') { manager.release(live); return; }
    conn.live = live;
    const room = this.roomFor(live);
    room.conns.add(conn);
    conn.room = room;
    if (Number.isFinite(user.expiresAt)) {
      const t = setTimeout(() => this.disconnect(conn, DocCloseCodes.TOKEN_EXPIRED.code, 'token expired'), Math.min(MAX_TIMER_MS, Math.max(0, user.expiresAt - Date.now())));
      t.unref();
      conn.timers.push(t);
    }
    conn.state = 'open';
    // Same order as the reference server: our sync step 1, then the awareness we know.
    this.send(conn, frame((e) => {
      encoding.writeVarUint(e, MessageType.sync);
      encoding.writeVarUint(e, SyncType.step1);
      encoding.writeVarUint8Array(e, Y.encodeStateVector(live.ydoc));
    }));
    if (!conn.canWrite) this.tellReadOnly(conn);
    const states = live.awareness.getStates();
    if (states.size > 0) this.send(conn, this.awarenessFrame(live, [...states.keys()]));
    this.drainPending(conn);
  }

  /** Processes frames that waited (while opening or paused) until none is left or it pauses again. */
  private drainPending(conn: Conn): void {
    while (conn.pending.length > 0 && conn.state === 'open' && !conn.paused) {
      const buf = conn.pending.shift() as Buffer;
      conn.pendingBytes -= buf.byteLength;
      this.onMessage(conn, buf);
    }
  }

  private roomFor(live: LiveDoc): Room {
    const found = this.rooms.get(live.name);
    if (found && found.live === live) return found;
    const room: Room = { live, conns: new Set(), off: [], outbox: [], flush: () => this.flushRoom(room), flushPhase: this.flusher.nextPhase(), flushSample: -1 };
    this.rooms.set(live.name, room);
    room.off.push(live.onUpdate((update, origin) => this.broadcastWire(room, syncUpdateWire(update), origin)));
    room.off.push(live.onClose((reason) => {
      const code = this.closing ? DocCloseCodes.SHUTDOWN.code : DocCloseCodes.TRY_AGAIN_LATER.code;
      for (const c of [...room.conns]) this.disconnect(c, code, reason.message);
    }));
    const onAwareness = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      if (origin && typeof origin === 'object' && room.conns.has(origin as Conn)) {
        const c = origin as Conn;
        for (const id of added) c.awarenessIds.add(id);
        for (const id of updated) c.awarenessIds.add(id);
        for (const id of removed) c.awarenessIds.delete(id);
      }
      const changed = [...added, ...updated, ...removed];
      if (changed.length === 0) return;
      this.broadcast(room, this.awarenessFrame(live, changed), undefined);
    };
    live.awareness.on('update', onAwareness);
    room.off.push(() => live.awareness.off('update', onAwareness));
    return room;
  }

  private awarenessFrame(live: LiveDoc, clients: number[]): Uint8Array {
    return frame((e) => {
      encoding.writeVarUint(e, MessageType.awareness);
      encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(live.awareness, clients));
    });
  }

  private onMessage(conn: Conn, buf: Buffer): void {
    const live = conn.live;
    if (!live || conn.state !== 'open') return;
    try {
      const decoder = decoding.createDecoder(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
      const type = decoding.readVarUint(decoder);
      switch (type) {
        case MessageType.sync: {
          const sub = decoding.readVarUint(decoder);
          if (sub === SyncType.step1) {
            const sv = decoding.readVarUint8Array(decoder);
            Y.decodeStateVector(sv); // throws on garbage before we compute anything with it
            this.send(conn, frame((e) => {
              encoding.writeVarUint(e, MessageType.sync);
              encoding.writeVarUint(e, SyncType.step2);
              encoding.writeVarUint8Array(e, Y.encodeStateAsUpdate(live.ydoc, sv));
            }));
          } else if (sub === SyncType.step2 || sub === SyncType.update) {
            const update = decoding.readVarUint8Array(decoder);
            this.onUpdate(conn, live, update, sub === SyncType.update);
          } else {
            return this.reject(conn, `unknown sync message type ${sub}`);
          }
          return;
        }
        case MessageType.awareness:
          return this.onAwareness(conn, live, decoding.readVarUint8Array(decoder));
        case MessageType.queryAwareness:
          this.send(conn, this.awarenessFrame(live, [...live.awareness.getStates().keys()]));
          return;
        case MessageType.auth:
          return; // clients have nothing to say here; the token travels in the URL
        default:
          return this.reject(conn, `unknown message type ${type}`);
      }
    } catch (err) {
      return this.reject(conn, `malformed message: ${(err as Error).message}`);
    }
  }

  private onUpdate(conn: Conn, live: LiveDoc, update: Uint8Array, incremental: boolean): void {
    if (!conn.canWrite) {
      // Sync step 2 of an up-to-date reader is the empty update [0, 0]: not a write attempt.
      if (update.byteLength > 2 || update.some((b) => b !== 0)) {
        this.deps.metrics.docRejected.inc({ reason: 'READ_ONLY' });
        if (!conn.toldReadOnly) this.tellReadOnly(conn);
      }
      return;
    }
    // Copy: the frame buffer may be pooled and the update outlives this call.
    const copy = update.slice();
    const limit = this.deps.config.docs.maxInflightUpdatesPerConnection;
    conn.inflight++;
    if (conn.inflight >= limit && !conn.paused) {
      conn.paused = true;
      conn.ws.pause();
    }
    const check = docHookCheck(this.deps.hooks, conn, live.name);
    this.deps.manager.submit(live, copy, { author: conn.user?.id ?? 'unknown', origin: conn, incremental, check }).finally(() => {
      conn.inflight--;
      if (conn.paused && conn.inflight <= limit / 2 && conn.state === 'open') {
        conn.paused = false;
        conn.ws.resume();
        this.drainPending(conn);
      }
    }).catch((err: unknown) => {
      const vetoed = docHookClose(err);
      if (vetoed) {
        if (vetoed.tell) this.send(conn, permissionDeniedFrame(vetoed.tell));
        return this.disconnect(conn, vetoed.code, vetoed.reason);
      }
      if (err instanceof UpdateRejected) {
        this.deps.logger.warn({ doc: conn.doc, user: conn.user?.id, code: err.code, reason: err.message }, 'document update rejected');
        if (err.code === 'OVERLOADED' || err.code === 'UNAVAILABLE') return this.disconnect(conn, DocCloseCodes.TRY_AGAIN_LATER.code, err.message);
        this.send(conn, permissionDeniedFrame(`update rejected (${err.code}): ${err.message}`));
        return this.disconnect(conn, err.code === 'TOO_LARGE' ? CloseCodes.MESSAGE_TOO_BIG.code : DocCloseCodes.INVALID_MESSAGE.code, `update rejected: ${err.code}`);
      }
      this.deps.logger.error({ err, doc: conn.doc }, 'document update failed');
      this.disconnect(conn, 1011, 'internal error');
    });
  }

  private onAwareness(conn: Conn, live: LiveDoc, update: Uint8Array): void {
    const { config } = this.deps;
    if (update.byteLength > config.docs.maxAwarenessBytes) {
      this.deps.metrics.docRejected.inc({ reason: 'AWARENESS_TOO_LARGE' });
      this.send(conn, permissionDeniedFrame(`awareness update exceeds ${config.docs.maxAwarenessBytes} bytes`));
      return this.disconnect(conn, CloseCodes.MESSAGE_TOO_BIG.code, 'awareness too large');
    }
    // Check what the update would do before it touches the shared awareness. Stock clients echo
    // other clients' states back (unchanged clocks: no effect) and remove timed-out ones (null), so
    // only new non-null states for ids nobody else holds count as this connection's own.
    const d = decoding.createDecoder(update);
    const n = decoding.readVarUint(d);
    const ids = new Set(conn.awarenessIds);
    for (let i = 0; i < n; i++) {
      const id = decoding.readVarUint(d);
      const clock = decoding.readVarUint(d);
      const json = decoding.readVarString(d);
      JSON.parse(json);
      const known = live.awareness.meta.get(id);
      if (json === 'null' || (known && known.clock >= clock)) continue;
      const holder = this.holderOf(conn, id);
      if (!holder || holder === conn) ids.add(id);
    }
    if (ids.size > config.docs.maxAwarenessClientsPerConnection) return this.reject(conn, `more than ${config.docs.maxAwarenessClientsPerConnection} awareness clients`);
    awarenessProtocol.applyAwarenessUpdate(live.awareness, update, conn);
  }

  private holderOf(conn: Conn, id: number): Conn | undefined {
    for (const c of conn.room?.conns ?? []) if (c.awarenessIds.has(id)) return c;
    return undefined;
  }

  private tellReadOnly(conn: Conn): void {
    conn.toldReadOnly = true;
    this.send(conn, permissionDeniedFrame(`read-only: no pub permission for ${conn.doc}; changes are ignored`));
  }

  private reject(conn: Conn, message: string): void {
    this.deps.metrics.docRejected.inc({ reason: 'INVALID_MESSAGE' });
    this.deps.logger.warn({ doc: conn.doc, user: conn.user?.id, reason: message }, 'yjs message rejected');
    this.send(conn, permissionDeniedFrame(message));
    this.disconnect(conn, DocCloseCodes.INVALID_MESSAGE.code, 'invalid message');
  }

  private deny(conn: Conn, code: number, reason: string): void {
    this.send(conn, permissionDeniedFrame(reason));
    this.disconnect(conn, code, reason);
  }

  /** Whether `conn` can take another message; disconnects it as slow when its queue is full. */
  private writable(conn: Conn): boolean {
    const ws = conn.ws;
    if (ws.readyState !== ws.OPEN || conn.socket.destroyed) return false;
    // Checked before sending, so one large message (a big document's step 2) still goes out.
    if (ws.bufferedAmount > this.deps.config.limits.outboundQueueBytes) {
      this.deps.metrics.slowDisconnects.inc({ transport: 'yjs' });
      this.disconnect(conn, DocCloseCodes.SLOW_CONSUMER.code, 'slow consumer');
      return false;
    }
    return true;
  }

  private send(conn: Conn, data: Uint8Array): void {
    // Broadcast frames queued before this message go first (order on the wire = order of sending).
    if (conn.room && conn.room.outbox.length > 0) this.flushRoom(conn.room);
    if (!this.writable(conn)) return;
    this.hot.yjsMessagesOut++;
    this.hot.yjsBytesOut += data.byteLength;
    sendBinary(conn, data, this.deflater);
  }

  /**
   * Sends one message to every connection of `room` except `except`: the WebSocket frame is
   * encoded once and the same Buffer is written to each socket.
   */
  private broadcast(room: Room, message: Uint8Array, except: unknown): void {
    this.broadcastWire(room, binaryFrame(message), except);
  }

  /**
   * `broadcast` of an already framed message. Frames are queued on the room and written by
   * `flushRoom` on the next tick, or at the room's slot when a coalescing window is open
   * (`docs.writeCoalesceMs`, or load: see write-coalescer.ts): everything
   * a connection is owed then leaves in one socket write. (Every update is stored before it gets
   * here, so waiting changes nothing for durability.)
   */
  private broadcastWire(room: Room, wire: Buffer, except: unknown): void {
    if (room.conns.size === 0 || (room.conns.size === 1 && room.conns.has(except as Conn))) return;
    room.outbox.push({ wire, except });
    if (room.outbox.length === 1) this.flusher.add(room); // otherwise already scheduled
  }

  /**
   * Writes the room's queued frames: one socket write per connection. Connections that sent none
   * of the frames (nearly all of them) get the same concatenated Buffer; a sender gets the frames
   * minus its own.
   */
  private flushRoom(room: Room): number {
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
      if (!this.writable(c)) continue;
      if (skips === undefined) {
        if (c === out[0].except) continue;
        writeFrames(c, wires, all, this.deflater, memo);
        messages++;
        bytes += payloadBytes;
      } else if (!skips.has(c)) {
        writeFrames(c, wires, all, this.deflater, memo);
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
        writeFrames(c, mine, undefined, this.deflater);
        messages += mine.length;
      }
    }
    this.hot.yjsMessagesOut += messages;
    this.hot.yjsBytesOut += bytes;
    return out.length;
  }

  private disconnect(conn: Conn, code: number, reason: string): void {
    const ws = conn.ws;
    // What was broadcast before the close goes out before the close frame.
    if (conn.room && conn.room.outbox.length > 0 && ws.readyState === ws.OPEN) this.flushRoom(conn.room);
    this.cleanup(conn);
    if (ws.readyState === ws.CLOSED || ws.readyState === ws.CLOSING) return;
    this.deps.metrics.disconnects.inc({ code: String(code) });
    // Close reasons are limited to 123 bytes by the protocol.
    ws.close(code, Buffer.from(reason).subarray(0, 120).toString());
    const t = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
    t.unref();
    ws.once('close', () => clearTimeout(t));
  }

  /** Idempotent: forgets the connection, clears its awareness, releases the document. */
  private cleanup(conn: Conn): void {
    if (conn.state === 'closed') return;
    conn.state = 'closed';
    conn.pending = [];
    conn.pendingBytes = 0;
    for (const t of conn.timers) clearTimeout(t);
    this.conns.delete(conn);
    this.deps.metrics.connections.dec({ transport: 'yjs' });
    const room = conn.room;
    const live = conn.live;
    if (room) {
      room.conns.delete(conn);
      if (conn.awarenessIds.size > 0 && !live?.closed) {
        awarenessProtocol.removeAwarenessStates(room.live.awareness, [...conn.awarenessIds], 'connection closed');
      }
      if (room.conns.size === 0) {
        room.outbox = []; // a scheduled flush then writes nothing
        for (const off of room.off) off();
        if (this.rooms.get(room.live.name) === room) this.rooms.delete(room.live.name);
      }
    }
    if (live) this.deps.manager.release(live);
  }

  private sweep(): void {
    for (const conn of this.conns) {
      if (conn.state !== 'open') continue;
      if (!conn.alive) {
        this.deps.metrics.disconnects.inc({ code: String(CloseCodes.HEARTBEAT_TIMEOUT.code) });
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      try { conn.ws.ping(); } catch { /* closed meanwhile */ }
    }
  }

  /** Closes every connection with SHUTDOWN (clients reconnect, possibly to another node). */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.heartbeat);
    const sockets = [...this.conns].map((c) => c.ws);
    for (const conn of [...this.conns]) this.disconnect(conn, DocCloseCodes.SHUTDOWN.code, 'server shutdown');
    await Promise.all(sockets.map((ws) => ws.readyState === ws.CLOSED ? undefined : new Promise<void>((r) => ws.once('close', () => r()))));
    this.wss.close();
  }
}
