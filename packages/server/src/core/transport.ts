import type { Codec } from '@aqueduct/protocol';

/**
 * The write side of a bidirectional connection, as the session sees it. The transport owns its
 * read loop and calls `Session.receive` with each frame.
 */
export interface Transport {
  readonly codec: Codec;
  /** Bytes accepted for sending but not yet written to the network. */
  bufferedBytes(): number;
  /**
   * Queues one encoded message. Never throws. Queued messages leave in order; `urgent` ones
   * (latency-critical rooms) skip the coalescing window and leave on the next tick.
   */
  write(frame: Buffer, urgent?: boolean): void;
  /** Closes with a WebSocket close code. Idempotent. */
  close(code: number, reason: string): void;
  /** Closes without a handshake (used after a close that a non-reading peer never acknowledges). */
  terminate(): void;
}
