import { randomBytes } from 'node:crypto';
import { failFastRedisOptions } from '../cluster/redis-options.js';
import type { Member } from '@aqueduct/protocol';
import { BrokerUnavailableError } from '../broker/broker.js';
import { ROOM_PUBLISH_LUA } from '../broker/broker-redis-scripts.js';
import { redisConnection, type RedisConnection } from '../broker/redis-connection.js';
import { encodeEphemeral, roomChannel } from '../broker/redis-wire.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Presence } from './presence.js';

/** Settings of Redis presence; the defaults match `config.redis` (README §Configuration). */
export interface RedisPresenceOptions {
  /** One Redis URL; with `cluster`, the comma-separated seed nodes of a Redis Cluster. */
  url: string;
  /** `url` names a Redis Cluster. Default `config.redis.cluster` (false). */
  cluster?: boolean;
  logger?: Logger;
  config?: Config;
  /** This node's id; entries it adds belong to it. Default `config.nodeId` or random. */
  nodeId?: string;
  /** Default `aq:`. */
  keyPrefix?: string;
  /** Default 5000. */
  heartbeatMs?: number;
  /** A node silent for longer is dead and its entries vanish. Default 15,000 (3 heartbeats). */
  ttlMs?: number;
  /** Default 5000. */
  commandTimeoutMs?: number;
}

/**
 * `list`: returns the members of live nodes and deletes those of dead nodes, in one atomic step.
 * KEYS: room hash. ARGV: node key prefix. Values are `<nodeId>\n<member JSON>`.
 * Returns {live member JSONs, removed member JSONs}: a removed entry is returned to exactly one caller.
 */
const LIST_LUA = `
local all = redis.call('HGETALL', KEYS[1])
local alive = {}
local live, removed = {}, {}
for i = 1, #all, 2 do
  local v = all[i + 1]
  local sep = string.find(v, '\\n', 1, true)
  local node = string.sub(v, 1, sep - 1)
  if alive[node] == nil then alive[node] = redis.call('EXISTS', ARGV[1] .. node) == 1 end
  if alive[node] then
    table.insert(live, string.sub(v, sep + 1))
  else
    redis.call('HDEL', KEYS[1], all[i])
    table.insert(removed, string.sub(v, sep + 1))
  end
end
return {live, removed}
`;

/**
 * `list` on a Redis Cluster, where a script may only touch its room's slot: the caller found which
 * nodes are dead (their heartbeat keys live in other slots); this deletes their entries atomically.
 * KEYS: room hash. ARGV: dead node ids. Returns {live member JSONs, removed member JSONs}.
 */
const DROP_DEAD_LUA = `
local dead = {}
for i = 1, #ARGV do dead[ARGV[i]] = true end
local all = redis.call('HGETALL', KEYS[1])
local live, removed = {}, {}
for i = 1, #all, 2 do
  local v = all[i + 1]
  local sep = string.find(v, '\\n', 1, true)
  if dead[string.sub(v, 1, sep - 1)] then
    redis.call('HDEL', KEYS[1], all[i])
    table.insert(removed, string.sub(v, sep + 1))
  else
    table.insert(live, string.sub(v, sep + 1))
  end
end
return {live, removed}
`;

/** Sets the heartbeat; returns 1 if it had expired (or Redis lost it), so the node re-adds its entries. */
const HEARTBEAT_LUA = `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return existed
`;

/** Rooms checked for dead nodes' members per heartbeat. */
const SWEEP_ROOMS_PER_BEAT = 1000;

type ScriptedRedis = RedisConnection & {
  aqPresenceList(key: string, nodePrefix: string): Promise<[string[], string[]]>;
  aqPresenceDropDead(key: string, ...deadNodes: string[]): Promise<[string[], string[]]>;
  aqHeartbeat(key: string, ttlMs: number): Promise<number>;
  aqRoomPublish(key: string, channel: string, message: Buffer): Promise<number>;
};

