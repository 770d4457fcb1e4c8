import { createHash } from 'node:crypto';
import type { ErrorCode, MediaJoinResult, MediaRequest, ResultMap, ServerMessage } from '@aqueduct/protocol';
import { can, type User } from '../auth/grants.js';
import type { Logger } from '../logger.js';
import { ReplyError } from '../core/session-outbound.js';
import { JanusError, JanusUnavailableError, type JanusConnection, type JanusMessage } from './janus-connection.js';
import type { MediaClient, MediaHandler } from '../core/session-extensions.js';
import type { SfuConfig } from './sfu-config.js';
import type { SfuMetrics, SfuStats } from './sfu-metrics.js';
import { SfuParticipant, VR_NO_SUCH_FEED, VR_NO_SUCH_ROOM, VR_PUBLISHERS_FULL } from './sfu-participant.js';

/** May `user` publish / receive media in `room`? `media` grants both, `media:publish` / `media:subscribe` one. */
export function canMedia(user: User, what: 'publish' | 'subscribe', room: string): boolean {
  return can(user, 'media', room) || can(user, what === 'publish' ? 'media:publish' : 'media:subscribe', room);
}

/** The Janus room id of an Aqueduct room: the same on every node (48 bits of SHA-256 of the name). */
export function janusRoomId(room: string): number {
  return createHash('sha256').update(room).digest().readUIntBE(0, 6) || 1;
}

interface Entry {
  client: MediaClient;
  room: string;
  participant?: SfuParticipant;
  /** Set by leave / close / reset while a join is still running: the join cleans up after itself. */
  gone: boolean;
}

/** What the SFU needs of the room bus: mesh membership (mode `'auto'`), and a way to tell mesh members. */
export interface RoomAccess {
  /** `limits.maxRoomsPerConnection`: media rooms one connection may be in. */
  maxRoomsPerConnection: number;
  meshMembers(room: string): Promise<number>;
  /** A volatile `aq.media` publication: SDK sessions in `'auto'` mode move from the mesh to the SFU. */
  announceSfu(room: string): void;
}

/** Janus core errors that mean "our side of Janus is not usable now" (wrong secret, session gone). */
const JANUS_UNAUTHORIZED = 403;
const JANUS_SESSION_NOT_FOUND = 458;

/** Delay of the empty-room check after the last local participant left without destroying the room. */
export const SWEEP_DELAY_MS = 1000;

const key = (clientId: string, room: string) => `${clientId}\u0000${room}`;

/**
 * The SFU module's request handler: one `SfuParticipant` (Janus session) per connection and media
 * room, Janus rooms created on the first join and destroyed when the last participant leaves, and
 * Janus's events relayed to the client as `media` events. Grants are checked before any Janus call.
 * When the Janus connection drops, every participant is told `reset` (its Janus session is gone)
 * and dropped; clients join again once Janus answers.
 */
export class SfuService implements MediaHandler {
  private readonly entries = new Map<string, Entry>();
  private readonly byClient = new Map<string, Set<string>>();
  private readonly bySession = new Map<number, Entry>();
  private readonly roomCounts = new Map<string, number>();
  /** Pending empty-room checks (at most one per room, so at most `sfu.maxRooms` + rooms just left). */
  private readonly sweeps = new Map<string, NodeJS.Timeout>();
  metrics?: SfuMetrics;

  constructor(
    private readonly config: SfuConfig,
    private readonly janus: JanusConnection | undefined,
    private readonly logger: Logger,
    private readonly room: RoomAccess,
  ) {}

  stats(): SfuStats {
    let publishers = 0;
    let subscribers = 0;
    for (const e of this.entries.values()) {
      if (e.participant?.publishing) publishers++;
      if ((e.participant?.subscriptions ?? 0) > 0) subscribers++;
    }
    return { rooms: this.roomCounts.size, publishers, subscribers, participants: this.entries.size, up: this.janus?.isUp === true };
  }

  async request(client: MediaClient, msg: MediaRequest): Promise<ResultMap['media']> {
    try {
      return await this.handle(client, msg);
    } catch (err) {
      const reply = this.toReply(err);
      this.metrics?.errors.inc({ code: reply.code });
      if (reply.code === 'INTERNAL') this.logger.error({ err, room: msg.room, op: msg.op }, 'media request failed');
      else this.logger.info({ room: msg.room, op: msg.op, code: reply.code, reason: reply.message }, 'media request refused');
      throw reply;
    }
  }

