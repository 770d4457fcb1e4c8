import { randomBytes } from 'node:crypto';
import {
  CloseCodes, ErrorCodes, namespaceOf, parseClientMessage,
  type ClientRequest, type ErrorCode, type JoinResult, type Member, type Position, type Publication, type ServerMessage,
} from '@aqueduct/protocol';
import { AuthError, type Authenticator } from './auth/auth.js';
import { can, type User } from './auth/grants.js';
import { BrokerUnavailableError, type EphemeralMessage } from './broker/broker.js';
import { namespaceSettings, type Config } from './config.js';
import type { Delivery } from './delivery.js';
import type { CloseReason, Hub, Subscriber } from './hub.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { TokenBucket } from './rate-limiter.js';
import { SmallMap } from './small-map.js';
import { meshJoinRefusal } from './webrtc/mesh.js';
import type { SessionExtensions } from './sfu/media-hooks.js';
import type { Transport } from './transport.js';

/** A request failed with a reply error. */
export class ReplyError extends Error {
  constructor(readonly code: ErrorCode, message?: string) {
    super(message ?? ErrorCodes[code].message);
  }
}

interface RoomState {
  /** Until the join reply is sent, deliveries are buffered here (bounded by the outbound limit). */
  buffer: Delivery[] | undefined;
  bufferedBytes: number;
  epoch: string;
  /** Last offset delivered to the client; deliveries at or below it are dropped. */
  offset: number;
  /** Whether this client sees presence events of the room. */
  presence: boolean;
  /** Whether this client was added to the room's presence. */
  member: boolean;
  /** The namespace opts out of write coalescing (latency-critical): deliveries leave on the next tick. */
  urgent: boolean;
}

export interface SessionDeps {
  config: Config;
  hub: Hub;
  auth: Authenticator;
  metrics: Metrics;
  logger: Logger;
  nodeId: string;
  /** Modules' request handlers (media: the SFU, sfu/). */
  extensions?: SessionExtensions;
}

/** Approximate encoded size of a publication (its data as JSON plus the envelope). */
function publicationBytes(pub: Publication): number {
  let size = 96;
  try { size += Buffer.byteLength(JSON.stringify(pub.data) ?? ''); } catch { /* not JSON-encodable: envelope only */ }
  return size;
}

/** The longest prefix within `budget` bytes (at least one publication). */
function earliestWithin(pubs: Publication[], budget: number): Publication[] {
  let bytes = 0;
  for (let i = 0; i < pubs.length; i++) {
    bytes += publicationBytes(pubs[i]);
    if (i > 0 && bytes > budget) return pubs.slice(0, i);
  }
  return pubs;
}

/** The longest suffix within `budget` bytes (at least one publication). */
function latestWithin(pubs: Publication[], budget: number): Publication[] {
  let bytes = 0;
  for (let i = pubs.length - 1; i >= 0; i--) {
    bytes += publicationBytes(pubs[i]);
    if (i < pubs.length - 1 && bytes > budget) return pubs.slice(i + 1);
  }
  return pubs;
}

/** Frames an unauthenticated connection may send before it is closed. */
const MAX_FRAMES_BEFORE_AUTH = 4;

const newClientId = () => randomBytes(9).toString('base64url');

/**
 * One connected client of the room bus: identity, grants, rooms, rate limiters and the bounded
 * outbound queue. Transport-agnostic: it reads decoded frames and writes encoded ones.
 */
