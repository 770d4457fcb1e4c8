import {
  shouldReconnect, jsonCodec, msgpackCodec,
  type AuthResult, type Codec, type CodecName, type ResultMap, type ServerMessage,
} from '@aqueduct/protocol';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { AqueductError } from './errors.js';
import { Room, type RoomOptions } from './room.js';
import { PeerMesh, type PeerMeshOptions } from './peers.js';
import { subscribeEvents, type EventsHandlers, type EventsSubscription, type SubscribeEventsOptions } from './events.js';

/** The WebSocket constructor shape the client needs (browser `WebSocket`, or the `ws` package). */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface ClientOptions {
  /** Server base URL (`http(s)://` or `ws(s)://`), or several nodes tried in turn on reconnect. */
  url: string | string[];
  /** A token, or a function that fetches one (called on every connect and before expiry). */
  token: string | (() => string | Promise<string>);
  /** Wire codec. Default 'json'. */
  codec?: CodecName;
  /** WebSocket implementation; defaults to `globalThis.WebSocket` (pass `ws` on Node 20). */
  WebSocket?: WebSocketConstructor;
  reconnect?: BackoffOptions & { enabled?: boolean };
  /** Publishes kept while offline or awaiting ack; more reject with QUEUE_FULL. Default 1,000. */
  maxQueuedPublishes?: number;
  /** Time to wait for a reply to a non-publish request while connected. Default 10,000 ms. */
  requestTimeoutMs?: number;
  /** Reconnect when nothing (not even a ping) arrived for this long. Default: ping interval + 10 s. */
  serverSilenceMs?: number;
  /** Refresh the token this long before it expires (token functions only). Default 30,000 ms. */
  refreshBeforeExpiryMs?: number;
  /** Connect immediately. Default true. */
  autoConnect?: boolean;
}

export interface DisconnectInfo { code: number; reason: string; reconnect: boolean }

export interface ClientEvents {
  state: (state: ConnectionState) => void;
  connected: (info: AuthResult) => void;
  disconnected: (info: DisconnectInfo) => void;
  error: (error: AqueductError) => void;
}

interface PendingRequest {
  resolve: (value: unknown) => void;
  reject: (err: AqueductError) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/** A publish waiting for its ack; resent with the same `cid` after a reconnect. */
interface QueuedPublish {
  frame: { t: 'pub'; id: number; room: string; data: unknown; cid: string; event?: string };
  resolve: (value: ResultMap['pub']) => void;
  reject: (err: AqueductError) => void;
  /** RATE_LIMITED replies so far; resent after a backoff up to MAX_THROTTLED_RESENDS times. */
  throttled?: number;
  awaitingResend?: boolean;
}

/** How often a rate-limited publish is retried before its promise rejects with RATE_LIMITED. */
const MAX_THROTTLED_RESENDS = 20;

const newId = (): string => {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
};

/**
 * A connection to Aqueduct's room bus. Reconnects with capped exponential backoff and full jitter,
 * re-joins rooms with recovery, resends unacknowledged publishes with their ids (so each is
 * published once), and drops deliveries it has already seen.
 */
export class AqueductClient extends Emitter<ClientEvents> {
  readonly codec: Codec;
  private readonly urls: string[];
  private urlIndex = 0;
  private ws?: WebSocketLike;
  private _state: ConnectionState = 'disconnected';
  private nextId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly publishes = new Map<string, QueuedPublish>();
  private readonly rooms = new Map<string, Room>();
  private attempt = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private silenceTimer?: ReturnType<typeof setTimeout>;
  private refreshTimer?: ReturnType<typeof setTimeout>;
  private info?: AuthResult;
  private closedByUser = false;
  private readonly WS: WebSocketConstructor;

