import { randomBytes } from 'node:crypto';
import {
  DiscardPolicy, nanos, RetentionPolicy, StorageType,
  type JetStreamManager, type StoredMsg, type StreamConfig, type StreamInfo,
} from 'nats';
import type { Publication } from '@aqueduct/protocol';
import type { HistoryPage, HistoryQuery } from './broker.js';
import { natsUnavailable, type NatsLink } from './nats-link.js';
import type { NatsNames } from './nats-names.js';
import { decodeBody } from './nats-wire.js';

/** A room's history settings, kept in its stream's description next to the epoch. */
export interface RoomSettings {
  /** Epoch: random, chosen by whoever created the stream. */
  e: string;
  /** History size (publications returned by `history`). */
  h: number;
  /** History TTL in ms (older publications are not returned). */
  t: number;
  /** Idempotency window in ms (the stream's duplicate window). */
  i: number;
}

/** The state of a room's stream. */
export interface RoomState {
  settings: RoomSettings;
  /** Offset of the newest publication (the stream's last sequence). */
  top: number;
  /** Offset of the oldest one still stored. */
  first: number;
}

export interface NatsRoomLogOptions {
  link: NatsLink;
  names: NatsNames;
  /** JetStream replicas of each room's stream (1 on a single server, 3 on a JetStream cluster). */
  replicas: number;
  /** Settings of a room whose stream is created before its first publish (by `position`). */
  defaults(room: string): Omit<RoomSettings, 'e'>;
  /** Publications read concurrently from a stream. */
  readConcurrency: number;
  /** Rooms whose settings are remembered (so a publish does not ask for the stream every time). */
  maxCachedRooms: number;
  /** A remembered room is checked again after this long (its stream may have been recreated). */
  cacheTtlMs: number;
}

const STREAM_IN_USE = 10058;
const STREAM_NOT_FOUND = 10059;

function apiCode(err: unknown): number | undefined {
  return (err as { api_error?: { err_code?: number } })?.api_error?.err_code;
}

function parseSettings(description: string | undefined): RoomSettings | undefined {
  try {
    const s = JSON.parse(description ?? '') as Partial<RoomSettings>;
    if (typeof s.e === 'string' && typeof s.h === 'number' && typeof s.t === 'number' && typeof s.i === 'number') return s as RoomSettings;
  } catch { /* not ours */ }
  return undefined;
}

/**
 * The stored log of the NATS broker: one JetStream stream per room, whose sequence numbers are the
 * room's offsets (JetStream assigns them atomically, one per stored message, from 1). The stream's
 * description holds the room's epoch and history settings; a stream that is created anew (the
 * server lost its store, or nobody used the room for `max_age`) has a new epoch, so recovery from
 * before reports `recovered: false`.
 */
export class NatsRoomLog {
  private readonly cache = new Map<string, { settings: RoomSettings; at: number }>();

  constructor(private readonly o: NatsRoomLogOptions) {}

  /** Forgets what is known of every room's stream (after a reconnect: the server may have lost them). */
  invalidate(): void {
    this.cache.clear();
  }

  private config(room: string, s: RoomSettings): Partial<StreamConfig> & { name: string } {
    const ttl = Math.max(1, s.t);
    return {
      name: this.o.names.stream(room),
      subjects: [this.o.names.logSubject(room)],
      description: JSON.stringify(s),
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      // `history` hides what lies past `h` and `t`; the stream keeps at least one message and
      // keeps messages for the idempotency window too.
      max_msgs: Math.max(1, s.h),
      max_age: nanos(Math.max(ttl, s.i, 1000)),
      duplicate_window: nanos(Math.max(100, s.i)),
      num_replicas: this.o.replicas,
      allow_direct: true,
    };
  }

  private remember(room: string, settings: RoomSettings): void {
    this.cache.delete(room);
    this.cache.set(room, { settings, at: Date.now() });
    if (this.cache.size > this.o.maxCachedRooms) this.cache.delete(this.cache.keys().next().value as string);
  }

