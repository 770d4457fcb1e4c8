/**
 * The storage seam of the offline-first SDK (`@aqueduct/client/offline`): a small key-value store
 * that survives a reload or a restart, a lock shared by every user of the same store, and an
 * optional channel between them. Implementations: IndexedDB (browsers: one store per origin and
 * name, shared by its tabs), a JSON file (Node) and memory (tests, or one process).
 */

/** A subset of the Web Locks API (`navigator.locks`): exclusive, named, held while `fn` runs. */
export interface OfflineLocks {
  /**
   * Runs `fn` while holding the lock `name`. With `ifAvailable`, `fn` runs at once with
   * `held = false` when another holder has it. A pending request ends (rejects with an
   * `AbortError`) when `signal` aborts.
   */
  request<T>(name: string, options: { ifAvailable?: boolean; signal?: AbortSignal }, fn: (held: boolean) => Promise<T> | T): Promise<T>;
}

/** Notices between the users of one store (other tabs of an origin); best effort, unordered across users. */
export interface OfflineChannel {
  post(message: OfflineNotice): void;
  /** Returns the unsubscribe function. Posts may come back to their sender: filter by `owner`. */
  subscribe(listener: (message: OfflineNotice) => void): () => void;
}

/**
 * What one user of a store tells the others: `added` — `owner` stored an entry (a tab that has not
 * seen this owner yet starts waiting on its lock, to take its entries over once it closes).
 */
export type OfflineNotice = { t: 'added'; owner: string; id: string };

/**
 * A persistent key-value store. Values are JSON-compatible (structured-clone safe). Each call is
 * atomic on its own; read-modify-write sequences that other users may race with run under
 * `locks.request(...)`.
 */
export interface OfflineStore {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  /** Writes several keys in one atomic step (`undefined` deletes). */
  setMany(entries: ReadonlyArray<readonly [string, unknown]>): Promise<void>;
  delete(key: string): Promise<void>;
  /** Every `[key, value]` whose key starts with `prefix`, in key order. */
  list<T = unknown>(prefix: string): Promise<Array<[string, T]>>;
  /** Locks shared by every user of this store (the tabs of an origin; one process for memory/file). */
  readonly locks: OfflineLocks;
  /** Notices between the users of this store, if they can be several. */
  readonly channel?: OfflineChannel;
  /** Releases the store (closes the database or flushes the file). */
  close?(): Promise<void>;
}

interface Waiter { ifAvailable: boolean; grant: () => void; reject: (e: Error) => void; signal?: AbortSignal; onAbort?: () => void }

/**
 * In-process locks with the Web Locks semantics the SDK uses: FIFO per name, `ifAvailable`,
 * abortable waits. For stores used by one process (memory, file) and as the fallback where
 * `navigator.locks` is missing.
 */
export class LocalLocks implements OfflineLocks {
  private readonly held = new Set<string>();
  private readonly queues = new Map<string, Waiter[]>();

  async request<T>(name: string, options: { ifAvailable?: boolean; signal?: AbortSignal }, fn: (held: boolean) => Promise<T> | T): Promise<T> {
    if (options.signal?.aborted) throw abortError();
    if (this.held.has(name)) {
      if (options.ifAvailable) return fn(false);
      await new Promise<void>((grant, reject) => {
        const waiter: Waiter = { ifAvailable: false, grant, reject, signal: options.signal };
        let queue = this.queues.get(name);
        if (!queue) this.queues.set(name, (queue = []));
        queue.push(waiter);
        if (options.signal) {
          waiter.onAbort = () => {
            const q = this.queues.get(name);
            const i = q?.indexOf(waiter) ?? -1;
            if (q && i >= 0) q.splice(i, 1);
            reject(abortError());
          };
          options.signal.addEventListener('abort', waiter.onAbort, { once: true });
        }
      });
    } else {
      this.held.add(name);
    }
    try {
      return await fn(true);
    } finally {
      this.release(name);
    }
  }

  private release(name: string): void {
    const queue = this.queues.get(name);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.queues.delete(name);
    if (!next) {
      this.held.delete(name);
      return;
    }
    if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
    next.grant(); // the lock passes on without being free in between
  }
}

/** An in-process channel: every subscriber hears every post (of other clients on the same store). */
export class LocalChannel implements OfflineChannel {
  private readonly listeners = new Set<(m: OfflineNotice) => void>();

  post(message: OfflineNotice): void {
    for (const fn of [...this.listeners]) queueMicrotask(() => fn(message));
  }

  subscribe(fn: (m: OfflineNotice) => void): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }
}

export function abortError(): Error {
  const err = new Error('the lock request was aborted');
  err.name = 'AbortError';
  return err;
}

/** Copies a JSON-compatible value, so a stored value cannot be changed through a caller's reference. */
export function cloneValue<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
