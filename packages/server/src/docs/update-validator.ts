import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import * as Y from 'yjs';

/** Why an update was rejected (also the `reason` label of `aqueduct_doc_updates_rejected_total`). */
export type UpdateRejectCode = 'EMPTY' | 'TOO_LARGE' | 'UNDECODABLE' | 'OUT_OF_RANGE' | 'TIMEOUT' | 'APPLY_FAILED' | 'READ_ONLY' | 'OVERLOADED' | 'UNAVAILABLE';

/** A rejected update: `code` is stable, `message` is for logs and the client. */
export class UpdateRejected extends Error {
  constructor(readonly code: UpdateRejectCode, message: string) {
    super(message);
    this.name = 'UpdateRejected';
  }
}

/**
 * Largest clock (plus length) a struct or deletion may reach. Real clocks count operations of one
 * client and stay far below; a huge clock or length is how a crafted update makes later merges and
 * encodings allocate or loop without bound.
 */
export const MAX_CLOCK = 2 ** 31;

/** Checks that need no decoding: not empty, not too large. Throws UpdateRejected. */
export function checkSize(update: Uint8Array, maxUpdateBytes: number): void {
  if (update.byteLength === 0) throw new UpdateRejected('EMPTY', 'empty update');
  if (update.byteLength > maxUpdateBytes) throw new UpdateRejected('TOO_LARGE', `update of ${update.byteLength} bytes exceeds ${maxUpdateBytes}`);
}

/**
 * Cheap checks in the calling thread: not empty, not too large, decodes completely, clocks and
 * lengths in range. Throws UpdateRejected.
 */
export function checkUpdate(update: Uint8Array, maxUpdateBytes: number): void {
  checkSize(update, maxUpdateBytes);
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  try {
    decoded = Y.decodeUpdate(update);
  } catch (err) {
    throw new UpdateRejected('UNDECODABLE', `update does not decode: ${(err as Error).message}`);
  }
  for (const s of decoded.structs) {
    if (!(s.id.clock >= 0 && s.length >= 0 && s.id.clock + s.length <= MAX_CLOCK)) {
      throw new UpdateRejected('OUT_OF_RANGE', 'update has a clock or length out of range');
    }
  }
  for (const items of decoded.ds.clients.values()) {
    for (const d of items) {
      if (!(d.clock >= 0 && d.len >= 0 && d.clock + d.len <= MAX_CLOCK)) throw new UpdateRejected('OUT_OF_RANGE', 'update deletes a range out of range');
    }
  }
}

