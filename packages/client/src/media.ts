import type { MediaEvent, MediaInfoResult } from '@aqueduct/protocol';
import { backoffDelay } from './backoff.js';
import type { RoomConnection } from './connection.js';
import { Emitter } from './emitter.js';
import { AqueductError } from './errors.js';
import { MeshMedia } from './media-mesh.js';
import { SfuMedia } from './media-sfu.js';
import type { MediaBackend, MediaBackendHost, MediaOptions, MediaSessionEvents, MediaState, MediaTrackInfo, PublishOptions } from './media-types.js';
import { IceServers } from './mesh-http.js';
import type { PeerMesh } from './peers.js';

export type { MediaOptions, MediaSessionEvents, MediaState, MediaTrackInfo, PublishOptions } from './media-types.js';

/** What `client.media` hands the session besides the connection. */
export interface MediaSessionDeps {
  /** Opens the room's peer mesh (`client.peers(room)`), for mesh mode. */
  mesh(): PeerMesh;
  /** The session left: stop routing events to it. */
  forget(): void;
  /** Resolves once the bus connection is authenticated (rejects after `timeoutMs` or on a final close). */
  whenReady(timeoutMs: number): Promise<void>;
}

/** `join` waits this long for the bus connection. */
const JOIN_CONNECT_TIMEOUT_MS = 30_000;

const isTemporary = (err: unknown) => !(err instanceof AqueductError) || err.temporary || err.code === 'DISCONNECTED' || err.code === 'TIMEOUT';

/**
 * Audio/video for one room (`client.media(room, options)`): publish local tracks, receive everyone
 * else's. In SFU mode every track goes to Janus through the server (one upload per track whatever
 * the room size); in mesh mode to every peer. After a reset (Janus restarted, the bus reconnected,
 * a peer connection failed) the session joins again with backoff and re-publishes, without the app
 * doing anything; remote tracks end with `trackremoved` and come back with `track`.
 */
export class MediaSession extends Emitter<MediaSessionEvents> {
  private backend: MediaBackend | undefined;
  private current: 'sfu' | 'mesh' | undefined;
  private stateValue: MediaState = 'connecting';
  private local: { stream: MediaStream; opts: PublishOptions } | undefined;
  private wanted = false;
  private joining: Promise<void> | undefined;
  private closed = false;
  private generation = 0;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private forceSfu = false;
  /** `'auto'`: the server's `sfu.meshMaxParticipants`. */
  private meshMax: number | undefined;
  private readonly ice: IceServers;
  private readonly host: MediaBackendHost;

  /** Use `client.media(room, options)`. */
  constructor(private readonly conn: RoomConnection, readonly room: string, private readonly options: MediaOptions, private readonly deps: MediaSessionDeps) {
    super();
    const onError = (err: AqueductError) => this.emit('error', err);
    this.ice = new IceServers({ http: () => conn.http(), fetch: (i, init) => globalThis.fetch(i, init), onError: () => undefined }, room, false, options.iceServers);
    this.host = {
      request: (body) => conn.request('media', { room, ...body }),
      iceServers: async () => (await this.ice.get()) ?? [],
      RTCPeerConnection: options.RTCPeerConnection ?? (globalThis as { RTCPeerConnection?: typeof RTCPeerConnection }).RTCPeerConnection,
      track: (info) => this.emit('track', info),
      trackRemoved: (info) => this.emit('trackremoved', info),
      error: onError,
      connectionFailed: (target) => this.reset(`the ${target} connection failed`),
    };
  }

  get state(): MediaState {
    return this.stateValue;
  }

  /** The transport in use (`undefined` before `join`). */
  get mode(): 'sfu' | 'mesh' | undefined {
    return this.current;
  }

  /** Joins the room's media (SFU or mesh, per `mode`). Rejects with PERMISSION_DENIED, UNAVAILABLE, ... */
  join(): Promise<void> {
    if (this.closed) return Promise.reject(new AqueductError('CLOSED', 'media session left'));
    // Joined (or joining) already: the same outcome; re-joins after resets happen on their own.
    this.joining ??= (async () => {
      this.wanted = true;
      try {
        await this.deps.whenReady(JOIN_CONNECT_TIMEOUT_MS);
        await this.connect(this.generation);
      } catch (err) {
        this.joining = undefined; // a failed join may be tried again
        this.wanted = false;
        this.setState('failed');
        throw err;
      }
    })();
    return this.joining;
  }

  /** Publishes local tracks (audio and/or video of `stream`); kept and re-published after a re-join. */
  async publish(stream: MediaStream, opts: PublishOptions = {}): Promise<void> {
    const local = { stream, opts: { simulcast: this.options.simulcast, ...opts } };
    this.local = local;
    // Before the session is connected, the join in progress publishes it (see connect).
    if (!this.backend || this.stateValue !== 'connected') return;
    try {
      await this.backend.publish(stream, local.opts);
    } catch (err) {
      // Refused (MEDIA_FULL, PERMISSION_DENIED...): not published, so not re-published after a re-join.
      if (this.local === local) this.local = undefined;
      throw err;
    }
  }

  /** Stops publishing. */
  async unpublish(): Promise<void> {
    this.local = undefined;
    await this.backend?.unpublish();
  }

