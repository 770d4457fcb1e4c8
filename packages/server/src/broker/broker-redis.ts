import { randomBytes } from 'node:crypto';
import type { Cluster, RedisOptions } from 'ioredis';
import { failFastRedisOptions } from '../cluster/redis-options.js';
import { Packr } from 'msgpackr';
import type { Position, Publication } from '@aqueduct/protocol';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import {
  type Broker, type BrokerHandler, type ControlMessage, type EphemeralMessage, type HistoryPage,
  type HistoryQuery, type PublishInput, type PublishOptions, type PublishOutcome,
} from './broker.js';
import { HISTORY_LUA, POSITION_LUA, PUBLISH_LUA, ROOM_PUBLISH_LUA } from './broker-redis-scripts.js';
import { redisConnection, redisUnavailable as unavailable, watchClusterSubscriber, type RedisConnection } from './redis-connection.js';
import { decodePublication, encodeEphemeral, roomChannel, type Body } from './redis-wire.js';

export { encodeEphemeral, roomChannel } from './redis-wire.js';

/** Settings of the Redis broker; the defaults match `config.redis` (README §Configuration). */
export interface RedisBrokerOptions {
  /** One Redis URL; with `cluster`, the comma-separated seed nodes of a Redis Cluster. */
  url: string;
  /** `url` names a Redis Cluster. Default `config.redis.cluster` (false). */
  cluster?: boolean;
  logger?: Logger;
  /** Server config; `config.redis.*` supplies defaults for the fields below. */
  config?: Config;
  /** Default `aq:`. */
  keyPrefix?: string;
  /** Default 5000. */
  commandTimeoutMs?: number;
  /** Default 24 h. */
  metaTtlMs?: number;
  /** Default 1000. */
  catchUpBatch?: number;
  /** Default 10,000. */
  maxPendingPerRoom?: number;
  /** Longest wait in `start()` for the first connection before starting degraded. Default 5000. */
  connectTimeoutMs?: number;
}

/** What this node knows of a subscribed room: the last position handed to the hub. */
interface RoomTrack {
  epoch: string;
  offset: number;
  /** Catching up from history; live publications wait in `pending`. */
  busy: boolean;
  /** Another catch-up was asked for while one ran (a reconnect): run once more when it ends. */
  again?: boolean;
  pending: Publication[];
}

type Reply = Array<Buffer | number | null>;

type ScriptedRedis = RedisConnection & {
  aqPublish(keys0: string, keys1: string, keys2: string, ...args: Array<string | number | Buffer>): Promise<[Buffer, number, number]>;
  aqHistoryBuffer(keys0: string, keys1: string, ...args: Array<string | number>): Promise<Reply>;
  aqPosition(keys0: string, keys1: string, ...args: Array<string | number>): Promise<[string, number]>;
  aqRoomPublish(key: string, channel: string, message: Buffer): Promise<number>;
};

const newEpoch = () => randomBytes(6).toString('base64url');

/**
 * The scale-out broker: history, offsets and idempotency keys live in Redis; publications fan out
 * over Redis pub/sub to the nodes subscribed to the room's channel (one SUBSCRIBE per room with
 * local subscribers, on a dedicated connection).
 *
 * Ordering and gaps: a publish script assigns the offset, appends to the stream and PUBLISHes in one
 * atomic step, so each node sees a room's publications in offset order. A node remembers the last
 * offset it delivered per room; when the next one is not `last + 1` (messages lost while the
 * subscriber connection was down), it reads the missing range from history before delivering more,
 * or calls `onReset` when history cannot supply it. After the subscriber connection reconnects,
 * every subscribed room is caught up the same way, and an epoch change (Redis lost the room) becomes
 * `onReset`.
 *
 * Failure: commands never queue while Redis is unreachable; they reject at once (or after
 * `commandTimeoutMs`) with `BrokerUnavailableError`. Both connections keep reconnecting.
 */
export class RedisBroker implements Broker {
  private readonly cmd: ScriptedRedis;
  private readonly sub: RedisConnection;
  private readonly cluster: boolean;
  private stopWatch?: () => void;
  private readonly prefix: string;
  private readonly metaTtlMs: number;
  private readonly catchUpBatch: number;
  private readonly maxPending: number;
  private readonly connectTimeoutMs: number;
  private readonly logger?: Logger;
  private readonly packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
  private handler?: BrokerHandler;
  private readonly rooms = new Map<string, RoomTrack>();
  private readonly controlChannel: string;
  private subReadyOnce = false;
  private closed = false;
  private lastErrorLog = 0;

