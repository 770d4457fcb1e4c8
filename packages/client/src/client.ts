import { ClientCloseCodes, jsonCodec, type AuthResult, type Codec, type Position, type ResultMap } from '@aqueduct/protocol';
import type { BackoffOptions } from './backoff.js';
import type { ConnectionState, DisconnectInfo, RoomConnection, WebSocketConstructor } from './connection.js';
import { Emitter } from './emitter.js';
import { AqueductError } from './errors.js';
import { Outbox } from './outbox.js';
import type { OutboxEvents } from './outbox-types.js';
import type { OfflinePersistence, OutboxAck, OutboxDrop, OutboxEntry } from './offline-types.js';
import { Room, type RoomOptions } from './room.js';
import { PeerMesh, type PeerMeshOptions } from './peers.js';
import { MediaSession, type MediaOptions } from './media.js';
import { SocketLink } from './socket-link.js';
import { subscribeEvents, type EventsHandlers, type EventsSubscription, type SubscribeEventsOptions } from './events.js';

export type { ConnectionState, DisconnectInfo, WebSocketConstructor, WebSocketLike } from './connection.js';

export interface ClientOptions {
  /** Server base URL (`http(s)://` or `ws(s)://`), or several nodes tried in turn on reconnect. */
  url: string | string[];
  /** A token, or a function that fetches one (called on every connect and before expiry). */
  token: string | (() => string | Promise<string>);
  /**
   * Wire codec: `'json'` (default), or a codec object. For MessagePack pass `msgpackCodec` from
   * `@aqueduct/client/msgpack` (a separate entry, so JSON-only bundles carry no msgpackr).
   */
  codec?: 'json' | Codec;
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
  /**
   * Offline persistence (opt-in, from `@aqueduct/client/offline`): `offlineStorage({ store })`
   * keeps the outbox, room positions and SSE positions across reloads. The client connects once
   * they are restored; its `outboxMax` then bounds the outbox (instead of `maxQueuedPublishes`).
   */
  offline?: OfflinePersistence;
}

export interface ClientEvents {
  state: (state: ConnectionState) => void;
  connected: (info: AuthResult) => void;
  disconnected: (info: DisconnectInfo) => void;
  error: (error: AqueductError) => void;
  /** The server acknowledged a queued publish (also one restored from storage, which has no promise). */
  outboxack: (info: OutboxAck) => void;
  /** A queued publish left the outbox unsent: too old, unconfirmed, refused, or over the limit. */
  outboxdrop: (info: OutboxDrop) => void;
  /** Publishes restored from offline storage (or taken over from a closed tab) joined the outbox. */
  outboxrestore: (entries: OutboxEntry[]) => void;
}

/**
 * A connection to Aqueduct's room bus. Reconnects with capped exponential backoff and full jitter,
 * re-joins rooms with recovery, resends unacknowledged publishes with their ids (so each is
 * published once), and drops deliveries it has already seen.
 *
 * The work is split: `SocketLink` owns the socket (auth, refresh, heartbeat, reconnects, replies),
 * `Outbox` the publishes awaiting acks, and this class the room registry and the public API. Rooms
 * and peer meshes see only the narrow `RoomConnection`.
 */
export class AqueductClient extends Emitter<ClientEvents> {
  readonly codec: Codec;
  private readonly urls: string[];
  private readonly link: SocketLink;
  private readonly outbox: Outbox;
  private readonly rooms = new Map<string, Room<unknown>>();
  /** Media sessions by room (SFU events are routed here). */
  private readonly medias = new Map<string, MediaSession>();
  private readonly connection: RoomConnection;
  /** The final close's error, for rooms created after it (until a new connection). */
  private lastClose?: AqueductError;
  /** Room positions restored from offline storage, applied to rooms as they are created. */
  private restoredPositions?: Map<string, Position>;
  private restoring = false;
  /** The user of the last authenticated connection: the owner of publishes queued while offline. */
  private lastUser?: string;
  /** Resolves once offline storage (if any) is restored: the outbox holds the saved publishes. */
  readonly restored: Promise<void>;

