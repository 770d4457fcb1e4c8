import type { Member } from '@aqueduct/protocol';
import type { Presence } from './presence.js';

/** Single-node presence: a map of room -> client id -> member. */
export class MemoryPresence implements Presence {
  private readonly rooms = new Map<string, Map<string, Member>>();

  async add(room: string, member: Member): Promise<void> {
    let members = this.rooms.get(room);
    if (!members) this.rooms.set(room, (members = new Map()));
    members.set(member.client, member);
  }

  async remove(room: string, clientId: string): Promise<void> {
    const members = this.rooms.get(room);
    if (!members) return;
    members.delete(clientId);
    if (members.size === 0) this.rooms.delete(room);
  }

  async list(room: string): Promise<Member[]> {
    return [...(this.rooms.get(room)?.values() ?? [])];
  }

  health(): { ok: boolean; detail?: string } {
    return { ok: true, detail: 'memory' };
  }

  async close(): Promise<void> {
    this.rooms.clear();
  }
}
