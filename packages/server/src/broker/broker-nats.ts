import type { Subscription } from 'nats';
import type { Position } from '@aqueduct/protocol';
import { namespaceSettings, type Config } from '../config.js';
import type { Logger } from '../logger.js';
import type {
  Broker, BrokerHandler, ControlMessage, EphemeralMessage, HistoryPage, HistoryQuery, PublishInput,
  PublishOptions, PublishOutcome,
} from './broker.js';
import { NatsLink, natsUnavailable } from './nats-link.js';
import { natsNames, type NatsNames } from './nats-names.js';
import { NatsRoomLog, type RoomSettings } from './nats-room-log.js';
import { decodeControl, decodeFeed, encodeBody, encodeControl, encodeFeedEphemeral, encodeFeedPublication } from './nats-wire.js';
import { RoomSequencer } from './room-sequencer.js';

/** Settings of the NATS broker; the defaults match `config.nats` (README §Brokers). */
export interface NatsBrokerOptions {
  /** `nats://host:port`, or several comma-separated. */
  url: string;
  logger?: Logger;
  /** Server config; `config.nats.*` and the namespaces supply the defaults below. */
  config?: Config;
  /** Prefix of subjects, streams and buckets. Default `aq`. */
  prefix?: string;
  /** Default 5000. */
  requestTimeoutMs?: number;
  /** Default 2000. */
  pingIntervalMs?: number;
  /** JetStream replicas per room stream. Default 1. */
  replicas?: number;
  /** Default 1000. */
  catchUpBatch?: number;
  /** Default 10,000. */
  maxPendingPerRoom?: number;
  /** Longest wait in `start()` for the first connection before starting degraded. Default 5000. */
  connectTimeoutMs?: number;
}

const namespaceOf = (room: string) => {
  const i = room.indexOf(':');
  return i < 0 ? '' : room.slice(0, i);
};

/**
 * The NATS JetStream broker.
 *
 * Storage: one JetStream stream per room (see `NatsRoomLog`): the stream sequence is the room's
 * offset, so JetStream's own atomic append assigns offsets; idempotency keys are JetStream message
 * ids (`Nats-Msg-Id`) deduplicated within the stream's duplicate window, and a duplicate's ack
 * carries the first publish's sequence.
 *
 * Fanout: after the append is acknowledged, the publishing node sends `p<epoch>:<offset>:<body>` on
 * the room's core-NATS feed subject, which every node with local subscribers to the room has
 * subscribed. Feeds of two publishers may interleave out of offset order and are lost while a
 * connection is down; `RoomSequencer` restores order and fills gaps from the stream, and after a
 * reconnect catches every subscribed room up (an epoch change there becomes `onReset`).
 *
 * Failure: while the connection is down every operation rejects at once with
 * `BrokerUnavailableError`; requests that get no answer within `requestTimeoutMs` reject the same way.
 */
export class NatsBroker implements Broker {
  private readonly link: NatsLink;
  private readonly names: NatsNames;
  private readonly log: NatsRoomLog;
  private readonly seq: RoomSequencer;
  private readonly subs = new Map<string, Subscription>();
  private readonly connectTimeoutMs: number;
  private readonly logger?: Logger;
  private handler?: BrokerHandler;
  private control?: Subscription;
  private closed = false;

  constructor(options: NatsBrokerOptions) {
    const n = options.config?.nats;
    const config = options.config;
    this.logger = options.logger;
    this.names = natsNames(options.prefix ?? n?.prefix ?? 'aq');
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.link = new NatsLink({
      url: options.url,
      name: 'aqueduct-broker',
      logger: options.logger,
      requestTimeoutMs: options.requestTimeoutMs ?? n?.requestTimeoutMs ?? 5000,
      pingIntervalMs: options.pingIntervalMs ?? n?.pingIntervalMs ?? 2000,
    });
    const idem = config?.limits.idempotencyTtlMs ?? 5 * 60_000;
    this.log = new NatsRoomLog({
      link: this.link,
      names: this.names,
      replicas: options.replicas ?? n?.replicas ?? 1,
      defaults: (room) => {
        const ns = config ? namespaceSettings(config, namespaceOf(room)) : undefined;
        return { h: ns?.historySize ?? 1000, t: ns?.historyTtlMs ?? 10 * 60_000, i: idem };
      },
      readConcurrency: 128,
      maxCachedRooms: 100_000,
      cacheTtlMs: 60_000,
    });
    this.seq = new RoomSequencer({
      history: (room, q) => this.history(room, q),
      handler: () => this.handler,
      logger: options.logger,
      catchUpBatch: options.catchUpBatch ?? n?.catchUpBatch ?? 1000,
      maxPendingPerRoom: options.maxPendingPerRoom ?? n?.maxPendingPerRoom ?? 10_000,
      label: 'nats broker',
    });
    this.link.onReconnect(() => this.afterReconnect());
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
    // The control subscription is made once the first connection exists; the client resubscribes it
    // after every reconnect.
    void this.link.whenOpen().then(({ nc }) => {
      if (this.closed) return;
      this.control = nc.subscribe(this.names.control, {
        callback: (err, msg) => {
          if (err) return;
          try {
            this.handler?.onControl(decodeControl<ControlMessage>(msg.data));
          } catch (e) {
            this.logger?.error({ err: e }, 'nats broker: undecodable control message dropped');
          }
        },
      });
    }, () => undefined);
    await this.link.open(this.connectTimeoutMs);
    if (this.link.health().ok) await this.link.parts().nc.flush().catch(() => undefined);
  }

