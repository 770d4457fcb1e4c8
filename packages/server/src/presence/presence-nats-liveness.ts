import { StorageType, type KV } from 'nats';
import type { NatsLink } from '../broker/nats-link.js';
import { token } from '../broker/nats-names.js';

export interface NodeLivenessOptions {
  link: NatsLink;
  /** KV bucket of the liveness keys (one per node). */
  bucket: string;
  nodeId: string;
  /** A node whose key was not rewritten for this long is dead (the bucket's TTL). */
  ttlMs: number;
  heartbeatMs: number;
  replicas: number;
}

/** Remembered live answers of `alive` (bounded; cleared when full). */
const MAX_CACHED_NODES = 10_000;

/**
 * Node liveness for NATS presence: each node rewrites its key in a KV bucket whose TTL is
 * `ttlMs`; a node whose key is gone is dead. Presence entries live longer than that (2 × `ttlMs`),
 * so a live node can still see a dead node's entries, delete them and announce `presence.leave`.
 */
export class NodeLiveness {
  private kv?: Promise<KV>;
  private lastTouch = 0;
  /** Nodes seen alive, and when. Only live answers are reused: a dead one is asked again. */
  private readonly cache = new Map<string, number>();
  private readonly encoded = new TextEncoder().encode('1');

  constructor(private readonly o: NodeLivenessOptions) {}

  /** After a reconnect: the server may have lost the bucket. */
  reset(): void {
    this.kv = undefined;
    this.lastTouch = 0;
    this.cache.clear();
  }

  private bucket(): Promise<KV> {
    const { js } = this.o.link.parts();
    this.kv ??= js.views.kv(this.o.bucket, { ttl: this.o.ttlMs, history: 1, replicas: this.o.replicas, storage: StorageType.File });
    const kv = this.kv;
    kv.catch(() => { if (this.kv === kv) this.kv = undefined; });
    return kv;
  }

  /** Writes this node's key: always with `force` (the heartbeat), else at most every half heartbeat. */
  async touch(force = false): Promise<void> {
    if (!force && Date.now() - this.lastTouch < this.o.heartbeatMs / 2) return;
    await (await this.bucket()).put(token(this.o.nodeId), this.encoded);
    this.lastTouch = Date.now();
  }

  /** Whether a node's key exists; a live answer is reused for half a heartbeat. */
  async alive(node: string): Promise<boolean> {
    if (node === this.o.nodeId) return true;
    const at = this.cache.get(node);
    if (at !== undefined && Date.now() - at < this.o.heartbeatMs / 2) return true;
    const e = await (await this.bucket()).get(token(node));
    const alive = e !== null && e.operation === 'PUT';
    if (this.cache.size >= MAX_CACHED_NODES) this.cache.clear();
    if (alive) this.cache.set(node, Date.now());
    else this.cache.delete(node);
    return alive;
  }
}
