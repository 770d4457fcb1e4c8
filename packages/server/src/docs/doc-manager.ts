import * as Y from 'yjs';
import type { DocsConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { DocBus, RemoteDocUpdate } from './doc-bus.js';
import { revertUpdate } from './doc-content.js';
import type { DocStore, DocVersion } from './doc-store.js';
import { scanUpdateV1 } from './update-scan.js';
import { APPLY_ORIGIN, DocsError, LiveDoc, REMOTE_ORIGIN, RESTORE_ORIGIN, applyCapturing, docFromStored, type DocHooks } from './live-doc.js';

export { DocsError, LiveDoc, REMOTE_ORIGIN, RESTORE_ORIGIN, type DocHooks, type DocsErrorCode, type UpdateListener } from './live-doc.js';
import { MAX_CLOCK, UpdateGuard, UpdateRejected, checkSize, checkUpdate } from './update-validator.js';

/** A veto run in the document's queue before an update is applied (rejects to refuse it). */
export type UpdateCheck = (update: Uint8Array, current: Y.Doc) => Promise<void>;

export interface DocManagerDeps {
  store: DocStore;
  config: DocsConfig;
  logger: Logger;
  metrics: Metrics;
  hooks?: DocHooks;
  bus?: DocBus;
  nodeId?: string;
  /** The validator worker (default: one made from `config`); tests inject one. */
  guard?: UpdateGuard;
}

/**
 * Documents in memory. Loads each document once even when many clients ask at once (single-flight),
 * keeps it while referenced plus a grace period, bounds how many are loaded, and is the only path by
 * which a document changes: validate -> apply -> append to the store -> broadcast, one update at a
 * time per document. A document whose load failed is never created, so nothing can store over it.
 */
export class DocManager {
  private readonly docs = new Map<string, LiveDoc>();
  private readonly loading = new Map<string, Promise<LiveDoc>>();
  private readonly guard: UpdateGuard;
  private readonly nodeId: string;
  private readonly offResync?: () => void;
  private closed = false;

  constructor(private readonly deps: DocManagerDeps) {
    this.guard = deps.guard ?? new UpdateGuard({ timeoutMs: deps.config.applyTimeoutMs, maxQueued: deps.config.maxUpdatesValidating });
    this.nodeId = deps.nodeId ?? 'local';
    this.offResync = deps.bus?.onResync?.((doc) => this.resync(doc));
  }

  loadedCount(): number {
    return this.docs.size;
  }

  isLoaded(name: string): boolean {
    return this.docs.has(name);
  }

  /** Loads (or finds) a document and holds a reference on it. Pair with `release`. */
  async acquire(name: string): Promise<LiveDoc> {
    if (this.closed) throw new DocsError('UNAVAILABLE', 'server is shutting down');
    const existing = this.docs.get(name);
    if (existing) return this.hold(existing);
    let pending = this.loading.get(name);
    if (!pending) {
      this.makeRoom();
      pending = this.load(name).finally(() => this.loading.delete(name));
      this.loading.set(name, pending);
    }
    return this.hold(await pending);
  }

  release(live: LiveDoc): void {
    live.refs = Math.max(0, live.refs - 1);
    if (live.refs > 0 || live.closed) return;
    clearTimeout(live.unloadTimer);
    live.unloadTimer = setTimeout(() => void this.unload(live), this.deps.config.unloadGraceMs);
    live.unloadTimer.unref();
  }

  /** Runs `fn` with the document loaded, releasing it afterwards. */
  async withDoc<T>(name: string, fn: (live: LiveDoc) => Promise<T>): Promise<T> {
    const live = await this.acquire(name);
    try { return await fn(live); } finally { this.release(live); }
  }

  private hold(live: LiveDoc): LiveDoc {
    if (live.closed) throw new DocsError('UNAVAILABLE', 'document was unloaded');
    live.refs++;
    clearTimeout(live.unloadTimer);
    live.unloadTimer = undefined;
    return live;
  }

  /** Unloads an idle document when at capacity; throws TOO_MANY_DOCS when none is idle. */
  private makeRoom(): void {
    if (this.docs.size + this.loading.size < this.deps.config.maxLoadedDocs) return;
    for (const live of this.docs.values()) {
      if (live.refs === 0 && live.queued === 0) {
        void this.unload(live);
        return;
      }
    }
    this.deps.metrics.docRejected.inc({ reason: 'TOO_MANY_DOCS' });
    throw new DocsError('TOO_MANY_DOCS', `${this.deps.config.maxLoadedDocs} documents are loaded; try again later`);
  }

  private async load(name: string): Promise<LiveDoc> {
    const { store, logger, hooks } = this.deps;
    let ydoc: Y.Doc | undefined;
    try {
      const stored = await store.load(name);
      ydoc = new Y.Doc();
      const doc = ydoc;
      doc.transact(() => {
        if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot);
        for (const u of stored.updates) Y.applyUpdate(doc, u.update);
      });
      const lastSeq = stored.updates.length ? stored.updates[stored.updates.length - 1].seq : stored.snapshotSeq;
      const live = new LiveDoc(name, doc, { logCount: stored.updates.length, logBytes: stored.logBytes, lastSeq });
      if (hooks?.onLoad) {
        const seeds: Uint8Array[] = [];
        const capture = (u: Uint8Array) => { seeds.push(u); };
        doc.on('update', capture);
        try {
          await hooks.onLoad({ name, doc, isNew: stored.snapshot === null && stored.updates.length === 0 });
        } finally {
          doc.off('update', capture);
        }
        if (seeds.length > 0) {
          const seed = Y.mergeUpdates(seeds);
          const { seq } = await store.append({ doc: name, update: seed, author: 'system:seed', time: Date.now() });
          live.lastSeq = seq;
          live.logCount++;
          live.logBytes += seed.byteLength;
        }
      }
      if (this.closed) throw new DocsError('UNAVAILABLE', 'server is shutting down');
      if (this.deps.bus) live.unsubscribeBus = this.deps.bus.subscribe(name, (m) => this.onRemote(live, m));
      this.docs.set(name, live);
      this.deps.metrics.docsLoaded.set(this.docs.size);
      logger.debug({ doc: name, updates: stored.updates.length, snapshotSeq: stored.snapshotSeq }, 'document loaded');
      return live;
    } catch (err) {
      ydoc?.destroy();
      if (err instanceof DocsError) throw err;
      logger.error({ err, doc: name }, 'document load failed; refusing clients until a load succeeds');
      throw new DocsError('LOAD_FAILED', 'document could not be loaded');
    }
  }

  private async unload(live: LiveDoc): Promise<void> {
    if (live.closed || live.refs > 0) return;
    await live.queue;
    if (live.closed || live.refs > 0) return;
    this.remove(live, new DocsError('UNAVAILABLE', 'document unloaded'));
    this.deps.logger.debug({ doc: live.name }, 'document unloaded');
  }

  private remove(live: LiveDoc, reason: DocsError): void {
    if (live.closed) return;
    live.closed = true;
    clearTimeout(live.unloadTimer);
    live.unsubscribeBus?.();
    if (this.docs.get(live.name) === live) this.docs.delete(live.name);
    this.deps.metrics.docsLoaded.set(this.docs.size);
    live.emitClose(reason);
    live.awareness.destroy();
    live.ydoc.destroy();
  }

  /** Runs `fn` after everything queued before it for this document. */
  private enqueue<T>(live: LiveDoc, fn: () => Promise<T>): Promise<T> {
    live.queued++;
    const run = live.queue.then(fn, fn);
    live.queue = run.then(() => undefined, () => undefined).finally(() => { live.queued--; });
    return run;
  }

  /**
   * Validates, applies, stores and broadcasts one update from a client. Resolves with the seq, or
   * null when the update changed nothing (already known). Rejects with UpdateRejected; in that case
   * the document, the store and other clients are untouched. `incremental`: the update is a
   * client's change (a sync `update` message), not a state dump such as sync step 2, which carries
   * the sender's whole delete set: only then may the update be stored as it came (see applyToDoc).
   */
  submit(live: LiveDoc, update: Uint8Array, ctx: { author: string; origin?: unknown; incremental?: boolean; check?: UpdateCheck }): Promise<{ seq: number } | null> {
    const { metrics, config } = this.deps;
    const count = (err: unknown) => { if (err instanceof UpdateRejected) metrics.docRejected.inc({ reason: err.code }); };
    try {
      if (live.closed) throw new UpdateRejected('UNAVAILABLE', 'document is not loaded');
      checkSize(update, config.maxUpdateBytes);
      if (live.queued >= config.maxQueuedUpdatesPerDoc) throw new UpdateRejected('OVERLOADED', 'too many updates waiting for this document');
    } catch (err) {
      count(err);
      return Promise.reject(err);
    }
    // A small update that the scan shows safe (every read in bounds, known content, clocks in
    // range) is applied without the worker round trip. For any other, the trial in the worker
    // starts now (batched with other waiting updates); nothing in this thread decodes the update
    // before the worker has shown that decoding returns.
    const starts: number[] = [];
    const scanned = update.byteLength <= config.inlineScanMaxBytes && scanUpdateV1(update, MAX_CLOCK, starts);
    const trial = scanned ? undefined : this.guard.check(update);
    trial?.catch(() => undefined);
    return this.enqueue(live, async () => {
      try {
        if (trial) {
          await trial;
          checkUpdate(update, config.maxUpdateBytes);
        }
        if (ctx.check) await ctx.check(update, live.ydoc); // the app's veto (onDocUpdate): nothing applied yet
        return await this.applyLocal(live, update, ctx.author, ctx.origin, scanned && ctx.incremental ? starts : undefined);
      } catch (err) {
        count(err);
        throw err;
      }
    });
  }

  /**
   * Apply -> store -> broadcast. Runs inside the document queue. `starts`: the first clock of each
   * client's structs in `update` (from the scan), as `client, clock` pairs.
   */
  private async applyLocal(live: LiveDoc, update: Uint8Array, author: string, origin: unknown, starts?: number[]): Promise<{ seq: number } | null> {
    const { store, logger, metrics, hooks, config } = this.deps;
    if (live.closed) throw new UpdateRejected('UNAVAILABLE', 'document is not loaded');
    const diff = await this.applyToDoc(live, update, starts);
    if (!diff) return null;
    let seq: number;
    try {
      ({ seq } = await store.append({ doc: live.name, update: diff, author, time: Date.now() }));
    } catch (err) {
      logger.error({ err, doc: live.name }, 'storing an update failed; rebuilding the document from the store');
      await this.rebuild(live);
      throw new UpdateRejected('UNAVAILABLE', 'the update could not be stored; retry later');
    }
    live.lastSeq = seq;
    live.logCount++;
    live.logBytes += diff.byteLength;
    metrics.hot.docUpdates++;
    live.emitUpdate(diff, origin);
    this.deps.bus?.publish({ doc: live.name, update: diff, node: this.nodeId, author, seq });
    this.safeHook(() => hooks?.onStore?.({ name: live.name, kind: 'update', seq }));
    this.safeHook(() => hooks?.onChange?.({ name: live.name, update: diff, author, seq }));
    if (live.logCount >= config.compactAfterUpdates || live.logBytes >= config.compactAfterBytes) this.queueCompaction(live);
    return { seq };
  }

  /**
   * Compacts in the document's queue, after the update that crossed the threshold has been
   * broadcast (broadcasts leave on the next tick; the compaction yields to them first), so no
   * client waits for the snapshot to be encoded and written.
   */
  private queueCompaction(live: LiveDoc): void {
    if (live.compactionQueued) return;
    live.compactionQueued = true;
    void this.enqueue(live, async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      live.compactionQueued = false;
      const { config } = this.deps;
      if (live.closed || (live.logCount < config.compactAfterUpdates && live.logBytes < config.compactAfterBytes)) return;
      await this.compact(live);
    });
  }

  /**
   * Applies an update to the live document; returns what actually changed (null: nothing).
   *
   * When nothing is pending in the document and each client's structs in the update start exactly
   * at the clock the document has for that client (`starts`, from the scan), none of the update is
   * known yet: the update itself is what changes, and it is returned as it is, without Yjs encoding
   * the transaction a second time. (If some of it has to wait for structs the document does not
   * have yet, Yjs keeps that part pending; storing and sending it now is what the reference server
   * does, and replaying or applying it again is harmless.) Otherwise the change is captured from
   * the transaction, so already-known parts are neither stored nor sent.
   */
  private async applyToDoc(live: LiveDoc, update: Uint8Array, starts?: number[]): Promise<Uint8Array | null> {
    const applied = applyCapturing(live.ydoc, update, starts);
    if ('error' in applied) return this.applyFailed(live, applied.error);
    return applied.changed;
  }

  /** An update threw while applied: the document is rebuilt from the store; nothing was stored or sent. */
  private async applyFailed(live: LiveDoc, err: unknown): Promise<never> {
    // The transaction may have integrated part of the update: rebuild from the store, which never
    // saw it. Nothing was broadcast.
    this.deps.logger.warn({ err, doc: live.name }, 'update threw while applying; rebuilding the document');
    await this.rebuild(live);
    throw new UpdateRejected('APPLY_FAILED', `update failed to apply: ${(err as Error).message}`);
  }

  /** Replaces the in-memory state with what the store holds; on failure takes the document down. */
  private async rebuild(live: LiveDoc): Promise<void> {
    try {
      const stored = await this.deps.store.load(live.name);
      const doc = docFromStored(stored);
      const old = live.ydoc;
      live.ydoc = doc;
      live.logCount = stored.updates.length;
      live.logBytes = stored.logBytes;
      old.destroy();
    } catch (err) {
      this.deps.logger.error({ err, doc: live.name }, 'rebuilding a document failed; unloading it');
      this.remove(live, new DocsError('UNAVAILABLE', 'document failed and was unloaded'));
    }
  }

  private async compact(live: LiveDoc): Promise<void> {
    try {
      // Without a bus this node is the document's only writer, and the live copy (inside the
      // queue) holds every stored update up to lastSeq: its state is the snapshot, with no replay
      // of the log. With a bus, other nodes' updates may not have arrived yet: the store folds.
      const from = this.deps.bus ? undefined : { state: Y.encodeStateAsUpdate(live.ydoc), seq: live.lastSeq };
      const r = await this.deps.store.compact(live.name, from);
      live.logCount = 0;
      live.logBytes = 0;
      this.safeHook(() => this.deps.hooks?.onStore?.({ name: live.name, kind: 'snapshot', seq: r.snapshotSeq }));
    } catch (err) {
      // The updates are durable in the log; compaction is retried after the next update.
      this.deps.logger.error({ err, doc: live.name }, 'compaction failed');
    }
  }

  private onRemote(live: LiveDoc, m: RemoteDocUpdate): void {
    if (m.node === this.nodeId || live.closed) return;
    void this.enqueue(live, async () => {
      const diff = await this.applyToDoc(live, m.update);
      if (m.seq > live.lastSeq) live.lastSeq = m.seq;
      live.logCount++;
      live.logBytes += m.update.byteLength;
      if (diff) live.emitUpdate(diff, REMOTE_ORIGIN);
    }).catch((err: unknown) => this.deps.logger.warn({ err, doc: m.doc, node: m.node }, 'remote update rejected'));
  }

  /**
   * Catches a loaded document up with the store after the bus may have dropped messages: merges the
   * stored state into the live copy and forwards what was new to local clients (not stored again).
   */
  private resync(name: string): void {
    const live = this.docs.get(name);
    if (!live || live.closed) return;
    void this.enqueue(live, async () => {
      if (live.closed) return;
      const stored = await this.deps.store.load(name);
      const parts = [...(stored.snapshot ? [stored.snapshot] : []), ...stored.updates.map((u) => u.update)];
      if (parts.length === 0) return;
      const diff = await this.applyToDoc(live, parts.length === 1 ? parts[0] : Y.mergeUpdates(parts));
      const top = stored.updates.length ? stored.updates[stored.updates.length - 1].seq : stored.snapshotSeq;
      if (top > live.lastSeq) live.lastSeq = top;
      live.logCount = stored.updates.length;
      live.logBytes = stored.logBytes;
      if (diff) live.emitUpdate(diff, REMOTE_ORIGIN);
    }).catch((err: unknown) => this.deps.logger.warn({ err, doc: name }, 'document resync failed'));
  }

  private safeHook(fn: () => void): void {
    try { fn(); } catch (err) { this.deps.logger.error({ err }, 'document hook failed'); }
  }

  /** The full state of a document (loading it if needed), consistent with `lastSeq`. */
  state(name: string): Promise<{ state: Uint8Array; seq: number }> {
    return this.withDoc(name, (live) => this.enqueue(live, async () => ({ state: Y.encodeStateAsUpdate(live.ydoc), seq: live.lastSeq })));
  }

  /** Records the current state as a version. */
  createVersion(name: string, label: string | null, author: string): Promise<DocVersion> {
    return this.withDoc(name, (live) => this.enqueue(live, () => this.versionNow(live, label, author)));
  }

  private versionNow(live: LiveDoc, label: string | null, author: string): Promise<DocVersion> {
    return this.deps.store.createVersion({ doc: live.name, label, author, time: Date.now(), seq: live.lastSeq, state: Y.encodeStateAsUpdate(live.ydoc) });
  }

  /**
   * Restores a version by a forward transaction: records the current state as a version first (so
   * the restore can be undone by restoring that one), then applies, stores (audited with `author`)
   * and broadcasts the update that turns the current content into the version's content.
   */
  async restore(name: string, versionId: string, author: string): Promise<{ restored: string; undoVersion: DocVersion; seq: number | null }> {
    const version = await this.deps.store.getVersion(name, versionId);
    if (!version) throw new DocsError('NOT_FOUND', `version ${versionId} of ${name} not found`);
    return this.withDoc(name, (live) => this.enqueue(live, async () => {
      const undoVersion = await this.versionNow(live, `before restore of version ${versionId}`, author);
      const revert = revertUpdate(Y.encodeStateAsUpdate(live.ydoc), version.state);
      const result = revert ? await this.applyLocal(live, revert, author, RESTORE_ORIGIN) : null;
      this.deps.logger.info({ doc: name, version: versionId, author, seq: result?.seq }, 'document restored');
      return { restored: versionId, undoVersion, seq: result?.seq ?? null };
    }));
  }

  /** Waits for queued work, then unloads everything. Clients are told via onClose listeners. */
  async close(): Promise<void> {
    this.closed = true;
    this.offResync?.();
    await Promise.allSettled([...this.loading.values()]);
    const all = [...this.docs.values()];
    await Promise.allSettled(all.map((l) => l.queue));
    for (const live of all) this.remove(live, new DocsError('UNAVAILABLE', 'server is shutting down'));
    await this.guard.close();
  }
}
