import type { Member, Origin, Position } from '@aqueduct/protocol';
import type { User } from '../auth/grants.js';
import type { Broker, BrokerHandler, ControlMessage, EphemeralMessage, HistoryPage, HistoryQuery, PublishInput, PublishOutcome } from '../broker/broker.js';
import type { Presence } from '../presence/presence.js';
import { CloseCodes, namespaceOf } from '@aqueduct/protocol';
import { namespaceSettings, type Config } from '../config.js';
import { Delivery } from './delivery.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { Hooks } from '../hooks/hooks.js';

/** How the hub closes a subscriber: a close-catalogue entry. */
export interface CloseReason { code: number; reason: string; reconnect: boolean }

/**
 * A local receiver of room traffic: a WebSocket session, an SSE stream, a long-poll waiter.
 * The hub calls these synchronously during fanout; implementations must not block or throw.
 */
export interface Subscriber {
  /** Connection id, unique across the cluster (the `client` of presence and signaling). */
  readonly id: string;
  readonly user: User | undefined;
  deliver(delivery: Delivery): void;
  /** Presence join/leave or a signal addressed to this subscriber. */
  deliverEphemeral(room: string, message: EphemeralMessage): void;
  /** The room's history was lost; the subscriber must resync. */
  reset(room: string, position: Position): void;
  /** Close by the server (operator disconnect, shutdown). */
  disconnect(reason: CloseReason): void;
}

export interface ServerPublishOptions {
  event?: string;
  volatile?: boolean;
  /** Scoped by the caller; the same key within the idempotency TTL publishes once. */
  idempotencyKey?: string;
  from?: Origin;
  /**
   * A system room's own retention (the admin stats room), instead of its namespace's; such
   * publications are not counted in `aqueduct_publications_total`.
   */
  retention?: { historySize: number; historyTtlMs: number; idempotencyTtlMs: number };
}

/**
 * The local registry: room -> local subscribers. Broker events fan out from here; it never touches
 * sockets. Node-level broker subscriptions follow the first/last local subscriber of a room.
 * The hub is the only door to the broker and presence: every pipe publishes, reads history and
 * signals through it (core/publish-policy.ts and core/recovery.ts build on these methods).
 */