export class Session implements Subscriber {
  readonly id = newClientId();
  user: User | undefined;
  readonly connectedAt = Date.now();
  /** Joined rooms (one inline: most connections are in one room). */
  private readonly rooms = new SmallMap<RoomState>();
  // Rate limiters exist while in use: the heartbeat sweep drops a bucket once it has refilled
  // (a full bucket and a new one are the same), so an idle connection holds none.
  private publishBuckets: Map<string, TokenBucket> | undefined;
  private signalBucket: TokenBucket | undefined;
  private requestBucket: TokenBucket | undefined;
  /** Rooms whose last join reply said `more: true` (at most maxRoomsPerConnection entries). */
  private continuations: Set<string> | undefined;
  private strikes = 0;
  private strikesWindowStart = 0;
  private framesBeforeAuth = 0;
  /** Requests pipelined behind an auth still being verified. */
  private pendingAfterAuth: ClientRequest[] | undefined;
  private closed = false;
  private authenticating = false;
  /** Heartbeat bookkeeping, driven by the server's single sweep timer. */
  lastSeen = Date.now();
  pingSentAt = 0;

  constructor(private readonly transport: Transport, private readonly deps: SessionDeps) {}

  get isClosed(): boolean {
    return this.closed;
  }

  // ------------------------------------------------------------------ inbound

  /** Handles one raw frame from the transport's read loop. Never throws. */
  receive(frame: string | Buffer): void {
    if (this.closed) return;
    this.lastSeen = Date.now();
    this.pingSentAt = 0;
    const { metrics, logger } = this.deps;
    metrics.hot.wsMessagesIn++;
    metrics.hot.wsBytesIn += frame.length;
    let value: unknown;
    try {
      value = this.transport.codec.decode(frame);
    } catch {
      logger.info({ client: this.id }, 'undecodable frame');
      this.close(CloseCodes.BAD_FRAME);
      return;
    }
    const parsed = parseClientMessage(value);
    if (!parsed.ok) {
      if (parsed.id === undefined) {
        logger.info({ client: this.id, reason: parsed.message }, 'bad frame');
        this.close(CloseCodes.BAD_FRAME);
      } else {
        this.replyError(parsed.id, parsed.code, parsed.message);
      }
      return;
    }
    const msg = parsed.message;
    if (msg.t === 'pong') return;
    if (!this.user && msg.t !== 'auth') {
      if (this.authenticating && (this.pendingAfterAuth?.length ?? 0) < MAX_FRAMES_BEFORE_AUTH) {
        // Pipelined behind the auth message: runs once auth completes.
        (this.pendingAfterAuth ??= []).push(msg);
        return;
      }
      this.replyError(msg.id, 'NOT_AUTHENTICATED');
      if (++this.framesBeforeAuth >= MAX_FRAMES_BEFORE_AUTH) this.close(CloseCodes.AUTH_FAILED);
      return;
    }
    // The join that continues a chunked recovery was invited by the server: it is not rate-limited.
    const continuation = msg.t === 'join' && this.continuations?.delete(msg.room) === true;
    if (msg.t !== 'pub' && msg.t !== 'signal' && msg.t !== 'auth' && !continuation) {
      // Joins and history reads cost the server more than they cost the client: bounded too.
      const { requestRatePerSec, requestBurst } = this.deps.config.limits;
      this.requestBucket ??= new TokenBucket(requestRatePerSec, requestBurst);
      if (this.rateLimited(this.requestBucket)) {
        this.replyError(msg.id, 'RATE_LIMITED', `at most ${requestRatePerSec} requests/s`);
        return;
      }
    }
    this.run(msg);
  }

  private run(msg: ClientRequest): void {
    this.handle(msg).then(
      (result) => {
        this.reply(msg.id, result);
        // Live deliveries buffered during the join continue right after its reply.
        if (msg.t === 'join') this.flushJoinBuffer(msg.room);
      },
      (err: unknown) => this.fail(msg.id, err),
    );
  }

  private fail(id: number, err: unknown): void {
    if (err instanceof ReplyError) this.replyError(id, err.code, err.message);
    else if (err instanceof AuthError) this.replyError(id, err.code, err.message);
    else if (err instanceof BrokerUnavailableError) this.replyError(id, 'UNAVAILABLE', err.message);
    else {
      this.deps.logger.error({ err, client: this.id }, 'request failed');
      this.replyError(id, 'INTERNAL');
    }
  }

