/**
 * `@aqueduct/client/offline`: persistence for the client's outbox, room positions and SSE
 * positions, so that a reload (or a restart) resumes exactly and resends queued publishes with
 * their ids. Opt-in: pass `offline: offlineStorage({ store })` to `new AqueductClient(...)`.
 */
import type { Position } from '@aqueduct/protocol';
import { AqueductError } from './errors.js';
import type { OfflineClientHooks, OfflinePersistence, OutboxDropReason, OutboxEntry } from './offline-types.js';
import type { OutboxEvents } from './outbox-types.js';
import { StoredOutbox, type OutboxStorage } from './outbox-stored.js';
import type { SocketLink } from './socket-link.js';
import type { OfflineNotice, OfflineStore } from './storage.js';

export type { OfflineStore, OfflineLocks, OfflineChannel, OfflineNotice } from './storage.js';
export { LocalLocks, LocalChannel } from './storage.js';
export { MemoryStore } from './storage-memory.js';
export { IndexedDbStore, type IndexedDbStoreOptions } from './storage-indexeddb.js';
export type { OutboxEntry, OutboxDrop, OutboxAck, OutboxDropReason, OfflinePersistence, OfflineClientHooks } from './offline-types.js';

export interface OfflineStorageOptions {
  /** Where to keep it: `new IndexedDbStore()` in browsers, `new FileStore({ path })` on Node. */
  store: OfflineStore;
  /** Namespace inside the store (one per user if several users share a browser profile). Default `aqueduct`. */
  name?: string;
  /** Most publishes in the outbox; more are refused with QUEUE_FULL. Default 1,000. */
  outboxMax?: number;
  /** Publishes older than this are dropped (`outboxdrop`, reason `expired`) instead of sent. Default 7 days. */
  outboxMaxAgeMs?: number;
  /**
   * A publish already sent (so possibly published) but not acknowledged is resent only within this
   * time of its first send; later it is dropped (reason `unconfirmed`), because the server
   * remembers publish ids for `limits.idempotencyTtlMs` (default 300,000 ms) only. Keep it below
   * that setting. Default 270,000 ms (30 s of margin for clocks and transit).
   */
  resendWindowMs?: number;
  /** Room and SSE positions are written at most this long after they change. Default 200 ms. */
  positionFlushMs?: number;
  /** Most room positions kept; the least recently updated are forgotten at start. Default 1,000. */
  maxRooms?: number;
}

interface StoredEntry { entry: OutboxEntry; owner: string }
interface StoredPosition { epoch: string; offset: number; at: number }

const DAY_MS = 24 * 60 * 60 * 1000;

const randomId = (): string => {
  const bytes = new Uint8Array(9);
  globalThis.crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
};

/**
 * Offline persistence over an `OfflineStore`.
 *
 * Multi-tab safety: every client (tab) has an owner id and holds the lock `owner:<id>` while it
 * lives; each stored entry names its owner, and only the owner sends it. An entry changes owner only
 * under the store's `outbox` lock and only while its old owner's lock is free, that is after that
 * tab closed (the browser releases Web Locks of a closed tab): so one entry is never sent by two
 * live tabs. Tabs waiting on a live owner's lock take its entries over the moment it closes.
 */
export function offlineStorage(options: OfflineStorageOptions): OfflinePersistence {
  return new StoredOffline(options);
}

class StoredOffline implements OfflinePersistence, OutboxStorage {
  readonly outboxMax: number;
  private readonly store: OfflineStore;
  private readonly ns: string;
  private readonly owner = randomId();
  private readonly keys = new Map<string, string>();
  private seq = 0;
  private hooks?: OfflineClientHooks;
  private outbox?: StoredOutbox;
  private releaseLife?: () => void;
  private readonly watchers = new Map<string, AbortController>();
  private unsubscribe?: () => void;
  private writes: Promise<void> = Promise.resolve();
  private readonly pending = new Map<string, unknown>();
  private flushTimer?: ReturnType<typeof setTimeout>;
  private closed = false;
  private starting?: Promise<void>;
  private closing?: Promise<void>;
  private onPageHide?: () => void;

  constructor(private readonly options: OfflineStorageOptions) {
    this.store = options.store;
    this.ns = options.name ?? 'aqueduct';
    this.outboxMax = options.outboxMax ?? 1000;
  }