function unavailable(err: unknown): BrokerUnavailableError {
  const e = new BrokerUnavailableError(`redis unavailable: ${(err as Error)?.message ?? String(err)}`);
  (e as Error & { cause?: unknown }).cause = err;
  return e;
}

/**
 * Presence in Redis. Each room is a hash `<prefix>{room}:p` of client id -> owning node + member.
 * Each node keeps a heartbeat key `<prefix>node:<id>` alive (TTL `ttlMs`, refreshed every
 * `heartbeatMs`). `list` drops entries whose node has no heartbeat, so the users of a crashed node
 * vanish within `ttlMs` of its last heartbeat. A node also remembers its own entries: after Redis
 * lost them (restart) or declared the node dead (a stall longer than the TTL), the next heartbeat
 * writes them back. Room hashes expire after 2 × `ttlMs` unless a live node with members refreshes them.
 */
export class RedisPresence implements Presence {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly nodeId: string;
  private readonly heartbeatMs: number;
  private readonly ttlMs: number;
  private readonly logger?: Logger;
  /** This node's entries: room -> client id -> encoded value. */
  private readonly own = new Map<string, Map<string, string>>();
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private closed = false;
  private lastErrorLog = 0;
  private sweepCursor = 0;
  private readonly firstReady: Promise<void>;
  private everReady = false;
  private readonly connectWaitMs: number;
  /** On a Redis Cluster: no script or pipeline spans two slots. */
  private readonly cluster: boolean;