  private async handle(msg: ClientRequest): Promise<unknown> {
    switch (msg.t) {
      case 'auth': return this.authenticate(msg.token);
      case 'refresh': return this.refresh(msg.token);
      case 'join': return this.join(msg.room, msg.since, msg.history, msg.mesh === true);
      case 'leave': return this.leave(msg.room);
      case 'pub': return this.publish(msg.room, msg.data, msg.cid, msg.event, msg.volatile);
      case 'presence': return this.presenceList(msg.room);
      case 'history': return this.history(msg.room, msg.since, msg.limit);
      case 'signal': return this.signal(msg.room, msg.to, msg.payload);
      case 'media': {
        const media = this.deps.extensions?.media;
        if (!media) throw new ReplyError('UNAVAILABLE', 'media (SFU) is not configured on this server');
        return media.request(this, msg);
      }
    }
  }

  /** Authenticates with a token (first message, or the `?token=` of the upgrade). */
  async authenticate(token: string) {
    if (this.user || this.authenticating) throw new ReplyError('ALREADY_AUTHENTICATED');
    this.authenticating = true;
    try {
      const user = this.checkInfo(await this.deps.auth.verify(token));
      if (this.closed) throw new ReplyError('NOT_AUTHENTICATED', 'connection closed');
      this.user = user;
      this.deps.hub.register(this);
      return { client: this.id, user: user.id, expiresAt: user.expiresAt, node: this.deps.nodeId, pingIntervalMs: this.deps.config.limits.heartbeatIntervalMs };
    } catch (err) {
      if (err instanceof AuthError) {
        this.deps.metrics.authFailures.inc({ code: err.code });
        this.deps.logger.info({ client: this.id, code: err.code, reason: err.message }, 'auth failed');
        // Reply first so the client learns the code, then close.
        setImmediate(() => this.close(CloseCodes.AUTH_FAILED));
      }
      throw err;
    } finally {
      this.authenticating = false;
      // Requests pipelined behind auth: run them now, or fail them if auth failed. The auth reply
      // is sent first because these run a tick later.
      const pending = this.pendingAfterAuth;
      this.pendingAfterAuth = undefined;
      if (pending) setImmediate(() => {
        for (const m of pending) {
          if (this.user) this.run(m);
          else this.replyError(m.id, 'NOT_AUTHENTICATED');
        }
      });
    }
  }

  /** Reply (id 0) to an authentication from the upgrade URL's `?token=`. */
  receiveUrlAuth(result: unknown): void {
    this.reply(0, result);
  }

  receiveUrlAuthError(err: unknown): void {
    this.fail(0, err);
  }

  private async refresh(token: string) {
    let user: User;
    try {
      user = this.checkInfo(await this.deps.auth.verify(token));
    } catch (err) {
      if (err instanceof AuthError) this.deps.metrics.authFailures.inc({ code: err.code });
      throw err;
    }
    if (user.id !== this.user?.id) throw new ReplyError('TOKEN_INVALID', 'refreshed token must have the same sub');
    this.user = user;
    return { expiresAt: user.expiresAt };
  }

  /** Presence shows `info` to every member: its size is bounded (`limits.maxInfoBytes`). */
  private checkInfo(user: User): User {
    const max = this.deps.config.limits.maxInfoBytes;
    if (user.info && Buffer.byteLength(JSON.stringify(user.info)) > max) {
      throw new AuthError('TOKEN_INVALID', `info claim exceeds ${max} bytes`);
    }
    return user;
  }

  private requireUser(): User {
    if (!this.user) throw new ReplyError('NOT_AUTHENTICATED');
    return this.user;
  }

