import { randomBytes } from 'node:crypto';
import { StorageType, type KV } from 'nats';
import type { Member } from '@aqueduct/protocol';
import { BrokerUnavailableError } from '../broker/broker.js';
import { NatsLink, natsUnavailable } from '../broker/nats-link.js';
import { natsNames, token, type NatsNames } from '../broker/nats-names.js';
import { encodeFeedEphemeral } from '../broker/nats-wire.js';
import { NodeLiveness } from './presence-nats-liveness.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Presence } from './presence.js';

/** Settings of NATS presence; the defaults match `config.nats` (README §Brokers). */
export interface NatsPresenceOptions {
  url: string;
  logger?: Logger;
  config?: Config;
  /** This node's id; entries it adds belong to it. Default `config.nodeId` or random. */
  nodeId?: string;
  /** Default `aq`. */
  prefix?: string;
  /** How often this node rewrites its entries. Default 5000. */
  heartbeatMs?: number;
  /** Entries not rewritten for this long vanish (the bucket's TTL). Default 15,000. */
  ttlMs?: number;
  /** Default 5000. */
  requestTimeoutMs?: number;
  /** JetStream replicas of the bucket. Default 1. */
  replicas?: number;
}

interface Entry { n: string; m: Member }

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Presence in a JetStream key-value bucket `<prefix>_presence` (TTL 2 × `ttlMs`). A member is the
 * key `<room token>.<client token>`; each node rewrites its own entries every `heartbeatMs`, and its
 * liveness key in `<prefix>_presence_nodes` (TTL `ttlMs`, see NodeLiveness). `list` reads the room's
 * keys with one watch and leaves out entries of nodes whose liveness key is gone, so the users of a
 * node that died vanish within `ttlMs` of its last heartbeat. The first live node to see such an
 * entry (a `list`, or its heartbeat sweep of the rooms where it has members) deletes it, guarded by
 * the entry's revision so that exactly one node succeeds, and publishes `presence.leave` for it on
 * the room's feed. Entries lost with the server's store come back with the next rewrite.
 */
export class NatsPresence implements Presence {
  private readonly link: NatsLink;
  private readonly names: NatsNames;
  private readonly nodeId: string;
  private readonly heartbeatMs: number;
  private readonly ttlMs: number;
  private readonly replicas: number;
  private readonly logger?: Logger;
  /** This node's entries: room -> client id -> encoded value. */
  private readonly own = new Map<string, Map<string, Uint8Array>>();
  private kv?: Promise<KV>;
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private closed = false;
  private started?: Promise<void>;
  private readonly liveness: NodeLiveness;
  private sweepCursor = 0;

  constructor(options: NatsPresenceOptions) {
    const n = options.config?.nats;
    this.names = natsNames(options.prefix ?? n?.prefix ?? 'aq');
    this.nodeId = options.nodeId ?? options.config?.nodeId ?? randomBytes(6).toString('base64url');
    this.heartbeatMs = options.heartbeatMs ?? n?.presenceHeartbeatMs ?? 5000;
    this.ttlMs = options.ttlMs ?? n?.presenceTtlMs ?? 15_000;
    if (this.ttlMs <= this.heartbeatMs) throw new Error('nats presence: ttlMs must exceed heartbeatMs');
    this.replicas = options.replicas ?? n?.replicas ?? 1;
    this.logger = options.logger;
    this.link = new NatsLink({
      url: options.url,
      name: 'aqueduct-presence',
      logger: options.logger,
      requestTimeoutMs: options.requestTimeoutMs ?? n?.requestTimeoutMs ?? 5000,
      pingIntervalMs: n?.pingIntervalMs ?? 2000,
    });
    this.liveness = new NodeLiveness({ link: this.link, bucket: `${this.names.presenceBucket}_nodes`, nodeId: this.nodeId, ttlMs: this.ttlMs, heartbeatMs: this.heartbeatMs, replicas: this.replicas });
    // After a reconnect the server may have lost the bucket: open it again and rewrite at once.
    this.link.onReconnect(() => {
      this.kv = undefined;
      this.liveness.reset();
      void this.heartbeat();
    });
    this.timer = setInterval(() => { void this.heartbeat(); }, this.heartbeatMs);
    this.timer.unref();
    // Connect at once, so that health (/readyz) is true before the first member joins.
    this.link.whenOpen().catch(() => undefined);
  }

  /** Right after start, waits (bounded) for the first connection instead of failing at once. */
  private connected(): Promise<void> {
    this.started ??= this.link.open(5000);
    return this.started;
  }

  /** The bucket, created when missing. */
  private bucket(): Promise<KV> {
    const { js } = this.link.parts();
    this.kv ??= js.views.kv(this.names.presenceBucket, { ttl: this.ttlMs * 2, history: 1, replicas: this.replicas, storage: StorageType.File });
    const kv = this.kv;
    kv.catch(() => { if (this.kv === kv) this.kv = undefined; });
    return kv;
  }

  private key(room: string, clientId: string): string {
    return `${token(room)}.${token(clientId)}`;
  }

