import * as crypto from 'node:crypto';
import * as Y from 'yjs';

/** One accepted update as the audit log shows it (the bytes themselves are not part of the audit). */
export interface AuditEntry {
  /** Sequence number: strictly increasing per document (not dense; may be shared across documents). */
  seq: number;
  /** The `sub` of the user (or `system:*` for server-made changes) that sent the update. */
  author: string;
  /** Server time of acceptance, ms since epoch. */
  time: number;
  /** Size of the update in bytes. */
  size: number;
  /** SHA-256 of the update bytes, hex. */
  hash: string;
}

/** Input of `DocStore.append`. */
export interface AppendInput {
  doc: string;
  update: Uint8Array;
  author: string;
  time: number;
}

/** What `DocStore.load` returns: replaying `snapshot` then `updates` (in order) yields the document. */
export interface StoredDoc {
  /** Merged state of every update with seq <= snapshotSeq, or null when the log was never compacted. */
  snapshot: Uint8Array | null;
  /** The highest seq folded into `snapshot` (0 when none). */
  snapshotSeq: number;
  /** Updates after the snapshot, ascending seq. */
  updates: Array<{ seq: number; update: Uint8Array }>;
  /** Bytes of `updates` (what the compaction threshold looks at). */
  logBytes: number;
}

/** A named point in a document's history. */
export interface DocVersion {
  id: string;
  doc: string;
  label: string | null;
  author: string;
  time: number;
  /** Highest update seq contained in the version's state at creation time (0 for an empty doc). */
  seq: number;
}

export interface DocVersionWithState extends DocVersion {
  /** The full document state (a Yjs update) at the time the version was recorded. */
  state: Uint8Array;
}

export interface CreateVersionInput {
  doc: string;
  label: string | null;
  author: string;
  time: number;
  seq: number;
  state: Uint8Array;
}

/**
 * A state the caller vouches for, for `DocStore.compact`: it contains every update of the document
 * with seq <= `seq` (e.g. the in-memory copy of the only node that writes the document).
 */
export interface CompactFrom {
  state: Uint8Array;
  seq: number;
}

/** Result of a compaction. */
export interface CompactResult {
  /** seq of the newest update folded into the snapshot (unchanged when there was nothing to fold). */
  snapshotSeq: number;
  /** How many log entries were folded and removed. */
  folded: number;
}

/**
 * Persistence of collaborative documents: an append-only update log per document, snapshots that
 * replace a prefix of the log, named versions, and an audit trail.
 *
 * Contracts every implementation keeps (checked by test/conformance/doc-store-conformance.ts):
 * - `append` resolves only once the update is durable (survives a kill -9 of the process); the
 *   returned seq is greater than every seq previously returned for the same document.
 * - `load` returns a snapshot plus every update appended after it, in seq order; applying them
 *   reproduces every update ever acknowledged by `append`. A document never written loads as
 *   `{ snapshot: null, snapshotSeq: 0, updates: [] }` — it is not an error.
 * - `compact(doc)` folds the snapshot and the whole current log into one new snapshot and removes
 *   the folded log entries in one atomic step: a concurrent `load` sees either the old or the new
 *   form, never a mix that loses an update; appends racing with it stay in the log.
 * - `compact(doc, from)` instead writes `from.state` as the snapshot and removes the log entries
 *   with seq <= `from.seq` in one atomic step, without reading the log (the caller vouches that
 *   the state contains them). It does nothing when `from.seq` is not above the current snapshot's.
 * - The audit trail keeps one entry per appended update; compaction does not remove audit entries.
 * - Versions hold a full state copy; they are never changed by appends or compaction.
 * - Errors are thrown (rejected) as-is; callers treat any error as "not stored".
 */
export interface DocStore {
  append(input: AppendInput): Promise<{ seq: number; hash: string }>;
  load(doc: string): Promise<StoredDoc>;
  compact(doc: string, from?: CompactFrom): Promise<CompactResult>;
  createVersion(input: CreateVersionInput): Promise<DocVersion>;
  /** Versions of a document, oldest first, at most `limit`, with id after `after` when given. */
  listVersions(doc: string, opts: { limit: number; after?: string }): Promise<DocVersion[]>;
  getVersion(doc: string, id: string): Promise<DocVersionWithState | null>;
  /** Audit entries with seq > `sinceSeq` and time >= `sinceTime`, ascending seq, at most `limit`. */
  audit(doc: string, opts: { sinceSeq?: number; sinceTime?: number; limit: number }): Promise<AuditEntry[]>;
  /** Cheap liveness probe (a trivial query). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** SHA-256 of an update, hex: the `hash` of audit entries. */
export function hashUpdate(update: Uint8Array): string {
  return oneShot ? oneShot('sha256', update, 'hex') : crypto.createHash('sha256').update(update).digest('hex');
}

// `crypto.hash` (Node >= 20.12) hashes in one native call; older Node 20 falls back to createHash.
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/**
 * Folds a snapshot and log updates into one compact state (deleted content garbage-collected).
 * Shared by every DocStore so that all of them compact the same way.
 */
export function foldUpdates(snapshot: Uint8Array | null, updates: Iterable<Uint8Array>): Uint8Array {
  const doc = new Y.Doc({ guid: 'fold' });
  try {
    doc.transact(() => {
      if (snapshot) Y.applyUpdate(doc, snapshot);
      for (const u of updates) Y.applyUpdate(doc, u);
    });
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}