  private async join(room: string, since: Position | undefined, history: number | undefined, mesh: boolean): Promise<JoinResult> {
    const user = this.requireUser();
    const { config, hub } = this.deps;
    if (!can(user, 'sub', room)) throw new ReplyError('PERMISSION_DENIED', `no sub permission for ${room}`);
    if (this.rooms.has(room)) throw new ReplyError('ALREADY_JOINED');
    if (this.rooms.size >= config.limits.maxRoomsPerConnection) throw new ReplyError('TOO_MANY_ROOMS', `at most ${config.limits.maxRoomsPerConnection} rooms per connection`);
    const ns = namespaceSettings(config, namespaceOf(room));
    if (mesh) { // WebRTC peer mesh: see webrtc/mesh.ts
      const refusal = await meshJoinRefusal({ user, room, presence: ns.presence, maxMeshPeers: config.limits.maxMeshPeers, members: () => hub.members(room) });
      if (refusal) throw new ReplyError(refusal.code, refusal.message);
    }
    const seesPresence = ns.presence && can(user, 'presence', room);
    const state: RoomState = { buffer: [], bufferedBytes: 0, epoch: '', offset: 0, presence: seesPresence, member: false, urgent: !ns.coalesce };
    this.rooms.set(room, state);
    try {
      await hub.subscribe(room, this);
      const limit = config.limits.maxHistoryLimit;
      const budget = this.replyBudgetBytes();
      let result: JoinResult;
      if (since) {
        const publications: Publication[] = [];
        let bytes = 0;
        let more = false;
        let page = await hub.broker.history(room, { since, limit });
        // Page through long gaps until the reply budget is used up; offsets only grow, so this ends.
        while (page.recovered) {
          for (const pub of page.publications) {
            const size = publicationBytes(pub);
            if (publications.length > 0 && bytes + size > budget) { more = true; break; }
            bytes += size;
            publications.push(pub);
          }
          const last = publications[publications.length - 1];
          if (more || page.publications.length < limit || !last || last.offset >= page.offset) break;
          page = await hub.broker.history(room, { since: { epoch: last.epoch, offset: last.offset }, limit });
        }
        if (!page.recovered) result = { epoch: page.epoch, offset: page.offset, recovered: false, publications: [] };
        else if (more) {
          // A chunk of a long recovery: not joined; the client joins again from the chunk's end.
          if (this.closed || this.rooms.get(room) !== state) throw new ReplyError('NOT_JOINED', 'left during join');
          this.rooms.delete(room);
          hub.unsubscribe(room, this);
          this.continuations ??= new Set();
          if (this.continuations.size < config.limits.maxRoomsPerConnection) this.continuations.add(room);
          return { epoch: page.epoch, offset: publications[publications.length - 1].offset, recovered: true, publications, more: true };
        } else result = { epoch: page.epoch, offset: page.offset, recovered: true, publications };
      } else if (history && history > 0) {
        const page = await hub.broker.history(room, { limit: Math.min(history, limit) });
        result = { epoch: page.epoch, offset: page.offset, recovered: false, publications: latestWithin(page.publications, budget) };
      } else {
        const pos = await hub.broker.position(room);
        result = { epoch: pos.epoch, offset: pos.offset, recovered: false, publications: [] };
      }
      if (this.closed || this.rooms.get(room) !== state) throw new ReplyError('NOT_JOINED', 'left during join');
      const last = result.publications[result.publications.length - 1];
      state.epoch = result.epoch;
      state.offset = Math.max(result.offset, last?.offset ?? 0);
      if (ns.presence) {
        const member: Member = { client: this.id, user: user.id };
        if (user.info) member.info = user.info;
        if (mesh) member.mesh = true;
        await hub.presenceJoin(room, member);
        if (this.closed || this.rooms.get(room) !== state) {
          // Closed or left while the presence entry was being written: cleanup already ran without
          // it, so remove it here rather than leave a member that never leaves.
          await hub.presenceLeave(room, member);
          throw new ReplyError('NOT_JOINED', 'left during join');
        }
        state.member = true;
        if (seesPresence) result.members = await hub.members(room);
      }
      return result;
    } catch (err) {
      if (this.rooms.get(room) === state) {
        this.rooms.delete(room);
        hub.unsubscribe(room, this);
      }
      throw err;
    }
  }

