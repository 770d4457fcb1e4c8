import pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import {
  foldUpdates, hashUpdate,
  type AppendInput, type AuditEntry, type CompactFrom, type CompactResult, type CreateVersionInput, type DocStore,
  type DocVersion, type DocVersionWithState, type StoredDoc,
} from './doc-store.js';

export interface PostgresDocStoreOptions {
  /** `postgres://user:pass@host:port/db` */
  url: string;
  logger?: Logger;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** A query that takes longer fails (the write is refused, not left hanging). Default 10,000. */
  queryTimeoutMs?: number;
  /** Waiting for a connection (pool or network) longer than this fails. Default 5000. */
  connectTimeoutMs?: number;
  /** Table name prefix, for sharing a database. Default `aq_`. */
  tablePrefix?: string;
}

/** Advisory lock namespaces (first key of the two-int form). */
const LOCK_MIGRATE = 0x61710001;
const LOCK_APPEND = 0x61710002;
const LOCK_COMPACT = 0x61710003;

/**
 * Schema versions, applied in order inside one transaction each, under an advisory lock so that
 * nodes starting together do not race. `{p}` is the table prefix.
 */
const MIGRATIONS: string[] = [
  `CREATE TABLE {p}doc_audit (
     seq bigserial PRIMARY KEY, doc text NOT NULL, author text NOT NULL, time bigint NOT NULL,
     size integer NOT NULL, hash text NOT NULL);
   CREATE INDEX {p}doc_audit_doc ON {p}doc_audit (doc, seq);
   CREATE TABLE {p}doc_updates (seq bigint PRIMARY KEY, doc text NOT NULL, data bytea NOT NULL);
   CREATE INDEX {p}doc_updates_doc ON {p}doc_updates (doc, seq);
   CREATE TABLE {p}doc_snapshots (doc text PRIMARY KEY, seq bigint NOT NULL, data bytea NOT NULL, time bigint NOT NULL);
   CREATE TABLE {p}doc_versions (
     id bigserial PRIMARY KEY, doc text NOT NULL, label text, author text NOT NULL, time bigint NOT NULL,
     seq bigint NOT NULL, state bytea NOT NULL);
   CREATE INDEX {p}doc_versions_doc ON {p}doc_versions (doc, id);
   -- One statement, one round trip: per-document lock (so seqs of a document commit in order),
   -- audit row and log row in the caller's transaction.
   CREATE FUNCTION {p}doc_append(p_doc text, p_author text, p_time bigint, p_hash text, p_data bytea)
   RETURNS bigint LANGUAGE plpgsql AS $$
   DECLARE s bigint;
   BEGIN
     PERFORM pg_advisory_xact_lock(${LOCK_APPEND}, hashtext(p_doc));
     INSERT INTO {p}doc_audit (doc, author, time, size, hash)
       VALUES (p_doc, p_author, p_time, octet_length(p_data), p_hash) RETURNING seq INTO s;
     INSERT INTO {p}doc_updates (seq, doc, data) VALUES (s, p_doc, p_data);
     RETURN s;
   END $$;`,
];

interface VersionRow { id: string; doc: string; label: string | null; author: string; time: string; seq: string }

const bytes = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * DocStore on PostgreSQL (`DATABASE_URL`), for clusters: every node reads and writes the same
 * tables. Migrations run at start (`ready`). `append` is one statement (a function holding a
 * per-document advisory lock), so it is durable once it resolves and a document's seqs commit in
 * order. `compact` runs in one transaction under a per-document advisory lock taken with `try`: one
 * node compacts a document at a time (the others return `folded: 0`), and a node that dies midway
 * leaves nothing behind — its transaction rolls back and its lock goes with its connection.
 */
export class PostgresDocStore implements DocStore {
  /** The store for a config (`databaseUrl`, `postgres.*`). */
  static forConfig(config: Config, logger?: Logger): PostgresDocStore {
    if (!config.databaseUrl) throw new Error('databaseUrl is not set');
    const p = config.postgres;
    return new PostgresDocStore({ url: config.databaseUrl, logger, poolSize: p.poolSize, queryTimeoutMs: p.queryTimeoutMs, connectTimeoutMs: p.connectTimeoutMs, tablePrefix: p.tablePrefix });
  }

  private readonly pool: pg.Pool;
  private readonly p: string;
  private readonly logger?: Logger;
  private closed = false;
  private migration?: Promise<void>;

