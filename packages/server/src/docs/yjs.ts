import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { CloseCodes, DocCloseCodes, isValidRoomName } from '@aqueduct/protocol';
import { AuthError, type Authenticator } from '../auth/auth.js';
import { can, type User } from '../auth/grants.js';
import { awarenessIdsAfter, rejectUpgrade, toBuffer, type Conn, type Room } from './yjs-conn.js';
import type { Config } from '../config.js';
import { DocsError, type DocManager, type LiveDoc } from './doc-manager.js';
import { docHookCheck, updateFailure, yjsAdmit, type Hooks } from '../hooks/yjs-hooks.js';
import { requestToken } from '../http/http-util.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { Flusher } from '../ws/write-coalescer.js';
import { binaryFrame } from '../ws/ws-frame.js';
import { FrameDeflater, negotiatedCompression, NO_COMPRESSION, perMessageDeflateOptions, sendBinary } from '../ws/ws-deflate.js';
import { flushRoomFrames } from './yjs-broadcast.js';
import { awarenessFrame, decodeYjsMessage, permissionDeniedFrame, syncStep1Frame, syncStep2Frame, syncUpdateWire } from './yjs-wire.js';

/** Close codes of `/yjs/:doc`: the catalogue in packages/protocol (re-exported for existing imports). */
export { DocCloseCodes } from '@aqueduct/protocol';
export { MessageType, SyncType, permissionDeniedFrame, syncUpdateWire } from './yjs-wire.js';

const CLOSE_GRACE_MS = 2000;
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface YjsTransportDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  auth: Authenticator;
  manager: DocManager;
  hooks?: Hooks; // backend hooks (hooks/yjs-hooks.ts)
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
  /** When the pipe last pinged its connections (the node's one heartbeat sweep calls `sweep`). */
  private lastSweep = Date.now();
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
    if (!(await yjsAdmit(this.deps.hooks, user, conn, req, (code, reason) => this.deny(conn, code, reason)))) return; // backend hooks
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
    this.send(conn, syncStep1Frame(Y.encodeStateVector(live.ydoc)));
    if (!conn.canWrite) this.tellReadOnly(conn);
    const states = live.awareness.getStates();
    if (states.size > 0) this.send(conn, awarenessFrame(live.awareness, [...states.keys()]));
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
      this.broadcast(room, awarenessFrame(live.awareness, changed), undefined);
    };
    live.awareness.on('update', onAwareness);
    room.off.push(() => live.awareness.off('update', onAwareness));
    return room;
  }

  private onMessage(conn: Conn, buf: Buffer): void {
    const live = conn.live;
    if (!live || conn.state !== 'open') return;
    try {
      const msg = decodeYjsMessage(buf);
      switch (msg.kind) {
        case 'sync-step1':
          this.send(conn, syncStep2Frame(Y.encodeStateAsUpdate(live.ydoc, msg.stateVector)));
          return;
        case 'sync-step2':
        case 'sync-update':
          return this.onUpdate(conn, live, msg.update, msg.kind === 'sync-update');
        case 'awareness':
          return this.onAwareness(conn, live, msg.update);
        case 'query-awareness':
          this.send(conn, awarenessFrame(live.awareness, [...live.awareness.getStates().keys()]));
          return;
        case 'auth':
          return; // clients have nothing to say here; the token travels in the URL
        case 'unknown':
          return this.reject(conn, msg.message);
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
    this.deps.manager.submit(live, copy, { author: conn.user?.id ?? 'unknown', origin: conn, incremental, check: docHookCheck(this.deps.hooks, conn, live.name) }).finally(() => {
      conn.inflight--;
      if (conn.paused && conn.inflight <= limit / 2 && conn.state === 'open') {
        conn.paused = false;
        conn.ws.resume();
        this.drainPending(conn);
      }
    }).catch((err: unknown) => {
      const f = updateFailure(err); // rejected, vetoed or hook failed, or a bug: how to close (hooks/yjs-hooks.ts)
      this.deps.logger[f.level]({ err: f.level === 'error' ? err : undefined, doc: conn.doc, user: conn.user?.id, ...f.detail }, f.message);
      if (f.tell) this.send(conn, permissionDeniedFrame(f.tell));
      this.disconnect(conn, f.close.code, f.close.reason);
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
    const ids = awarenessIdsAfter(conn, live, update);
    if (ids.size > config.docs.maxAwarenessClientsPerConnection) return this.reject(conn, `more than ${config.docs.maxAwarenessClientsPerConnection} awareness clients`);
    awarenessProtocol.applyAwarenessUpdate(live.awareness, update, conn);
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

  /** Writes the room's queued frames (yjs-broadcast.ts), to the connections that can take them. */
  private flushRoom(room: Room): number {
    return flushRoomFrames(room, (c) => this.writable(c), this.deflater, this.hot);
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

  /** From the node's heartbeat sweep: every heartbeatIntervalMs, drop the silent, ping the rest. */
  sweep(now: number): void {
    if (now - this.lastSweep < this.deps.config.limits.heartbeatIntervalMs) return;
    this.lastSweep = now;
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
    const sockets = [...this.conns].map((c) => c.ws);
    for (const conn of [...this.conns]) this.disconnect(conn, DocCloseCodes.SHUTDOWN.code, 'server shutdown');
    await Promise.all(sockets.map((ws) => ws.readyState === ws.CLOSED ? undefined : new Promise<void>((r) => ws.once('close', () => r()))));
    this.wss.close();
  }
}
