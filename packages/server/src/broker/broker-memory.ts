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

interface RoomState {
  epoch: string;
  offset: number;
  /** Ring of the latest publications, oldest first. */
  history: StoredPublication[];
  /** Index of the oldest entry in `history` (ring start). */
  head: number;
  size: number;
  idempotency: Map<string, { offset: number; expiresAt: number }>;
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
    state = { epoch: newEpoch(), offset: 0, history: [], head: 0, size: 0, idempotency: new Map(), subscribed: false };
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
      const seen = state.idempotency.get(options.idempotencyKey);
      if (seen && seen.expiresAt > now) return { epoch: state.epoch, offset: seen.offset, duplicate: true };
    }
    const offset = ++state.offset;
    const pub: Publication = { epoch: state.epoch, offset, data: input.data };
    if (input.event !== undefined) pub.event = input.event;
    if (input.from !== undefined) pub.from = input.from;
    if (options.historySize > 0) this.append(state, { pub, expiresAt: now + options.historyTtlMs }, options.historySize);
    if (options.idempotencyKey !== undefined) {
      state.idempotency.set(options.idempotencyKey, { offset, expiresAt: now + options.idempotencyTtlMs });
      if (state.idempotency.size > this.maxKeys) {
        state.idempotency.delete(state.idempotency.keys().next().value as string);
      }
    }
    if (state.subscribed) this.handler?.onPublication(room, pub);
    return { epoch: state.epoch, offset, duplicate: false };
  }

  private append(state: RoomState, entry: StoredPublication, capacity: number): void {
    // A capacity change (config reload) rebuilds the ring.
    if (state.history.length !== capacity) {
      const items = this.items(state);
      state.history = new Array(capacity);
      state.head = 0;
      state.size = 0;
      for (const it of items.slice(-capacity)) this.push(state, it);
    }
    this.push(state, entry);
  }

  private push(state: RoomState, entry: StoredPublication): void {
    const cap = state.history.length;
    if (state.size < cap) {
      state.history[(state.head + state.size) % cap] = entry;
      state.size++;
    } else {
      state.history[state.head] = entry;
      state.head = (state.head + 1) % cap;
    }
  }

  private items(state: RoomState): StoredPublication[] {
    const out: StoredPublication[] = [];
    const cap = state.history.length;
    for (let i = 0; i < state.size; i++) out.push(state.history[(state.head + i) % cap]);
    return out;
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
