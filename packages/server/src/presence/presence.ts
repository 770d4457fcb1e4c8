import type { Member } from '@aqueduct/protocol';

/**
 * Who is in a room. Entries belong to the node that added them; when a node dies its entries must
 * disappear within a bounded time (the Redis implementation uses heartbeats and TTLs).
 * Join/leave events are not sent by this store: the hub sends them over the broker.
 */
export interface Presence {
  add(room: string, member: Member): Promise<void>;
  remove(room: string, clientId: string): Promise<void>;
  list(room: string): Promise<Member[]>;
  health(): { ok: boolean; detail?: string };
  close(): Promise<void>;
}