  private heartbeat(): Promise<void> {
    this.beating ??= this.beat().finally(() => { this.beating = undefined; });
    return this.beating;
  }

  private async beat(): Promise<void> {
    if (this.closed || this.own.size === 0 || !this.link.health().ok) return;
    try {
      await this.liveness.touch(true);
      const kv = await this.bucket();
      const puts: Array<Promise<unknown>> = [];
      for (const [room, members] of this.own) {
        for (const [client, value] of members) puts.push(kv.put(this.key(room, client), value));
      }
      await Promise.all(puts);
      await this.sweep();
    } catch (err) {
      this.logger?.warn({ err: (err as Error).message }, 'nats presence: heartbeat failed');
    }
  }

  /** Lists (and so cleans) up to 1000 of the rooms where this node has members per heartbeat, round robin. */
  private async sweep(): Promise<void> {
    const rooms = [...this.own.keys()];
    const batch: string[] = [];
    for (let i = 0; i < Math.min(rooms.length, 1000); i++) batch.push(rooms[(this.sweepCursor + i) % rooms.length]);
    this.sweepCursor = (this.sweepCursor + batch.length) % Math.max(1, rooms.length);
    await Promise.all(batch.map((room) => this.listRoom(room).catch(() => undefined)));
  }

  async add(room: string, member: Member): Promise<void> {
    const entry: Entry = { n: this.nodeId, m: member };
    const value = encoder.encode(JSON.stringify(entry));
    let members = this.own.get(room);
    if (!members) this.own.set(room, (members = new Map()));
    members.set(member.client, value);
    try {
      await this.connected();
      await this.liveness.touch();
      await (await this.bucket()).put(this.key(room, member.client), value);
    } catch (err) {
      // Remembered anyway: the heartbeat after NATS returns writes it.
      throw natsUnavailable(err);
    }
  }

  async remove(room: string, clientId: string): Promise<void> {
    const members = this.own.get(room);
    members?.delete(clientId);
    if (members?.size === 0) this.own.delete(room);
    try {
      await this.connected();
      await (await this.bucket()).delete(this.key(room, clientId));
    } catch (err) {
      throw natsUnavailable(err);
    }
  }

  async list(room: string): Promise<Member[]> {
    try {
      await this.connected();
      return await this.listRoom(room);
    } catch (err) {
      throw err instanceof BrokerUnavailableError ? err : natsUnavailable(err);
    }
  }

  /** The members of live nodes; entries of dead nodes are deleted and announced (once, cluster-wide). */
  private async listRoom(room: string): Promise<Member[]> {
    const kv = await this.bucket();
    const entries: Array<{ key: string; revision: number; entry: Entry }> = [];
    let initialized = false;
    let stop = () => { initialized = true; };
    const it = await kv.watch({ key: `${token(room)}.*`, initializedFn: () => stop() });
    stop = () => { it.stop(); };
    if (initialized) it.stop();
    for await (const e of it) {
      if (e.operation !== 'PUT') continue;
      try {
        entries.push({ key: e.key, revision: e.revision, entry: JSON.parse(decoder.decode(e.value)) as Entry });
      } catch {
        this.logger?.warn({ room }, 'nats presence: undecodable entry ignored');
      }
    }
    const nodes = [...new Set(entries.map((x) => x.entry.n))];
    const alive = new Map(await Promise.all(nodes.map(async (n) => [n, await this.liveness.alive(n)] as const)));
    const out: Member[] = [];
    for (const x of entries) {
      if (alive.get(x.entry.n)) { out.push(x.entry.m); continue; }
      // Guarded by the revision: if another node deleted it first (or its node wrote it again), this fails.
      kv.delete(x.key, { previousSeq: x.revision }).then(() => this.announceLeave(room, x.entry.m), () => undefined);
    }
    return out;
  }

  private announceLeave(room: string, member: Member): void {
    try {
      this.link.parts().nc.publish(this.names.feedSubject(room), encodeFeedEphemeral({ kind: 'presence.leave', member }));
      this.logger?.info({ room, client: member.client }, 'nats presence: member of a dead node removed');
    } catch (err) {
      this.logger?.warn({ err: (err as Error).message, room }, 'nats presence: leave announcement failed');
    }
  }

  health(): { ok: boolean; detail?: string } {
    return this.link.health();
  }

  /** Removes this node's entries, then disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    try {
      if (this.link.health().ok && this.own.size > 0) {
        const kv = await this.bucket();
        const dels: Array<Promise<unknown>> = [];
        for (const [room, members] of this.own) for (const client of members.keys()) dels.push(kv.delete(this.key(room, client)));
        await Promise.all(dels);
      }
    } catch (err) {
      this.logger?.warn({ err: (err as Error).message }, 'nats presence: cleanup on close failed; entries expire with the TTL');
    }
    this.own.clear();
    await this.link.close();
  }

  /** Stops rewriting and disconnects without removing anything, as a crash would (tests). */
  abandon(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.own.clear();
    void this.link.close();
  }
}
