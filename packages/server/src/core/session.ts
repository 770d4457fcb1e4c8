import { randomBytes } from 'node:crypto';
import {
  CloseCodes, namespaceOf, parseClientMessage,
  type AuthResult, type ClientRequest, type EmptyResult, type HistoryResult, type JoinResult, type Member, type Position,
  type PresenceResult, type PublishResult, type RefreshResult, type ResultMap,
} from '@aqueduct/protocol';
import { AuthError, type Authenticator } from '../auth/auth.js';
import { can, type User } from '../auth/grants.js';
import { BrokerUnavailableError } from '../broker/broker.js';
import { namespaceSettings } from '../config.js';
import { publishAs, publishReply, PublishRefused } from './publish-policy.js';
import { TokenBucket } from './rate-limiter.js';
import { earliestWithin, latestWithin, recoverWithin } from './recovery.js';
import { ReplyError, SessionCore, type RoomState, type SessionDeps } from './session-outbound.js';
import { meshJoinRefusal } from '../webrtc/mesh.js';
import { HookDenied, connectRefusalClose, hookReply, wsConnectHook, wsJoinHook, type ConnectRequest, type HookTurns } from '../hooks/session-hooks.js';
import type { Transport } from './transport.js';

export { ReplyError, type SessionDeps } from './session-outbound.js';

/** Frames an unauthenticated connection may send before it is closed. */
const MAX_FRAMES_BEFORE_AUTH = 4;

const newClientId = () => randomBytes(9).toString('base64url');

/**
 * One connected client of the room bus: identity, grants, rooms, rate limiters (the outbound side
 * is SessionCore, session-outbound.ts). Transport-agnostic: it reads decoded frames and writes
 * encoded ones. Every request answers with its typed result (ResultMap of packages/protocol).
 */
export class Session extends SessionCore {
  readonly connectedAt = Date.now();
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
  private authenticating = false;
  /** Backend hooks (set only when hooks are active: no slot on an idle connection otherwise). */
  declare request?: ConnectRequest;
  declare publishTurns?: HookTurns;
  /** Heartbeat bookkeeping, driven by the server's single sweep timer. */
  lastSeen = Date.now();
  pingSentAt = 0;

  constructor(transport: Transport, deps: SessionDeps) {
    super(newClientId(), transport, deps);
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
    else if (err instanceof HookDenied) this.send(hookReply(id, err));
    else {
      this.deps.logger.error({ err, client: this.id }, 'request failed');
      this.replyError(id, 'INTERNAL');
    }
  }

  private async handle(msg: ClientRequest): Promise<ResultMap[ClientRequest['t']]> {
    switch (msg.t) {
      case 'auth': return this.authenticate(msg.token);
      case 'refresh': return this.refresh(msg.token);
      case 'join': return this.join(msg.room, msg.since, msg.history, msg.mesh === true);
      case 'leave': return this.leave(msg.room);
      case 'pub': return this.publish(msg.room, msg.data, msg.cid, msg.event, msg.volatile);
      case 'presence': return this.presenceList(msg.room);
      case 'history': return this.history(msg.room, msg.since, msg.limit);
      case 'signal': return this.signal(msg.room, msg.to, msg.payload);
      case 'media': return this.media(msg); // the SFU part (sfu/), through core/session-extensions.ts
    }
  }

  /** Authenticates with a token (first message, or the `?token=` of the upgrade). */
  async authenticate(token: string): Promise<AuthResult> {
    if (this.user || this.authenticating) throw new ReplyError('ALREADY_AUTHENTICATED');
    this.authenticating = true;
    try {
      const user = this.checkInfo(await this.deps.auth.verify(token));
      await wsConnectHook(this.deps.hub, user, this);
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
      } else if (err instanceof HookDenied) setImmediate(() => this.close(connectRefusalClose(err)));
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
  receiveUrlAuth(result: AuthResult): void {
    this.reply(0, result);
  }

  receiveUrlAuthError(err: unknown): void {
    this.fail(0, err);
  }

  private async refresh(token: string): Promise<RefreshResult> {
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
    await wsJoinHook(hub, user, room, this.id);
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
        const rec = await recoverWithin(hub, room, since, limit, budget);
        if (!rec.recovered) result = { epoch: rec.epoch, offset: rec.offset, recovered: false, publications: [] };
        else if (rec.more) {
          // A chunk of a long recovery: not joined; the client joins again from the chunk's end.
          if (this.closed || this.rooms.get(room) !== state) throw new ReplyError('NOT_JOINED', 'left during join');
          this.rooms.delete(room);
          hub.unsubscribe(room, this);
          this.continuations ??= new Set();
          if (this.continuations.size < config.limits.maxRoomsPerConnection) this.continuations.add(room);
          return { epoch: rec.epoch, offset: rec.publications[rec.publications.length - 1].offset, recovered: true, publications: rec.publications, more: true };
        } else result = { epoch: rec.epoch, offset: rec.offset, recovered: true, publications: rec.publications };
      } else if (history && history > 0) {
        const page = await hub.history(room, { limit: Math.min(history, limit) });
        result = { epoch: page.epoch, offset: page.offset, recovered: false, publications: latestWithin(page.publications, budget) };
      } else {
        const pos = await hub.position(room);
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

  private async leave(room: string): Promise<Record<string, never>> {
    const state = this.rooms.get(room);
    if (!state) throw new ReplyError('NOT_JOINED');
    this.rooms.delete(room);
    this.deps.hub.unsubscribe(room, this);
    if (state.member) await this.deps.hub.presenceLeave(room, this.member());
    return {};
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

  private async publish(room: string, data: unknown, cid: string | undefined, event: string | undefined, volatile: boolean | undefined): Promise<PublishResult> {
    const user = this.requireUser();
    const { config, hub } = this.deps;
    try {
      return publishReply(await publishAs(hub, config, { user, room, data, event, volatile, key: cid, from: { client: this.id, user: user.id }, transport: 'ws', order: this }, (key, ns) => {
        this.publishBuckets ??= new Map();
        let bucket = this.publishBuckets.get(key);
        if (!bucket) this.publishBuckets.set(key, (bucket = new TokenBucket(ns.publishRatePerSec, ns.publishBurst)));
        return !this.rateLimited(bucket);
      }));
    } catch (err) {
      if (err instanceof PublishRefused) throw new ReplyError(err.code, err.message);
      throw err;
    }
  }

  private async presenceList(room: string): Promise<PresenceResult> {
    const user = this.requireUser();
    if (!namespaceSettings(this.deps.config, namespaceOf(room)).presence) throw new ReplyError('PRESENCE_DISABLED');
    if (!can(user, 'presence', room)) throw new ReplyError('PERMISSION_DENIED', `no presence permission for ${room}`);
    return { members: await this.deps.hub.members(room) };
  }

  private async history(room: string, since: Position | undefined, limit: number | undefined): Promise<HistoryResult> {
    const user = this.requireUser();
    if (!can(user, 'sub', room)) throw new ReplyError('PERMISSION_DENIED', `no sub permission for ${room}`);
    await wsJoinHook(this.deps.hub, user, room, this.id);
    const max = this.deps.config.limits.maxHistoryLimit;
    const page = await this.deps.hub.history(room, { since, limit: Math.min(limit ?? max, max) });
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

  private async signal(room: string, to: string, payload: unknown): Promise<EmptyResult> {
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
    await hub.signal(room, to, { client: this.id, user: user.id }, payload);
    return {};
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


}
