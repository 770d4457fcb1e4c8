/** Reconnect delays: exponential growth with full jitter, capped. */
export interface BackoffOptions {
  /** First delay's upper bound. Default 250 ms. */
  minDelayMs?: number;
  /** Cap of the upper bound. Default 10,000 ms. */
  maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
}

/** Delay before attempt `attempt` (0-based): uniform in [0, min(max, min * factor^attempt)]. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const min = opts.minDelayMs ?? 250;
  const max = opts.maxDelayMs ?? 10_000;
  const factor = opts.factor ?? 2;
  const ceiling = Math.min(max, min * Math.pow(factor, Math.min(attempt, 30)));
  return Math.floor(random() * ceiling);
}