  private toReply(err: unknown): ReplyError {
    if (err instanceof ReplyError) return err;
    if (err instanceof JanusUnavailableError) return new ReplyError('UNAVAILABLE', err.message);
    if (err instanceof JanusError && (err.code === JANUS_UNAUTHORIZED || err.code === JANUS_SESSION_NOT_FOUND)) {
      return new ReplyError('UNAVAILABLE', `SFU: ${err.message}`);
    }
    if (err instanceof JanusError) {
      const code: ErrorCode = err.code === VR_PUBLISHERS_FULL ? 'MEDIA_FULL'
        : err.code === VR_NO_SUCH_FEED || err.code === VR_NO_SUCH_ROOM ? 'NOT_FOUND' : 'BAD_REQUEST';
      return new ReplyError(code, `SFU: ${err.message}`);
    }
    return new ReplyError('INTERNAL');
  }

  private async handle(client: MediaClient, msg: MediaRequest): Promise<ResultMap['media']> {
    const user = client.user;
    if (!user) throw new ReplyError('NOT_AUTHENTICATED');
    const { room } = msg;
    const pub = canMedia(user, 'publish', room);
    const sub = canMedia(user, 'subscribe', room);
    if (!pub && !sub) throw new ReplyError('PERMISSION_DENIED', `no media permission for ${room}`);
    if (msg.op === 'info') {
      return {
        sfu: this.janus?.isUp === true, participants: this.roomCounts.get(room) ?? 0,
        meshParticipants: await this.room.meshMembers(room), meshMaxParticipants: this.config.meshMaxParticipants,
      };
    }
    if (!this.janus) throw new ReplyError('UNAVAILABLE', 'media (SFU) is not configured on this server (sfu.janusUrl)');
    if (msg.op === 'join') return this.join(client, user, room, pub, sub);
    // Grants first: a request the user may not make never reaches Janus, joined or not.
    const need = (ok: boolean, what: string) => { if (!ok) throw new ReplyError('PERMISSION_DENIED', `no media:${what} permission for ${room}`); };
    if (msg.op === 'publish' || msg.op === 'unpublish' || (msg.op === 'trickle' && msg.target === 'publisher')) need(pub, 'publish');
    if (msg.op === 'subscribe' || msg.op === 'unsubscribe' || msg.op === 'start' || (msg.op === 'trickle' && msg.target === 'subscriber')) need(sub, 'subscribe');
    const entry = this.entries.get(key(client.id, room));
    if (msg.op === 'leave') {
      if (!entry) throw new ReplyError('NOT_JOINED', `not in the media room ${room}`);
      await this.remove(entry, true);
      return {};
    }
    const p = entry?.participant;
    if (!entry || !p) throw new ReplyError('NOT_JOINED', `join the media room ${room} first`);
    switch (msg.op) {
      case 'publish':
        return { jsep: await p.publish(msg.jsep) };
      case 'unpublish':
        await p.unpublish();
        return {};
      case 'subscribe':
        return p.subscribe(msg.feeds);
      case 'unsubscribe':
        return p.unsubscribe(msg.feeds);
      case 'start':
        await p.start(msg.jsep);
        return {};
      case 'trickle':
        await p.trickle(msg.target, msg.candidates, msg.completed === true);
        return {};
    }
  }

  private async join(client: MediaClient, user: User, room: string, pub: boolean, sub: boolean): Promise<MediaJoinResult> {
    const janus = this.janus as JanusConnection;
    const k = key(client.id, room);
    if (this.entries.has(k)) throw new ReplyError('ALREADY_JOINED', `already in the media room ${room}`);
    const mine = this.byClient.get(client.id)?.size ?? 0;
    if (mine >= this.room.maxRoomsPerConnection) throw new ReplyError('TOO_MANY_ROOMS', `at most ${this.room.maxRoomsPerConnection} media rooms per connection`);
    const count = this.roomCounts.get(room) ?? 0;
    if (count >= this.config.maxSubscribers) throw new ReplyError('MEDIA_FULL', `the media room ${room} has ${count} participants (sfu.maxSubscribers)`);
    if (count === 0 && this.roomCounts.size >= this.config.maxRooms) throw new ReplyError('MEDIA_FULL', `this node has ${this.roomCounts.size} media rooms (sfu.maxRooms)`);
    if (!janus.isUp) throw new ReplyError('UNAVAILABLE', `the SFU is unreachable (${janus.downReason})`);
    const entry: Entry = { client, room, gone: false };
    this.entries.set(k, entry);
    this.roomCounts.set(room, count + 1);
    let rooms = this.byClient.get(client.id);
    if (!rooms) this.byClient.set(client.id, (rooms = new Set()));
    rooms.add(room);
    try {
      const push = (m: Record<string, unknown>) => client.push({ t: 'media', room, ...m } as ServerMessage);
      const participant = await SfuParticipant.create(janus, janusRoomId(room), {
        feeds: (added, removed) => { if (sub) push({ ev: 'feeds', added, removed }); },
        offer: (jsep, streams) => push({ ev: 'offer', jsep, streams }),
        hangup: (reason) => push({ ev: 'error', code: 'UNAVAILABLE', message: `the SFU closed the publisher connection: ${reason}` }),
      }, (p) => { entry.participant = p; this.bySession.set(p.sessionId, entry); });
      if (entry.gone) throw new ReplyError('NOT_JOINED', 'left during join');
      const settings = { description: room.slice(0, 128), publishers: this.config.maxPublishers, bitrate: this.config.bitrateBps };
      let feeds;
      try {
        await participant.ensureRoom(settings);
        feeds = await participant.join(user.id, client.id);
      } catch (err) {
        // The last participant of another connection destroyed the room between our check and join.
        if (!(err instanceof JanusError && err.code === VR_NO_SUCH_ROOM)) throw err;
        await participant.ensureRoom(settings);
        feeds = await participant.join(user.id, client.id);
      }
      if (entry.gone) throw new ReplyError('NOT_JOINED', 'left during join');
      if (count === 0) this.room.announceSfu(room);
      return { feed: participant.feed, feeds: sub ? feeds : [], publish: pub, subscribe: sub };
    } catch (err) {
      if (this.entries.get(k) === entry) await this.remove(entry, true).catch(() => undefined);
      else if (entry.participant) await entry.participant.close(true).catch(() => undefined);
      throw err;
    }
  }

