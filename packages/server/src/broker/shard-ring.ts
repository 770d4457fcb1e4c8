import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest-random-weight) hashing: a room goes to the shard whose `hash(shard id, room)`
 * is highest. Every node computes the same answer from the same set of shard ids, whatever order
 * they are listed in, and adding a shard moves only the rooms the new shard wins (about 1/(N+1) of
 * them); removing one moves only its own rooms.
 */
export class ShardRing<T> {
  private readonly ids: string[];

  constructor(private readonly shards: ReadonlyArray<{ id: string; value: T }>) {
    if (shards.length === 0) throw new Error('shard ring: no shards');
    this.ids = shards.map((s) => s.id);
    if (new Set(this.ids).size !== this.ids.length) throw new Error('shard ring: shard ids must be unique');
  }

  /** Index of the room's shard. */
  indexOf(room: string): number {
    if (this.shards.length === 1) return 0;
    let best = 0;
    let bestWeight = -1n;
    for (let i = 0; i < this.ids.length; i++) {
      const w = createHash('sha256').update(this.ids[i]).update('\0').update(room).digest().readBigUInt64BE(0);
      if (w > bestWeight) {
        bestWeight = w;
        best = i;
      }
    }
    return best;
  }

  of(room: string): T {
    return this.shards[this.indexOf(room)].value;
  }

  all(): T[] {
    return this.shards.map((s) => s.value);
  }
}

/**
 * A shard's id from its URL: host, port and database, without credentials, so that nodes configured
 * with different passwords or option strings still agree.
 */
export function shardId(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}${u.pathname && u.pathname !== '/' ? u.pathname : '/0'}`;
  } catch {
    return url;
  }
}

/** `redis://a,redis://b` → the list of URLs. */
export function splitUrls(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}