  private settingsOf(options: PublishOptions): Omit<RoomSettings, 'e'> {
    return { h: options.historySize, t: Math.max(1, options.historyTtlMs), i: Math.max(1, options.idempotencyTtlMs) };
  }

  async publish(room: string, input: PublishInput, options: PublishOptions): Promise<PublishOutcome> {
    const body = encodeBody(input);
    const want = this.settingsOf(options);
    for (let attempt = 0; ; attempt++) {
      try {
        const settings = await this.log.ensure(room, want);
        const { js, nc } = this.link.parts();
        const ack = await js.publish(this.names.logSubject(room), body, options.idempotencyKey !== undefined ? { msgID: options.idempotencyKey } : undefined);
        if (!ack.duplicate) nc.publish(this.names.feedSubject(room), encodeFeedPublication(settings.e, ack.seq, body));
        return { epoch: settings.e, offset: ack.seq, duplicate: ack.duplicate };
      } catch (err) {
        // 503: no stream takes the subject (the server lost it): recreate it once.
        if (attempt === 0 && (err as { code?: string }).code === '503') {
          this.log.forget(room);
          continue;
        }
        throw natsUnavailable(err);
      }
    }
  }

  async publishEphemeral(room: string, message: EphemeralMessage): Promise<void> {
    try {
      this.link.parts().nc.publish(this.names.feedSubject(room), encodeFeedEphemeral(message));
    } catch (err) {
      throw natsUnavailable(err);
    }
  }

  async publishControl(message: ControlMessage): Promise<void> {
    try {
      this.link.parts().nc.publish(this.names.control, encodeControl(message));
    } catch (err) {
      throw natsUnavailable(err);
    }
  }

  history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    return this.log.history(room, query);
  }

  async position(room: string): Promise<Position> {
    const s = await this.log.state(room);
    return { epoch: s.settings.e, offset: s.top };
  }

  async subscribe(room: string): Promise<void> {
    if (!this.seq.begin(room)) return;
    try {
      const { nc } = this.link.parts();
      const sub = nc.subscribe(this.names.feedSubject(room), {
        callback: (err, msg) => {
          if (err || !this.seq.has(room)) return;
          try {
            const m = decodeFeed(msg.data);
            if (m.kind === 'eph') this.handler?.onEphemeral(room, m.message);
            else this.seq.deliver(room, m.pub);
          } catch (e) {
            this.logger?.error({ err: e, room }, 'nats broker: undecodable message dropped');
          }
        },
      });
      this.subs.set(room, sub);
      // Once the server has the subscription, everything after the position read below arrives live.
      await nc.flush();
      this.seq.settle(room, await this.position(room));
    } catch (err) {
      this.seq.drop(room);
      this.subs.get(room)?.unsubscribe();
      this.subs.delete(room);
      throw natsUnavailable(err);
    }
  }

  async unsubscribe(room: string): Promise<void> {
    this.seq.drop(room);
    const sub = this.subs.get(room);
    this.subs.delete(room);
    try {
      sub?.unsubscribe();
    } catch (err) {
      this.logger?.debug({ err: (err as Error).message, room }, 'nats unsubscribe failed');
    }
  }

  health(): { ok: boolean; detail?: string } {
    return this.link.health();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.seq.close();
    this.subs.clear();
    this.control = undefined;
    await this.link.close();
  }

  /** The client has resubscribed every feed: what was published meanwhile is read from the streams. */
  private afterReconnect(): void {
    if (this.closed) return;
    this.log.invalidate();
    const rooms = this.seq.names();
    this.logger?.info({ rooms: rooms.length }, 'nats broker: reconnected; catching up rooms');
    for (const room of rooms) void this.seq.catchUp(room);
  }
}
