import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { Logger } from '../logger.js';

/** A message from Janus (the JSON of its WebSocket API). */
export interface JanusMessage {
  janus: string;
  transaction?: string;
  session_id?: number;
  sender?: number;
  data?: { id?: number };
  error?: { code: number; reason: string };
  plugindata?: { plugin: string; data: Record<string, unknown> };
  jsep?: { type: string; sdp: string };
  [key: string]: unknown;
}

/** Janus answered with an error (core `error`, or a plugin's `error_code`). */
export class JanusError extends Error {
  constructor(readonly code: number, reason: string) {
    super(`janus error ${code}: ${reason}`);
    this.name = 'JanusError';
  }
}

/** Janus cannot be reached, the request timed out, or too many are in flight. */
export class JanusUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JanusUnavailableError';
  }
}

export interface JanusConnectionOptions {
  url: string;
  apiSecret?: string;
  requestTimeoutMs: number;
  maxPendingRequests: number;
  keepaliveMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

export interface JanusConnectionEvents {
  /** Connected (first time or again). Sessions of a previous connection are gone. */
  up(): void;
  /** The connection dropped: every Janus session made on it is gone (Janus drops them with their transport). */
  down(reason: string): void;
  /** An event not answering a request (or an async answer after its request timed out). */
  event(msg: JanusMessage): void;
  /** Round trip of one request, for the latency histogram. */
  rtt(ms: number, request: string): void;
}

interface Pending {
  resolve(msg: JanusMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  /** `message` requests to a plugin: resolve on the async `event`, not on the `ack`. */
  async: boolean;
  started: number;
  request: string;
}

/**
 * One WebSocket to the Janus API (`janus-protocol` subprotocol), shared by every media participant
 * of this node. Requests carry a transaction and the API secret and fail after `requestTimeoutMs`;
 * at most `maxPendingRequests` are in flight. Sessions are kept alive every `keepaliveMs`. On a drop
 * every pending request fails, `down` is reported and the socket reconnects with capped, jittered
 * backoff (`reconnectMinMs`..`reconnectMaxMs`), reporting `up` when it is back.
 */
export class JanusConnection {
  private ws: WebSocket | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly sessions = new Set<number>();
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private closed = false;
  /** The socket is open (requests may be sent). */
  private open = false;
  /** Janus accepted a request with our API secret on this socket. */
  private verified = false;
  private lastError = 'not connected yet';

  constructor(private readonly opts: JanusConnectionOptions, private readonly on: JanusConnectionEvents, private readonly logger: Logger) {}

  /** Whether requests can be sent now. */
  get isUp(): boolean {
    return this.open && this.verified;
  }

  /** Why the connection is down (for `/readyz`). */
  get downReason(): string {
    return this.lastError;
  }

  start(): void {
    this.connect();
    this.keepaliveTimer = setInterval(() => this.keepalive(), this.opts.keepaliveMs);
    this.keepaliveTimer.unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.keepaliveTimer);
    clearTimeout(this.reconnectTimer);
    this.failAll('janus connection closed');
    this.ws?.terminate();
  }

  /** Keeps `sessionId` alive (until `forget`). */
  track(sessionId: number): void {
    this.sessions.add(sessionId);
  }

  forget(sessionId: number): void {
    this.sessions.delete(sessionId);
  }

