import {
  CloseCodes, ErrorCodes,
  type ErrorCode, type MediaRequest, type Member, type Position, type ResultMap, type ServerMessage,
} from '@aqueduct/protocol';
import type { User } from '../auth/grants.js';
import type { Authenticator } from '../auth/auth.js';
import type { EphemeralMessage } from '../broker/broker.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Delivery } from './delivery.js';
import type { CloseReason, Hub, Subscriber } from './hub.js';
import type { SessionExtensions } from './session-extensions.js';
import { SmallMap } from './small-map.js';
import type { Transport } from './transport.js';

/** A request failed with a reply error. */
export class ReplyError extends Error {
  constructor(readonly code: ErrorCode, message?: string) {
    super(message ?? ErrorCodes[code].message);
  }
}

export interface RoomState {
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
  /** Parts' request handlers (`media`: the SFU, sfu/). */
  extensions?: SessionExtensions;
}

/**
 * The outbound side of a room-bus session: the bounded outbound queue, deliveries from the hub
 * (buffered while a join is in flight, de-duplicated by offset), replies and the close path.
 */
export abstract class SessionCore implements Subscriber {
  user: User | undefined;
  /** Joined rooms (one inline: most connections are in one room). */
  protected readonly rooms = new SmallMap<RoomState>();
  protected closed = false;
  private cleaned = false;

  constructor(readonly id: string, protected readonly transport: Transport, protected readonly deps: SessionDeps) {}

  get isClosed(): boolean {
    return this.closed;
  }

  protected flushJoinBuffer(room: string): void {
    const state = this.rooms.get(room);
    if (!state) return;
    const buffer = state.buffer;
    state.buffer = undefined;
    state.bufferedBytes = 0;
    if (!buffer || this.closed) return;
    for (const d of buffer) this.deliver(d);
  }

  protected member(): Member {
    const m: Member = { client: this.id, user: this.user?.id ?? '' };
    if (this.user?.info) m.info = this.user.info;
    return m;
  }

  protected send(message: ServerMessage): void {
    if (this.closed) return;
    const encoded = this.transport.codec.encode(message);
    this.write(typeof encoded === 'string' ? Buffer.from(encoded) : Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength), false);
  }

  /** Sends a server-initiated message (media events of the SFU part). */
  push(message: ServerMessage): void {
    this.send(message);
  }

  /** A `media` request: handed to the SFU part (UNAVAILABLE when none is mounted). */
  protected media(msg: MediaRequest): Promise<ResultMap['media']> {
    const media = this.deps.extensions?.media;
    if (!media) return Promise.reject(new ReplyError('UNAVAILABLE', 'media (SFU) is not configured on this server'));
    return media.request(this, msg);
  }

  protected reply(id: number, result: ResultMap[keyof ResultMap]): void {
    this.send({ t: 'reply', id, result });
  }

  protected replyError(id: number, code: ErrorCode, message?: string): void {
    this.deps.metrics.errors.inc({ code });
    this.send({ t: 'reply', id, error: { code, message: message ?? ErrorCodes[code].message, temporary: ErrorCodes[code].temporary } });
  }

  /**
   * Writes a frame within the outbound limit. Volatile frames are dropped once the queue passes
   * `volatileDropRatio`; a reliable frame that does not fit closes the connection as slow (the
   * client recovers from history on reconnect).
   */
  protected write(frame: Buffer, volatile: boolean, urgent = false): void {
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

  protected cleanup(): void {
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
  }}