  createOutbox(link: SocketLink, events: OutboxEvents): StoredOutbox {
    this.outbox = new StoredOutbox(link, events, this);
    return this.outbox;
  }

  start(hooks: OfflineClientHooks): Promise<void> {
    this.hooks = hooks;
    this.starting = this.open().catch((err: unknown) => this.failed(err, 'could not be restored'));
    return this.starting;
  }

  private get outboxPrefix(): string { return `${this.ns}/o/`; }
  private get lockName(): string { return `aqueduct:${this.ns}:outbox`; }
  private ownerLock(owner: string): string { return `aqueduct:${this.ns}:owner:${owner}`; }

  private async open(): Promise<void> {
    // Hold this client's life lock until close (or until the tab goes away).
    await new Promise<void>((granted, failed) => {
      this.store.locks.request(this.ownerLock(this.owner), {}, () => new Promise<void>((release) => {
        this.releaseLife = release;
        granted();
      })).catch(failed);
    });
    this.unsubscribe = this.store.channel?.subscribe((m: OfflineNotice) => {
      if (m.t === 'added' && m.owner !== this.owner) this.watch(m.owner);
    });
    const pagehide = (globalThis as { addEventListener?: (t: string, fn: () => void) => void }).addEventListener;
    if (typeof pagehide === 'function' && typeof document !== 'undefined') {
      this.onPageHide = () => void this.flush();
      pagehide.call(globalThis, 'pagehide', this.onPageHide);
    }
    await this.scan();
    this.hooks?.positions(await this.loadPositions());
  }

  vet(entry: OutboxEntry, now: number, user: string | undefined): OutboxDropReason | undefined {
    if (entry.user !== undefined && user !== undefined && entry.user !== user) return 'user-changed';
    if (now - entry.createdAt > (this.options.outboxMaxAgeMs ?? 7 * DAY_MS)) return 'expired';
    if (entry.sentAt !== undefined && now - entry.sentAt > (this.options.resendWindowMs ?? 270_000)) return 'unconfirmed';
    return undefined;
  }

  putEntries(entries: OutboxEntry[]): Promise<void> {
    const rows = entries.map((entry): [string, StoredEntry] => {
      // Keys sort in publish order: time, then a counter for publishes within one millisecond.
      const key = this.keys.get(entry.id) ?? `${this.outboxPrefix}${String(entry.createdAt).padStart(15, '0')}.${String(++this.seq).padStart(9, '0')}-${entry.id}`;
      this.keys.set(entry.id, key);
      return [key, { entry, owner: this.owner }];
    });
    const write = this.write(() => this.store.setMany(rows));
    return write.then(() => {
      for (const e of entries) this.store.channel?.post({ t: 'added', owner: this.owner, id: e.id });
    });
  }

  removeEntry(id: string): void {
    const key = this.keys.get(id);
    if (!key) return;
    this.keys.delete(id);
    this.write(() => this.store.delete(key)).catch((err: unknown) => this.failed(err));
  }

  savePosition(room: string, position: Position | undefined): void {
    this.later(`${this.ns}/p/${room}`, position ? { epoch: position.epoch, offset: position.offset, at: Date.now() } satisfies StoredPosition : undefined);
  }

  eventPosition(rooms: readonly string[]): { load(): Promise<string | undefined>; save(id: string): void } {
    const key = `${this.ns}/e/${[...rooms].sort().join(',')}`;
    return {
      load: async () => {
        if (this.pending.has(key)) return this.pending.get(key) as string | undefined;
        try {
          return await this.store.get<string>(key);
        } catch (err) {
          this.failed(err);
          return undefined;
        }
      },
      save: (id) => this.later(key, id),
    };
  }

  rescan(): void {
    if (!this.closed) this.scan().catch((err: unknown) => this.failed(err));
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // A client closed while still restoring: let the restore finish, then let go of everything.
    await this.starting;
    await this.flush().catch((err: unknown) => this.failed(err));
    this.closed = true;
    this.unsubscribe?.();
    for (const c of this.watchers.values()) c.abort();
    this.watchers.clear();
    if (this.onPageHide) (globalThis as unknown as { removeEventListener(t: string, fn: () => void): void }).removeEventListener('pagehide', this.onPageHide);
    await this.writes.catch((err: unknown) => this.failed(err));
    this.releaseLife?.();
  }

