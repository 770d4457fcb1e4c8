import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second of /proc/<pid>/stat CPU times (USER_HZ). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** One reading of a process's own accounting. */
export interface ProcSample {
  /** User + system CPU seconds consumed so far. */
  cpuSec: number;
  /** Resident set size, bytes. */
  rssBytes: number;
  /** Wall clock of the reading, ms (performance.now of the reader). */
  atMs: number;
}

/**
 * Reads utime+stime (fields 14 and 15 of /proc/<pid>/stat) and VmRSS (/proc/<pid>/status).
 * The comm field may contain spaces, so fields are counted after its closing parenthesis.
 */
export function sampleProcess(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14 -> index 11, stime field 15 -> index 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return { cpuSec: ticks / CLK_TCK, rssBytes: m ? Number(m[1]) * 1024 : 0, atMs: performance.now() };
}

/**
 * Latency histogram with fixed 0.1 ms buckets up to `maxMs` (the last bucket holds everything
 * above). Recording is an array increment, so it is cheap enough for every delivery.
 */
export class LatencyHistogram {
  private readonly buckets: Uint32Array;
  private readonly resolutionMs = 0.1;
  count = 0;
  maxMs = 0;
  sumMs = 0;

  constructor(private readonly limitMs = 60_000) {
    this.buckets = new Uint32Array(Math.ceil(limitMs / this.resolutionMs) + 1);
  }

  record(ms: number): void {
    const v = ms < 0 ? 0 : ms;
    let i = Math.floor(v / this.resolutionMs);
    if (i >= this.buckets.length) i = this.buckets.length - 1;
    this.buckets[i]++;
    this.count++;
    this.sumMs += v;
    if (v > this.maxMs) this.maxMs = v;
  }

  /** Records `n` samples of the same value (deliveries read in the same chunk). */
  recordMany(ms: number, n: number): void {
    if (n <= 0) return;
    const v = ms < 0 ? 0 : ms;
    let i = Math.floor(v / this.resolutionMs);
    if (i >= this.buckets.length) i = this.buckets.length - 1;
    this.buckets[i] += n;
    this.count += n;
    this.sumMs += v * n;
    if (v > this.maxMs) this.maxMs = v;
  }

  /** Upper edge of the bucket holding the p-th percentile (0 < p <= 100). */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= rank) return Math.min((i + 1) * this.resolutionMs, this.maxMs);
    }
    return this.maxMs;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      p50Ms: round(this.percentile(50)),
      p99Ms: round(this.percentile(99)),
      maxMs: round(this.maxMs),
      meanMs: round(this.count ? this.sumMs / this.count : 0),
    };
  }
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
