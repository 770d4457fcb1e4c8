import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import Database from 'better-sqlite3';
import { AppendJournal, type JournalRecord } from './doc-journal.js';
import {
  foldUpdates, hashUpdate,
  type AppendInput, type AuditEntry, type CompactFrom, type CompactResult, type CreateVersionInput, type DocStore,
  type DocVersion, type DocVersionWithState, type StoredDoc,
} from './doc-store.js';

export interface SqliteDocStoreOptions {
  /** Database file; `:memory:` for tests that need no durability. */
  file: string;
  /**
   * `normal` (default): in WAL mode a commit reaches the OS before `append` resolves, so killing
   * the process loses nothing acknowledged; only an OS crash / power cut can lose the newest
   * commits. `full`: fsync on every commit, which also survives power loss, at a few ms per append.
   */
  synchronous?: 'normal' | 'full';
  /**
   * Group commit: `append` makes an update durable with one write to a journal file beside the
   * database (`<file>.aqjournal`; with `synchronous: 'full'`, fdatasync'd), and journaled updates
   * move into SQLite in one transaction once `maxPending` wait (right after the append that made
   * them that many, once its caller's promise jobs ran), before every read, and at the latest
   * `flushMs` after the first one (default 1000).
   * A journal left by a killed process is committed on open. 0: each append is its own SQLite
   * transaction, no journal. Not used for `:memory:`.
   */
  flushMs?: number;
  /** Journaled updates per SQLite transaction (default 64): they are flushed right after the append that makes them this many (twice this many wait at most). */
  maxPending?: number;
}

/** Past this, an append flushes first so that the journal can start over (see AppendJournal). */
const MAX_JOURNAL_BYTES = 16 * 1024 * 1024;

interface VersionRow { id: number; doc: string; label: string | null; author: string; time: number; seq: number }

/**
 * The default DocStore: better-sqlite3 in the data dir, WAL journal. Tables:
 * `doc_updates` (the log, removed by compaction), `doc_snapshots` (one per doc),
 * `doc_audit` (one row per appended update, kept), `doc_versions` (full state copies).
 * better-sqlite3 is synchronous, so each method runs to completion (and each transaction
 * commits) before its promise settles; nothing interleaves inside a method.
 *
 * Appends go through an AppendJournal (group commit, see `flushMs`): an update is durable once
 * its journal record is written, which costs one positional write instead of a SQLite
 * transaction touching five B-trees; SQLite gets the journaled updates 64 at a time, before
 * every read of the log or audit, and on close. One store per file (one process per data dir).
 */
export class SqliteDocStore implements DocStore {
  private readonly db: Database.Database;
  private readonly stmts;
  private closed = false;
  private readonly journal?: AppendJournal;
  /** Journaled, not yet in SQLite (ascending seq). */
  private pending: JournalRecord[] = [];
  private flushTimer?: NodeJS.Timeout;
  private flushSoonTimer?: NodeJS.Timeout;
  private readonly flushMs: number;
  private readonly maxPending: number;
  private readonly sync: boolean;
  /** Highest seq handed out (seqs of journaled updates are assigned here, not by SQLite). */
  private seq = 0;