  private flushJoinBuffer(room: string): void {
    const state = this.rooms.get(room);
    if (!state) return;
    const buffer = state.buffer;
    state.buffer = undefined;
    state.bufferedBytes = 0;
    if (!buffer || this.closed) return;
    for (const d of buffer) this.deliver(d);
  }

  private async leave(room: string): Promise<Record<string, never>> {
    const state = this.rooms.get(room);
    if (!state) throw new ReplyError('NOT_JOINED');
    this.rooms.delete(room);
    this.deps.hub.unsubscribe(room, this);
    if (state.member) await this.deps.hub.presenceLeave(room, this.member());
    return {};
  }

  private member(): Member {
    const m: Member = { client: this.id, user: this.user?.id ?? '' };
    if (this.user?.info) m.info = this.user.info;
    return m;
  }

  private rateLimited(bucket: TokenBucket): boolean {
    if (bucket.take()) return false;
    const now = Date.now();
    if (now - this.strikesWindowStart > 60_000) {
      this.strikesWindowStart = now;
      this.strikes = 0;
    }
    if (++this.strikes >= this.deps.config.limits.rateLimitStrikes) {
      this.deps.logger.warn({ client: this.id, user: this.user?.id }, 'closing connection: rate limit abuse');
      setImmediate(() => this.close(CloseCodes.RATE_LIMIT_ABUSE));
    }
    return true;
  }

  private async publish(room: string, data: unknown, cid: string | undefined, event: string | undefined, volatile: boolean | undefined) {
    const user = this.requireUser();
    const { config, hub } = this.deps;
    const namespace = namespaceOf(room);
    const ns = namespaceSettings(config, namespace);
    if (!can(user, 'pub', room)) throw new ReplyError('PERMISSION_DENIED', `no pub permission for ${room}`);
    if (!ns.clientPublish) throw new ReplyError('PUBLISH_DISABLED');
    // One bucket per configured namespace (unconfigured ones share the default's), so a client
    // cannot grow this map by inventing namespaces.
    const bucketKey = namespace in config.namespaces ? namespace : '';
    this.publishBuckets ??= new Map();
    let bucket = this.publishBuckets.get(bucketKey);
    if (!bucket) this.publishBuckets.set(bucketKey, (bucket = new TokenBucket(ns.publishRatePerSec, ns.publishBurst)));
    if (this.rateLimited(bucket)) throw new ReplyError('RATE_LIMITED', `at most ${ns.publishRatePerSec} publishes/s in namespace "${namespace}"`);
    const from = { client: this.id, user: user.id };
    const outcome = await hub.publish(room, data, {
      event,
      volatile,
      from,
      // Scoped by user so one user's ids can never collide with (or probe) another's.
      idempotencyKey: cid === undefined || volatile ? undefined : `${user.id}\u0000${cid}`,
    });
    if (!outcome) return {};
    return outcome.duplicate
      ? { epoch: outcome.epoch, offset: outcome.offset, duplicate: true }
      : { epoch: outcome.epoch, offset: outcome.offset };
  }

  private async presenceList(room: string) {
    const user = this.requireUser();
    if (!namespaceSettings(this.deps.config, namespaceOf(room)).presence) throw new ReplyError('PRESENCE_DISABLED');
    if (!can(user, 'presence', room)) throw new ReplyError('PERMISSION_DENIED', `no presence permission for ${room}`);
    return { members: await this.deps.hub.members(room) };
  }

  private async history(room: string, since: Position | undefined, limit: number | undefined) {
    const user = this.requireUser();
    if (!can(user, 'sub', room)) throw new ReplyError('PERMISSION_DENIED', `no sub permission for ${room}`);
    const max = this.deps.config.limits.maxHistoryLimit;
    const page = await this.deps.hub.broker.history(room, { since, limit: Math.min(limit ?? max, max) });
    // Within the reply budget: the earliest ones after `since` (the client pages on), else the latest.
    const budget = this.replyBudgetBytes();
    page.publications = since ? earliestWithin(page.publications, budget) : latestWithin(page.publications, budget);
    return page;
  }

