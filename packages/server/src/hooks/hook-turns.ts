/**
 * Turns through an async hook, in arrival order: a publication's hook starts after the previous
 * publication of the same connection was handed to the hub, so hooks of different latency cannot
 * reorder a connection's publications. Waiters are bounded by the connection's publish rate limit
 * and each hook by `hooks.timeoutMs` (webhooks).
 */
export class HookTurns {
  private tail: Promise<void> = Promise.resolve();

  /** Takes the next turn: `run` waits for the previous turn's `done`, then calls `fn`. Call `done` exactly once. */
  next(): { run<T>(fn: () => Promise<T>): Promise<T>; done(): void } {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => { release = resolve; });
    return {
      run: async (fn) => {
        await prev;
        return fn();
      },
      done: () => release(),
    };
  }
}
