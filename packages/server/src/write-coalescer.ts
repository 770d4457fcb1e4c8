/**
 * Write coalescing shared by the `/ws` and `/yjs` transports. A target (a connection, a document's
 * room) queues what it owes and its queue leaves in one go when the Flusher calls `flush`. A
 * target whose last write is older than the window flushes on the next tick, so sparse traffic is
 * not delayed; one that wrote within the window waits for the window's end, so a busy target is
 * written at most about once per window. Window 0: every target flushes once per event-loop tick.
 */
export interface Flushable {
  /** performance.now() of the target's last write (the window is per target). */
  lastFlushAt: number;
  /** Writes what is queued (nothing when the queue is empty). */
  flush(now: number): void;
}

export class Flusher<T extends Flushable = Flushable> {
  private readonly soon = new Set<T>();
  private readonly later = new Set<T>();
  private soonScheduled = false;
  private laterScheduled = false;
  constructor(private readonly windowMs: number) {}

  /** Schedules `t`'s flush; `urgent` ignores the window (latency-critical traffic). */
  add(t: T, urgent = false): void {
    const sinceFlush = performance.now() - t.lastFlushAt;
    if (urgent || this.windowMs === 0 || sinceFlush >= this.windowMs) {
      this.soon.add(t);
      if (this.soonScheduled) return;
      this.soonScheduled = true;
      setImmediate(this.flushSoon);
    } else {
      this.later.add(t);
      if (this.laterScheduled) return;
      this.laterScheduled = true;
      // At the end of this target's window; the others queued meanwhile go with it (their
      // windows end within one window of it).
      setTimeout(this.flushLater, Math.max(1, this.windowMs - sinceFlush));
    }
  }

  private readonly flushSoon = (): void => {
    this.soonScheduled = false;
    Flusher.drain(this.soon);
  };

  private readonly flushLater = (): void => {
    this.laterScheduled = false;
    Flusher.drain(this.later);
  };

  private static drain<T extends Flushable>(set: Set<T>): void {
    const now = performance.now();
    for (const t of set) t.flush(now);
    set.clear();
  }
}