  constructor(private readonly options: ClientOptions) {
    super();
    this.urls = (Array.isArray(options.url) ? options.url : [options.url]).map(toWsUrl);
    if (this.urls.length === 0) throw new Error('at least one url is required');
    this.codec = options.codec === 'msgpack' ? msgpackCodec : jsonCodec;
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new Error('no WebSocket implementation: pass { WebSocket } (e.g. the ws package) on Node 20');
    this.WS = WS;
    if (options.autoConnect !== false) this.connect();
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** The server-assigned connection id (presence `client`, signaling target). */
  get clientId(): string | undefined {
    return this.info?.client;
  }

  get userId(): string | undefined {
    return this.info?.user;
  }

  /** Publishes waiting to be sent or acknowledged. */
  get queuedPublishes(): number {
    return this.publishes.size;
  }

  private setState(state: ConnectionState): void {
    if (this._state === state) return;
    this._state = state;
    this.emit('state', state);
  }

  /** Opens the connection (no-op if already open or connecting). */
  connect(): void {
    if (this.ws || this._state === 'closed' && this.closedByUser) return;
    this.closedByUser = false;
    clearTimeout(this.reconnectTimer);
    this.setState('connecting');
    const url = this.urls[this.urlIndex % this.urls.length];
    let ws: WebSocketLike;
    try {
      ws = new this.WS(url, this.codec.subprotocol);
    } catch (err) {
      this.emit('error', new AqueductError('DISCONNECTED', `cannot connect: ${(err as Error).message}`, true));
      this.scheduleReconnect();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => void this.onOpen(ws);
    ws.onmessage = (ev) => this.onFrame(ws, ev.data);
    ws.onerror = () => undefined; // followed by onclose
    ws.onclose = (ev) => this.onClose(ws, ev.code, ev.reason);
  }

  private async onOpen(ws: WebSocketLike): Promise<void> {
    this.armSilence(15_000);
    let token: string;
    try {
      token = await this.getToken();
    } catch (err) {
      this.emit('error', new AqueductError('TOKEN_INVALID', `token function failed: ${(err as Error).message}`, true));
      ws.close(4000, 'token unavailable');
      return;
    }
    if (this.ws !== ws) return;
    let info: AuthResult;
    try {
      info = await this.request('auth', { token }) as AuthResult;
    } catch (err) {
      if (this.ws === ws) this.emit('error', err as AqueductError);
      return; // the server closes the connection; onClose decides about reconnecting
    }
    if (this.ws !== ws) return;
    this.info = info;
    this.attempt = 0;
    this.armSilence();
    this.scheduleRefresh(info.expiresAt);
    this.setState('connected');
    this.emit('connected', info);
    // Resend unacknowledged publishes first, in their original order, with their original ids.
    for (const p of this.publishes.values()) this.sendPublish(p);
    for (const room of this.rooms.values()) room._rejoin();
  }

  private async getToken(): Promise<string> {
    const t = this.options.token;
    return typeof t === 'function' ? await t() : t;
  }

  private scheduleRefresh(expiresAt: number): void {
    clearTimeout(this.refreshTimer);
    if (typeof this.options.token !== 'function') return;
    const lead = this.options.refreshBeforeExpiryMs ?? 30_000;
    const delay = Math.max(1000, expiresAt - Date.now() - lead);
    if (!Number.isFinite(delay) || delay > 2 ** 31 - 1) return;
    this.refreshTimer = setTimeout(() => void this.refreshToken(), delay);
  }

  private async refreshToken(): Promise<void> {
    try {
      const token = await this.getToken();
      const result = await this.request('refresh', { token }) as ResultMap['refresh'];
      this.scheduleRefresh(result.expiresAt);
    } catch (err) {
      this.emit('error', err instanceof AqueductError ? err : new AqueductError('TOKEN_INVALID', String(err)));
    }
  }

  private armSilence(ms?: number): void {
    clearTimeout(this.silenceTimer);
    const limit = ms ?? this.options.serverSilenceMs ?? (this.info?.pingIntervalMs ?? 25_000) + 10_000;
    const ws = this.ws;
    this.silenceTimer = setTimeout(() => {
      if (this.ws !== ws || !ws) return;
      // The server went silent (dead node, broken network): drop the socket and reconnect.
      this.onClose(ws, 4002, 'server silent');
      try { ws.close(4002, 'server silent'); } catch { /* already closing */ }
    }, limit);
  }

  private onFrame(ws: WebSocketLike, data: unknown): void {
    if (this.ws !== ws) return;
    this.armSilence(this.info ? undefined : 15_000);
    let msg: ServerMessage;
    try {
      const frame = typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer);
      msg = this.codec.decode(frame) as ServerMessage;
    } catch {
      this.emit('error', new AqueductError('BAD_REQUEST', 'undecodable frame from server'));
      return;
    }
    switch (msg.t) {
      case 'reply': {
        // Reply 0 answers the upgrade's ?token= (not used by this client).
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.error) p.reject(AqueductError.fromReply(msg.error));
        else p.resolve(msg.result);
        return;
      }
      case 'msg':
      case 'presence.join':
      case 'presence.leave':
      case 'signal':
      case 'reset':
        this.rooms.get(msg.room)?._receive(msg);
        return;
      case 'ping':
        this.sendFrame({ t: 'pong' });
        return;
      case 'disconnect':
        return; // the close frame follows with the same code
    }
  }

