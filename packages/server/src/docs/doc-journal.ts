import { closeSync, constants, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';

/** One appended update as the journal holds it until it is in the database. */
export interface JournalRecord {
  seq: number;
  doc: string;
  author: string;
  time: number;
  hash: string;
  update: Uint8Array;
}

/**
 * Record layout (little endian): u32 body length, u32 CRC-32 of the body, then the body:
 * u32 meta length, meta as UTF-8 JSON `{seq, doc, author, time, hash}`, the update bytes.
 */
export function encodeRecord(r: JournalRecord): Buffer {
  // The meta is written straight into the record (one allocation per record).
  const meta = JSON.stringify({ seq: r.seq, doc: r.doc, author: r.author, time: r.time, hash: r.hash });
  const metaLength = Buffer.byteLength(meta);
  const bodyLength = 4 + metaLength + r.update.byteLength;
  const out = Buffer.allocUnsafe(8 + bodyLength);
  out.writeUInt32LE(bodyLength, 0);
  out.writeUInt32LE(metaLength, 8);
  out.write(meta, 12, metaLength, 'utf8');
  out.set(r.update, 12 + metaLength);
  out.writeUInt32LE(crc32(out.subarray(8)), 4);
  return out;
}

/**
 * The intact records from the start with seq ascending; stops at the first torn or corrupt one,
 * or where seq stops growing (older records of an earlier round, which the file is reused over).
 */
export function decodeRecords(buf: Buffer): JournalRecord[] {
  const out: JournalRecord[] = [];
  let pos = 0;
  let last = -1;
  while (buf.length - pos >= 12) {
    const bodyLength = buf.readUInt32LE(pos);
    if (bodyLength < 4 || bodyLength > buf.length - pos - 8) break;
    const body = buf.subarray(pos + 8, pos + 8 + bodyLength);
    if (crc32(body) !== buf.readUInt32LE(pos + 4)) break;
    const metaLength = body.readUInt32LE(0);
    if (metaLength > bodyLength - 4) break;
    let meta: { seq: number; doc: string; author: string; time: number; hash: string };
    try { meta = JSON.parse(body.subarray(4, 4 + metaLength).toString('utf8')) as typeof meta; } catch { break; }
    if (!(meta.seq > last)) break;
    last = meta.seq;
    out.push({ ...meta, update: new Uint8Array(body.subarray(4 + metaLength)) });
    pos += 8 + bodyLength;
  }
  return out;
}

/** Once the journal holds this much and everything in it is committed, writing starts over at 0. */
const RECYCLE_BYTES = 4 * 1024 * 1024;

/**
 * A file of updates that are durable but not yet in the database: one positional `write` per
 * record (in the OS page cache when it returns, so a killed process loses nothing; with `sync`,
 * on disk). Records committed to the database stay in the file; once it holds RECYCLE_BYTES and
 * all of it is committed, writing starts over at offset 0 over the old bytes, so the file stops
 * growing (no block allocation per write) — and a page is rewritten only minutes later, long
 * after it was written back (rewriting a page under writeback can stall). Readers skip records
 * the database already has (their seq is not above its highest).
 */
export class AppendJournal {
  private fd: number;
  /** Where the next record goes. */
  private length = 0;
  private highWater = 0;
  /** Whether the file holds records not yet committed to the database. */
  private uncommitted = false;

  /**
   * Opens (creating) the journal and returns the records a previous process left in it. The
   * caller commits them and calls `reset(true)` before the first `append` (a torn tail must go).
   */
  static open(path: string): { journal: AppendJournal; leftover: JournalRecord[] } {
    const journal = new AppendJournal(path);
    return { journal, leftover: journal.length > 0 ? decodeRecords(readFileSync(path)) : [] };
  }

  private constructor(private readonly path: string) {
    this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT);
    this.length = fstatSync(this.fd).size;
    this.highWater = this.length;
  }

  /** Where the next record goes (bytes since the file was last started over). */
  get size(): number {
    return this.length;
  }

  /** Writes one record; on failure the file is cut back so no torn record precedes later ones. */
  append(record: JournalRecord, sync: boolean): void {
    const bytes = encodeRecord(record);
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, this.length + done);
      if (sync) fdatasyncSync(this.fd);
    } catch (err) {
      // A torn record would hide every later one: cut it (the file is only ever read up to it).
      if (this.length + bytes.length > this.highWater) ftruncateSync(this.fd, Math.max(this.length, this.highWater));
      else writeSync(this.fd, Buffer.alloc(8), 0, 8, this.length);
      throw err;
    }
    this.length += bytes.length;
    if (this.length > this.highWater) this.highWater = this.length;
    this.uncommitted = true;
  }

  /**
   * Every record is in the database now; past RECYCLE_BYTES (or with `startOver`, which `open`'s
   * caller uses so that no torn tail of a killed process precedes new records) the next one goes
   * to offset 0.
   */
  reset(startOver = false): void {
    this.uncommitted = false;
    if (startOver || this.length >= RECYCLE_BYTES) this.length = 0;
  }

  /** Closes the file; removes it when everything in it is in the database. */
  close(): void {
    closeSync(this.fd);
    if (!this.uncommitted) {
      try { unlinkSync(this.path); } catch { /* already gone */ }
    }
  }
}
