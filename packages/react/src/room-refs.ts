import type { AqueductClient } from '@aqueduct/client';

/**
 * How many mounted hooks use each room of each client. The room is left when the last one
 * unmounts, one task later, so that a StrictMode unmount/mount or a component moving in the tree
 * keeps the room (and its position) instead of leaving and re-joining it.
 */
const counts = new WeakMap<AqueductClient, Map<string, number>>();

/** Marks `room` as used; returns the release function (idempotent). */
export function retainRoom(client: AqueductClient, room: string): () => void {
  let rooms = counts.get(client);
  if (!rooms) counts.set(client, (rooms = new Map()));
  const map = rooms;
  map.set(room, (map.get(room) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (map.get(room) ?? 1) - 1;
    if (left > 0) {
      map.set(room, left);
      return;
    }
    map.delete(room);
    setTimeout(() => {
      if (!map.has(room) && client.state !== 'closed') void client.room(room).leave();
    }, 0);
  };
}
