import type { Member } from '@aqueduct/protocol';
import type { Presence } from './presence.js';

/**
 * Single-node presence: room -> its members. Most rooms at scale have one member (a user's own
 * room, a document opened by one person), so a room's single member is stored as is; a map of
 * client id -> member is made when a second one joins.
 */
export class MemoryPresence implements Presence {
  private readonly rooms = new Map<string, Member | Map<string, Member>>();

  async add(room: string, member: Member): Promise<void> {
    const entry = this.rooms.get(room);
    if (entry === undefined || (!(entry instanceof Map) && entry.client === member.client)) {
      this.rooms.set(room, member);
    } else if (entry instanceof Map) {
      entry.set(member.client, member);
    } else {
      this.rooms.set(room, new Map([[entry.client, entry], [member.client, member]]));
    }
  }

  async remove(room: string, clientId: string): Promise<void> {
    const entry = this.rooms.get(room);
    if (entry === undefined) return;
    if (!(entry instanceof Map)) {
      if (entry.client === clientId) this.rooms.delete(room);
      return;
    }
    entry.delete(clientId);
    if (entry.size === 0) this.rooms.delete(room);
  }

  async list(room: string): Promise<Member[]> {
    const entry = this.rooms.get(room);
    if (entry === undefined) return [];
    return entry instanceof Map ? [...entry.values()] : [entry];
  }

  health(): { ok: boolean; detail?: string } {
    return { ok: true, detail: 'memory' };
  }

  async close(): Promise<void> {
    this.rooms.clear();
  }
}
