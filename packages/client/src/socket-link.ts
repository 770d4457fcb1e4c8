import {
  ClientCloseCodes, CloseCodes, shouldReconnect,
  type AuthResult, type Codec, type ResultMap, type ServerMessage,
} from '@aqueduct/protocol';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { ConnectionState, DisconnectInfo, WebSocketConstructor, WebSocketLike } from './connection.js';
import { AqueductError } from './errors.js';

/** The settings of `ClientOptions` the socket needs. */
export interface SocketLinkOptions {
  urls: string[];
  codec: Codec;
  WebSocket: WebSocketConstructor;
  token: string | (() => string | Promise<string>);
  reconnect?: BackoffOptions & { enabled?: boolean };
  requestTimeoutMs?: number;
  serverSilenceMs?: number;
  refreshBeforeExpiryMs?: number;
}

/** Room-level server messages, handed to the room registry. */
export type RoomServerMessage = Extract<ServerMessage, { room: string }>;

/** What the link tells its owner, in the order the owner must react. */
export interface SocketLinkEvents {
  state(state: ConnectionState): void;
  /** Authenticated: resend the outbox, re-join rooms. */
  connected(info: AuthResult): void;
  /** The socket dropped (before `disconnected` is reported): rooms stop counting as joined. */
  dropped(): void;
  disconnected(info: DisconnectInfo): void;
  /** The close was final (no reconnect): fail what waits on a connection. */
  final(info: DisconnectInfo): void;
  message(msg: RoomServerMessage): void;
  error(err: AqueductError): void;
}

interface PendingRequest {
  resolve: (value: unknown) => void;
  reject: (err: AqueductError) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/** Deadline for the auth reply (and any frame) on a fresh socket before it counts as silent. */
const OPENING_SILENCE_MS = 15_000;

/**
 * One WebSocket at a time to one of the nodes: authentication, token refresh, the server-silence
 * watchdog, reconnects with capped exponential backoff and full jitter, and the table of requests
 * awaiting replies. Knows nothing about rooms or publishes beyond handing frames on.
 */
export class SocketLink {
  private urlIndex = 0;
  private ws?: WebSocketLike;
  private _state: ConnectionState = 'disconnected';
  private lastId = 0;
  private readonly pending = new Map<number, PendingRequest>();
  private attempt = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private silenceTimer?: ReturnType<typeof setTimeout>;
  private refreshTimer?: ReturnType<typeof setTimeout>;
  private info?: AuthResult;
  private closedByUser = false;

  constructor(private readonly options: SocketLinkOptions, private readonly on: SocketLinkEvents) {}

  get state(): ConnectionState {
    return this._state;
  }

  get auth(): AuthResult | undefined {
    return this.info;
  }

  get ready(): boolean {
    return this._state === 'connected';
  }

  /** The node used now (rotates on every reconnect). */
  get url(): string {
    return this.options.urls[this.urlIndex % this.options.urls.length];
  }

  private setState(state: ConnectionState): void {
    if (this._state === state) return;
    this._state = state;
    this.on.state(state);
  }

  async getToken(): Promise<string> {
    const t = this.options.token;
    return typeof t === 'function' ? await t() : t;
  }

  /** Opens the connection (no-op if already open or connecting, or closed by the user). */
  connect(): void {
    if (this.ws || this._state === 'closed' && this.closedByUser) return;
    this.closedByUser = false;
    clearTimeout(this.reconnectTimer);
    this.setState('connecting');
    let ws: WebSocketLike;
    try {
      ws = new this.options.WebSocket(this.url, this.options.codec.subprotocol);
    } catch (err) {
      this.on.error(new AqueductError('DISCONNECTED', `cannot connect: ${(err as Error).message}`, true));
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
    this.armSilence(OPENING_SILENCE_MS);
    let token: string;
    try {
      token = await this.getToken();
    } catch (err) {
      this.on.error(new AqueductError('TOKEN_INVALID', `token function failed: ${(err as Error).message}`, true));
      ws.close(ClientCloseCodes.TOKEN_UNAVAILABLE.code, ClientCloseCodes.TOKEN_UNAVAILABLE.reason);
      return;
    }
    if (this.ws !== ws) return;
    let info: AuthResult;
    try {
      info = await this.request('auth', { token });
    } catch (err) {
      if (this.ws === ws) this.on.error(err as AqueductError);
      return; // the server closes the connection; onClose decides about reconnecting
    }
    if (this.ws !== ws) return;
    this.info = info;
    this.attempt = 0;
    this.armSilence();
    this.scheduleRefresh(info.expiresAt);
    this.setState('connected');
    this.on.connected(info);
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
      const result = await this.request('refresh', { token });
      this.scheduleRefresh(result.expiresAt);
    } catch (err) {
      this.on.error(err instanceof AqueductError ? err : new AqueductError('TOKEN_INVALID', String(err)));
    }
  }