  /** Forgets an entry and leaves Janus (destroying the room when it was the last one in it). */
  private async remove(entry: Entry, leaveJanus: boolean): Promise<void> {
    const k = key(entry.client.id, entry.room);
    if (this.entries.get(k) !== entry) return;
    entry.gone = true;
    this.entries.delete(k);
    const rooms = this.byClient.get(entry.client.id);
    rooms?.delete(entry.room);
    if (rooms?.size === 0) this.byClient.delete(entry.client.id);
    const left = (this.roomCounts.get(entry.room) ?? 1) - 1;
    if (left <= 0) this.roomCounts.delete(entry.room);
    else this.roomCounts.set(entry.room, left);
    const p = entry.participant;
    if (!p) return;
    this.bySession.delete(p.sessionId);
    if (!leaveJanus) return;
    const destroyed = await p.close(true);
    if (destroyed) this.logger.debug({ room: entry.room }, 'janus room destroyed');
    else if (!this.roomCounts.has(entry.room)) this.scheduleSweep(entry.room);
  }

  /**
   * The last local participant left but the room was not destroyed (others were still listed, e.g.
   * leaving at the same moment, or on another node): check again after `SWEEP_DELAY_MS` and destroy
   * it if it is empty then. At most one pending check per room; dropped if someone joins.
   */
  private scheduleSweep(room: string): void {
    if (this.sweeps.has(room) || !this.janus) return;
    const janus = this.janus;
    const timer = setTimeout(() => {
      this.sweeps.delete(room);
      if (this.roomCounts.has(room) || !janus.isUp) return;
      SfuParticipant.sweepRoom(janus, janusRoomId(room)).then(
        (destroyed) => { if (destroyed) this.logger.debug({ room }, 'empty janus room destroyed by the sweep'); },
        (err: unknown) => this.logger.info({ err, room }, 'janus room sweep failed'),
      );
    }, SWEEP_DELAY_MS);
    timer.unref();
    this.sweeps.set(room, timer);
  }

  closed(client: MediaClient): void {
    const rooms = this.byClient.get(client.id);
    if (!rooms) return;
    for (const room of [...rooms]) {
      const entry = this.entries.get(key(client.id, room));
      if (entry) {
        this.remove(entry, true).catch((err: unknown) => this.logger.warn({ err, room }, 'media leave on close failed'));
      }
    }
  }

  /** A Janus event not answering a request: routed to its participant by session id. */
  onJanusEvent(msg: JanusMessage): void {
    const entry = msg.session_id === undefined ? undefined : this.bySession.get(msg.session_id);
    if (!entry?.participant) return;
    if (msg.janus === 'timeout') {
      // Janus dropped the session (missed keepalives): the client must join again.
      void this.remove(entry, false);
      entry.client.push({ t: 'media', room: entry.room, ev: 'reset', reason: 'the SFU session timed out' });
      this.metrics?.resets.inc();
      return;
    }
    entry.participant.onEvent(msg);
  }

  /** The Janus connection dropped: its sessions are gone; tell every participant to join again. */
  onJanusDown(reason: string): void {
    for (const entry of [...this.entries.values()]) {
      void this.remove(entry, false);
      entry.client.push({ t: 'media', room: entry.room, ev: 'reset', reason: `the SFU connection was lost (${reason})` });
      this.metrics?.resets.inc();
    }
  }

  /** Server shutdown: leave Janus for every participant (destroys their sessions and empty rooms). */
  async close(): Promise<void> {
    for (const t of this.sweeps.values()) clearTimeout(t);
    this.sweeps.clear();
    await Promise.allSettled([...this.entries.values()].map((e) => this.remove(e, true)));
  }
}
