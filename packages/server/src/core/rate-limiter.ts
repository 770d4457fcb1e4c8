/**
 * A token bucket: `ratePerSec` tokens per second, at most `burst` saved up. Allocation-free on the hot
 * path; time is passed in so one clock read serves many checks.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly ratePerSec: number, private readonly burst: number, now = Date.now()) {
    this.tokens = burst;
    this.last = now;
  }

  /** Whether the bucket has refilled to its burst by `now` (it then behaves like a new one). */
  isFull(now = Date.now()): boolean {
    return this.tokens + (Math.max(0, now - this.last) * this.ratePerSec) / 1000 >= this.burst;
  }

  take(now = Date.now(), cost = 1): boolean {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSec) / 1000);
      this.last = now;
    }
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }
}