  private onClose(ws: WebSocketLike, code: number, reason: string): void {
    if (this.ws !== ws) return;
    this.ws = undefined;
    ws.onopen = ws.onmessage = ws.onclose = null;
    clearTimeout(this.silenceTimer);
    clearTimeout(this.refreshTimer);
    this.info = undefined;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new AqueductError('DISCONNECTED', 'connection lost', true));
      this.pending.delete(id);
    }
    for (const room of this.rooms.values()) room._disconnected();
    const reconnect = !this.closedByUser && this.options.reconnect?.enabled !== false &&
      // A token function may fix an authentication failure; a static token cannot.
      (shouldReconnect(code) || (code === 4500 && typeof this.options.token === 'function'));
    this.emit('disconnected', { code, reason, reconnect });
    if (this.closedByUser) return;
    if (!reconnect) {
      this.failQueued(new AqueductError('CLOSED', `connection closed: ${code} ${reason}`));
      this.setState('closed');
      return;
    }
    this.setState('disconnected');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    clearTimeout(this.reconnectTimer);
    this.urlIndex++;
    const delay = backoffDelay(this.attempt++, this.options.reconnect);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private failQueued(err: AqueductError): void {
    for (const p of this.publishes.values()) p.reject(err);
    this.publishes.clear();
  }