  constructor(private readonly options: ClientOptions) {
    super();
    this.urls = (Array.isArray(options.url) ? options.url : [options.url]).map(toWsUrl);
    if (this.urls.length === 0) throw new Error('at least one url is required');
    this.codec = pickCodec(options.codec);
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new Error('no WebSocket implementation: pass { WebSocket } (e.g. the ws package) on Node 20');
    this.link = new SocketLink({ ...options, urls: this.urls, codec: this.codec, WebSocket: WS }, {
      state: (state) => this.emit('state', state),
      connected: (info) => {
        this.lastClose = undefined;
        this.lastUser = info.user;
        this.emit('connected', info);
        // Resend unacknowledged publishes first, in their original order, with their original ids.
        this.outbox.resendAll(info.user);
        for (const room of this.rooms.values()) room._rejoin();
        options.offline?.rescan();
        for (const media of this.medias.values()) media._reconnected();
      },
      dropped: () => {
        for (const room of this.rooms.values()) room._disconnected();
        for (const media of this.medias.values()) media._dropped();
      },
      disconnected: (info) => this.emit('disconnected', info),
      final: ({ code, reason }) => this.closeAll(new AqueductError('CLOSED', `connection closed: ${code} ${reason}`, false, { closeCode: code, closeReason: reason })),
      message: (msg) => msg.t === 'media' ? this.medias.get(msg.room)?._receive(msg) : this.rooms.get(msg.room)?._receive(msg),
      error: (err) => this.emit('error', err),
    });
    const offline = options.offline;
    const events: OutboxEvents = {
      ack: (info) => this.emit('outboxack', info),
      drop: (info) => this.emit('outboxdrop', info),
      error: (err) => this.emit('error', err),
    };
    this.outbox = offline?.createOutbox(this.link, events) ?? new Outbox(this.link, options.maxQueuedPublishes ?? 1000, events);
    const link = this.link;
    const outbox = this.outbox;
    this.connection = {
      get ready() { return link.ready; },
      get clientId() { return link.auth?.client; },
      request: (type, body) => link.request(type, body),
      // Closed for good: refuse at once rather than queue for a connection that will not come.
      publish: (room, data, event) => this.link.state === 'closed'
        ? Promise.reject(this.lastClose ?? new AqueductError('CLOSED', 'client is closed'))
        : outbox.publish(room, data, event, link.auth?.user ?? this.lastUser),
      publishVolatile: (room, data, event) => link.ready && link.sendFrame({ t: 'pub', id: link.nextId(), room, data, event, volatile: true }),
      forgetRoom: (name) => { this.rooms.delete(name); },
      positionChanged: offline ? (room, position) => offline.savePosition(room, position) : undefined,
      http: () => this.http(),
    };
    // The connection waits until the saved outbox and positions are back (`connect()`).
    this.restoring = !!offline;
    this.restored = offline
      ? offline.start({
        restored: (entries) => this.emit('outboxrestore', entries),
        positions: (positions) => {
          this.restoredPositions = positions;
          for (const room of this.rooms.values()) {
            const p = positions.get(room.name);
            if (p) room._restorePosition(p);
          }
        },
        error: (err) => this.emit('error', err),
      }).finally(() => { this.restoring = false; })
      : Promise.resolve();
    if (options.autoConnect !== false) this.connect();
  }

  get state(): ConnectionState {
    return this.link.state;
  }

  /** The server-assigned connection id (presence `client`, signaling target). */
  get clientId(): string | undefined {
    return this.link.auth?.client;
  }

  get userId(): string | undefined {
    return this.link.auth?.user;
  }

  /** Publishes waiting to be sent or acknowledged. */
  get queuedPublishes(): number {
    return this.outbox.size;
  }

  /** Whether requests can be sent now (authenticated connection). */
  get ready(): boolean {
    return this.link.ready;
  }

  /** Copies of the publishes waiting to be sent or acknowledged, oldest first. */
  pendingPublishes(): OutboxEntry[] {
    return this.outbox.entries();
  }

  /** Opens the connection (no-op if already open or connecting); after offline storage is restored. */
  connect(): void {
    if (this.restoring) void this.restored.then(() => this.link.connect());
    else this.link.connect();
  }

  /** Closes for good: pending requests and queued publishes reject with CLOSED. */
  close(): void {
    this.link.close();
    this.outbox.stop();
    // Saved publishes stay saved: the next client on this storage resends them.
    void this.options.offline?.close();
    const { code, reason } = ClientCloseCodes.CLOSED;
    this.closeAll(new AqueductError('CLOSED', reason, false, { closeCode: code, closeReason: reason }));
    this.link.markClosed();
  }

  /** A final close: queued publishes and rooms' `ready()` waiters reject with `err`. */
  private closeAll(err: AqueductError): void {
    this.lastClose = err;
    this.outbox.failAll(err);
    for (const room of this.rooms.values()) room._closed(err);
  }