  /** Publication bytes one reply may carry: it must fit in the outbound queue with room to spare. */
  private replyBudgetBytes(): number {
    const { recoveryChunkBytes, outboundQueueBytes } = this.deps.config.limits;
    return Math.min(recoveryChunkBytes, Math.floor(outboundQueueBytes / 2));
  }

  private async signal(room: string, to: string, payload: unknown) {
    const user = this.requireUser();
    const { config, hub } = this.deps;
    if (!can(user, 'signal', room)) throw new ReplyError('PERMISSION_DENIED', `no signal permission for ${room}`);
    if (!this.rooms.has(room)) throw new ReplyError('NOT_JOINED', 'join the room before signaling in it');
    const size = Buffer.byteLength(JSON.stringify(payload));
    if (size > config.limits.maxSignalBytes) throw new ReplyError('MESSAGE_TOO_LARGE', `signal payload exceeds ${config.limits.maxSignalBytes} bytes`);
    this.signalBucket ??= new TokenBucket(config.limits.signalRatePerSec, config.limits.signalBurst);
    if (this.rateLimited(this.signalBucket)) throw new ReplyError('RATE_LIMITED', `at most ${config.limits.signalRatePerSec} signals/s`);
    const members = await hub.members(room);
    if (!members.some((m) => m.client === to)) throw new ReplyError('PEER_NOT_FOUND');
    await hub.broker.publishEphemeral(room, { kind: 'signal', to, from: { client: this.id, user: user.id }, payload });
    return {};
  }

  // ------------------------------------------------------------------ outbound

