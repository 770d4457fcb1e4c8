import { LocalChannel, LocalLocks, cloneValue, type OfflineChannel, type OfflineLocks, type OfflineStore } from './storage.js';

/**
 * An `OfflineStore` in memory: survives a client object being closed and created again in the same
 * process (tests, short-lived workers), not a restart. Two clients given the same store behave like
 * two tabs of one origin (shared entries, locks and notices).
 */
export class MemoryStore implements OfflineStore {
  private readonly data = new Map<string, unknown>();
  readonly locks: OfflineLocks = new LocalLocks();
  readonly channel: OfflineChannel = new LocalChannel();

  async get<T = unknown>(key: string): Promise<T | undefined> {
    return cloneValue(this.data.get(key) as T | undefined);
  }

  async set(key: string, value: unknown): Promise<void> {
    this.data.set(key, cloneValue(value));
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>): Promise<void> {
    for (const [key, value] of entries) {
      if (value === undefined) this.data.delete(key);
      else this.data.set(key, cloneValue(value));
    }
  }

  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }

  async list<T = unknown>(prefix: string): Promise<Array<[string, T]>> {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort().map((k) => [k, cloneValue(this.data.get(k) as T)]);
  }

  /** Number of keys held (tests). */
  get size(): number {
    return this.data.size;
  }
}