  constructor(options: RedisPresenceOptions) {
    const r = options.config?.redis;
    this.prefix = options.keyPrefix ?? r?.keyPrefix ?? 'aq:';
    this.nodeId = options.nodeId ?? options.config?.nodeId ?? randomBytes(6).toString('base64url');
    this.heartbeatMs = options.heartbeatMs ?? r?.presenceHeartbeatMs ?? 5000;
    this.ttlMs = options.ttlMs ?? r?.presenceTtlMs ?? 15_000;
    if (this.ttlMs <= this.heartbeatMs) throw new Error('redis presence: ttlMs must exceed heartbeatMs');
    this.logger = options.logger;
    this.cluster = options.cluster ?? r?.cluster ?? false;
    this.redis = redisConnection(options.url, this.cluster, failFastRedisOptions(options.commandTimeoutMs ?? r?.commandTimeoutMs ?? 5000, 'aqueduct-presence')) as ScriptedRedis;
    this.redis.defineCommand('aqPresenceList', { numberOfKeys: 1, lua: LIST_LUA });
    this.redis.defineCommand('aqPresenceDropDead', { numberOfKeys: 1, lua: DROP_DEAD_LUA });
    this.redis.defineCommand('aqRoomPublish', { numberOfKeys: 1, lua: ROOM_PUBLISH_LUA });
    this.redis.defineCommand('aqHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT_LUA });
    this.redis.on('error', (err: Error) => {
      const now = Date.now();
      if (now - this.lastErrorLog < 5000) return;
      this.lastErrorLog = now;
      this.logger?.warn({ err: err.message }, 'redis presence: connection error');
    });
    this.connectWaitMs = options.commandTimeoutMs ?? r?.commandTimeoutMs ?? 5000;
    this.firstReady = new Promise((resolve) => this.redis.once('ready', () => { this.everReady = true; resolve(); }));
    // Heartbeat at once on (re)connect: entries lost with a Redis restart come back without waiting.
    this.redis.on('ready', () => { void this.heartbeat(); });
    this.timer = setInterval(() => { void this.heartbeat(); }, this.heartbeatMs);
    this.timer.unref();
  }

  /** The id whose heartbeat keeps this node's entries alive. */
  get node(): string {
    return this.nodeId;
  }

  /** Right after start, waits (bounded) for the first connection instead of failing at once. */
  private async connected(): Promise<void> {
    if (this.everReady) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.firstReady, new Promise<void>((r) => { timer = setTimeout(r, this.connectWaitMs); })]);
    clearTimeout(timer);
  }

  private roomKey(room: string): string {
    return `${this.prefix}{${room}}:p`;
  }

  private get nodeKey(): string {
    return `${this.prefix}node:${this.nodeId}`;
  }

  private heartbeat(): Promise<void> {
    // One heartbeat at a time; a slow Redis must not pile them up.
    this.beating ??= this.beat().finally(() => { this.beating = undefined; });
    return this.beating;
  }

  private async beat(): Promise<void> {
    if (this.closed || this.redis.status !== 'ready') return;
    try {
      const existed = await this.redis.aqHeartbeat(this.nodeKey, this.ttlMs);
      if (this.cluster) {
        // A pipeline must stay in one slot on a Redis Cluster: one command (or MULTI) per room.
        await Promise.all([...this.own].map(([room, members]) => {
          const key = this.roomKey(room);
          return existed === 0 && members.size > 0
            ? this.redis.multi().hset(key, Object.fromEntries(members)).pexpire(key, this.ttlMs * 2).exec()
            : this.redis.pexpire(key, this.ttlMs * 2);
        }));
        await this.sweep();
        return;
      }
      const pipe = this.redis.pipeline();
      for (const [room, members] of this.own) {
        if (existed === 0 && members.size > 0) pipe.hset(this.roomKey(room), Object.fromEntries(members));
        pipe.pexpire(this.roomKey(room), this.ttlMs * 2);
      }
      if (pipe.length > 0) await pipe.exec();
      if (existed === 0 && this.own.size > 0) this.logger?.info({ rooms: this.own.size }, 'redis presence: heartbeat had lapsed; entries written back');
      await this.sweep();
    } catch (err) {
      this.logger?.warn({ err: (err as Error).message }, 'redis presence: heartbeat failed');
    }
  }

  /**
   * Removes dead nodes' entries from the rooms where this node has members (and announces them), so
   * their users leave within `ttlMs` + `heartbeatMs` even if nobody lists the room. At most
   * `SWEEP_ROOMS_PER_BEAT` rooms per heartbeat, round robin.
   */
  private async sweep(): Promise<void> {
    if (this.own.size === 0) return;
    const rooms = [...this.own.keys()];
    const batch: string[] = [];
    for (let i = 0; i < Math.min(rooms.length, SWEEP_ROOMS_PER_BEAT); i++) batch.push(rooms[(this.sweepCursor + i) % rooms.length]);
    this.sweepCursor = (this.sweepCursor + batch.length) % Math.max(1, rooms.length);
    if (this.cluster) {
      await Promise.all(batch.map(async (room) => {
        try {
          this.announceExpired(room, (await this.listRaw(room))[1]);
        } catch { /* the next sweep retries */ }
      }));
      return;
    }
    // Custom commands are on pipelines too; ioredis's pipeline type does not know them.
    const pipe = this.redis.pipeline() as ReturnType<RedisConnection['pipeline']> & { aqPresenceList(key: string, nodePrefix: string): unknown };
    for (const room of batch) pipe.aqPresenceList(this.roomKey(room), `${this.prefix}node:`);
    const results = (await pipe.exec()) ?? [];
    results.forEach(([err, res], i) => {
      if (!err) this.announceExpired(batch[i], (res as [string[], string[]])[1]);
    });
  }

  async add(room: string, member: Member): Promise<void> {
    const value = `${this.nodeId}\n${JSON.stringify(member)}`;
    let members = this.own.get(room);
    if (!members) this.own.set(room, (members = new Map()));
    members.set(member.client, value);
    try {
      await this.connected();
      await this.heartbeat();
      await this.redis.multi().hset(this.roomKey(room), member.client, value).pexpire(this.roomKey(room), this.ttlMs * 2).exec();
    } catch (err) {
      // Remembered anyway: the heartbeat after Redis returns writes it.
      throw unavailable(err);
    }
  }

  async remove(room: string, clientId: string): Promise<void> {
    const members = this.own.get(room);
    members?.delete(clientId);
    if (members?.size === 0) this.own.delete(room);
    try {
      await this.connected();
      await this.redis.hdel(this.roomKey(room), clientId);
    } catch (err) {
      throw unavailable(err);
    }
  }

  async list(room: string): Promise<Member[]> {
    let live: string[];
    let removed: string[];
    try {
      await this.connected();
      [live, removed] = await this.listRaw(room);
    } catch (err) {
      throw unavailable(err);
    }
    this.announceExpired(room, removed);
    return this.decode(room, live);
  }

  /** {live, removed} entries of a room; dead nodes' entries are deleted (and returned once). */
  private async listRaw(room: string): Promise<[string[], string[]]> {
    const key = this.roomKey(room);
    if (!this.cluster) return this.redis.aqPresenceList(key, `${this.prefix}node:`);
    // Heartbeat keys live in other slots than the room: find the dead nodes first, then drop their
    // entries in one script on the room's slot.
    const values = await this.redis.hvals(key);
    const nodes = [...new Set(values.map((v) => v.slice(0, v.indexOf('\n'))))];
    const alive = await Promise.all(nodes.map((n) => this.redis.exists(`${this.prefix}node:${n}`)));
    const dead = nodes.filter((_, i) => alive[i] === 0);
    if (dead.length === 0) return [values.map((v) => v.slice(v.indexOf('\n') + 1)), []];
    return this.redis.aqPresenceDropDead(key, ...dead);
  }

  private decode(room: string, values: string[]): Member[] {
    const out: Member[] = [];
    for (const v of values) {
      try {
        out.push(JSON.parse(v) as Member);
      } catch {
        this.logger?.warn({ room }, 'redis presence: undecodable entry ignored');
      }
    }
    return out;
  }

  /**
   * Members of dead nodes removed by this node: nobody else will say they left, so this node
   * publishes `presence.leave` on the room channel, as the hub would have (once per member: only the
   * caller whose script removed an entry gets it back).
   */
  private announceExpired(room: string, removed: string[]): void {
    if (removed.length === 0) return;
    const members = this.decode(room, removed);
    this.logger?.info({ room, members: members.length }, 'redis presence: members of a dead node removed');
    if (this.cluster) {
      for (const member of members) {
        this.redis.aqRoomPublish(this.roomKey(room), roomChannel(this.prefix, room), encodeEphemeral({ kind: 'presence.leave', member }))
          .catch((err: Error) => this.logger?.warn({ err: err.message, room }, 'redis presence: leave announcement failed'));
      }
      return;
    }
    const pipe = this.redis.pipeline();
    for (const member of members) pipe.publish(roomChannel(this.prefix, room), encodeEphemeral({ kind: 'presence.leave', member }));
    pipe.exec().catch((err: Error) => this.logger?.warn({ err: err.message, room }, 'redis presence: leave announcement failed'));
  }

  health(): { ok: boolean; detail?: string } {
    const ok = this.redis.status === 'ready';
    return { ok, detail: ok ? 'redis' : `redis: ${this.redis.status}` };
  }

  /** Removes this node's entries and its heartbeat, then disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    try {
      if (this.redis.status === 'ready' && this.cluster) {
        await Promise.all([...[...this.own].map(([room, members]) => this.redis.hdel(this.roomKey(room), ...members.keys())), this.redis.del(this.nodeKey)]);
      } else if (this.redis.status === 'ready') {
        const pipe = this.redis.pipeline();
        for (const [room, members] of this.own) pipe.hdel(this.roomKey(room), ...members.keys());
        pipe.del(this.nodeKey);
        await pipe.exec();
      }
    } catch (err) {
      this.logger?.warn({ err: (err as Error).message }, 'redis presence: cleanup on close failed; entries expire with the heartbeat');
    }
    this.own.clear();
    await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }

  /**
   * Stops heartbeats and disconnects without removing anything, as a crash would. For tests of
   * dead-node expiry.
   */
  abandon(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.own.clear();
    this.redis.disconnect();
  }
}
