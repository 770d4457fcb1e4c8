import type { HistoryResult, JoinResult, Member, Origin, Position, Publication, ResultMap, ServerMessage } from '@aqueduct/protocol';
import type { RoomConnection } from './connection.js';
import { backoffDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import { AqueductError } from './errors.js';

export interface RoomOptions {
  /** On the first join, also deliver up to this many of the latest publications (chat history). */
  history?: number;
  /** Join automatically (and re-join after reconnects). Default true. */
  autoJoin?: boolean;
  /** Join as a WebRTC peer-mesh member (set by `client.peers()`; docs/webrtc.md). */
  mesh?: boolean;
}

/** A delivered message: a stored publication, or a volatile one (no position). */
export interface RoomMessage<Msg = unknown> {
  room: string;
  data: Msg;
  event?: string;
  from?: Origin;
  /** Absent for volatile messages. */
  epoch?: string;
  offset?: number;
  volatile: boolean;
}

/** Why the app must resync a room: its history could not cover what this client missed. */
export interface ResetInfo {
  room: string;
  reason: 'history-lost' | 'epoch-changed';
  position: Position;
}

export interface RoomEvents<Msg = unknown> {
  message: (msg: RoomMessage<Msg>) => void;
  /** The room was (re)joined. `recovered` says whether every missed publication was delivered. */
  joined: (result: { recovered: boolean; rejoin: boolean; position: Position }) => void;
  /** Missed publications could not be recovered: reload the room's state. */
  reset: (info: ResetInfo) => void;
  presence: (members: Member[]) => void;
  'presence.join': (member: Member) => void;
  'presence.leave': (member: Member) => void;
  signal: (from: Origin, payload: unknown) => void;
  error: (err: AqueductError) => void;
}

/**
 * A room on a client connection: joined on creation, re-joined with its last position after every
 * reconnect. Deliveries at or below the last seen offset are dropped, so each publication is seen
 * once, in order.
 */
export class Room<Msg = unknown> extends Emitter<RoomEvents<Msg>> {
  private position?: Position;
  private joined = false;
  private joining = false;
  private left = false;
  private everJoined = false;
  private memberMap = new Map<string, Member>();
  private joinWaiters: Array<{ resolve: () => void; reject: (e: AqueductError) => void }> = [];
  /** Set by a final close of the connection (until the next connection): `ready()` rejects with it. */
  private closedWith: AqueductError | undefined;
  /**
   * Room events that arrive while the join request is in flight. The server sends nothing for a room
   * before its join reply, but a reply and the live messages behind it can arrive in one read and be
   * dispatched before the reply's promise continues; they are replayed after the reply's
   * publications, so that none of those is mistaken for already seen. Bounded by what the server
   * writes after one reply (its outbound queue limit).
   */
  private early: ServerMessage[] | undefined;
  /** Bumped on every disconnect, so that a join reply from a dropped connection is ignored. */
  private generation = 0;
  /** Retry of a join refused with a temporary error (backoff by `retries`). */
  private retryTimer?: ReturnType<typeof setTimeout>;
  private retries = 0;

  constructor(private readonly connection: RoomConnection, readonly name: string, private readonly options: RoomOptions) {
    super();
  }

  /** Last position seen in this room. */
  get lastPosition(): Position | undefined {
    return this.position ? { ...this.position } : undefined;
  }

  get isJoined(): boolean {
    return this.joined;
  }

  /** Current presence members (kept up to date from join/leave events). */
  get members(): Member[] {
    return [...this.memberMap.values()];
  }

  /**
   * Resolves once the room is joined. Rejects if the join is refused (with the reply's code), or
   * when the connection closes for good (`CLOSED`, with the close's `closeCode` and `closeReason`).
   */
  ready(): Promise<void> {
    if (this.joined) return Promise.resolve();
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => this.joinWaiters.push({ resolve, reject }));
  }

  /** @internal The connection closed for good (no reconnect): waiters reject with `err`. */
  _closed(err: AqueductError): void {
    this._disconnected();
    this.closedWith = err;
    clearTimeout(this.retryTimer);
    for (const w of this.joinWaiters.splice(0)) w.reject(err);
  }

  /** @internal Called on connect/reconnect. */
  _rejoin(): void {
    this.closedWith = undefined;
    if (this.left || this.joining || this.options.autoJoin === false && !this.everJoined) return;
    void this.join();
  }

  /** Joins (or re-joins with recovery). Usually automatic. */
  async join(): Promise<void> {
    if (this.joining || this.joined) return this.ready();
    this.left = false;
    this.joining = true;
    const body: Record<string, unknown> = { room: this.name };
    const since = this.position;
    if (since) body.since = since;
    else if (this.options.history) body.history = this.options.history;
    if (this.options.mesh) body.mesh = true;
    const generation = this.generation;
    this.early = [];
    let result: JoinResult;
    try {
      result = await this.connection.request('join', body);
    } catch (err) {
      if (generation !== this.generation) return;
      this.early = undefined;
      this.joining = false;
      const e = err as AqueductError;
      if (e.code === 'DISCONNECTED') return; // re-joined on the next connection
      this.emit('error', e);
      if (e.temporary && e.code !== 'TIMEOUT' && !this.left) {
        // RATE_LIMITED, UNAVAILABLE, INTERNAL: the same join may succeed later; keep the room and retry.
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
          if (!this.left && !this.joined && this.connection.ready) void this.join();
        }, backoffDelay(this.retries++, { minDelayMs: 250, maxDelayMs: 10_000 }));
        // A pending retry must not keep a Node process alive after the client is closed.
        (this.retryTimer as { unref?: () => void }).unref?.();
        return;
      }
      for (const w of this.joinWaiters.splice(0)) w.reject(e);
      return;
    }
    this.retries = 0;
    // The connection dropped after the reply arrived: the next connection re-joins from `position`.
    if (generation !== this.generation) return;
    const early = this.early ?? [];
    this.early = undefined;
    this.joining = false;
    if (this.left) return;
    if (result.more) {
      // One chunk of a long recovery; the room is not joined yet: continue from its last publication.
      for (const pub of result.publications) this.deliver(pub);
      void this.join();
      return;
    }
    const rejoin = this.position !== undefined;
    const lost = rejoin && !result.recovered;
    this.joined = true;
    this.everJoined = true;
    if (result.members) {
      this.memberMap = new Map(result.members.map((m) => [m.client, m]));
      this.emit('presence', this.members);
    }
    if (lost) {
      this.setPosition({ epoch: result.epoch, offset: result.offset });
      this.emit('reset', { room: this.name, reason: since && since.epoch !== result.epoch ? 'epoch-changed' : 'history-lost', position: { epoch: result.epoch, offset: result.offset } });
    } else {
      for (const pub of result.publications) this.deliver(pub);
      if (!this.position || this.position.epoch !== result.epoch || this.position.offset < result.offset) {
        this.setPosition({ epoch: result.epoch, offset: Math.max(result.offset, this.position?.epoch === result.epoch ? this.position.offset : 0) });
      }
    }
    for (const m of early) this._receive(m);
    const position = this.position as Position | undefined ?? { epoch: result.epoch, offset: result.offset };
    this.emit('joined', { recovered: rejoin ? result.recovered : true, rejoin, position: { ...position } });
    for (const w of this.joinWaiters.splice(0)) w.resolve();
  }

  /** Every change of the last position goes through here (and to offline storage, if any). */
  private setPosition(position: Position): void {
    this.position = position;
    this.connection.positionChanged?.(this.name, position);
  }

  /**
   * @internal A position restored from offline storage: the first join resumes after it (and
   * reports `rejoin: true`). Ignored once the room has a position of its own.
   */
  _restorePosition(position: Position): void {
    if (!this.position) this.position = { ...position };
  }

  private deliver(pub: Publication): void {
    if (this.position && pub.epoch === this.position.epoch && pub.offset <= this.position.offset) return;
    this.setPosition({ epoch: pub.epoch, offset: pub.offset });
    this.emit('message', { room: this.name, data: pub.data as Msg, event: pub.event, from: pub.from, epoch: pub.epoch, offset: pub.offset, volatile: false });
  }

  /** @internal */
  _receive(msg: ServerMessage): void {
    if (this.early && msg.t !== 'signal') {
      this.early.push(msg);
      return;
    }
    switch (msg.t) {
      case 'msg':
        if (msg.volatile) {
          this.emit('message', { room: this.name, data: msg.data as Msg, event: msg.event, from: msg.from, volatile: true });
        } else {
          this.deliver(msg);
        }
        return;
      case 'presence.join':
        this.memberMap.set(msg.member.client, msg.member);
        this.emit('presence.join', msg.member);
        this.emit('presence', this.members);
        return;
      case 'presence.leave':
        this.memberMap.delete(msg.member.client);
        this.emit('presence.leave', msg.member);
        this.emit('presence', this.members);
        return;
      case 'signal':
        this.emit('signal', msg.from, msg.payload);
        return;
      case 'reset':
        this.setPosition({ epoch: msg.epoch, offset: msg.offset });
        this.emit('reset', { room: this.name, reason: 'epoch-changed', position: { epoch: msg.epoch, offset: msg.offset } });
        return;
      default:
        return;
    }
  }

  /** @internal */
  _disconnected(): void {
    this.generation++;
    this.early = undefined;
    this.joined = false;
    this.joining = false;
  }

  /**
   * Publishes a message. Resolves with its position once the server acknowledged it; while offline
   * it is queued and sent on reconnect with the same id, so it is published exactly once.
   */
  publish(data: Msg, options: { event?: string } = {}): Promise<ResultMap['pub']> {
    return this.connection.publish(this.name, data, options.event);
  }

  /** Volatile publish (cursors, typing): not stored, dropped first under load, lost while offline. Returns false if not sent. */
  publishVolatile(data: Msg, options: { event?: string } = {}): boolean {
    return this.connection.publishVolatile(this.name, data, options.event);
  }

  /** Asks the server for the member list. */
  async presence(): Promise<Member[]> {
    const result = await this.connection.request('presence', { room: this.name });
    return result.members;
  }

  history(options: { since?: Position; limit?: number } = {}): Promise<HistoryResult> {
    return this.connection.request('history', { room: this.name, ...options });
  }

  /** Sends a targeted signal (WebRTC offer/answer/candidate) to one client in this room. */
  async signal(to: string, payload: unknown): Promise<void> {
    await this.connection.request('signal', { room: this.name, to, payload });
  }

  /** Leaves the room; it is no longer re-joined. */
  async leave(): Promise<void> {
    this.left = true;
    clearTimeout(this.retryTimer);
    const wasJoined = this.joined;
    this.joined = false;
    this.connection.forgetRoom(this.name);
    this.connection.positionChanged?.(this.name, undefined);
    if (wasJoined && this.connection.ready) {
      try { await this.connection.request('leave', { room: this.name }); } catch { /* connection gone: nothing to leave */ }
    }
  }
}
