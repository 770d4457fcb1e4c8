import type { Member } from '@aqueduct/protocol';
import { ShardRing, shardId } from '../broker/shard-ring.js';
import type { Presence } from './presence.js';
import { RedisPresence, type RedisPresenceOptions } from './presence-redis.js';

/** Settings of sharded Redis presence: those of `RedisPresence`, with several URLs. */
export interface ShardedRedisPresenceOptions extends Omit<RedisPresenceOptions, 'url'> {
  urls: string[];
}

/**
 * Presence spread over the same shards as `ShardedRedisBroker`, with the same rendezvous hashing,
 * so a room's members live on the shard that carries its channel (a dead node's members are
 * announced on it). Each shard keeps its own heartbeat key per node.
 */
export class ShardedRedisPresence implements Presence {
  private readonly ring: ShardRing<RedisPresence>;
  private readonly ids: string[];

  constructor(options: ShardedRedisPresenceOptions) {
    const { urls, ...rest } = options;
    this.ids = urls.map(shardId);
    this.ring = new ShardRing(urls.map((url, i) => ({ id: this.ids[i], value: new RedisPresence({ ...rest, url }) })));
  }

  add(room: string, member: Member): Promise<void> {
    return this.ring.of(room).add(room, member);
  }

  remove(room: string, clientId: string): Promise<void> {
    return this.ring.of(room).remove(room, clientId);
  }

  list(room: string): Promise<Member[]> {
    return this.ring.of(room).list(room);
  }

  /** Ready while at least one shard is reachable, as the sharded broker. */
  health(): { ok: boolean; detail?: string } {
    const down = this.ring.all().map((p, i) => (p.health().ok ? undefined : this.ids[i])).filter((x): x is string => x !== undefined);
    const up = this.ids.length - down.length;
    return { ok: up > 0, detail: down.length === 0 ? `redis: ${up} shards` : `redis: ${up}/${this.ids.length} shards up; down: ${down.join(', ')}` };
  }

  async close(): Promise<void> {
    await Promise.all(this.ring.all().map((p) => p.close()));
  }
}