  constructor(opts: PostgresDocStoreOptions) {
    this.p = opts.tablePrefix ?? 'aq_';
    if (!/^[a-z_][a-z0-9_]{0,30}$/.test(this.p)) throw new Error(`invalid table prefix "${this.p}"`);
    this.logger = opts.logger;
    const queryTimeoutMs = opts.queryTimeoutMs ?? 10_000;
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      query_timeout: queryTimeoutMs,
      statement_timeout: queryTimeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: 'aqueduct',
    });
    // An idle client losing its connection (PostgreSQL restart) must not crash the process.
    this.pool.on('error', (err) => this.logger?.warn({ err: err.message }, 'postgres: idle connection error'));
    // Start migrating at once; callers see a failure on their first call (and it is retried then).
    this.ready.catch(() => undefined);
  }

  /**
   * Resolves once migrations ran; every method waits for it. If they failed (PostgreSQL down at
   * start), the next call tries again instead of failing forever.
   */
  get ready(): Promise<void> {
    this.migration ??= this.migrate().catch((err: unknown) => {
      this.migration = undefined;
      this.logger?.error({ err: (err as Error).message }, 'postgres: migrations failed; retrying on the next request');
      throw err;
    });
    return this.migration;
  }

  private sql(text: string): string {
    return text.replaceAll('{p}', this.p);
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1, 0)', [LOCK_MIGRATE]);
      try {
        await client.query(this.sql('CREATE TABLE IF NOT EXISTS {p}migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())'));
        const { rows } = await client.query<{ v: number | null }>(this.sql('SELECT max(version) AS v FROM {p}migrations'));
        for (let v = (rows[0]?.v ?? 0) + 1; v <= MIGRATIONS.length; v++) {
          await client.query('BEGIN');
          try {
            await client.query(this.sql(MIGRATIONS[v - 1]));
            await client.query(this.sql('INSERT INTO {p}migrations (version) VALUES ($1)'), [v]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK');
            throw err;
          }
          this.logger?.info({ version: v }, 'postgres: migration applied');
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, 0)', [LOCK_MIGRATE]);
      }
    } finally {
      client.release();
    }
  }

  private async check(): Promise<void> {
    if (this.closed) throw new Error('doc store is closed');
    await this.ready;
  }

  async append(input: AppendInput): Promise<{ seq: number; hash: string }> {
    await this.check();
    const hash = hashUpdate(input.update);
    const { rows } = await this.pool.query<{ seq: string }>(
      this.sql('SELECT {p}doc_append($1, $2, $3, $4, $5) AS seq'),
      [input.doc, input.author, input.time, hash, buf(input.update)],
    );
    return { seq: Number(rows[0].seq), hash };
  }

  async load(doc: string): Promise<StoredDoc> {
    await this.check();
    // One statement sees one committed state: snapshot and log cannot come from different sides
    // of a compaction.
    const { rows } = await this.pool.query<{ kind: number; seq: string; data: Buffer }>(this.sql(`
      SELECT 0 AS kind, seq, data FROM {p}doc_snapshots WHERE doc = $1
      UNION ALL
      SELECT 1 AS kind, seq, data FROM {p}doc_updates WHERE doc = $1
      ORDER BY kind, seq`), [doc]);
    let snapshot: Uint8Array | null = null;
    let snapshotSeq = 0;
    let logBytes = 0;
    const updates: StoredDoc['updates'] = [];
    for (const r of rows) {
      if (r.kind === 0) {
        snapshot = bytes(r.data);
        snapshotSeq = Number(r.seq);
      } else {
        logBytes += r.data.byteLength;
        updates.push({ seq: Number(r.seq), update: bytes(r.data) });
      }
    }
    return { snapshot, snapshotSeq, updates, logBytes };
  }

  async compact(doc: string, from?: CompactFrom): Promise<CompactResult> {
    await this.check();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok', [LOCK_COMPACT, doc]);
        const snap = await client.query<{ seq: string; data: Buffer }>(this.sql('SELECT seq, data FROM {p}doc_snapshots WHERE doc = $1 FOR UPDATE'), [doc]);
        const snapSeq = snap.rows[0] ? Number(snap.rows[0].seq) : 0;
        if (!lock.rows[0].ok || (from && snapSeq >= from.seq)) {
          // Another node is compacting this document right now, or the snapshot is newer already.
          await client.query('ROLLBACK');
          return { snapshotSeq: snapSeq, folded: 0 };
        }
        if (from) {
          await client.query(this.sql(`INSERT INTO {p}doc_snapshots (doc, seq, data, time) VALUES ($1, $2, $3, $4)
            ON CONFLICT (doc) DO UPDATE SET seq = excluded.seq, data = excluded.data, time = excluded.time`), [doc, from.seq, buf(from.state), Date.now()]);
          const dropped = await client.query(this.sql('DELETE FROM {p}doc_updates WHERE doc = $1 AND seq <= $2'), [doc, from.seq]);
          await client.query('COMMIT');
          return { snapshotSeq: from.seq, folded: dropped.rowCount ?? 0 };
        }
        const log = await client.query<{ seq: string; data: Buffer }>(this.sql('SELECT seq, data FROM {p}doc_updates WHERE doc = $1 ORDER BY seq'), [doc]);
        if (log.rows.length === 0) {
          await client.query('ROLLBACK');
          return { snapshotSeq: snapSeq, folded: 0 };
        }
        const state = foldUpdates(snap.rows[0]?.data ?? null, log.rows.map((r) => r.data));
        const seqs = log.rows.map((r) => r.seq);
        const top = seqs[seqs.length - 1];
        await client.query(this.sql(`INSERT INTO {p}doc_snapshots (doc, seq, data, time) VALUES ($1, $2, $3, $4)
          ON CONFLICT (doc) DO UPDATE SET seq = excluded.seq, data = excluded.data, time = excluded.time`), [doc, top, buf(state), Date.now()]);
        // Exactly the folded rows: an append that committed after the read stays in the log.
        await client.query(this.sql('DELETE FROM {p}doc_updates WHERE doc = $1 AND seq = ANY($2::bigint[])'), [doc, seqs]);
        await client.query('COMMIT');
        return { snapshotSeq: Number(top), folded: seqs.length };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } finally {
      client.release();
    }
  }

  async createVersion(input: CreateVersionInput): Promise<DocVersion> {
    await this.check();
    const { rows } = await this.pool.query<{ id: string }>(
      this.sql('INSERT INTO {p}doc_versions (doc, label, author, time, seq, state) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id'),
      [input.doc, input.label, input.author, input.time, input.seq, buf(input.state)],
    );
    return { id: String(rows[0].id), doc: input.doc, label: input.label, author: input.author, time: input.time, seq: input.seq };
  }

  async listVersions(doc: string, opts: { limit: number; after?: string }): Promise<DocVersion[]> {
    await this.check();
    const after = opts.after !== undefined && /^\d{1,15}$/.test(opts.after) ? opts.after : '0';
    const { rows } = await this.pool.query<VersionRow>(
      this.sql('SELECT id, doc, label, author, time, seq FROM {p}doc_versions WHERE doc = $1 AND id > $2 ORDER BY id LIMIT $3'),
      [doc, after, Math.max(0, opts.limit)],
    );
    return rows.map(toVersion);
  }

  async getVersion(doc: string, id: string): Promise<DocVersionWithState | null> {
    await this.check();
    if (!/^\d{1,15}$/.test(id)) return null;
    const { rows } = await this.pool.query<VersionRow & { state: Buffer }>(
      this.sql('SELECT id, doc, label, author, time, seq, state FROM {p}doc_versions WHERE doc = $1 AND id = $2'), [doc, id],
    );
    const row = rows[0];
    return row ? { ...toVersion(row), state: bytes(row.state) } : null;
  }

  async audit(doc: string, opts: { sinceSeq?: number; sinceTime?: number; limit: number }): Promise<AuditEntry[]> {
    await this.check();
    const { rows } = await this.pool.query<{ seq: string; author: string; time: string; size: number; hash: string }>(
      this.sql('SELECT seq, author, time, size, hash FROM {p}doc_audit WHERE doc = $1 AND seq > $2 AND time >= $3 ORDER BY seq LIMIT $4'),
      [doc, opts.sinceSeq ?? 0, opts.sinceTime ?? 0, Math.max(0, opts.limit)],
    );
    return rows.map((r) => ({ seq: Number(r.seq), author: r.author, time: Number(r.time), size: r.size, hash: r.hash }));
  }

  async ping(): Promise<void> {
    await this.check();
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.migration?.catch(() => undefined);
    await this.pool.end();
  }
}

function toVersion(r: VersionRow): DocVersion {
  return { id: String(r.id), doc: r.doc, label: r.label, author: r.author, time: Number(r.time), seq: Number(r.seq) };
}
