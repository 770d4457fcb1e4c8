import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LocalLocks, cloneValue, type OfflineLocks, type OfflineStore } from './storage.js';

export interface FileStoreOptions {
  /** The JSON file holding every key (created with its folder on the first write). */
  path: string;
  /** Writes closer together than this are coalesced into one file write. Default 0 (next tick). */
  writeDelayMs?: number;
}

/**
 * An `OfflineStore` for Node: one JSON file, rewritten whole on every (coalesced) change through a
 * temporary file and an atomic `rename`, so a crash leaves the old or the new file, never half of
 * one. For one process at a time (its locks are in-process); the SDK's outbox is small (bounded by
 * `outboxMax`), so rewriting the file is cheap. A write resolves once the file is on disk.
 */
export class FileStore implements OfflineStore {
  readonly locks: OfflineLocks = new LocalLocks();
  private data?: Map<string, unknown>;
  private loading?: Promise<Map<string, unknown>>;
  private flushing: Promise<void> = Promise.resolve();
  private pending?: Promise<void>;
  private tmpSeq = 0;

  constructor(private readonly options: FileStoreOptions) {}

  private load(): Promise<Map<string, unknown>> {
    if (this.data) return Promise.resolve(this.data);
    this.loading ??= (async () => {
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(await readFile(this.options.path, 'utf8')) as Record<string, unknown>;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      this.data = new Map(Object.entries(parsed));
      return this.data;
    })();
    return this.loading;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    return cloneValue((await this.load()).get(key) as T | undefined);
  }

  async set(key: string, value: unknown): Promise<void> {
    (await this.load()).set(key, cloneValue(value));
    return this.persist();
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>): Promise<void> {
    const data = await this.load();
    for (const [key, value] of entries) {
      if (value === undefined) data.delete(key);
      else data.set(key, cloneValue(value));
    }
    return this.persist();
  }

  async delete(key: string): Promise<void> {
    if ((await this.load()).delete(key)) return this.persist();
  }

  async list<T = unknown>(prefix: string): Promise<Array<[string, T]>> {
    const data = await this.load();
    return [...data.keys()].filter((k) => k.startsWith(prefix)).sort().map((k) => [k, cloneValue(data.get(k) as T)]);
  }

  /** Waits for the writes made so far to reach the file. */
  async close(): Promise<void> {
    await this.pending;
    await this.flushing;
  }

  /** Coalesces the changes made until the write starts into one rewrite of the file. */
  private persist(): Promise<void> {
    this.pending ??= new Promise<void>((resolve) => setTimeout(resolve, this.options.writeDelayMs ?? 0)).then(() => {
      this.pending = undefined;
      const snapshot = JSON.stringify(Object.fromEntries(this.data ?? []));
      const run = this.flushing.catch(() => undefined).then(() => this.writeFile(snapshot));
      this.flushing = run;
      return run;
    });
    return this.pending;
  }

  private async writeFile(json: string): Promise<void> {
    const path = this.options.path;
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${++this.tmpSeq}.tmp`;
    await writeFile(tmp, json, { mode: 0o600 });
    await rename(tmp, path);
  }
}
