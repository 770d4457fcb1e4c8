import type { ResultMap } from '@aqueduct/protocol';
import { backoffDelay } from './backoff.js';
import { AqueductError } from './errors.js';
import type { OfflinePersistence, OutboxAck, OutboxDrop, OutboxDropReason, OutboxEntry } from './offline-types.js';
import type { SocketLink } from './socket-link.js';

/** A publish waiting for its ack. Restored entries (from storage) have no promise to settle. */
interface QueuedPublish {
  entry: OutboxEntry;
  resolve?: (value: ResultMap['pub']) => void;
  reject?: (err: AqueductError) => void;
  /** RATE_LIMITED replies so far; resent after a backoff up to MAX_THROTTLED_RESENDS times. */
  throttled?: number;
  awaitingResend?: boolean;
}

/** What the outbox reports to the client (which emits `outboxack` / `outboxdrop`). */
export interface OutboxEvents {
  ack(info: OutboxAck): void;
  drop(info: OutboxDrop): void;
  error(err: AqueductError): void;
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
 * queued and are resent after a backoff.
 *
 * With offline persistence, an entry is stored before it is first sent, and stored again with
 * `sentAt` before a first send that happens later (after a reconnect): so a restored entry knows
 * whether the server may already have it, and sends stay in order behind those writes.
 */
export class Outbox {
  private readonly publishes = new Map<string, QueuedPublish>();
  private throttleTimer?: ReturnType<typeof setTimeout>;
  private throttleAttempt = 0;
  /** Sends wait behind the storage writes queued before them (offline persistence only). */
  private tail: Promise<void> = Promise.resolve();
  /** Bumped by every `resendAll`: a send queued for an older connection is left to the newer resend. */
  private round = 0;

  constructor(
    private readonly link: SocketLink,
    private readonly maxQueued: number,
    private readonly events: OutboxEvents,
    private readonly persistence?: OfflinePersistence,
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
      if (!this.persistence) {
        if (this.link.ready) this.send(queued);
        return;
      }
      if (this.link.ready) {
        this.sendAfterWrite([queued]);
      } else {
        const write = this.persistence.putEntries([{ ...entry }]).catch((err: unknown) => this.storageFailed(err));
        this.tail = this.tail.then(() => write);
      }
    });
  }

  /**
   * Takes entries restored from storage (or from a closed tab). They go before the entries
   * published since, unless those were already sent. Beyond `maxQueued`, the oldest are dropped.
   */
  adopt(entries: OutboxEntry[]): void {
    const restored = entries.filter((e) => !this.publishes.has(e.id)).map((entry): QueuedPublish => ({ entry }));
    if (restored.length === 0) return;
    const current = [...this.publishes.values()];
    this.publishes.clear();
    const anySent = current.some((p) => p.entry.sentAt !== undefined);
    const all = anySent ? [...current, ...restored] : [...restored, ...current];
    const overflow = Math.max(0, all.length - this.maxQueued);
    for (const p of all.slice(overflow)) this.publishes.set(p.entry.id, p);
    for (const p of all.slice(0, overflow)) this.drop(p, 'overflow');
    if (this.link.ready) this.sendAfterWrite(this.vetted(restored.filter((p) => this.publishes.has(p.entry.id)), this.link.auth?.user));
  }

  /** The entries that may be sent now; the others are dropped with the persistence's reason. */
  private vetted(list: QueuedPublish[], user: string | undefined): QueuedPublish[] {
    const now = Date.now();
    return list.filter((p) => {
      const reason = this.persistence?.vet(p.entry, now, user);
      if (reason) this.drop(p, reason);
      return !reason;
    });
  }

  /**
   * Resends every unacknowledged publish in its original order, with its original id, after
   * dropping those the persistence says must not be sent (too old, unconfirmed, another user).
   */
  resendAll(user: string | undefined): void {
    this.round++;
    const list = this.vetted([...this.publishes.values()], user);
    if (this.persistence) this.sendAfterWrite(list);
    else for (const p of list) this.send(p);
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

  /** Stores the entries not sent before (with `sentAt`), then sends them all in order. */
  private sendAfterWrite(list: QueuedPublish[]): void {
    const persistence = this.persistence;
    if (!persistence || list.length === 0) return;
    const round = this.round;
    const now = Date.now();
    const user = this.link.auth?.user;
    const fresh = list.filter((p) => p.entry.sentAt === undefined);
    for (const p of fresh) {
      p.entry.sentAt = now;
      // Published before the first authentication: it belongs to the user it is first sent as.
      if (user !== undefined) p.entry.user ??= user;
    }
    const write = fresh.length === 0 ? undefined : persistence.putEntries(fresh.map((p) => ({ ...p.entry }))).catch((err: unknown) => this.storageFailed(err));
    this.tail = this.tail.then(() => write).then(() => {
      if (round !== this.round || !this.link.ready) return; // the next connection's resend sends them
      for (const p of list) if (this.publishes.get(p.entry.id) === p) this.send(p);
    });
  }

  private storageFailed(err: unknown): void {
    // Sending goes on from memory; only the survival of a reload is lost.
    this.events.error(new AqueductError('INTERNAL', `offline storage write failed: ${(err as Error)?.message ?? String(err)}`, true));
  }

  private drop(p: QueuedPublish, reason: OutboxDropReason, error?: AqueductError): void {
    const { entry } = p;
    if (this.publishes.get(entry.id) === p) this.publishes.delete(entry.id);
    this.persistence?.removeEntry(entry.id, false);
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

  private send(p: QueuedPublish): void {
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
        this.persistence?.removeEntry(cid, true);
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
