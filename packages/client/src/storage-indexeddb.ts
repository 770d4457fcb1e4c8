import { LocalLocks, type OfflineChannel, type OfflineLocks, type OfflineNotice, type OfflineStore } from './storage.js';

export interface IndexedDbStoreOptions {
  /** Database name; tabs of one origin using the same name share the store. Default `aqueduct-offline`. */
  name?: string;
  /** IndexedDB factory; default `globalThis.indexedDB`. */
  indexedDB?: IDBFactory;
}

const OBJECTS = 'kv';

/** The part of `navigator.locks` used here. */
interface WebLocks {
  request<T>(name: string, options: { ifAvailable?: boolean; signal?: AbortSignal }, fn: (lock: unknown) => Promise<T> | T): Promise<T>;
}

const done = (tx: IDBTransaction): Promise<void> => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
  tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
});

const result = <T>(req: IDBRequest<T>): Promise<T> => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
});

/**
 * An `OfflineStore` in IndexedDB (browsers): one object store of keys and structured-cloned values.
 * Shared by the tabs of an origin: locks are the Web Locks API (`navigator.locks`, released by the
 * browser when a tab closes) and notices travel over a `BroadcastChannel`.
 */
export class IndexedDbStore implements OfflineStore {
  readonly locks: OfflineLocks;
  readonly channel?: OfflineChannel;
  private readonly dbName: string;
  private db?: Promise<IDBDatabase>;
  private bc?: BroadcastChannel;

  constructor(private readonly options: IndexedDbStoreOptions = {}) {
    this.dbName = options.name ?? 'aqueduct-offline';
    const locks = (globalThis as { navigator?: { locks?: WebLocks } }).navigator?.locks;
    // The Web Locks callback gets a Lock or null (ifAvailable and taken): hand on a boolean.
    this.locks = locks
      ? { request: (name, options, fn) => locks.request(name, options, (lock) => fn(lock !== null)) }
      : new LocalLocks();
    if (typeof BroadcastChannel === 'function') {
      const bc = new BroadcastChannel(`aqueduct-offline:${this.dbName}`);
      this.bc = bc;
      this.channel = {
        post: (m) => bc.postMessage(m),
        subscribe: (fn) => {
          const listener = (ev: MessageEvent<OfflineNotice>) => fn(ev.data);
          bc.addEventListener('message', listener);
          return () => bc.removeEventListener('message', listener);
        },
      };
    }
  }

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const factory = this.options.indexedDB ?? globalThis.indexedDB;
      if (!factory) {
        reject(new Error('IndexedDB is not available here'));
        return;
      }
      const req = factory.open(this.dbName, 1);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(OBJECTS)) req.result.createObjectStore(OBJECTS);
      };
      req.onsuccess = () => {
        const db = req.result;
        // Another tab upgrading the schema: let it (this tab reopens on its next call).
        db.onversionchange = () => { db.close(); this.db = undefined; };
        resolve(db);
      };
      req.onerror = () => reject(req.error ?? new Error('cannot open IndexedDB'));
      req.onblocked = () => reject(new Error('IndexedDB open blocked by another tab'));
    });
    return this.db;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const db = await this.open();
    return (await result(db.transaction(OBJECTS, 'readonly').objectStore(OBJECTS).get(key))) as T | undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    return this.setMany([[key, value]]);
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(OBJECTS, 'readwrite');
    const objects = tx.objectStore(OBJECTS);
    for (const [key, value] of entries) {
      if (value === undefined) objects.delete(key);
      else objects.put(value, key);
    }
    return done(tx);
  }

  async delete(key: string): Promise<void> {
    return this.setMany([[key, undefined]]);
  }

  async list<T = unknown>(prefix: string): Promise<Array<[string, T]>> {
    const db = await this.open();
    const objects = db.transaction(OBJECTS, 'readonly').objectStore(OBJECTS);
    // Every key starting with `prefix`: [prefix, prefix + U+FFFF).
    const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`, false, true);
    const [keys, values] = await Promise.all([result(objects.getAllKeys(range)), result(objects.getAll(range))]);
    return keys.map((k, i) => [String(k), values[i] as T]);
  }

  async close(): Promise<void> {
    this.bc?.close();
    const db = this.db;
    this.db = undefined;
    if (db) (await db.catch(() => undefined))?.close();
  }
}
