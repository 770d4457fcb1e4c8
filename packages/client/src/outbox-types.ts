import type { AqueductError } from './errors.js';

/**
 * A publish in the outbox: kept (and, with offline storage, persisted) until the server acknowledged
 * it, and resent with the same `id` (the wire's `cid`), so the server publishes it once.
 */
export interface OutboxEntry {
  /** The client-made publish id (`cid`). */
  id: string;
  room: string;
  data: unknown;
  event?: string;
  /** When it was published (ms since the Unix epoch, this device's clock). */
  createdAt: number;
  /** When it was first handed to a connection: from then on the server may have published it. */
  sentAt?: number;
  /** The user (`sub`) it was published as, when known. */
  user?: string;
}

/**
 * Why an entry left the outbox without an acknowledgement:
 * - `expired`: older than `outboxMaxAgeMs`;
 * - `unconfirmed`: sent, but not acknowledged within `resendWindowMs` of its first send, so a resend
 *   could publish it twice (the server forgets publish ids after `limits.idempotencyTtlMs`);
 * - `overflow`: more than `outboxMax` entries (after taking over another tab's);
 * - `rejected`: the server refused it for good (e.g. PERMISSION_DENIED);
 * - `user-changed`: published as another user than the one connected now.
 */
export type OutboxDropReason = 'expired' | 'unconfirmed' | 'overflow' | 'rejected' | 'user-changed';

/** The `outboxdrop` event: an entry the server never acknowledged and that will not be sent. */
export interface OutboxDrop {
  id: string;
  room: string;
  data: unknown;
  event?: string;
  reason: OutboxDropReason;
  /** The server's refusal (`rejected`). */
  error?: AqueductError;
}

/** The `outboxack` event: an entry the server acknowledged (`duplicate`: it had published it already). */
export interface OutboxAck {
  id: string;
  room: string;
  epoch: string;
  offset: number;
  duplicate: boolean;
}

/** What the outbox reports to the client (which emits `outboxack` / `outboxdrop`). */
export interface OutboxEvents {
  ack(info: OutboxAck): void;
  drop(info: OutboxDrop): void;
  error(err: AqueductError): void;
}