// The worker is plain CommonJS evaluated from a string, so it runs the same from the TypeScript
// sources and from the compiled build; it loads Yjs' CommonJS build by absolute path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Y = require(workerData.yjsPath);
const MAX_CLOCK = ${MAX_CLOCK};
parentPort.on('message', (batch) => {
  const results = [];
  for (const { id, update } of batch) {
    try {
      const { structs, ds } = Y.decodeUpdate(update);
      let ok = true;
      for (const s of structs) if (!(s.id.clock + s.length <= MAX_CLOCK)) ok = false;
      for (const items of ds.clients.values()) for (const d of items) if (!(d.clock + d.len <= MAX_CLOCK)) ok = false;
      results.push(ok ? { id, ok: true } : { id, ok: false, code: 'OUT_OF_RANGE', message: 'update has a clock or length out of range' });
    } catch (err) {
      results.push({ id, ok: false, code: 'UNDECODABLE', message: 'update does not decode: ' + String(err && err.message || err) });
    }
  }
  parentPort.postMessage(results);
});
`;

/** Jobs sent to the worker in one message at most (amortises the thread hop). */
const MAX_BATCH = 256;

interface Job { id: number; update: Uint8Array; resolve: () => void; reject: (e: Error) => void; solo?: boolean }

/**
 * Decodes each update first in a worker thread with a time budget, so an update whose decoding
 * would never return (yjs #479, #498: lib0 reads that loop) costs a worker, not the server. Only
 * then does the server thread decode and apply it, with every clock and length bounded by
 * MAX_CLOCK, so the apply's work is proportional to the update's size. (A trial *apply* in the
 * worker would need the document's state there, and applying a typical update to an empty document
 * only parks it as pending, so it proves little and costs ~0.2 ms per update.)
 * The worker is terminated after `timeoutMs` and replaced on the next job. Waiting jobs go to the worker in batches; when a
 * batch times out, its jobs are retried one by one so only the culprit is rejected.
 * At most `maxQueued` jobs wait.
 */
export class UpdateGuard {
  private worker?: Worker;
  private readonly queue: Job[] = [];
  private current?: { jobs: Map<number, Job>; timer: NodeJS.Timeout };
  private nextId = 1;
  private closed = false;
  private readonly yjsPath = createRequire(import.meta.url).resolve('yjs');

  constructor(private readonly opts: {
    timeoutMs: number;
    maxQueued: number;
    memoryMb?: number;
    /** Worker program (CommonJS, receives arrays of {id, update}, answers arrays of {id, ok, code?, message?}). */
    workerSource?: string;
  }) {}

  /** Resolves when the trial succeeded; rejects with UpdateRejected otherwise. */
  check(update: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new UpdateRejected('UNAVAILABLE', 'server is shutting down'));
    if (this.queue.length >= this.opts.maxQueued) return Promise.reject(new UpdateRejected('OVERLOADED', 'too many updates waiting for validation'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, update, resolve, reject });
      this.pump();
    });
  }

  private spawn(): Worker {
    const w = new Worker(this.opts.workerSource ?? WORKER_SOURCE, {
      eval: true,
      workerData: { yjsPath: this.yjsPath },
      resourceLimits: { maxOldGenerationSizeMb: this.opts.memoryMb ?? 256 },
      // The worker must not inherit loaders (tsx) meant for the main thread.
      execArgv: [],
    });
    w.unref();
    w.on('message', (results: Array<{ id: number; ok: boolean; code?: 'UNDECODABLE' | 'OUT_OF_RANGE'; message?: string }>) => {
      const cur = this.current;
      if (!cur || this.worker !== w) return;
      clearTimeout(cur.timer);
      this.current = undefined;
      for (const r of results) {
        const job = cur.jobs.get(r.id);
        if (!job) continue;
        cur.jobs.delete(r.id);
        if (r.ok) job.resolve();
        else job.reject(new UpdateRejected(r.code ?? 'UNDECODABLE', r.message ?? 'update rejected'));
      }
      // Anything unanswered goes back to the front of the queue.
      this.queue.unshift(...cur.jobs.values());
      this.pump();
    });
    const onDeath = (err?: Error) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      this.failCurrent(`update validation crashed: ${err?.message ?? 'worker exited'}`, 'APPLY_FAILED');
      this.pump();
    };
    w.on('error', onDeath);
    w.on('exit', () => onDeath());
    return w;
  }

  /** The batch in flight failed as a whole: a single job is rejected, several are retried alone. */
  private failCurrent(message: string, code: 'APPLY_FAILED' | 'TIMEOUT'): void {
    const cur = this.current;
    if (!cur) return;
    clearTimeout(cur.timer);
    this.current = undefined;
    const jobs = [...cur.jobs.values()];
    if (jobs.length === 1) {
      jobs[0].reject(new UpdateRejected(code, message));
      return;
    }
    for (const j of jobs) j.solo = true;
    this.queue.unshift(...jobs);
  }

  private pump(): void {
    if (this.current || this.closed || this.queue.length === 0) return;
    const batch: Job[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && batch.length < MAX_BATCH) {
      const next = this.queue[0];
      if (batch.length > 0 && (next.solo || batch[0].solo || bytes + next.update.byteLength > 1024 * 1024)) break;
      batch.push(this.queue.shift() as Job);
      bytes += next.update.byteLength;
      if (next.solo) break;
    }
    this.worker ??= this.spawn();
    const worker = this.worker;
    const timer = setTimeout(() => {
      if (this.current?.timer !== timer) return;
      this.worker = undefined;
      void worker.terminate();
      this.failCurrent(`update did not finish applying within ${this.opts.timeoutMs} ms`, 'TIMEOUT');
      this.pump();
    }, this.opts.timeoutMs);
    this.current = { jobs: new Map(batch.map((j) => [j.id, j])), timer };
    worker.postMessage(batch.map((j) => ({ id: j.id, update: j.update })));
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = new UpdateRejected('UNAVAILABLE', 'server is shutting down');
    if (this.current) {
      clearTimeout(this.current.timer);
      for (const j of this.current.jobs.values()) j.reject(err);
      this.current = undefined;
    }
    for (const j of this.queue.splice(0)) j.reject(err);
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
