/** An update accepted (validated and stored) by some node, as other nodes receive it. */
export interface RemoteDocUpdate {
  doc: string;
  update: Uint8Array;
  /** The node that accepted and stored it; a node ignores its own. */
  node: string;
  author: string;
  seq: number;
}

/**
 * Cross-node seam of collaborative documents (issue 5): a node that accepted and stored an update
 * publishes it; every other node with the document loaded applies it to its copy and forwards it
 * to its clients. Delivery may be at-most-once: Yjs updates are idempotent and commutative, and
 * clients re-sync on reconnect, so a lost message costs latency, never data (the store has it).
 */
export interface DocBus {
  publish(message: RemoteDocUpdate): void;
  /** Starts receiving updates of `doc`; returns the unsubscribe function. */
  subscribe(doc: string, onUpdate: (message: RemoteDocUpdate) => void): () => void;
  /**
   * Optional: reports documents that may have missed messages (a subscription just became live, or
   * the transport reconnected). The DocManager then merges the stored state of that document into
   * its copy and forwards what was new to its clients. Returns the unsubscribe function.
   */
  onResync?(listener: (doc: string) => void): () => void;
  /** Optional: reachability of the transport, reported by `/readyz` as `docbus`. */
  health?(): { ok: boolean; detail?: string };
  close(): Promise<void>;
}