  /**
   * Sends a request; resolves with Janus's `success` (or, for plugin `message`s, the async `event`
   * carrying the same transaction). Rejects with JanusError on an error answer, JanusUnavailableError
   * when Janus is down, too many requests are pending, or no answer came in time.
   */
  request(body: Record<string, unknown>): Promise<JanusMessage> {
    const ws = this.ws;
    if (!ws || !this.open) return Promise.reject(new JanusUnavailableError(`the SFU is unreachable (${this.lastError})`));
    if (this.pending.size >= this.opts.maxPendingRequests) return Promise.reject(new JanusUnavailableError('too many SFU requests in flight'));
    const transaction = randomBytes(8).toString('hex');
    const request = String(body.janus);
    const msg = { ...body, transaction, ...(this.opts.apiSecret ? { apisecret: this.opts.apiSecret } : {}) };
    return new Promise<JanusMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(transaction);
        reject(new JanusUnavailableError(`the SFU did not answer ${request} within ${this.opts.requestTimeoutMs} ms`));
      }, this.opts.requestTimeoutMs);
      this.pending.set(transaction, { resolve, reject, timer, async: request === 'message', started: performance.now(), request });
      ws.send(JSON.stringify(msg), (err) => {
        if (!err) return;
        const p = this.pending.get(transaction);
        if (!p) return;
        this.pending.delete(transaction);
        clearTimeout(p.timer);
        reject(new JanusUnavailableError(`sending to the SFU failed: ${err.message}`));
      });
    });
  }

  private connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.opts.url, 'janus-protocol', { handshakeTimeout: this.opts.requestTimeoutMs, maxPayload: 4 * 1024 * 1024 });
    this.ws = ws;
    ws.on('open', () => {
      if (this.ws !== ws) return;
      this.open = true;
      // Up only once Janus accepts a request with our secret: a wrong `sfu.apiSecret` must show as
      // "unreachable" (UNAVAILABLE, /readyz 503), not as errors on every client's request.
      this.request({ janus: 'create' }).then(
        (r) => {
          if (this.ws !== ws) return;
          void this.request({ janus: 'destroy', session_id: r.data?.id }).catch(() => undefined);
          this.verified = true;
          this.attempt = 0;
          this.lastError = '';
          this.logger.info({ url: this.opts.url }, 'connected to janus');
          this.on.up();
        },
        (err: Error) => {
          if (this.ws !== ws) return;
          this.lastError = err instanceof JanusError ? `janus refused the API secret or the request (${err.message}); check sfu.apiSecret` : err.message;
          this.logger.warn({ url: this.opts.url, reason: this.lastError }, 'janus connection not usable');
          ws.terminate();
        },
      );
    });
    ws.on('message', (data) => this.onMessage(data.toString()));
    ws.on('error', (err) => {
      this.lastError = err.message;
    });
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      const wasOpen = this.open && this.verified;
      this.open = false;
      this.verified = false;
      this.sessions.clear();
      if (!this.lastError) this.lastError = 'connection closed';
      this.failAll(`the SFU connection dropped (${this.lastError})`);
      if (wasOpen) {
        this.logger.warn({ url: this.opts.url, reason: this.lastError }, 'janus connection lost');
        this.on.down(this.lastError);
      }
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const cap = Math.min(this.opts.reconnectMaxMs, this.opts.reconnectMinMs * 2 ** Math.min(this.attempt, 16));
    this.attempt++;
    const delay = this.opts.reconnectMinMs / 2 + Math.random() * Math.max(0, cap - this.opts.reconnectMinMs / 2);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref();
  }

  private failAll(reason: string): void {
    for (const [t, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(t);
      p.reject(new JanusUnavailableError(reason));
    }
  }

  private keepalive(): void {
    if (!this.open) return;
    for (const id of this.sessions) {
      this.request({ janus: 'keepalive', session_id: id }).catch((err: Error) => {
        this.logger.info({ session: id, err: err.message }, 'janus keepalive failed');
      });
    }
  }

  private onMessage(text: string): void {
    let msg: JanusMessage;
    try {
      msg = JSON.parse(text) as JanusMessage;
    } catch {
      this.logger.warn('undecodable message from janus');
      return;
    }
    const p = msg.transaction === undefined ? undefined : this.pending.get(msg.transaction);
    if (!p) {
      this.on.event(msg);
      return;
    }
    // A plugin `message` is acked first when the plugin answers asynchronously: the answer follows
    // as an `event` with the same transaction. Other requests (keepalive, trickle) end with the ack.
    if (msg.janus === 'ack' && p.async) return;
    this.pending.delete(msg.transaction as string);
    clearTimeout(p.timer);
    this.on.rtt(performance.now() - p.started, p.request);
    if (msg.janus === 'error') {
      p.reject(new JanusError(msg.error?.code ?? 0, msg.error?.reason ?? 'unknown'));
      return;
    }
    const data = msg.plugindata?.data;
    if (data && typeof data.error_code === 'number') {
      p.reject(new JanusError(data.error_code, String(data.error ?? 'plugin error')));
      return;
    }
    p.resolve(msg);
  }
}