  constructor(options: RedisBrokerOptions) {
    const r = options.config?.redis;
    this.prefix = options.keyPrefix ?? r?.keyPrefix ?? 'aq:';
    this.metaTtlMs = options.metaTtlMs ?? r?.metaTtlMs ?? 24 * 3600_000;
    this.catchUpBatch = options.catchUpBatch ?? r?.catchUpBatch ?? 1000;
    this.maxPending = options.maxPendingPerRoom ?? r?.maxPendingPerRoom ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.logger = options.logger;
    this.controlChannel = `${this.prefix}control`;
    const common: RedisOptions = {
      ...failFastRedisOptions(options.commandTimeoutMs ?? r?.commandTimeoutMs ?? 5000, 'aqueduct-broker'),
      lazyConnect: true,
      connectTimeout: 5000,
    };
    const cluster = (this.cluster = options.cluster ?? r?.cluster ?? false);
    this.cmd = redisConnection(options.url, cluster, common) as ScriptedRedis;
    // Resubscription is done by hand after a reconnect so that catch-up starts only once every
    // channel is subscribed again (nothing can then fall between the history read and the live stream).
    this.sub = redisConnection(options.url, cluster, { ...common, connectionName: 'aqueduct-broker-sub', autoResubscribe: false, commandTimeout: undefined });
    this.cmd.defineCommand('aqPublish', { numberOfKeys: 3, lua: PUBLISH_LUA });
    this.cmd.defineCommand('aqHistory', { numberOfKeys: 2, lua: HISTORY_LUA });
    this.cmd.defineCommand('aqPosition', { numberOfKeys: 2, lua: POSITION_LUA });
    this.cmd.defineCommand('aqRoomPublish', { numberOfKeys: 1, lua: ROOM_PUBLISH_LUA });
    this.cmd.on('error', (err: Error) => this.logError('command', err));
    this.sub.on('error', (err: Error) => this.logError('subscriber', err));
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message));
    this.sub.on('ready', () => {
      if (!this.subReadyOnce) { this.subReadyOnce = true; return; }
      void this.afterReconnect();
    });
    // On a Cluster the subscriber connection moves between nodes without a 'ready' of its own.
    if (cluster) this.stopWatch = watchClusterSubscriber(this.sub as Cluster, () => { void this.afterReconnect(); });
  }

  private logError(connection: string, err: Error): void {
    // A down Redis produces an error per reconnect attempt; one line every 5 s is enough.
    const now = Date.now();
    if (now - this.lastErrorLog < 5000) return;
    this.lastErrorLog = now;
    this.logger?.warn({ err: err.message, connection }, 'redis connection error');
  }

  private key(room: string, suffix: string): string {
    return `${this.prefix}{${room}}:${suffix}`;
  }

  private channel(room: string): string {
    return roomChannel(this.prefix, room);
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
    const connect = async (conn: RedisConnection) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          conn.connect(),
          new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('connect timeout')), this.connectTimeoutMs); }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    };
    try {
      await Promise.all([connect(this.cmd), connect(this.sub)]);
      await this.sub.subscribe(this.controlChannel);
    } catch (err) {
      // Start degraded rather than refuse to boot: /readyz says not ready, ioredis keeps retrying,
      // and the reconnect path subscribes to the control channel.
      this.subReadyOnce = true;
      this.logger?.error({ err: (err as Error).message }, 'redis broker: Redis unreachable at start; retrying in the background');
    }
  }

  async publish(room: string, input: PublishInput, options: PublishOptions): Promise<PublishOutcome> {
    const body: Body = { d: input.data };
    if (input.event !== undefined) body.e = input.event;
    if (input.from !== undefined) body.f = input.from;
    const hasKey = options.idempotencyKey !== undefined;
    try {
      const [epoch, offset, dup] = await this.cmd.aqPublish(
        this.key(room, 'm'), this.key(room, 'h'), hasKey ? this.key(room, `i:${options.idempotencyKey}`) : this.key(room, 'i'),
        options.historySize, Math.max(1, options.historyTtlMs), Math.max(1, options.idempotencyTtlMs), newEpoch(),
        this.channel(room), this.packr.pack(body), hasKey ? '1' : '0', this.metaTtlMs,
      );
      return { epoch: String(epoch), offset: Number(offset), duplicate: Number(dup) === 1 };
    } catch (err) {
      throw unavailable(err);
    }
  }

  async publishEphemeral(room: string, message: EphemeralMessage): Promise<void> {
    try {
      if (this.cluster) await this.cmd.aqRoomPublish(this.key(room, 'm'), this.channel(room), encodeEphemeral(message));
      else await this.cmd.publish(this.channel(room), encodeEphemeral(message));
    } catch (err) {
      throw unavailable(err);
    }
  }

  async publishControl(message: ControlMessage): Promise<void> {
    try {
      await this.cmd.publish(this.controlChannel, this.packr.pack(message));
    } catch (err) {
      throw unavailable(err);
    }
  }

  async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    let reply: Reply;
    try {
      reply = await this.cmd.aqHistoryBuffer(
        this.key(room, 'm'), this.key(room, 'h'),
        query.since ? '1' : '0', query.since?.epoch ?? '', query.since?.offset ?? 0, Math.max(0, query.limit), newEpoch(), this.metaTtlMs,
      );
    } catch (err) {
      throw unavailable(err);
    }
    const epoch = String(reply[0]);
    const publications: Publication[] = [];
    for (let i = 3; i + 1 < reply.length; i += 2) {
      publications.push(decodePublication(this.packr, epoch, Number(reply[i]), reply[i + 1] as Buffer));
    }
    return { epoch, offset: Number(reply[1]), recovered: Number(reply[2]) === 1, publications };
  }

  async position(room: string): Promise<Position> {
    try {
      const [epoch, offset] = await this.cmd.aqPosition(this.key(room, 'm'), this.key(room, 'h'), newEpoch(), this.metaTtlMs);
      return { epoch: String(epoch), offset: Number(offset) };
    } catch (err) {
      throw unavailable(err);
    }
  }

  async subscribe(room: string): Promise<void> {
    if (this.rooms.has(room)) return;
    // The position read before SUBSCRIBE is the floor: anything published after it reaches this node
    // either live or, if it fell before the subscription took effect, through the gap fill.
    const pos = await this.position(room);
    if (this.rooms.has(room)) return;
    this.rooms.set(room, { epoch: pos.epoch, offset: pos.offset, busy: false, pending: [] });
    try {
      await this.sub.subscribe(this.channel(room));
    } catch (err) {
      this.rooms.delete(room);
      throw unavailable(err);
    }
  }

  async unsubscribe(room: string): Promise<void> {
    if (!this.rooms.delete(room)) return;
    try {
      await this.sub.unsubscribe(this.channel(room));
    } catch (err) {
      // The connection is down: on reconnect only rooms still in `rooms` are subscribed again.
      this.logger?.debug({ err: (err as Error).message, room }, 'redis unsubscribe failed');
    }
  }

  health(): { ok: boolean; detail?: string } {
    const ok = this.cmd.status === 'ready' && this.sub.status === 'ready';
    return { ok, detail: ok ? 'redis' : `redis: command connection ${this.cmd.status}, subscriber ${this.sub.status}` };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopWatch?.();
    this.rooms.clear();
    await Promise.allSettled([this.cmd.quit(), this.sub.quit()]);
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  // ------------------------------------------------------------------ incoming

  private onMessage(channel: string, message: Buffer): void {
    const handler = this.handler;
    if (!handler) return;
    try {
      if (channel === this.controlChannel) {
        handler.onControl(this.packr.unpack(message) as ControlMessage);
        return;
      }
      // `<prefix>{room}:c`
      const room = channel.slice(this.prefix.length + 1, -3);
      if (!this.rooms.has(room)) return;
      if (message[0] === 0x65 /* e */) {
        handler.onEphemeral(room, this.packr.unpack(message.subarray(1)) as EphemeralMessage);
        return;
      }
      if (message[0] !== 0x70 /* p */) return;
      const c1 = message.indexOf(0x3a, 1);
      const c2 = message.indexOf(0x3a, c1 + 1);
      const epoch = message.toString('utf8', 1, c1);
      const offset = Number(message.toString('latin1', c1 + 1, c2));
      this.deliver(room, decodePublication(this.packr, epoch, offset, message.subarray(c2 + 1)));
    } catch (err) {
      this.logger?.error({ err, channel }, 'redis broker: undecodable message dropped');
    }
  }

  /** Hands a live publication to the hub in order, or starts a catch-up when there is a gap. */
  private deliver(room: string, pub: Publication): void {
    const track = this.rooms.get(room);
    if (!track) return;
    if (track.busy) {
      // Past the bound the backlog is dropped: the catch-up loop reads up to the top from history anyway.
      if (track.pending.length < this.maxPending) track.pending.push(pub);
      return;
    }
    if (pub.epoch !== track.epoch) {
      // Redis lost the room (restart, eviction, meta expiry) and a new epoch started. The new
      // epoch's history is delivered from its start (a gap fill below if this is not offset 1).
      track.epoch = pub.epoch;
      track.offset = 0;
      this.handler?.onReset(room, { epoch: pub.epoch, offset: 0 });
    }
    if (pub.offset <= track.offset) return;
    if (pub.offset === track.offset + 1) {
      track.offset = pub.offset;
      this.handler?.onPublication(room, pub);
      return;
    }
    track.pending.push(pub);
    void this.catchUp(room, track);
  }

  /**
   * Reads history from the last delivered position up to the top, delivers it, then drains what
   * arrived live meanwhile. Retries while Redis is unavailable (until the room is unsubscribed).
   */
  private async catchUp(room: string, track: RoomTrack): Promise<void> {
    if (track.busy) {
      track.again = true;
      return;
    }
    track.busy = true;
    let delayMs = 100;
    while (this.rooms.get(room) === track && !this.closed) {
      track.again = false;
      let page: HistoryPage;
      try {
        page = await this.history(room, { since: { epoch: track.epoch, offset: track.offset }, limit: this.catchUpBatch });
      } catch (err) {
        this.logger?.warn({ err: (err as Error).message, room }, 'redis broker: catch-up failed; retrying');
        await new Promise((r) => setTimeout(r, delayMs));
        delayMs = Math.min(delayMs * 2, 2000);
        continue;
      }
      if (this.rooms.get(room) !== track) return;
      if (!page.recovered) {
        this.logger?.warn({ room, from: { epoch: track.epoch, offset: track.offset }, to: { epoch: page.epoch, offset: page.offset } }, 'redis broker: history cannot fill the gap; resetting room');
        if (page.epoch !== track.epoch) {
          // A new epoch: reset to its start and keep reading, so what was published in it since is
          // still delivered.
          track.epoch = page.epoch;
          track.offset = 0;
          this.handler?.onReset(room, { epoch: page.epoch, offset: 0 });
          continue;
        }
        track.offset = page.offset;
        this.handler?.onReset(room, { epoch: page.epoch, offset: page.offset });
        break;
      }
      for (const pub of page.publications) {
        if (pub.offset !== track.offset + 1) break;
        track.offset = pub.offset;
        this.handler?.onPublication(room, pub);
      }
      if ((track.offset >= page.offset || page.publications.length === 0) && !track.again) break;
    }
    track.busy = false;
    if (this.rooms.get(room) !== track) return;
    const pending = track.pending;
    track.pending = [];
    for (const pub of pending) this.deliver(room, pub);
  }

  /** The subscriber connection came back: subscribe again, then catch every room up. */
  private async afterReconnect(): Promise<void> {
    if (this.closed) return;
    const rooms = [...this.rooms.keys()];
    try {
      await this.sub.subscribe(this.controlChannel, ...rooms.map((r) => this.channel(r)));
    } catch (err) {
      // The next 'ready' retries.
      this.logger?.warn({ err: (err as Error).message }, 'redis broker: resubscribe failed');
      return;
    }
    this.logger?.info({ rooms: rooms.length }, 'redis broker: subscriber reconnected; catching up rooms');
    for (const room of rooms) {
      const track = this.rooms.get(room);
      if (track) void this.catchUp(room, track);
    }
  }
}