  private send(message: ServerMessage): void {
    if (this.closed) return;
    const encoded = this.transport.codec.encode(message);
    this.write(typeof encoded === 'string' ? Buffer.from(encoded) : Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength), false);
  }

  /** Sends a server-initiated message (media events of the SFU module). */
  push(message: ServerMessage): void {
    this.send(message);
  }

  private reply(id: number, result: unknown): void {
    this.send({ t: 'reply', id, result });
  }

  private replyError(id: number, code: ErrorCode, message?: string): void {
    this.deps.metrics.errors.inc({ code });
    this.send({ t: 'reply', id, error: { code, message: message ?? ErrorCodes[code].message, temporary: ErrorCodes[code].temporary } });
  }

  /**
   * Writes a frame within the outbound limit. Volatile frames are dropped once the queue passes
   * `volatileDropRatio`; a reliable frame that does not fit closes the connection as slow (the
   * client recovers from history on reconnect).
   */
  private write(frame: Buffer, volatile: boolean, urgent = false): void {
    const { limits } = this.deps.config;
    const queued = this.transport.bufferedBytes();
    if (volatile && queued + frame.length > limits.outboundQueueBytes * limits.volatileDropRatio) {
      this.deps.metrics.drops.labels('ws').inc();
      return;
    }
    if (queued + frame.length > limits.outboundQueueBytes) {
      this.deps.metrics.slowDisconnects.labels('ws').inc();
      this.deps.logger.info({ client: this.id, user: this.user?.id, queued }, 'closing slow consumer');
      this.close(CloseCodes.SLOW_CONSUMER);
      return;
    }
    this.transport.write(frame, urgent);
    const hot = this.deps.metrics.hot;
    hot.wsMessagesOut++;
    hot.wsBytesOut += frame.length;
  }

  deliver(delivery: Delivery): void {
    if (this.closed) return;
    const state = this.rooms.get(delivery.room);
    if (!state) return;
    if (delivery.volatile) {
      if (state.buffer) return; // volatile traffic before the join reply is simply not seen
      this.write(delivery.frame(this.transport.codec), true, state.urgent);
      return;
    }
    const { pub } = delivery;
    if (state.buffer) {
      state.bufferedBytes += 256;
      if (state.bufferedBytes > this.deps.config.limits.outboundQueueBytes) {
        this.close(CloseCodes.SLOW_CONSUMER);
        return;
      }
      state.buffer.push(delivery);
      return;
    }
    if (pub.epoch !== state.epoch) {
      // The room's history was replaced under us; the client must resync from the new position.
      this.reset(delivery.room, { epoch: pub.epoch, offset: pub.offset - 1 });
    }
    if (pub.offset <= state.offset) return;
    state.offset = pub.offset;
    this.write(delivery.frame(this.transport.codec), false, state.urgent);
  }

  deliverEphemeral(room: string, message: EphemeralMessage): void {
    const state = this.rooms.get(room);
    if (!state || this.closed) return;
    switch (message.kind) {
      case 'signal':
        this.send({ t: 'signal', room, from: message.from, payload: message.payload });
        return;
      case 'presence.join':
      case 'presence.leave':
        if (!state.presence || state.buffer || message.member.client === this.id) return;
        this.send({ t: message.kind, room, member: message.member });
        return;
      case 'volatile':
        return; // delivered through `deliver`
    }
  }

  reset(room: string, position: Position): void {
    const state = this.rooms.get(room);
    if (!state) return;
    state.epoch = position.epoch;
    state.offset = position.offset;
    if (!state.buffer) this.send({ t: 'reset', room, epoch: position.epoch, offset: position.offset });
  }

  disconnect(reason: CloseReason): void {
    this.close(reason);
  }

  /** Sends a ping when due; closes the connection when a ping went unanswered. Called by the sweep. */
  heartbeat(now: number): void {
    const { heartbeatIntervalMs, heartbeatTimeoutMs, authTimeoutMs } = this.deps.config.limits;
    if (!this.user) {
      if (now - this.connectedAt > authTimeoutMs && !this.authenticating) this.close(CloseCodes.AUTH_TIMEOUT);
      return;
    }
    if (this.user.expiresAt + this.deps.config.jwt.clockSkewSec * 1000 < now) {
      this.close(CloseCodes.TOKEN_EXPIRED);
      return;
    }
    this.releaseFullBuckets(now);
    if (this.pingSentAt) {
      if (now - this.pingSentAt > heartbeatTimeoutMs) this.close(CloseCodes.HEARTBEAT_TIMEOUT);
      return;
    }
    if (now - this.lastSeen >= heartbeatIntervalMs) {
      this.pingSentAt = now;
      this.send({ t: 'ping' });
    }
  }

  /** Drops rate-limit buckets that have refilled: the next request makes a new (equally full) one. */
  private releaseFullBuckets(now: number): void {
    if (this.requestBucket?.isFull(now)) this.requestBucket = undefined;
    if (this.signalBucket?.isFull(now)) this.signalBucket = undefined;
    const publish = this.publishBuckets;
    if (publish) {
      for (const [key, bucket] of publish) if (bucket.isFull(now)) publish.delete(key);
      if (publish.size === 0) this.publishBuckets = undefined;
    }
  }

  /** Closes the connection with a catalogue entry; the client is told the code first. */
  close(reason: CloseReason): void {
    if (this.closed) return;
    // Best effort: a disconnect frame ahead of the close frame, for clients that only see 1006.
    if (reason.code !== CloseCodes.SLOW_CONSUMER.code) this.send({ t: 'disconnect', code: reason.code, reason: reason.reason, reconnect: reason.reconnect });
    this.closed = true;
    this.deps.metrics.disconnects.inc({ code: String(reason.code) });
    this.transport.close(reason.code, reason.reason);
    this.cleanup();
  }

  /** The transport went away (network close). */
  onTransportClosed(): void {
    if (!this.closed) {
      this.closed = true;
    }
    this.cleanup();
  }

  private cleaned = false;

  private cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    const { hub, logger } = this.deps;
    hub.unregister(this);
    this.deps.extensions?.media?.closed(this);
    for (const [room, state] of this.rooms) {
      hub.unsubscribe(room, this);
      if (state.member) hub.presenceLeave(room, this.member()).catch((err) => logger.warn({ err, room }, 'presence leave failed'));
    }
    this.rooms.clear();
  }
}