  private armSilence(ms?: number): void {
    clearTimeout(this.silenceTimer);
    const limit = ms ?? this.options.serverSilenceMs ?? (this.info?.pingIntervalMs ?? 25_000) + 10_000;
    const ws = this.ws;
    this.silenceTimer = setTimeout(() => {
      if (this.ws !== ws || !ws) return;
      // The server went silent (dead node, broken network): drop the socket and reconnect.
      const { code, reason } = ClientCloseCodes.SERVER_SILENT;
      this.onClose(ws, code, reason);
      try { ws.close(code, reason); } catch { /* already closing */ }
    }, limit);
  }

  private onFrame(ws: WebSocketLike, data: unknown): void {
    if (this.ws !== ws) return;
    this.armSilence(this.info ? undefined : OPENING_SILENCE_MS);
    let msg: ServerMessage;
    try {
      const frame = typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer);
      msg = this.options.codec.decode(frame) as ServerMessage;
    } catch {
      this.on.error(new AqueductError('BAD_REQUEST', 'undecodable frame from server'));
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
      case 'media':
        this.on.message(msg);
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
    this.on.dropped();
    const reconnect = !this.closedByUser && this.options.reconnect?.enabled !== false &&
      // A token function may fix an authentication failure; a static token cannot.
      (shouldReconnect(code) || (code === CloseCodes.AUTH_FAILED.code && typeof this.options.token === 'function'));
    const info: DisconnectInfo = { code, reason, reconnect };
    this.on.disconnected(info);
    if (this.closedByUser) return;
    if (!reconnect) {
      this.on.final(info);
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

  /** Closes for good: pending requests reject with CLOSED. */
  close(): void {
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.silenceTimer);
    clearTimeout(this.refreshTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try { ws.close(ClientCloseCodes.CLOSED.code, ClientCloseCodes.CLOSED.reason); } catch { /* not open yet */ }
    }
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(new AqueductError('CLOSED', 'client closed')); }
    this.pending.clear();
  }

  /** Marks the link closed (after `close()` and the owner's own cleanup). */
  markClosed(): void {
    this.setState('closed');
  }

  /** Drops the connection as if the network failed. */
  reconnectNow(): void {
    const ws = this.ws;
    const { code, reason } = ClientCloseCodes.RECONNECT;
    if (ws) this.onClose(ws, code, reason);
    try { ws?.close(code, reason); } catch { /* ignore */ }
    this.attempt = 0;
  }

  /** A fresh request id. */
  nextId(): number {
    return ++this.lastId;
  }

  /** Encodes and sends a frame; false when there is no open socket. */
  sendFrame(frame: object): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(this.options.codec.encode(frame) as string | Uint8Array);
    return true;
  }

  /**
   * Waits for the reply to request `id` (already sent). Without `timeoutMs` it waits until the reply
   * or the connection's end (DISCONNECTED), whichever comes first.
   */
  awaitReply(id: number, handlers: Omit<PendingRequest, 'timer'>, timeoutMs?: number, what = 'request'): void {
    const entry: PendingRequest = { ...handlers };
    if (timeoutMs !== undefined) {
      entry.timer = setTimeout(() => {
        this.pending.delete(id);
        handlers.reject(new AqueductError('TIMEOUT', `${what} timed out after ${timeoutMs} ms`, true));
      }, timeoutMs);
    }
    this.pending.set(id, entry);
  }

  /** Sends a request on the current connection; rejects with DISCONNECTED if it drops first. */
  request<K extends keyof ResultMap>(type: K, body: Record<string, unknown>): Promise<ResultMap[K]> {
    return new Promise((resolve, reject) => {
      const id = this.nextId();
      if (!this.sendFrame({ t: type, id, ...body })) {
        reject(new AqueductError('DISCONNECTED', 'not connected', true));
        return;
      }
      this.awaitReply(id, { resolve: resolve as (v: unknown) => void, reject }, this.options.requestTimeoutMs ?? 10_000, String(type));
    });
  }
}