  /** The room's stream state, creating the stream (in a new epoch) when it does not exist. */
  async state(room: string, want?: Omit<RoomSettings, 'e'>): Promise<RoomState> {
    const { jsm } = this.o.link.parts();
    const name = this.o.names.stream(room);
    let info: StreamInfo | undefined;
    try {
      try {
        info = await jsm.streams.info(name);
      } catch (err) {
        if (apiCode(err) !== STREAM_NOT_FOUND) throw err;
        const settings: RoomSettings = { e: randomBytes(6).toString('base64url'), ...(want ?? this.o.defaults(room)) };
        try {
          info = await jsm.streams.add(this.config(room, settings));
        } catch (addErr) {
          // Another node created it first (with its own epoch): use theirs.
          if (apiCode(addErr) !== STREAM_IN_USE) throw addErr;
          info = await jsm.streams.info(name);
        }
      }
      let settings = parseSettings(info.config.description);
      if (!settings) throw new Error(`stream ${name} is not an Aqueduct room stream`);
      if (want && (want.h !== settings.h || want.t !== settings.t || want.i !== settings.i)) {
        settings = { e: settings.e, ...want };
        info = await jsm.streams.update(name, this.config(room, settings));
      }
      this.remember(room, settings);
      return { settings, top: info.state.last_seq, first: info.state.first_seq };
    } catch (err) {
      throw natsUnavailable(err);
    }
  }

  /**
   * The epoch to publish under, making sure the stream exists with these settings. Remembered per
   * room for `cacheTtlMs`.
   */
  async ensure(room: string, want: Omit<RoomSettings, 'e'>): Promise<RoomSettings> {
    const known = this.cache.get(room);
    if (known && Date.now() - known.at < this.o.cacheTtlMs && known.settings.h === want.h && known.settings.t === want.t && known.settings.i === want.i) {
      return known.settings;
    }
    return (await this.state(room, want)).settings;
  }

  forget(room: string): void {
    this.cache.delete(room);
  }

  /** Reads offsets `from..to` (inclusive); a missing one (trimmed meanwhile) is `undefined`. */
  private async read(room: string, from: number, to: number): Promise<Array<StoredMsg | undefined>> {
    // The direct-get API exists on the manager; the client's interface type does not declare it.
    const { direct } = this.o.link.parts().jsm as JetStreamManager & { direct: { getMessage(stream: string, query: { seq: number }): Promise<StoredMsg> } };
    const name = this.o.names.stream(room);
    const out: Array<StoredMsg | undefined> = [];
    for (let start = from; start <= to; start += this.o.readConcurrency) {
      const end = Math.min(to, start + this.o.readConcurrency - 1);
      const batch = await Promise.all(Array.from({ length: end - start + 1 }, (_, k) =>
        direct.getMessage(name, { seq: start + k }).then(
          (m): StoredMsg | undefined => m,
          (err: { code?: string }) => {
            if (err?.code === '404') return undefined;
            throw natsUnavailable(err);
          },
        )));
      out.push(...batch);
      // Only a contiguous run is useful: stop at the first hole.
      if (batch.some((m) => m === undefined)) break;
    }
    return out;
  }

  async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    const { settings, top, first } = await this.state(room);
    const epoch = settings.e;
    const now = Date.now();
    // Oldest offset `history` may return: within the history size and still stored.
    const lo = Math.max(first, 1, top - settings.h + 1);
    const live = (m: StoredMsg | undefined): m is StoredMsg => m !== undefined && now - m.time.getTime() < Math.max(1, settings.t);
    const toPub = (m: StoredMsg): Publication => decodeBody(epoch, m.seq, m.data);
    const limit = Math.max(0, query.limit);
    if (!query.since) {
      if (limit === 0 || lo > top) return { epoch, offset: top, recovered: true, publications: [] };
      const msgs = await this.read(room, Math.max(lo, top - limit + 1), top);
      return { epoch, offset: top, recovered: true, publications: msgs.filter(live).map(toPub) };
    }
    const since = query.since.offset;
    const fail: HistoryPage = { epoch, offset: top, recovered: false, publications: [] };
    if (query.since.epoch !== epoch || since > top) return fail;
    if (since === top) return { epoch, offset: top, recovered: true, publications: [] };
    if (since + 1 < lo) return fail;
    const msgs = await this.read(room, since + 1, Math.min(top, since + Math.max(limit, 1)));
    const publications: Publication[] = [];
    for (const m of msgs) {
      if (!live(m) || m.seq !== since + 1 + publications.length) break;
      publications.push(toPub(m));
    }
    if (publications.length === 0) return fail;
    return { epoch, offset: top, recovered: true, publications: publications.slice(0, limit) };
  }
}