  /** Closes for good: pending requests and queued publishes reject with CLOSED. */
  close(): void {
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.silenceTimer);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.throttleTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try { ws.close(1000, 'client closed'); } catch { /* not open yet */ }
    }
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(new AqueductError('CLOSED', 'client closed')); }
    this.pending.clear();
    this.failQueued(new AqueductError('CLOSED', 'client closed'));
    this.setState('closed');
  }

  /** Drops the connection as if the network failed (tests, "reconnect now" buttons). */
  reconnectNow(): void {
    const ws = this.ws;
    if (ws) this.onClose(ws, 4000, 'client reconnect');
    try { ws?.close(4000, 'client reconnect'); } catch { /* ignore */ }
    this.attempt = 0;
  }

  // -------------------------------------------------------------- requests

  private sendFrame(frame: object): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(this.codec.encode(frame) as string | Uint8Array);
    return true;
  }

  /** Sends a request on the current connection; rejects with DISCONNECTED if it drops first. */
  request<K extends keyof ResultMap>(type: K, body: Record<string, unknown>): Promise<ResultMap[K]> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      if (!this.sendFrame({ t: type, id, ...body })) {
        reject(new AqueductError('DISCONNECTED', 'not connected', true));
        return;
      }
      const timeout = this.options.requestTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AqueductError('TIMEOUT', `${type} timed out after ${timeout} ms`, true));
      }, timeout);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
    });
  }

  /** Whether requests can be sent now (authenticated connection). */
  get ready(): boolean {
    return this._state === 'connected';
  }

  /** @internal Publishes with a client-made id; queued (bounded) while offline; resolves on the server's ack. */
  _publish(room: string, data: unknown, event: string | undefined): Promise<ResultMap['pub']> {
    const max = this.options.maxQueuedPublishes ?? 1000;
    if (this.publishes.size >= max) return Promise.reject(new AqueductError('QUEUE_FULL', `more than ${max} publishes waiting`, true));
    return new Promise((resolve, reject) => {
      const cid = newId();
      const frame: QueuedPublish['frame'] = { t: 'pub', id: 0, room, data, cid };
      if (event !== undefined) frame.event = event;
      const entry: QueuedPublish = { frame, resolve, reject };
      this.publishes.set(cid, entry);
      if (this.ready) this.sendPublish(entry);
    });
  }

  private throttleTimer?: ReturnType<typeof setTimeout>;
  private throttleAttempt = 0;

  /** Resends every rate-limited publish, in queue order, after a backoff delay. */
  private scheduleThrottledResend(): void {
    if (this.throttleTimer) return;
    const delay = Math.max(100, backoffDelay(this.throttleAttempt++, { minDelayMs: 500, maxDelayMs: 5000 }));
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = undefined;
      if (!this.ready) return; // the reconnect resends everything anyway
      let resent = false;
      for (const p of this.publishes.values()) {
        if (p.throttled && p.awaitingResend) { p.awaitingResend = false; this.sendPublish(p); resent = true; }
      }
      if (!resent) this.throttleAttempt = 0;
    }, delay);
  }

  private sendPublish(entry: QueuedPublish): void {
    const id = this.nextId++;
    entry.frame.id = id;
    if (!this.sendFrame(entry.frame)) return;
    const { cid } = entry.frame;
    // No timeout: an unacknowledged publish stays queued and is resent on the next connection.
    this.pending.set(id, {
      resolve: (v) => {
        if (this.publishes.delete(cid)) entry.resolve(v as ResultMap['pub']);
      },
      reject: (err) => {
        if (err.code === 'DISCONNECTED') return; // resent after reconnect
        if (err.code === 'RATE_LIMITED' && (entry.throttled ?? 0) < MAX_THROTTLED_RESENDS && this.publishes.has(cid)) {
          // A resent offline queue can outrun the server's publish burst: keep it queued and
          // resend later (same cid, so it is still published once) instead of failing it.
          entry.throttled = (entry.throttled ?? 0) + 1;
          entry.awaitingResend = true;
          this.scheduleThrottledResend();
          return;
        }
        if (this.publishes.delete(cid)) entry.reject(err);
      },
    });
  }

  /** @internal Fire-and-forget volatile publish (dropped while offline). */
  _publishVolatile(room: string, data: unknown, event: string | undefined): boolean {
    if (!this.ready) return false;
    return this.sendFrame({ t: 'pub', id: this.nextId++, room, data, event, volatile: true });
  }

  /** Returns the room handle (created and joined on first use). */
  room(name: string, options: RoomOptions = {}): Room {
    let room = this.rooms.get(name);
    if (!room) {
      room = new Room(this, name, options);
      this.rooms.set(name, room);
      if (this.ready) room._rejoin();
    }
    return room;
  }

  /** @internal */
  _forgetRoom(name: string): void {
    this.rooms.delete(name);
  }

  /**
   * A WebRTC peer mesh over `room`: joins it as a mesh member and connects to every other mesh
   * member (docs/webrtc.md). Call before `client.room(name)` for the same room.
   */
  peers(room: string, options: PeerMeshOptions = {}): PeerMesh {
    return new PeerMesh(this, room, options);
  }

  /**
   * Subscribes to rooms over Server-Sent Events on this client's server, with its token
   * (docs/sse-http.md). Independent of the WebSocket connection; resumes exactly by event id.
   */
  events<T = unknown>(
    rooms: readonly string[],
    handlers: EventsHandlers<T>,
    options: Omit<SubscribeEventsOptions<T>, 'url' | 'token' | 'rooms' | 'handlers'> = {},
  ): EventsSubscription {
    return subscribeEvents({ ...options, url: this.urls[this.urlIndex % this.urls.length], token: this.options.token, rooms, handlers });
  }

  /** @internal The HTTP base URL of the current node and the token, for the SDK's HTTP calls. */
  async _http(): Promise<{ baseUrl: string; token: string }> {
    const u = new URL(this.urls[this.urlIndex % this.urls.length]);
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    return { baseUrl: u.origin, token: await this.getToken() };
  }
}

function toWsUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/ws';
  return u.toString();
}
