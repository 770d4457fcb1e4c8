/**
 * Write coalescing shared by the `/ws` and `/yjs` transports. A target (a connection, a document's
 * room) queues what it owes; the Flusher decides when the queue leaves, in one socket write.
 *
 * Light load (the common case): every target with something queued is flushed on the next
 * event-loop tick, so nothing waits beyond the tick it was produced in.
 *
 * Heavy load: a loopback `write` costs ≈ 10 µs on a small VM, so a publication to 1,000
 * subscribers is 10 ms of writes; at 100 publications/s writing alone would fill the event loop and
 * latency would pile up behind it. The Flusher measures, over sample periods of `SAMPLE_MS`, how
 * long its writes take and what writing every frame separately would cost. When that would take
 * more than `writeShare` of the time, it opens a window: each target is written at most once per
 * window (everything it was owed since then leaves in that one write), with the window sized so
 * that writes take about `writeShare` of the time (`targets × cost per write / writeShare`, at most
 * `maxGapMs`). Targets' windows are staggered over the window's length (each target has a phase),
 * so the writes are spread evenly instead of all targets being written in one burst: a frame waits
 * at most one window for its target's slot, and no burst of a thousand writes blocks the loop.
 * `windowMs` (configured) is a floor for the window, adaptive or not.
 *
 * Order is kept: a target's queue leaves whole, in order. Urgent targets (latency-critical rooms,
 * `coalesce: false`) skip the window and flush on the next tick, taking their whole queue with them.
 */
export interface Flushable {
  /** Writes what is queued; returns how many frames it wrote (0 when the queue was empty). */
  flush(): number;
  /** Stagger phase in [0, PHASES): assigned once by `Flusher.nextPhase()`. */
  readonly flushPhase: number;
  /** Flusher bookkeeping: the sample period in which this target last wrote. */
  flushSample: number;
}

export interface FlusherOptions {
  /** Least window, in ms (0: none unless load opens one). */
  windowMs: number;
  /** Largest share of wall time writes may take before a window opens, in (0, 1]. */
  writeShare: number;
  /** Upper bound of the adaptive window, in ms (`windowMs` is never cut). */
  maxGapMs: number;
}

export const DEFAULT_FLUSHER_OPTIONS: FlusherOptions = { windowMs: 0, writeShare: 0.6, maxGapMs: 20 };

/** Phases per window (targets' slots are spread over the window in this many steps). */
const PHASES = 64;
/** Length of a load sample, in ms. */
const SAMPLE_MS = 100;
/** Slots of the timing wheel, one per ms: more than the largest window (100 ms) plus one. */
const WHEEL = 128;

export class Flusher<T extends Flushable = Flushable> {
  private readonly options: FlusherOptions;
  /** Targets due on the next tick (no window, or urgent). */
  private readonly soon = new Set<T>();
  private soonScheduled = false;
  /** Targets waiting for their slot, by the ms (mod WHEEL) of the slot. */
  private readonly wheel: Array<Set<T> | undefined> = new Array<Set<T> | undefined>(WHEEL);
  private wheelCount = 0;
  private wheelTimer: NodeJS.Timeout | undefined;
  /** The last ms (performance.now(), floored) whose slot was processed. */
  private wheelDone = 0;
  private phases = 0;
  /** The current window, in ms (0: flush on the next tick). */
  private window: number;
  // Current load sample.
  private sample = 0;
  private sampleStart = performance.now();
  private sampleWorkMs = 0;
  private sampleWrites = 0;
  private sampleFrames = 0;
  private sampleTargets = 0;

  constructor(options: Partial<FlusherOptions> | number = {}) {
    const o = typeof options === 'number' ? { windowMs: options } : options;
    this.options = { ...DEFAULT_FLUSHER_OPTIONS, ...o };
    this.window = this.options.windowMs;
  }

