import type { Position } from '@aqueduct/protocol';
import type { AqueductError } from './errors.js';
import type { Outbox } from './outbox.js';
import type { OutboxEntry, OutboxEvents } from './outbox-types.js';
import type { SocketLink } from './socket-link.js';

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

export type { OutboxEntry, OutboxDropReason, OutboxDrop, OutboxAck, OutboxEvents } from './outbox-types.js';
