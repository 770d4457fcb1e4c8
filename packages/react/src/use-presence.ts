import { useEffect, useState } from 'react';
import type { Member } from '@aqueduct/client';
import { useClient } from './provider.js';
import { retainRoom } from './room-refs.js';

/**
 * The members present in `name` (joined with the `presence` grant), kept up to date. Joins the
 * room while mounted, like `useRoom`.
 */
export function usePresence(name: string): Member[] {
  const client = useClient();
  const [members, setMembers] = useState<Member[]>([]);
  useEffect(() => {
    const room = client.room(name);
    const release = retainRoom(client, name);
    setMembers(room.members);
    const off = room.on('presence', (list) => setMembers(list));
    return () => {
      off();
      release();
    };
  }, [client, name]);
  return members;
}
