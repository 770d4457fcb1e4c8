import type { Position } from '@aqueduct/protocol';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import {
  BrokerUnavailableError,
  type Broker, type BrokerHandler, type ControlMessage, type EphemeralMessage, type HistoryPage,
  type HistoryQuery, type PublishInput, type PublishOptions, type PublishOutcome,
} from './broker.js';
import { RedisBroker, type RedisBrokerOptions } from './broker-redis.js';
import { ShardRing, shardId } from './shard-ring.js';

/** Settings of the sharded Redis broker: those of `RedisBroker`, with several URLs. */
export interface ShardedRedisBrokerOptions extends Omit<RedisBrokerOptions, 'url'> {
  urls: string[];
  logger?: Logger;
  config?: Config;
}

/**
 * Rooms spread over several independent Redis servers. Each room lives wholly on one shard, chosen
 * by rendezvous hashing of the room name over the shards' ids (host:port/db), so every node agrees
 * without coordination and the key layout on each shard is exactly the single-Redis one. A shard
 * is a `RedisBroker`: per-room order, history, recovery and idempotency are that broker's.
 *
 * Failure is per shard: while one is down, its rooms' operations reject with
 * `BrokerUnavailableError` and the other rooms keep flowing. Control messages go through the first
 * reachable shard (every node listens on all of them), so they need only one shard up.
 */
export class ShardedRedisBroker implements Broker {
  private readonly ring: ShardRing<RedisBroker>;
  private readonly ids: string[];

  constructor(options: ShardedRedisBrokerOptions) {
    const { urls, ...rest } = options;
    this.ids = urls.map(shardId);
    this.ring = new ShardRing(urls.map((url, i) => ({ id: this.ids[i], value: new RedisBroker({ ...rest, url }) })));
  }

  /** The shard (index into the URL list) that holds a room. */
  shardOf(room: string): number {
    return this.ring.indexOf(room);
  }

  async start(handler: BrokerHandler): Promise<void> {
    await Promise.all(this.ring.all().map((b) => b.start(handler)));
  }

  publish(room: string, input: PublishInput, options: PublishOptions): Promise<PublishOutcome> {
    return this.ring.of(room).publish(room, input, options);
  }

  publishEphemeral(room: string, message: EphemeralMessage): Promise<void> {
    return this.ring.of(room).publishEphemeral(room, message);
  }

  async publishControl(message: ControlMessage): Promise<void> {
    let last: unknown = new BrokerUnavailableError('redis unavailable: no shard reachable');
    for (const shard of this.ring.all()) {
      if (!shard.health().ok) continue;
      try {
        return await shard.publishControl(message);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    return this.ring.of(room).history(room, query);
  }

  position(room: string): Promise<Position> {
    return this.ring.of(room).position(room);
  }

  subscribe(room: string): Promise<void> {
    return this.ring.of(room).subscribe(room);
  }

  unsubscribe(room: string): Promise<void> {
    return this.ring.of(room).unsubscribe(room);
  }

  /**
   * Ready while at least one shard is reachable (a node still serves the other shards' rooms); the
   * detail names the shards that are down.
   */
  health(): { ok: boolean; detail?: string } {
    const down = this.ring.all().map((b, i) => (b.health().ok ? undefined : this.ids[i])).filter((x): x is string => x !== undefined);
    const up = this.ids.length - down.length;
    return { ok: up > 0, detail: down.length === 0 ? `redis: ${up} shards` : `redis: ${up}/${this.ids.length} shards up; down: ${down.join(', ')}` };
  }

  async close(): Promise<void> {
    await Promise.all(this.ring.all().map((b) => b.close()));
  }
}