export class Hub implements BrokerHandler {
  /**
   * Room -> its local subscribers: the subscriber itself while it is the only one (most rooms at
   * scale: a user's own room, a 1:1 conversation), a Set from the second one on.
   */
  private readonly rooms = new Map<string, Subscriber | Set<Subscriber>>();
  private readonly clients = new Map<string, Subscriber>();
  /** In-flight broker (un)subscribe per room, so join/leave races resolve in order. */
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly broker: Broker,
    private readonly presence: Presence,
    private readonly config: Config,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** The node's backend hooks (none by default); every pipe reaches them through the hub. */
    readonly hooks: Hooks = new Hooks(),
  ) {}

  register(sub: Subscriber): void {
    this.clients.set(sub.id, sub);
  }

  unregister(sub: Subscriber): void {
    this.clients.delete(sub.id);
  }

  get connectionCount(): number {
    return this.clients.size;
  }

  /** Rooms with local subscribers and their local member counts. */
  roomStats(): Array<{ room: string; subscribers: number }> {
    return [...this.rooms].map(([room, subs]) => ({ room, subscribers: subs instanceof Set ? subs.size : 1 }));
  }

  /** Number of rooms with local subscribers. */
  get roomCount(): number {
    return this.rooms.size;
  }

  /**
   * The `limit` rooms with the most local subscribers, ties by name: `roomStats()` sorted and cut,
   * without listing and sorting every room (the stats sampler asks every second).
   */
  topRooms(limit: number, exclude?: string): Array<{ room: string; subscribers: number }> {
    const top: Array<{ room: string; subscribers: number }> = [];
    if (limit <= 0) return top;
    // Whether (room, subscribers) sorts before `other`.
    const before = (room: string, subscribers: number, other: { room: string; subscribers: number }) =>
      (other.subscribers - subscribers || room.localeCompare(other.room)) < 0;
    // forEach, not for-of: no [key, value] pair allocated per room.
    this.rooms.forEach((subs, room) => {
      if (room === exclude) return;
      const subscribers = subs instanceof Set ? subs.size : 1;
      if (top.length >= limit && !before(room, subscribers, top[top.length - 1])) return;
      let i = top.length;
      while (i > 0 && before(room, subscribers, top[i - 1])) i--;
      top.splice(i, 0, { room, subscribers });
      if (top.length > limit) top.pop();
    });
    return top;
  }

  /** Adds a local subscriber; subscribes this node to the room at the broker on the first one. */
  async subscribe(room: string, sub: Subscriber): Promise<void> {
    const subs = this.rooms.get(room);
    if (!subs) {
      this.rooms.set(room, sub);
      this.metrics.rooms.set(this.rooms.size);
      this.chain(room, () => this.broker.subscribe(room));
    } else if (subs instanceof Set) {
      subs.add(sub);
    } else if (subs !== sub) {
      this.rooms.set(room, new Set([subs, sub]));
    }
    try {
      await this.pending.get(room);
    } catch (err) {
      this.unsubscribe(room, sub);
      throw err;
    }
  }

  unsubscribe(room: string, sub: Subscriber): void {
    const subs = this.rooms.get(room);
    if (subs instanceof Set) {
      if (!subs.delete(sub) || subs.size > 0) return;
    } else if (subs !== sub) {
      return;
    }
    this.dropRoom(room);
  }

  /** The room's last local subscriber left. */
  private dropRoom(room: string): void {
    this.rooms.delete(room);
    this.metrics.rooms.set(this.rooms.size);
    this.chain(room, () => this.broker.unsubscribe(room)).catch((err) => this.logger.warn({ err, room }, 'broker unsubscribe failed'));
  }

  private chain(room: string, op: () => Promise<void>): Promise<void> {
    const prev = this.pending.get(room) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(op);
    this.pending.set(room, next);
    const settled = () => { if (this.pending.get(room) === next) this.pending.delete(room); };
    next.then(settled, settled); // also marks a rejection handled (the caller sees it through `next`)
    return next;
  }

  /** Server-side publish (embedding app, HTTP API). */
  async publish(room: string, data: unknown, options: ServerPublishOptions = {}): Promise<PublishOutcome | undefined> {
    const ns = namespaceSettings(this.config, namespaceOf(room));
    if (options.volatile) {
      await this.broker.publishEphemeral(room, { kind: 'volatile', data, event: options.event, from: options.from });
      return undefined;
    }
    const input: PublishInput = { data };
    if (options.event !== undefined) input.event = options.event;
    if (options.from !== undefined) input.from = options.from;
    const retention = options.retention;
    const outcome = await this.broker.publish(room, input, {
      historySize: retention?.historySize ?? ns.historySize,
      historyTtlMs: retention?.historyTtlMs ?? ns.historyTtlMs,
      idempotencyKey: options.idempotencyKey,
      idempotencyTtlMs: retention?.idempotencyTtlMs ?? this.config.limits.idempotencyTtlMs,
    });
    if (retention) return outcome;
    if (!outcome.duplicate) this.metrics.publications.inc({ source: options.from ? 'client' : 'server' });
    return outcome;
  }

  /** A page of a room's history (see Broker.history). */
  history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    return this.broker.history(room, query);
  }

  /** A room's current position. */
  position(room: string): Promise<Position> {
    return this.broker.position(room);
  }

  /** Closes a user's connections (in one room, or all of them) on every node. */
  disconnect(user: string, room?: string): Promise<void> {
    return this.broker.publishControl(room === undefined ? { kind: 'disconnect', user } : { kind: 'disconnect', user, room });
  }

  /** Sends a WebRTC signal to one client of a room, on whichever node it is. */
  signal(room: string, to: string, from: Origin, payload: unknown): Promise<void> {
    return this.broker.publishEphemeral(room, { kind: 'signal', to, from, payload });
  }

  /** Presence entries of a room (cluster-wide). */
  members(room: string): Promise<Member[]> {
    return this.presence.list(room);
  }

  async presenceJoin(room: string, member: Member): Promise<void> {
    await this.presence.add(room, member);
    await this.broker.publishEphemeral(room, { kind: 'presence.join', member });
  }

  async presenceLeave(room: string, member: Member): Promise<void> {
    await this.presence.remove(room, member.client);
    await this.broker.publishEphemeral(room, { kind: 'presence.leave', member });
  }

  // ------------------------------------------------------------ BrokerHandler

  onPublication(room: string, pub: Delivery['pub']): void {
    this.fanout(new Delivery(room, pub, false));
  }

  onEphemeral(room: string, message: EphemeralMessage): void {
    const subs = this.rooms.get(room);
    if (!subs) return;
    switch (message.kind) {
      case 'volatile':
        this.fanout(new Delivery(room, { epoch: '', offset: 0, data: message.data, event: message.event, from: message.from }, true));
        return;
      case 'signal': {
        const target = this.clients.get(message.to);
        if (target && this.isSubscribed(room, target)) target.deliverEphemeral(room, message);
        return;
      }
      default:
        if (subs instanceof Set) for (const sub of subs) sub.deliverEphemeral(room, message);
        else subs.deliverEphemeral(room, message);
    }
  }

  onReset(room: string, position: Position): void {
    const subs = this.rooms.get(room);
    if (!subs) return;
    if (subs instanceof Set) for (const sub of subs) sub.reset(room, position);
    else subs.reset(room, position);
  }

  private isSubscribed(room: string, sub: Subscriber): boolean {
    const subs = this.rooms.get(room);
    return subs instanceof Set ? subs.has(sub) : subs === sub;
  }

  onControl(message: ControlMessage): void {
    if (message.kind === 'disconnect') {
      for (const sub of [...this.clients.values()]) {
        if (sub.user?.id !== message.user) continue;
        if (message.room !== undefined && !this.isSubscribed(message.room, sub)) continue;
        sub.disconnect(CloseCodes.FORCE_DISCONNECT);
      }
    }
  }

  private fanout(delivery: Delivery): void {
    const subs = this.rooms.get(delivery.room);
    if (!subs) return;
    const start = process.hrtime.bigint();
    if (subs instanceof Set) for (const sub of subs) sub.deliver(delivery);
    else subs.deliver(delivery);
    this.metrics.fanoutSeconds.observe(Number(process.hrtime.bigint() - start) / 1e9);
  }
}