  /** Takes over the entries of owners whose lock is free; watches the others. */
  private async scan(): Promise<void> {
    const adopted: OutboxEntry[] = [];
    await this.store.locks.request(this.lockName, {}, async () => {
      const rows = await this.store.list<StoredEntry>(this.outboxPrefix);
      const byOwner = new Map<string, Array<[string, StoredEntry]>>();
      for (const row of rows) {
        if (row[1].owner === this.owner) continue;
        let list = byOwner.get(row[1].owner);
        if (!list) byOwner.set(row[1].owner, (list = []));
        list.push(row);
      }
      for (const [owner, list] of byOwner) {
        const free = await this.store.locks.request(this.ownerLock(owner), { ifAvailable: true }, (held) => held);
        if (!free) { this.watch(owner); continue; }
        adopted.push(...(await this.takeOver(list)));
      }
    });
    this.adopt(adopted);
  }

  /** Entries this client now owns join its outbox (and the app hears of them). */
  private adopt(entries: OutboxEntry[]): void {
    if (entries.length === 0) return;
    this.outbox?.adopt(entries);
    this.hooks?.restored(entries.map((e) => ({ ...e })));
  }

  /** Rewrites entries of a gone owner as this client's (called under the outbox lock). */
  private async takeOver(rows: Array<[string, StoredEntry]>): Promise<OutboxEntry[]> {
    await this.store.setMany(rows.map(([key, v]) => [key, { entry: v.entry, owner: this.owner } satisfies StoredEntry]));
    for (const [key, v] of rows) this.keys.set(v.entry.id, key);
    return rows.map(([, v]) => v.entry);
  }

  /** Waits for a live owner's lock (it is free once that tab closed), then takes its entries over. */
  private watch(owner: string): void {
    if (this.closed || this.watchers.has(owner)) return;
    const abort = new AbortController();
    this.watchers.set(owner, abort);
    this.store.locks.request(this.ownerLock(owner), { signal: abort.signal }, async () => {
      this.watchers.delete(owner);
      if (this.closed) return;
      const adopted = await this.store.locks.request(this.lockName, {}, async () => {
        const rows = (await this.store.list<StoredEntry>(this.outboxPrefix)).filter(([, v]) => v.owner === owner);
        return this.takeOver(rows);
      });
      this.adopt(adopted);
    }).catch((err: unknown) => {
      this.watchers.delete(owner);
      if ((err as Error)?.name !== 'AbortError') this.failed(err);
    });
  }

  private async loadPositions(): Promise<Map<string, Position>> {
    const prefix = `${this.ns}/p/`;
    const rows = await this.store.list<StoredPosition>(prefix);
    const max = this.options.maxRooms ?? 1000;
    if (rows.length > max) {
      rows.sort((a, b) => b[1].at - a[1].at);
      const forget = rows.splice(max);
      await this.write(() => this.store.setMany(forget.map(([k]) => [k, undefined])));
    }
    return new Map(rows.map(([k, v]) => [k.slice(prefix.length), { epoch: v.epoch, offset: v.offset }]));
  }

  /** Coalesces writes of positions: the latest value per key, written after `positionFlushMs`. */
  private later(key: string, value: unknown): void {
    if (this.closed) return;
    this.pending.set(key, value);
    this.flushTimer ??= setTimeout(() => void this.flush(), this.options.positionFlushMs ?? 200);
    (this.flushTimer as { unref?: () => void }).unref?.();
  }

  private flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.size === 0) return this.writes;
    const rows = [...this.pending];
    this.pending.clear();
    return this.write(() => this.store.setMany(rows)).catch((err: unknown) => this.failed(err));
  }

  /** Runs store writes one after another (in call order). */
  private write(fn: () => Promise<void>): Promise<void> {
    const run = this.writes.catch(() => undefined).then(fn);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private failed(err: unknown, what = 'failed'): void {
    this.hooks?.error(new AqueductError('INTERNAL', `offline storage ${what}: ${(err as Error)?.message ?? String(err)}`, true));
  }
}