  /** Drops the connection as if the network failed (tests, "reconnect now" buttons). */
  reconnectNow(): void {
    this.link.reconnectNow();
  }

  /** Sends a request on the current connection; rejects with DISCONNECTED if it drops first. */
  request<K extends keyof ResultMap>(type: K, body: Record<string, unknown>): Promise<ResultMap[K]> {
    return this.link.request(type, body);
  }

  /**
   * Returns the room handle (created and joined on first use). `Msg` types the room's payloads:
   * `publish(data: Msg)` and `message` events carry `Msg`. It is a compile-time contract between
   * the app's publishers and subscribers; the SDK does not validate payloads at run time.
   */
  room<Msg = unknown>(name: string, options: RoomOptions = {}): Room<Msg> {
    let room = this.rooms.get(name);
    if (!room) {
      room = new Room<unknown>(this.connection, name, options);
      const restored = this.restoredPositions?.get(name);
      if (restored) room._restorePosition(restored);
      if (this.link.state === 'closed' && this.lastClose) room._closed(this.lastClose);
      this.rooms.set(name, room);
      if (this.ready) room._rejoin();
    }
    return room as Room<Msg>;
  }



  /**
   * A WebRTC peer mesh over `room`: joins it as a mesh member and connects to every other mesh
   * member (docs/webrtc.md). Call before `client.room(name)` for the same room.
   */
  peers(room: string, options: PeerMeshOptions = {}): PeerMesh {
    return new PeerMesh(this.connection, this.room(room, { mesh: true }), options);
  }

  /**
   * Audio/video for `room` (README §Media (SFU)): `await media.join()`, `await media.publish(stream)`,
   * `track` / `trackremoved` events. One session per room; the mode (SFU, mesh, auto) is fixed by the
   * first call.
   */
  media(room: string, options: MediaOptions = {}): MediaSession {
    let media = this.medias.get(room);
    if (!media) {
      const session: MediaSession = new MediaSession(this.connection, room, options, {
        mesh: () => this.peers(room, { iceServers: options.iceServers, RTCPeerConnection: options.RTCPeerConnection }),
        forget: () => { if (this.medias.get(room) === session) this.medias.delete(room); },
        whenReady: (timeoutMs) => this.whenReady(timeoutMs),
      });
      media = session;
      this.medias.set(room, media);
    }
    return media;
  }

  /** Resolves once authenticated; rejects with DISCONNECTED after `timeoutMs`, CLOSED on a final close. */
  private whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    if (this.link.state === 'closed') return Promise.reject(this.lastClose ?? new AqueductError('CLOSED', 'client is closed'));
    return new Promise((resolve, reject) => {
      const done = (err?: AqueductError) => {
        clearTimeout(timer);
        offConnected();
        offState();
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new AqueductError('DISCONNECTED', `not connected within ${timeoutMs} ms`, true)), timeoutMs);
      const offConnected = this.on('connected', () => done());
      const offState = this.on('state', (s) => { if (s === 'closed') done(this.lastClose ?? new AqueductError('CLOSED', 'client is closed')); });
    });
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
    // With offline storage the subscription resumes where the last page left it.
    const savedEventId = options.lastEventId === undefined ? this.options.offline?.eventPosition(rooms) : undefined;
    return subscribeEvents({ ...options, url: this.link.url, token: this.options.token, rooms, handlers, savedEventId });
  }

  /** The HTTP base URL of the current node and the token, for the SDK's HTTP calls. */
  private async http(): Promise<{ baseUrl: string; token: string }> {
    return { baseUrl: httpBaseUrl(this.link.url), token: await this.link.getToken() };
  }
}

/**
 * The HTTP base URL of a room-bus URL: `wss://h/ws` -> `https://h`; a server mounted under a prefix
 * keeps it (`wss://app/rt/ws` -> `https://app/rt`), so the SDK's HTTP calls go to the same mount.
 * @internal Exported for its unit test.
 */
export function httpBaseUrl(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:';
  const prefix = u.pathname.replace(/\/ws\/?$/, '').replace(/\/+$/, '');
  return u.origin + prefix;
}

function toWsUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/ws';
  return u.toString();
}

function pickCodec(codec: ClientOptions['codec']): Codec {
  if (codec === undefined || codec === 'json') return jsonCodec;
  if (typeof codec === 'object') return codec;
  // JavaScript callers (and the pre-0.2 API) may still pass the name.
  throw new Error(`codec ${JSON.stringify(codec)}: pass a codec object, e.g. import { msgpackCodec } from '@aqueduct/client/msgpack'`);
}