  constructor(opts: SqliteDocStoreOptions) {
    if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true });
    this.db = new Database(opts.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS doc_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        doc TEXT NOT NULL, author TEXT NOT NULL, time INTEGER NOT NULL,
        size INTEGER NOT NULL, hash TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS doc_audit_doc ON doc_audit (doc, seq);
      CREATE TABLE IF NOT EXISTS doc_updates (
        seq INTEGER PRIMARY KEY, doc TEXT NOT NULL, data BLOB NOT NULL);
      CREATE INDEX IF NOT EXISTS doc_updates_doc ON doc_updates (doc, seq);
      CREATE TABLE IF NOT EXISTS doc_snapshots (
        doc TEXT PRIMARY KEY, seq INTEGER NOT NULL, data BLOB NOT NULL, time INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS doc_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL, label TEXT, author TEXT NOT NULL,
        time INTEGER NOT NULL, seq INTEGER NOT NULL, state BLOB NOT NULL);
      CREATE INDEX IF NOT EXISTS doc_versions_doc ON doc_versions (doc, id);
    `);
    this.stmts = {
      audit: this.db.prepare('INSERT INTO doc_audit (doc, author, time, size, hash) VALUES (?, ?, ?, ?, ?)'),
      update: this.db.prepare('INSERT INTO doc_updates (seq, doc, data) VALUES (?, ?, ?)'),
      snapshot: this.db.prepare('SELECT seq, data FROM doc_snapshots WHERE doc = ?'),
      snapshotSeq: this.db.prepare('SELECT seq FROM doc_snapshots WHERE doc = ?'),
      log: this.db.prepare('SELECT seq, data FROM doc_updates WHERE doc = ? ORDER BY seq'),
      putSnapshot: this.db.prepare('INSERT INTO doc_snapshots (doc, seq, data, time) VALUES (?, ?, ?, ?) ON CONFLICT (doc) DO UPDATE SET seq = excluded.seq, data = excluded.data, time = excluded.time'),
      dropLog: this.db.prepare('DELETE FROM doc_updates WHERE doc = ? AND seq <= ?'),
      addVersion: this.db.prepare('INSERT INTO doc_versions (doc, label, author, time, seq, state) VALUES (?, ?, ?, ?, ?, ?)'),
      listVersions: this.db.prepare('SELECT id, doc, label, author, time, seq FROM doc_versions WHERE doc = ? AND id > ? ORDER BY id LIMIT ?'),
      getVersion: this.db.prepare('SELECT id, doc, label, author, time, seq, state FROM doc_versions WHERE doc = ? AND id = ?'),
      auditList: this.db.prepare('SELECT seq, author, time, size, hash FROM doc_audit WHERE doc = ? AND seq > ? AND time >= ? ORDER BY seq LIMIT ?'),
      ping: this.db.prepare('SELECT 1'),
      putAudit: this.db.prepare('INSERT OR IGNORE INTO doc_audit (seq, doc, author, time, size, hash) VALUES (?, ?, ?, ?, ?, ?)'),
      putUpdate: this.db.prepare('INSERT OR IGNORE INTO doc_updates (seq, doc, data) VALUES (?, ?, ?)'),
      maxSeq: this.db.prepare("SELECT max(seq) AS seq FROM (SELECT max(seq) AS seq FROM doc_audit UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'doc_audit')"),
    };
    this.flushMs = opts.flushMs ?? 1000;
    this.maxPending = Math.max(1, opts.maxPending ?? 64);
    this.sync = opts.synchronous === 'full';
    if (opts.file !== ':memory:' && this.flushMs > 0) {
      const { journal, leftover } = AppendJournal.open(`${opts.file}.aqjournal`);
      // Updates a killed process had acknowledged: into the database before anything else. Records
      // at or below the highest audited seq are in already (audit rows are never removed; their
      // log rows may have been compacted away and must not come back).
      const committed = (this.stmts.maxSeq.get() as { seq: number | null }).seq ?? 0;
      this.commit(leftover.filter((r) => r.seq > committed));
      journal.reset(true);
      this.journal = journal;
    }
    this.seq = (this.stmts.maxSeq.get() as { seq: number | null }).seq ?? 0;
  }

  /** Writes journal records into SQLite in one transaction (idempotent: replays may repeat). */
  private commit(records: JournalRecord[]): void {
    if (records.length === 0) return;
    this.db.transaction(() => {
      for (const r of records) {
        this.stmts.putAudit.run(r.seq, r.doc, r.author, r.time, r.update.byteLength, r.hash);
        this.stmts.putUpdate.run(r.seq, r.doc, Buffer.from(r.update.buffer, r.update.byteOffset, r.update.byteLength));
      }
    }).immediate();
  }

  /** Moves every journaled update into SQLite, then empties the journal. Throws when SQLite fails. */
  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    clearTimeout(this.flushSoonTimer);
    this.flushSoonTimer = undefined;
    if (this.pending.length === 0 || !this.journal) return;
    this.commit(this.pending);
    this.pending = [];
    this.journal.reset();
  }

  /**
   * With `maxPending` waiting: flush on the next turn of the event loop (a 0 ms timer), after this
   * turn's callbacks, promise jobs and immediates, so the update that filled the batch is broadcast
   * (the `/yjs` transport writes broadcasts from an immediate) before the transaction runs.
   */
  private flushSoon(): void {
    if (this.flushSoonTimer) return;
    this.flushSoonTimer = setTimeout(() => {
      this.flushSoonTimer = undefined;
      try { this.flush(); } catch { /* retried by the next append or read */ }
    }, 0);
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      // A failure leaves the updates journaled (durable); the next append or read retries.
      try { this.flush(); } catch { /* retried */ }
    }, this.flushMs);
    this.flushTimer.unref();
  }

  /** The store for a config: `<dataDir>/<docs.sqliteFile>`. */
  static forDataDir(dataDir: string, file: string, synchronous: 'normal' | 'full', flushMs?: number): SqliteDocStore {
    return new SqliteDocStore({ file: isAbsolute(file) || file === ':memory:' ? file : join(dataDir, file), synchronous, flushMs });
  }

  private check(): void {
    if (this.closed) throw new Error('doc store is closed');
  }

  async append(input: AppendInput): Promise<{ seq: number; hash: string }> {
    this.check();
    const hash = hashUpdate(input.update);
    if (this.journal) {
      // Normally flushed soon after maxPending; a hard bound in case that keeps failing.
      if (this.pending.length >= 2 * this.maxPending || this.journal.size >= MAX_JOURNAL_BYTES) this.flush();
      const seq = this.seq + 1;
      this.journal.append({ seq, doc: input.doc, author: input.author, time: input.time, hash, update: input.update }, this.sync);
      this.seq = seq;
      this.pending.push({ seq, doc: input.doc, author: input.author, time: input.time, hash, update: input.update });
      if (this.pending.length >= this.maxPending) this.flushSoon();
      else this.scheduleFlush();
      return { seq, hash };
    }
    const seq = this.db.transaction(() => {
      const info = this.stmts.audit.run(input.doc, input.author, input.time, input.update.byteLength, hash);
      const s = Number(info.lastInsertRowid);
      this.stmts.update.run(s, input.doc, Buffer.from(input.update.buffer, input.update.byteOffset, input.update.byteLength));
      return s;
    }).immediate();
    this.seq = seq;
    return { seq, hash };
  }

  async load(doc: string): Promise<StoredDoc> {
    this.check();
    this.flush();
    // One read transaction: snapshot and log come from the same committed state.
    return this.db.transaction(() => {
      const snap = this.stmts.snapshot.get(doc) as { seq: number; data: Buffer } | undefined;
      const rows = this.stmts.log.all(doc) as Array<{ seq: number; data: Buffer }>;
      let logBytes = 0;
      const updates = rows.map((r) => {
        logBytes += r.data.byteLength;
        return { seq: r.seq, update: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength) };
      });
      return {
        snapshot: snap ? new Uint8Array(snap.data.buffer, snap.data.byteOffset, snap.data.byteLength) : null,
        snapshotSeq: snap?.seq ?? 0,
        updates,
        logBytes,
      };
    }).deferred();
  }

  async compact(doc: string, from?: CompactFrom): Promise<CompactResult> {
    this.check();
    this.flush();
    if (from) {
      return this.db.transaction((): CompactResult => {
        const snap = this.stmts.snapshotSeq.get(doc) as { seq: number } | undefined;
        if (snap && snap.seq >= from.seq) return { snapshotSeq: snap.seq, folded: 0 };
        const { changes } = this.stmts.dropLog.run(doc, from.seq);
        this.stmts.putSnapshot.run(doc, from.seq, Buffer.from(from.state.buffer, from.state.byteOffset, from.state.byteLength), Date.now());
        return { snapshotSeq: from.seq, folded: changes };
      }).immediate();
    }
    return this.db.transaction((): CompactResult => {
      const snap = this.stmts.snapshot.get(doc) as { seq: number; data: Buffer } | undefined;
      const rows = this.stmts.log.all(doc) as Array<{ seq: number; data: Buffer }>;
      if (rows.length === 0) return { snapshotSeq: snap?.seq ?? 0, folded: 0 };
      const state = foldUpdates(snap ? snap.data : null, rows.map((r) => r.data));
      const top = rows[rows.length - 1].seq;
      this.stmts.putSnapshot.run(doc, top, Buffer.from(state.buffer, state.byteOffset, state.byteLength), Date.now());
      this.stmts.dropLog.run(doc, top);
      return { snapshotSeq: top, folded: rows.length };
    }).immediate();
  }

  async createVersion(input: CreateVersionInput): Promise<DocVersion> {
    this.check();
    const info = this.stmts.addVersion.run(input.doc, input.label, input.author, input.time, input.seq,
      Buffer.from(input.state.buffer, input.state.byteOffset, input.state.byteLength));
    return { id: String(info.lastInsertRowid), doc: input.doc, label: input.label, author: input.author, time: input.time, seq: input.seq };
  }

  async listVersions(doc: string, opts: { limit: number; after?: string }): Promise<DocVersion[]> {
    this.check();
    const after = opts.after !== undefined && /^\d+$/.test(opts.after) ? Number(opts.after) : 0;
    const rows = this.stmts.listVersions.all(doc, after, opts.limit) as VersionRow[];
    return rows.map(toVersion);
  }

  async getVersion(doc: string, id: string): Promise<DocVersionWithState | null> {
    this.check();
    if (!/^\d{1,15}$/.test(id)) return null;
    const row = this.stmts.getVersion.get(doc, Number(id)) as (VersionRow & { state: Buffer }) | undefined;
    if (!row) return null;
    return { ...toVersion(row), state: new Uint8Array(row.state.buffer, row.state.byteOffset, row.state.byteLength) };
  }

  async audit(doc: string, opts: { sinceSeq?: number; sinceTime?: number; limit: number }): Promise<AuditEntry[]> {
    this.check();
    this.flush();
    return this.stmts.auditList.all(doc, opts.sinceSeq ?? 0, opts.sinceTime ?? 0, opts.limit) as AuditEntry[];
  }

  async ping(): Promise<void> {
    this.check();
    this.stmts.ping.get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.flush();
    } finally {
      // Whatever could not be flushed stays in the journal and is committed on the next open.
      this.journal?.close();
      this.db.close();
    }
  }
}

function toVersion(r: VersionRow): DocVersion {
  return { id: String(r.id), doc: r.doc, label: r.label, author: r.author, time: r.time, seq: r.seq };
}
