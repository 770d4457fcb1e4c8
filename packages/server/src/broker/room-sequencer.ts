import type { Position, Publication } from '@aqueduct/protocol';
import type { Logger } from '../logger.js';
import type { BrokerHandler, HistoryPage, HistoryQuery } from './broker.js';

/** Settings of a sequencer; the brokers pass their own defaults. */
export interface RoomSequencerOptions {
  /** Reads the room's log (the broker's own `history`). */
  history(room: string, query: HistoryQuery): Promise<HistoryPage>;
  /** The hub's callbacks, once the broker started. */
  handler(): BrokerHandler | undefined;
  logger?: Logger;
  /** Publications read per history page while catching up. */
  catchUpBatch: number;
  /** Live publications held per room while a catch-up runs; past it they are dropped (history has them). */
  maxPendingPerRoom: number;
  /** Name in log lines (`nats broker`). */
  label: string;
}

/** What this node knows of a subscribed room: the last position handed to the hub. */
interface RoomTrack {
  epoch: string;
  offset: number;
  /** Catching up from history (or not settled yet): live publications wait in `pending`. */
  busy: boolean;
  /** Another catch-up was asked for while one ran (a reconnect): run once more when it ends. */
  again: boolean;
  pending: Publication[];
}

/**
 * Per-room ordered, gap-free delivery over an unordered, lossy live feed plus a readable log.
 *
 * A broker hands every live publication to `deliver`. The sequencer passes it to the hub when it is
 * `last + 1`; on a gap (messages reordered or lost on the wire, a reconnect) it reads the missing
 * range from history before delivering more, and calls `onReset` when history cannot supply it.
 * A new epoch in a live publication or in history is an `onReset` to offset 0 of that epoch,
 * followed by what that epoch holds.
 */
export class RoomSequencer {
  private readonly rooms = new Map<string, RoomTrack>();
  private closed = false;

  constructor(private readonly options: RoomSequencerOptions) {}

  has(room: string): boolean {
    return this.rooms.has(room);
  }

  names(): string[] {
    return [...this.rooms.keys()];
  }

  get size(): number {
    return this.rooms.size;
  }

  /**
   * Starts tracking a room before its live feed is subscribed: what arrives waits until `settle`
   * gives the floor position. Returns false when the room was tracked already.
   */
  begin(room: string): boolean {
    if (this.rooms.has(room)) return false;
    this.rooms.set(room, { epoch: '', offset: -1, busy: true, again: false, pending: [] });
    return true;
  }

  /** The room's floor position is known: everything after it is delivered. */
  settle(room: string, floor: Position): void {
    const track = this.rooms.get(room);
    if (!track) return;
    track.epoch = floor.epoch;
    track.offset = floor.offset;
    this.drain(room, track);
  }

  drop(room: string): boolean {
    return this.rooms.delete(room);
  }

  close(): void {
    this.closed = true;
    this.rooms.clear();
  }

  /** Hands a live publication to the hub in order, or starts a catch-up when there is a gap. */
  deliver(room: string, pub: Publication): void {
    const track = this.rooms.get(room);
    if (!track) return;
    if (track.busy) {
      if (track.pending.length < this.options.maxPendingPerRoom) track.pending.push(pub);
      else track.again = true;
      return;
    }
    const handler = this.options.handler();
    if (pub.epoch !== track.epoch) {
      track.epoch = pub.epoch;
      track.offset = 0;
      handler?.onReset(room, { epoch: pub.epoch, offset: 0 });
    }
    if (pub.offset <= track.offset) return;
    if (pub.offset === track.offset + 1) {
      track.offset = pub.offset;
      handler?.onPublication(room, pub);
      return;
    }
    track.pending.push(pub);
    void this.catchUp(room);
  }

  /**
   * Reads history from the last delivered position up to the top, delivers it, then drains what
   * arrived live meanwhile. Retries while the backend is unavailable (until the room is dropped).
   */
  async catchUp(room: string): Promise<void> {
    const track = this.rooms.get(room);
    if (!track) return;
    if (track.busy) {
      track.again = true;
      return;
    }
    track.busy = true;
    let delayMs = 100;
    const { logger, label } = this.options;
    while (this.rooms.get(room) === track && !this.closed) {
      track.again = false;
      let page: HistoryPage;
      try {
        page = await this.options.history(room, { since: { epoch: track.epoch, offset: track.offset }, limit: this.options.catchUpBatch });
      } catch (err) {
        logger?.warn({ err: (err as Error).message, room }, `${label}: catch-up failed; retrying`);
        await new Promise((r) => setTimeout(r, delayMs));
        delayMs = Math.min(delayMs * 2, 2000);
        continue;
      }
      if (this.rooms.get(room) !== track) return;
      const handler = this.options.handler();
      if (!page.recovered) {
        logger?.warn({ room, from: { epoch: track.epoch, offset: track.offset }, to: { epoch: page.epoch, offset: page.offset } }, `${label}: history cannot fill the gap; resetting room`);
        if (page.epoch !== track.epoch) {
          track.epoch = page.epoch;
          track.offset = 0;
          handler?.onReset(room, { epoch: page.epoch, offset: 0 });
          continue;
        }
        track.offset = page.offset;
        handler?.onReset(room, { epoch: page.epoch, offset: page.offset });
        break;
      }
      for (const pub of page.publications) {
        if (pub.offset !== track.offset + 1) break;
        track.offset = pub.offset;
        handler?.onPublication(room, pub);
      }
      if ((track.offset >= page.offset || page.publications.length === 0) && !track.again) break;
    }
    if (this.rooms.get(room) !== track) return;
    this.drain(room, track);
  }

  private drain(room: string, track: RoomTrack): void {
    track.busy = false;
    const pending = track.pending;
    track.pending = [];
    const again = track.again;
    track.again = false;
    for (const pub of pending) this.deliver(room, pub);
    // Live publications were dropped past the bound while busy: read up to the top once more.
    if (again && !track.busy) void this.catchUp(room);
  }
}