  /** Mutes or unmutes the published tracks of one kind (they send silence / black frames). */
  mute(kind: 'audio' | 'video', muted: boolean): void {
    for (const t of this.local?.stream.getTracks() ?? []) if (t.kind === kind) t.enabled = !muted;
  }

  /** Leaves the room's media: connections close, the server is told (Janus room destroyed when empty). */
  async leave(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wanted = false;
    clearTimeout(this.retryTimer);
    this.deps.forget();
    const b = this.backend;
    this.backend = undefined;
    if (b) await b.leave().catch(() => b.close());
  }

  /** Outbound/inbound RTP stats of the SFU connections (undefined in mesh mode). */
  async stats(): Promise<{ publisher?: RTCStatsReport; subscriber?: RTCStatsReport } | undefined> {
    return this.backend instanceof SfuMedia ? this.backend.stats() : undefined;
  }

  /** @internal A `media` event from the server. */
  _receive(ev: MediaEvent): void {
    if (this.closed) return;
    if (ev.ev === 'reset') this.reset(ev.reason);
    else if (this.backend instanceof SfuMedia) this.backend.receive(ev);
  }

  /** @internal The bus connection dropped: the server dropped our SFU participant with it. */
  _dropped(): void {
    if (this.wanted && !this.closed && this.current === 'sfu') this.setState('reconnecting');
  }

  /** @internal The bus connection is back (a new connection id): re-join the SFU. */
  _reconnected(): void {
    if (this.wanted && !this.closed && this.current === 'sfu') this.reset('the bus connection was re-established');
  }

  private setState(s: MediaState): void {
    if (this.stateValue === s) return;
    this.stateValue = s;
    this.emit('state', s);
  }

  private async pickMode(): Promise<'sfu' | 'mesh'> {
    const mode = this.options.mode ?? 'sfu';
    if (mode !== 'auto') return mode;
    if (this.forceSfu) return 'sfu';
    let info: MediaInfoResult;
    try {
      info = await this.conn.request('media', { room: this.room, op: 'info' }) as MediaInfoResult;
    } catch (err) {
      if (err instanceof AqueductError && err.code === 'UNAVAILABLE') return 'mesh';
      throw err;
    }
    this.meshMax = info.meshMaxParticipants;
    if (!info.sfu) return 'mesh';
    if (info.participants > 0 || info.meshParticipants + 1 > info.meshMaxParticipants) return 'sfu';
    return 'mesh';
  }

  private async connect(gen: number): Promise<void> {
    this.setState(this.attempt > 0 || this.current ? 'reconnecting' : 'connecting');
    const mode = await this.pickMode();
    if (gen !== this.generation || this.closed) return;
    const backend: MediaBackend = mode === 'sfu'
      ? new SfuMedia(this.host)
      : new MeshMedia(this.host, () => this.deps.mesh(), this.options.mode === 'auto' ? this.meshMax : undefined, () => this.upgrade());
    this.backend = backend;
    const changed = this.current !== mode;
    this.current = mode;
    try {
      await backend.join();
      if (gen !== this.generation || this.closed) return;
      // Publish what the app asked for, again if it changed while publishing.
      let published: MediaSession['local'];
      while (this.local && this.local !== published && gen === this.generation && !this.closed) {
        published = this.local;
        await backend.publish(published.stream, published.opts);
      }
    } catch (err) {
      // Joined but publishing failed (MEDIA_FULL...): leave, so the server holds nothing for us.
      if (this.backend === backend) this.backend = undefined;
      await backend.leave().catch(() => backend.close());
      throw err;
    }
    if (gen !== this.generation || this.closed) return;
    this.attempt = 0;
    if (changed) this.emit('mode', mode);
    this.setState('connected');
  }

  /** `'auto'` in a mesh that outgrew it (or the server says the room is on the SFU): move to the SFU. */
  private upgrade(): void {
    if (this.options.mode !== 'auto' || this.forceSfu || this.current !== 'mesh') return;
    this.forceSfu = true;
    this.reset('the room moved to the SFU');
  }

  /** Drops the backend and joins again (backoff between failed attempts). */
  private reset(reason: string): void {
    if (this.closed || !this.wanted) return;
    const gen = ++this.generation;
    this.backend?.close();
    this.backend = undefined;
    this.setState('reconnecting');
    clearTimeout(this.retryTimer);
    const attempt = () => {
      if (gen !== this.generation || this.closed) return;
      if (!this.conn.ready) { this.retryTimer = setTimeout(attempt, this.delay()); return; }
      this.connect(gen).catch((err: unknown) => {
        if (gen !== this.generation || this.closed) return;
        if (isTemporary(err)) {
          this.retryTimer = setTimeout(attempt, this.delay());
          return;
        }
        this.setState('failed');
        this.emit('error', err instanceof AqueductError ? err : new AqueductError('INTERNAL', String(err)));
      });
    };
    void reason;
    this.retryTimer = setTimeout(attempt, this.attempt === 0 ? 0 : this.delay());
  }

  private delay(): number {
    return backoffDelay(this.attempt++, { minDelayMs: this.options.rejoinMinDelayMs ?? 300, maxDelayMs: this.options.rejoinMaxDelayMs ?? 3000 });
  }
}
