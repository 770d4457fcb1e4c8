import { randomBytes } from 'node:crypto';
import type { Position, Publication } from '@aqueduct/protocol';
import type {
  Broker, BrokerHandler, ControlMessage, EphemeralMessage, HistoryPage, HistoryQuery,
  PublishInput, PublishOptions, PublishOutcome,
} from './broker.js';

export interface MemoryBrokerOptions {
  /** Rooms kept at most (history + idempotency); the least recently used idle room is evicted. Default 100,000. */
  maxRooms?: number;
  /** Most idempotency keys remembered per room. Default 10,000. */
  maxIdempotencyKeysPerRoom?: number;
}

interface StoredPublication { pub: Publication; expiresAt: number }

/**
 * A room's log position and history. Idle rooms (joined, never published to) are the common case at
 * scale, so the history ring and the idempotency map are allocated on first use.
 */
interface RoomState {
  epoch: string;
  offset: number;
  /**
   * The latest publications, oldest first from `head`: a plain array that grows with the room's
   * publications up to `capacity`, then a ring. Undefined until the first one.
   */
  history: StoredPublication[] | undefined;
  /** Index of the oldest entry in `history` (ring start; 0 until the ring is full). */
  head: number;
  /** The history size the ring was built for (the namespace's `historySize`). */
  capacity: number;
  /** Idempotency keys seen; undefined until the first publish with a key. */
  idempotency: Map<string, { offset: number; expiresAt: number }> | undefined;
  subscribed: boolean;
}

const newEpoch = () => randomBytes(6).toString('base64url');

/**
 * The default, single-node broker. History lives in process memory, so a restart starts every room
 * in a new epoch: clients recovering across it get `recovered: false`.
 */
export class MemoryBroker implements Broker {
  private handler?: BrokerHandler;
  private readonly rooms = new Map<string, RoomState>();
  private readonly maxRooms: number;
  private readonly maxKeys: number;

  constructor(options: MemoryBrokerOptions = {}) {
    this.maxRooms = options.maxRooms ?? 100_000;
    this.maxKeys = options.maxIdempotencyKeysPerRoom ?? 10_000;
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
  }

  private room(name: string): RoomState {
    let state = this.rooms.get(name);
    if (state) {
      // Map order doubles as LRU order.
      this.rooms.delete(name);
      this.rooms.set(name, state);
      return state;
    }
    state = { epoch: newEpoch(), offset: 0, history: undefined, head: 0, capacity: 0, idempotency: undefined, subscribed: false };
    this.rooms.set(name, state);
    if (this.rooms.size > this.maxRooms) this.evictOne();
    return state;
  }

  private evictOne(): void {
    for (const [name, state] of this.rooms) {
      if (!state.subscribed) {
        this.rooms.delete(name);
        return;
      }
    }
  }

  async publish(room: string, input: PublishInput, options: PublishOptions): Promise<PublishOutcome> {
    const state = this.room(room);
    const now = Date.now();
    if (options.idempotencyKey !== undefined) {
      const seen = state.idempotency?.get(options.idempotencyKey);
      if (seen && seen.expiresAt > now) return { epoch: state.epoch, offset: seen.offset, duplicate: true };
    }
    const offset = ++state.offset;
    const pub: Publication = { epoch: state.epoch, offset, data: input.data };
    if (input.event !== undefined) pub.event = input.event;
    if (input.from !== undefined) pub.from = input.from;
    if (options.historySize > 0) this.append(state, { pub, expiresAt: now + options.historyTtlMs }, options.historySize);
    if (options.idempotencyKey !== undefined) {
      state.idempotency ??= new Map();
      state.idempotency.set(options.idempotencyKey, { offset, expiresAt: now + options.idempotencyTtlMs });
      if (state.idempotency.size > this.maxKeys) {
        state.idempotency.delete(state.idempotency.keys().next().value as string);
      }
    }
    if (state.subscribed) this.handler?.onPublication(room, pub);
    return { epoch: state.epoch, offset, duplicate: false };
  }

  private append(state: RoomState, entry: StoredPublication, capacity: number): void {
    // A capacity change (config reload) rebuilds the ring with the latest entries that fit.
    if (state.capacity !== capacity) {
      state.history = this.items(state).slice(-capacity);
      state.head = 0;
      state.capacity = capacity;
    }
    const history = (state.history ??= []);
    if (history.length < capacity) {
      history.push(entry); // not full yet: head is 0
    } else {
      history[state.head] = entry;
      state.head = (state.head + 1) % capacity;
    }
  }

  private items(state: RoomState): StoredPublication[] {
    const history = state.history;
    if (!history) return [];
    const { head } = state;
    return head === 0 ? history.slice() : history.slice(head).concat(history.slice(0, head));
  }

  async publishEphemeral(room: string, message: EphemeralMessage): Promise<void> {
    const state = this.rooms.get(room);
    if (state?.subscribed) this.handler?.onEphemeral(room, message);
  }

  async publishControl(message: ControlMessage): Promise<void> {
    this.handler?.onControl(message);
  }

  async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    const state = this.room(room);
    const now = Date.now();
    const live = this.items(state).filter((e) => e.expiresAt > now).map((e) => e.pub);
    if (!query.since) {
      return { epoch: state.epoch, offset: state.offset, recovered: true, publications: query.limit > 0 ? live.slice(-query.limit) : [] };
    }
    const { since } = query;
    if (since.epoch !== state.epoch || since.offset > state.offset) {
      return { epoch: state.epoch, offset: state.offset, recovered: false, publications: [] };
    }
    if (since.offset === state.offset) return { epoch: state.epoch, offset: state.offset, recovered: true, publications: [] };
    const first = live.length > 0 ? live[0].offset : state.offset + 1;
    if (first > since.offset + 1) {
      return { epoch: state.epoch, offset: state.offset, recovered: false, publications: [] };
    }
    const missed = live.filter((p) => p.offset > since.offset);
    return { epoch: state.epoch, offset: state.offset, recovered: true, publications: missed.slice(0, query.limit) };
  }

  async position(room: string): Promise<Position> {
    const state = this.room(room);
    return { epoch: state.epoch, offset: state.offset };
  }

  async subscribe(room: string): Promise<void> {
    this.room(room).subscribed = true;
  }

  async unsubscribe(room: string): Promise<void> {
    const state = this.rooms.get(room);
    if (state) state.subscribed = false;
  }

  health(): { ok: boolean; detail?: string } {
    return { ok: true, detail: 'memory' };
  }

  async close(): Promise<void> {
    this.rooms.clear();
  }
}
