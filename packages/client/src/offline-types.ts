import type { Position } from '@aqueduct/protocol';
import type { AqueductError } from './errors.js';
import type { Outbox, OutboxEvents } from './outbox.js';
import type { SocketLink } from './socket-link.js';

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

/** What the persistence tells the client while it starts and runs. */
export interface OfflineClientHooks {
  /** Entries joined the outbox: restored at start, or taken over from a closed tab. Oldest first. */
  restored(entries: OutboxEntry[]): void;
  /** The rooms' saved positions (once, at start). */
  positions(positions: Map<string, Position>): void;
  error(err: AqueductError): void;
}

/**
 * The seam between the client and its offline persistence (`offlineStorage()` from
 * `@aqueduct/client/offline`): the client core stays free of storage code, so an app without
 * offline storage does not bundle it.
 */
export interface OfflinePersistence {
  /** @internal The client's outbox, kept in this storage. Called once, by the client's constructor. */
  createOutbox(link: SocketLink, events: OutboxEvents): Outbox;
  /** Loads the saved outbox (into the outbox) and positions. Never rejects (errors go to `hooks.error`). */
  start(hooks: OfflineClientHooks): Promise<void>;
  /** Saves a room's last position (coalesced); undefined forgets it (the room was left). */
  savePosition(room: string, position: Position | undefined): void;
  /** Where an SSE subscription to `rooms` keeps its position (`Last-Event-ID`) across reloads. */
  eventPosition(rooms: readonly string[]): { load(): Promise<string | undefined>; save(id: string): void };
  /** Looks for entries left by closed tabs (called after each connect). */
  rescan(): void;
  /** Writes what is pending and lets other tabs take this client's entries over. Never rejects. */
  close(): Promise<void>;
}
