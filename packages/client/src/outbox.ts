import type { ResultMap } from '@aqueduct/protocol';
import { backoffDelay } from './backoff.js';
import { AqueductError } from './errors.js';
import type { OutboxDrop, OutboxDropReason, OutboxEntry, OutboxEvents } from './outbox-types.js';
import type { SocketLink } from './socket-link.js';

/** A publish waiting for its ack. Restored entries (from storage) have no promise to settle. */
export interface QueuedPublish {
  entry: OutboxEntry;
  resolve?: (value: ResultMap['pub']) => void;
  reject?: (err: AqueductError) => void;
  /** RATE_LIMITED replies so far; resent after a backoff up to MAX_THROTTLED_RESENDS times. */
  throttled?: number;
  awaitingResend?: boolean;
}

/** How often a rate-limited publish is retried before its promise rejects with RATE_LIMITED. */
const MAX_THROTTLED_RESENDS = 20;

const newId = (): string => {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
};

/**
 * Publishes awaiting the server's ack, in order. Each carries a client-made id (`cid`), so a
 * resend after a reconnect is published once. Bounded by `maxQueued`; rate-limited publishes stay
 * queued and are resent after a backoff. Kept in memory; `StoredOutbox` (offline entry) overrides
 * the protected steps to keep the entries in storage too.
 */
export class Outbox {
  protected readonly publishes = new Map<string, QueuedPublish>();
  private throttleTimer?: ReturnType<typeof setTimeout>;
  private throttleAttempt = 0;
  /** Bumped by every `resendAll`: a send queued for an older connection is left to the newer resend. */
  protected round = 0;

  constructor(
    protected readonly link: SocketLink,
    protected readonly maxQueued: number,
    protected readonly events: OutboxEvents,
  ) {}

  /** Publishes waiting to be sent or acknowledged. */
  get size(): number {
    return this.publishes.size;
  }

  /** Copies of the entries waiting, oldest first. */
  entries(): OutboxEntry[] {
    return [...this.publishes.values()].map((p) => ({ ...p.entry }));
  }

  /** Queues a publish (sent now when connected); resolves on the server's ack. */
  publish(room: string, data: unknown, event: string | undefined, user: string | undefined): Promise<ResultMap['pub']> {
    const max = this.maxQueued;
    if (this.publishes.size >= max) return Promise.reject(new AqueductError('QUEUE_FULL', `more than ${max} publishes waiting`, true));
    return new Promise((resolve, reject) => {
      const entry: OutboxEntry = { id: newId(), room, data, createdAt: Date.now() };
      if (event !== undefined) entry.event = event;
      if (user !== undefined) entry.user = user;
      const queued: QueuedPublish = { entry, resolve, reject };
      this.publishes.set(entry.id, queued);
      this.enqueued(queued);
    });
  }

  /** A new publish is queued: sent now when connected. */
  protected enqueued(p: QueuedPublish): void {
    if (this.link.ready) this.send(p);
  }

  /** The entries that may be sent now (the others are dropped). All of them, in memory. */
  protected vetted(list: QueuedPublish[], _user: string | undefined): QueuedPublish[] {
    return list;
  }

  /** Sends entries in order. */
  protected sendAll(list: QueuedPublish[]): void {
    for (const p of list) this.send(p);
  }

  /** An entry left the outbox (acknowledged, or dropped). */
  protected settled(_id: string): void {
    // Nothing to clean up in memory.
  }

  /**
   * Resends every unacknowledged publish in its original order, with its original id (after
   * dropping those that must not be sent any more: too old, unconfirmed, another user).
   */
  resendAll(user: string | undefined): void {
    this.round++;
    this.sendAll(this.vetted([...this.publishes.values()], user));
  }

  /** Rejects every queued publish (final close or `client.close()`); stored entries stay stored. */
  failAll(err: AqueductError): void {
    for (const p of this.publishes.values()) p.reject?.(err);
    this.publishes.clear();
  }

  /** Stops the throttled-resend timer (client closed). */
  stop(): void {
    clearTimeout(this.throttleTimer);
    this.round++;
  }

  protected drop(p: QueuedPublish, reason: OutboxDropReason, error?: AqueductError): void {
    const { entry } = p;
    if (this.publishes.get(entry.id) === p) this.publishes.delete(entry.id);
    this.settled(entry.id);
    const info: OutboxDrop = { id: entry.id, room: entry.room, data: entry.data, reason };
    if (entry.event !== undefined) info.event = entry.event;
    if (error) info.error = error;
    this.events.drop(info);
    p.reject?.(error ?? new AqueductError('DROPPED', `publish dropped from the outbox: ${reason}`));
  }

  /** Resends every rate-limited publish, in queue order, after a backoff delay. */
  private scheduleThrottledResend(): void {
    if (this.throttleTimer) return;
    const delay = Math.max(100, backoffDelay(this.throttleAttempt++, { minDelayMs: 500, maxDelayMs: 5000 }));
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = undefined;
      if (!this.link.ready) return; // the reconnect resends everything anyway
      let resent = false;
      for (const p of this.publishes.values()) {
        if (p.throttled && p.awaitingResend) { p.awaitingResend = false; this.send(p); resent = true; }
      }
      if (!resent) this.throttleAttempt = 0;
    }, delay);
  }

  protected send(p: QueuedPublish): void {
    const id = this.link.nextId();
    const { entry } = p;
    entry.sentAt ??= Date.now();
    const frame: { t: 'pub'; id: number; room: string; data: unknown; cid: string; event?: string } = { t: 'pub', id, room: entry.room, data: entry.data, cid: entry.id };
    if (entry.event !== undefined) frame.event = entry.event;
    if (!this.link.sendFrame(frame)) return;
    const cid = entry.id;
    // No timeout: an unacknowledged publish stays queued and is resent on the next connection.
    this.link.awaitReply(id, {
      resolve: (v) => {
        if (this.publishes.get(cid) !== p) return;
        this.publishes.delete(cid);
        this.settled(cid);
        const result = v as ResultMap['pub'];
        if (result.epoch !== undefined && result.offset !== undefined) {
          this.events.ack({ id: cid, room: entry.room, epoch: result.epoch, offset: result.offset, duplicate: result.duplicate === true });
        }
        p.resolve?.(result);
      },
      reject: (err) => {
        // Resent after reconnect; or the client is closing (failAll settles the promises, and a
        // stored entry stays stored for the next client).
        if (err.code === 'DISCONNECTED' || err.code === 'CLOSED') return;
        if (err.code === 'RATE_LIMITED' && (p.throttled ?? 0) < MAX_THROTTLED_RESENDS && this.publishes.has(cid)) {
          // A resent offline queue can outrun the server's publish burst: keep it queued and
          // resend later (same cid, so it is still published once) instead of failing it.
          p.throttled = (p.throttled ?? 0) + 1;
          p.awaitingResend = true;
          this.scheduleThrottledResend();
          return;
        }
        if (this.publishes.get(cid) === p) this.drop(p, 'rejected', err);
      },
    });
  }
}