  /** A phase for a new target (consecutive targets get evenly spread phases). */
  nextPhase(): number {
    // Bit-reversed counter: any run of consecutive targets covers the window evenly.
    const n = this.phases++ & (PHASES - 1);
    let r = 0;
    for (let b = 1, rb = PHASES >> 1; b < PHASES; b <<= 1, rb >>= 1) if (n & b) r |= rb;
    return r;
  }

  /** The current window, in ms (0: targets flush on the next tick). */
  windowMs(): number {
    return this.window;
  }

  /** Schedules `t`'s flush; `urgent` skips the window (latency-critical traffic). */
  add(t: T, urgent = false): void {
    const now = performance.now();
    if (now - this.sampleStart >= 2 * SAMPLE_MS) {
      // Nothing was written for at least a whole sample: the load that opened the window is gone.
      // Reassess from an empty sample (the stale one's write times are not today's load).
      this.sampleWrites = 0;
      this.endSample(now);
    }
    const w = this.window;
    if (urgent || w === 0) {
      this.soon.add(t);
      if (this.soonScheduled) return;
      this.soonScheduled = true;
      setImmediate(this.flushSoon);
      return;
    }
    // The target's next slot: the first time ≥ now that is its phase's offset into a window.
    const offset = (t.flushPhase / PHASES) * w;
    const at = Math.ceil((now - offset) / w) * w + offset;
    const ms = Math.max(Math.floor(at), this.wheelDone + 1);
    const i = ms % WHEEL;
    let slot = this.wheel[i];
    if (!slot) slot = this.wheel[i] = new Set();
    if (slot.has(t)) return;
    slot.add(t);
    if (this.wheelCount++ === 0) {
      this.wheelDone = Math.max(this.wheelDone, Math.floor(now) - 1);
      this.wheelTimer = setInterval(this.turnWheel, 1);
    }
  }

  private readonly flushSoon = (): void => {
    this.soonScheduled = false;
    this.flushAll(this.soon);
  };

  /** Flushes every slot up to now. */
  private readonly turnWheel = (): void => {
    const upTo = Math.floor(performance.now());
    for (let ms = this.wheelDone + 1; ms <= upTo && this.wheelCount > 0; ms++) {
      const slot = this.wheel[ms % WHEEL];
      if (!slot || slot.size === 0) continue;
      this.wheelCount -= slot.size;
      this.flushAll(slot);
    }
    this.wheelDone = upTo;
    if (this.wheelCount === 0) {
      clearInterval(this.wheelTimer);
      this.wheelTimer = undefined;
    }
  };

  private flushAll(set: Set<T>): void {
    const start = performance.now();
    let writes = 0;
    let frames = 0;
    for (const t of set) {
      const n = t.flush();
      if (n === 0) continue;
      writes++;
      frames += n;
      if (t.flushSample !== this.sample) {
        t.flushSample = this.sample;
        this.sampleTargets++;
      }
    }
    set.clear();
    const end = performance.now();
    this.sampleWorkMs += end - start;
    this.sampleWrites += writes;
    this.sampleFrames += frames;
    if (end - this.sampleStart >= SAMPLE_MS) this.endSample(end);
  }

  /**
   * Sizes the window from the sample just ended: if writing each frame on its own would take more
   * than `writeShare` of the time, the window is the one at which every target written once per
   * window takes that share; otherwise no window.
   */
  private endSample(now: number): void {
    const elapsed = now - this.sampleStart;
    const { windowMs, writeShare, maxGapMs } = this.options;
    let w = 0;
    if (this.sampleWrites > 0 && elapsed > 0) {
      const perWrite = this.sampleWorkMs / this.sampleWrites;
      const unbatched = (this.sampleFrames * perWrite) / elapsed;
      if (unbatched > writeShare) w = Math.min(maxGapMs, (this.sampleTargets * perWrite) / writeShare);
    }
    this.window = Math.max(windowMs, w < 1 ? 0 : w);
    this.sample++;
    this.sampleStart = now;
    this.sampleWorkMs = 0;
    this.sampleWrites = 0;
    this.sampleFrames = 0;
    this.sampleTargets = 0;
  }
}
