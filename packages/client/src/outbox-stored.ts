import { AqueductError } from './errors.js';
import type { OutboxDropReason, OutboxEntry } from './offline-types.js';
import { Outbox, type QueuedPublish } from './outbox.js';
import type { OutboxEvents } from './outbox-types.js';
import type { SocketLink } from './socket-link.js';

/** What the stored outbox needs from the offline storage. */
export interface OutboxStorage {
  readonly outboxMax: number;
  /** Why `entry` must not be (re)sent now, or undefined to send it. */
  vet(entry: OutboxEntry, now: number, user: string | undefined): OutboxDropReason | undefined;
  /** Saves entries (new, or with `sentAt` set); resolves once they are stored. */
  putEntries(entries: OutboxEntry[]): Promise<void>;
  /** Removes an acknowledged (or dropped) entry. */
  removeEntry(id: string): void;
}

/**
 * The outbox kept in offline storage as well as in memory (part of `@aqueduct/client/offline`).
 * An entry is stored before it is first sent, and stored again with `sentAt` before a first send
 * that happens later (after a reconnect): so a restored entry knows whether the server may
 * already have it. Sends wait, in order, behind those writes.
 */
export class StoredOutbox extends Outbox {
  /** Sends wait behind the storage writes queued before them. */
  private tail: Promise<void> = Promise.resolve();

  constructor(link: SocketLink, events: OutboxEvents, private readonly persistence: OutboxStorage) {
    super(link, persistence.outboxMax, events);
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
    if (this.link.ready) this.sendAll(this.vetted(restored.filter((p) => this.publishes.has(p.entry.id)), this.link.auth?.user));
  }

  protected override enqueued(p: QueuedPublish): void {
    if (this.link.ready) {
      this.sendAll([p]);
      return;
    }
    const write = this.persistence.putEntries([{ ...p.entry }]).catch((err: unknown) => this.storageFailed(err));
    this.tail = this.tail.then(() => write);
  }

  /** Drops what the persistence says must not be sent any more (too old, unconfirmed, another user). */
  protected override vetted(list: QueuedPublish[], user: string | undefined): QueuedPublish[] {
    const now = Date.now();
    return list.filter((p) => {
      const reason = this.persistence.vet(p.entry, now, user);
      if (reason) this.drop(p, reason);
      return !reason;
    });
  }

  /** Stores the entries not sent before (with `sentAt`), then sends them all in order. */
  protected override sendAll(list: QueuedPublish[]): void {
    if (list.length === 0) return;
    const round = this.round;
    const now = Date.now();
    const user = this.link.auth?.user;
    const fresh = list.filter((p) => p.entry.sentAt === undefined);
    for (const p of fresh) {
      p.entry.sentAt = now;
      // Published before the first authentication: it belongs to the user it is first sent as.
      if (user !== undefined) p.entry.user ??= user;
    }
    const write = fresh.length === 0 ? undefined : this.persistence.putEntries(fresh.map((p) => ({ ...p.entry }))).catch((err: unknown) => this.storageFailed(err));
    this.tail = this.tail.then(() => write).then(() => {
      if (round !== this.round || !this.link.ready) return; // the next connection's resend sends them
      for (const p of list) if (this.publishes.get(p.entry.id) === p) this.send(p);
    });
  }

  protected override settled(id: string): void {
    this.persistence.removeEntry(id);
  }

  private storageFailed(err: unknown): void {
    // Sending goes on from memory; only the survival of a reload is lost.
    this.events.error(new AqueductError('INTERNAL', `offline storage write failed: ${(err as Error)?.message ?? String(err)}`, true));
  }
}
