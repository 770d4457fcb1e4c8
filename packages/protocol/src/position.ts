/**
 * A position in a room's ordered log. `offset` grows by one per publication (the first
 * publication has offset 1; offset 0 means "nothing published yet"). `epoch` identifies one
 * unbroken history: when history is lost (memory broker restart, Redis data loss) the epoch changes
 * and positions from the old epoch can no longer be recovered.
 */
export interface Position {
  epoch: string;
  offset: number;
}

/** Encodes a map of room positions as a compact, URL-safe string (SSE ids, poll cursors). */
export function encodeCursor(positions: Record<string, Position>): string {
  const json = JSON.stringify(Object.entries(positions).map(([room, p]) => [room, p.epoch, p.offset]));
  return base64UrlEncode(json);
}

/** Decodes a cursor; throws `Error('invalid cursor')` if it is malformed. */
export function decodeCursor(cursor: string): Record<string, Position> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(base64UrlDecode(cursor));
  } catch {
    throw new Error('invalid cursor');
  }
  if (!Array.isArray(parsed)) throw new Error('invalid cursor');
  // No prototype: a room named `__proto__` must stay an own entry.
  const out: Record<string, Position> = Object.create(null) as Record<string, Position>;
  for (const entry of parsed) {
    if (
      !Array.isArray(entry) || entry.length !== 3 ||
      typeof entry[0] !== 'string' || typeof entry[1] !== 'string' ||
      typeof entry[2] !== 'number' || !Number.isSafeInteger(entry[2]) || entry[2] < 0
    ) throw new Error('invalid cursor');
    out[entry[0]] = { epoch: entry[1], offset: entry[2] };
  }
  return out;
}

function base64UrlEncode(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function base64UrlDecode(text: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('invalid cursor');
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}
