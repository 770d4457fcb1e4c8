import { Awareness } from 'y-protocols/awareness';
import * as Y from 'yjs';

/** Hooks for the embedding app. Errors thrown by onChange/onStore are logged and ignored. */
export interface DocHooks {
  /**
   * Called once per load, before any client sees the document. `isNew` is true when the store had
   * nothing for it: seed it here (changes made to `doc` are stored with author `system:seed`).
   * Throwing fails the load: clients are refused and nothing is stored.
   */
  onLoad?(ctx: { name: string; doc: Y.Doc; isNew: boolean }): void | Promise<void>;
  /** After an update was accepted, stored and broadcast. */
  onChange?(ctx: { name: string; update: Uint8Array; author: string; seq: number }): void;
  /** After something was written to the store: an update (`kind: 'update'`) or a compaction. */
  onStore?(ctx: { name: string; kind: 'update' | 'snapshot'; seq: number }): void;
}

export type DocsErrorCode = 'TOO_MANY_DOCS' | 'LOAD_FAILED' | 'UNAVAILABLE' | 'NOT_FOUND';

/** A document could not be provided (load failed, capacity, shutdown) or a version is unknown. */
export class DocsError extends Error {
  constructor(readonly code: DocsErrorCode, message: string) {
    super(message);
    this.name = 'DocsError';
  }
}

/** Receives each accepted change of a loaded document: the update and the origin passed to submit. */
export type UpdateListener = (update: Uint8Array, origin: unknown) => void;

/** Origin of updates that came from another node. */
export const REMOTE_ORIGIN = Symbol('remote');
/** Origin of restore transactions. */
export const RESTORE_ORIGIN = Symbol('restore');
/** Origin of the manager's own transactions (what `applyCapturing` captures). */
export const APPLY_ORIGIN = Symbol('apply');

/**
 * Whether none of an update is known to `doc`: nothing is pending in the document, and each
 * client's structs in the update (`starts`: `client, first clock` pairs) begin at the document's
 * clock for that client. False for an update without structs (a pure deletion).
 */
function isFresh(doc: Y.Doc, starts: number[]): boolean {
  if (starts.length === 0 || doc.store.pendingStructs !== null || doc.store.pendingDs !== null) return false;
  for (let i = 0; i < starts.length; i += 2) {
    if (Y.getState(doc.store, starts[i]) !== starts[i + 1]) return false;
  }
  return true;
}

/** A document loaded in memory. Only DocManager mutates it. */
export class LiveDoc {
  /** The current state. Replaced (never patched) when the document is rebuilt from the store. */
  ydoc: Y.Doc;
  /** Awareness of the clients connected to this document on this node. */
  readonly awareness: Awareness;
  refs = 0;
  closed = false;
  /** Updates in the log since the last snapshot, and their bytes (compaction thresholds). */
  logCount: number;
  logBytes: number;
  /** Highest seq stored for this document, as far as this node knows. */
  lastSeq: number;
  /** Tail of the per-document work queue: updates are processed one at a time, in arrival order. */
  queue: Promise<unknown> = Promise.resolve();
  queued = 0;
  /** A compaction is waiting in the queue. */
  compactionQueued = false;
  unloadTimer?: NodeJS.Timeout;
  unsubscribeBus?: () => void;
  private readonly listeners = new Set<UpdateListener>();
  private readonly closeListeners = new Set<(reason: DocsError) => void>();

  constructor(readonly name: string, ydoc: Y.Doc, stats: { logCount: number; logBytes: number; lastSeq: number }) {
    this.ydoc = ydoc;
    // A separate doc for awareness: the state doc may be replaced; awareness must outlive that.
    this.awareness = new Awareness(new Y.Doc());
    this.awareness.setLocalState(null);
    this.logCount = stats.logCount;
    this.logBytes = stats.logBytes;
    this.lastSeq = stats.lastSeq;
  }

  onUpdate(fn: UpdateListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called when the document is taken out of memory while still in use (store failure, shutdown). */
  onClose(fn: (reason: DocsError) => void): () => void {
    this.closeListeners.add(fn);
    return () => this.closeListeners.delete(fn);
  }

  emitUpdate(update: Uint8Array, origin: unknown): void {
    for (const fn of [...this.listeners]) fn(update, origin);
  }

  emitClose(reason: DocsError): void {
    for (const fn of [...this.closeListeners]) fn(reason);
    this.closeListeners.clear();
    this.listeners.clear();
  }
}


/** A document built from what the store holds (snapshot, then the log), in one transaction. */
export function docFromStored(stored: { snapshot?: Uint8Array | null; updates: Array<{ update: Uint8Array }> }): Y.Doc {
  const doc = new Y.Doc();
  doc.transact(() => {
    if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot);
    for (const u of stored.updates) Y.applyUpdate(doc, u.update);
  });
  return doc;
}

/**
 * Applies an update to a document; returns what actually changed (null: nothing), or the error the
 * update threw while applied (the caller rebuilds the document).
 *
 * When nothing is pending in the document and each client's structs in the update start exactly
 * at the clock the document has for that client (`starts`, from the scan), none of the update is
 * known yet: the update itself is what changes, and it is returned as it is, without Yjs encoding
 * the transaction a second time. (If some of it has to wait for structs the document does not
 * have yet, Yjs keeps that part pending; storing and sending it now is what the reference server
 * does, and replaying or applying it again is harmless.) Otherwise the change is captured from
 * the transaction, so already-known parts are neither stored nor sent.
 */
export function applyCapturing(doc: Y.Doc, update: Uint8Array, starts?: number[]): { changed: Uint8Array | null } | { error: unknown } {
  if (starts !== undefined && isFresh(doc, starts)) {
    try {
      Y.applyUpdate(doc, update, APPLY_ORIGIN);
    } catch (error) {
      return { error };
    }
    return { changed: update };
  }
  const parts: Uint8Array[] = [];
  const capture = (u: Uint8Array, o: unknown) => { if (o === APPLY_ORIGIN) parts.push(u); };
  doc.on('update', capture);
  try {
    Y.applyUpdate(doc, update, APPLY_ORIGIN);
  } catch (error) {
    return { error };
  } finally {
    doc.off('update', capture);
  }
  if (parts.length === 0) return { changed: null };
  return { changed: parts.length === 1 ? parts[0] : Y.mergeUpdates(parts) };
}
