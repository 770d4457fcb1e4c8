import type { Position } from '@aqueduct/protocol';
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

/** What the persistence tells the client while it runs. */
export interface OfflineHost {
  /** Entries this client now owns: restored at start, or taken over from a closed tab. Oldest first. */
  adopt(entries: OutboxEntry[]): void;
  error(err: AqueductError): void;
}

/** What `open` restores. */
export interface OfflineRestored {
  positions: Map<string, Position>;
}

/**
 * The seam between the client and its offline persistence (`offlineStorage()` from
 * `@aqueduct/client/offline`): the client core stays free of storage code, so an app without
 * offline storage does not bundle it.
 */
export interface OfflinePersistence {
  /** Most entries in the outbox. */
  readonly outboxMax: number;
  /** Loads the saved state; calls `host.adopt` with the outbox entries this client takes over. */
  open(host: OfflineHost): Promise<OfflineRestored>;
  /** Why `entry` must not be (re)sent now, or undefined to send it. */
  vet(entry: OutboxEntry, now: number, user: string | undefined): OutboxDropReason | undefined;
  /** Saves entries (new, or with `sentAt` set); resolves once they are stored. */
  putEntries(entries: OutboxEntry[]): Promise<void>;
  /** Removes an acknowledged (or dropped) entry. */
  removeEntry(id: string, acked: boolean): void;
  /** Saves a room's last position (coalesced); undefined forgets it (the room was left). */
  savePosition(room: string, position: Position | undefined): void;
  /** The saved SSE position of a subscription (its `Last-Event-ID`). */
  loadEventId(key: string): Promise<string | undefined>;
  saveEventId(key: string, id: string): void;
  /** Looks for entries left by closed tabs (called after each connect). */
  rescan(): void;
  /** Writes what is pending and lets other tabs take this client's entries over. */
  close(): Promise<void>;
}
