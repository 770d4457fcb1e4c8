import type { DocBus, RemoteDocUpdate } from './doc-bus.js';

/**
 * In-process DocBus: several DocManagers in one process (tests, or one process hosting several
 * nodes) share one instance. Delivery is synchronous-after-a-microtask, in publish order.
 */
export class MemoryDocBus implements DocBus {
  private readonly subs = new Map<string, Set<(m: RemoteDocUpdate) => void>>();

  publish(message: RemoteDocUpdate): void {
    const set = this.subs.get(message.doc);
    if (!set) return;
    for (const fn of [...set]) queueMicrotask(() => fn(message));
  }

  subscribe(doc: string, onUpdate: (message: RemoteDocUpdate) => void): () => void {
    let set = this.subs.get(doc);
    if (!set) this.subs.set(doc, (set = new Set()));
    set.add(onUpdate);
    return () => {
      set.delete(onUpdate);
      if (set.size === 0 && this.subs.get(doc) === set) this.subs.delete(doc);
    };
  }

  async close(): Promise<void> {
    this.subs.clear();
  }
}
