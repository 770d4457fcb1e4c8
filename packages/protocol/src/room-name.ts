/** Maximum room name length in characters. */
export const MAX_ROOM_NAME_LENGTH = 200;

const ROOM_RE = /^[A-Za-z0-9_.\-]+(?::[A-Za-z0-9_.\-:@/]+)?$/;

/**
 * A room name is `namespace:rest` or just `name`. Allowed characters: letters, digits, `_ . -`
 * in the namespace; additionally `: @ /` after the first colon. Length 1..200.
 */
export function isValidRoomName(room: unknown): room is string {
  return typeof room === 'string' && room.length > 0 && room.length <= MAX_ROOM_NAME_LENGTH && ROOM_RE.test(room);
}

/** The namespace of a room: the part before the first `:`, or `''` when there is none. */
export function namespaceOf(room: string): string {
  const i = room.indexOf(':');
  return i === -1 ? '' : room.slice(0, i);
}
