import type { IncomingMessage } from 'node:http';
import { decodeCursor, isValidRoomName, type Position } from '@aqueduct/protocol';
import { can, type Permission, type User } from '../auth/grants.js';
import { BrokerUnavailableError } from '../broker/broker.js';
import { HttpError } from '../http/http-util.js';
import { recoverFrom, type RoomLog, type RoomStart } from '../core/recovery.js';

/**
 * Request parsing shared by the one-way HTTP pipes (SSE, long polling) and the HTTP API: room lists,
 * cursors / event ids, integer parameters. Every failure is an HttpError with a stable code.
 */

/** Longest event id / cursor accepted (the HTTP header limit is 16 KiB in Node anyway). */
export const MAX_CURSOR_LENGTH = 12 * 1024;
/** Longest epoch inside a cursor (brokers use short random strings). */
const MAX_EPOCH_LENGTH = 64;

/** `?rooms=a,b` (or repeated `rooms=`): deduplicated, validated, in the order given. */
export function parseRooms(url: URL, maxRooms: number): string[] {
  const raw = url.searchParams.getAll('rooms').flatMap((v) => v.split(','));
  const rooms: string[] = [];
  for (const r of raw) {
    const room = r.trim();
    if (room === '') continue;
    if (!isValidRoomName(room)) throw new HttpError(400, 'INVALID_ROOM', `invalid room name ${JSON.stringify(String(room as unknown).slice(0, 64))}`);
    if (!rooms.includes(room)) rooms.push(room);
    if (rooms.length > maxRooms) throw new HttpError(400, 'TOO_MANY_ROOMS', `at most ${maxRooms} rooms per stream`);
  }
  if (rooms.length === 0) throw new HttpError(400, 'BAD_REQUEST', 'rooms is required: ?rooms=room1,room2');
  return rooms;
}

/** Throws 403 PERMISSION_DENIED naming the first room the user may not `perm`. */
export function authorizeRooms(user: User, perm: Permission, rooms: readonly string[]): void {
  for (const room of rooms) {
    if (!can(user, perm, room)) throw new HttpError(403, 'PERMISSION_DENIED', `no ${perm} permission for ${room}`);
  }
}

/**
 * Decodes an event id / cursor. `what` names its source in the error ("Last-Event-ID", "cursor").
 * Entries for rooms outside `rooms` are ignored (a client may change its room list and keep its id).
 */
export function parseCursor(text: string, what: string, rooms: readonly string[]): Map<string, Position> {
  if (text.length > MAX_CURSOR_LENGTH) throw new HttpError(400, 'BAD_REQUEST', `${what} is longer than ${MAX_CURSOR_LENGTH} characters`);
  let decoded: Record<string, Position>;
  try {
    decoded = decodeCursor(text);
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', `${what} is not an Aqueduct event id (expected the id of an event of this stream)`);
  }
  const out = new Map<string, Position>();
  for (const [room, pos] of Object.entries(decoded)) {
    if (!isValidRoomName(room) || pos.epoch.length === 0 || pos.epoch.length > MAX_EPOCH_LENGTH) {
      throw new HttpError(400, 'BAD_REQUEST', `${what} holds an invalid position`);
    }
    if (rooms.includes(room)) out.set(room, pos);
  }
  return out;
}

/** The resume id of an SSE request: the `Last-Event-ID` header (set by EventSource on reconnect) wins over `?lastEventId=`. */
export function lastEventIdOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['last-event-id'];
  if (typeof header === 'string' && header !== '') return header;
  const query = url.searchParams.get('lastEventId');
  return query === null || query === '' ? undefined : query;
}

/** A non-negative integer query parameter, capped at `max`; `fallback` when absent. */
export function intParam(url: URL, name: string, fallback: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return Math.min(fallback, max);
  if (!/^\d{1,15}$/.test(raw)) throw new HttpError(400, 'BAD_REQUEST', `${name} must be a non-negative integer`);
  return Math.min(Number(raw), max);
}

/** Maps backend failures to HTTP errors (503 UNAVAILABLE for a broker that is down). */
export function asHttpError(err: unknown): unknown {
  if (err instanceof BrokerUnavailableError) return new HttpError(503, 'UNAVAILABLE', err.message);
  return err;
}

/** How a room of a one-way stream starts (core/recovery.ts), minus the position no server issued. */
export type StreamStart = Exclude<RoomStart, { kind: 'ahead' }>;

/**
 * The recovery decision for one room of an SSE stream or a long poll. Throws HttpError 400 for a
 * position the server cannot have issued: same epoch, but an offset beyond the room's top.
 */
export async function planRoom(log: RoomLog, room: string, since: Position | undefined, limit: number): Promise<StreamStart> {
  const start = await recoverFrom(log, room, since, limit);
  if (start.kind === 'ahead') {
    throw new HttpError(400, 'BAD_REQUEST', `event id is ahead of room ${room} (offset ${start.since.offset}, room is at ${start.page.offset}): it was not issued by this server`);
  }
  return start;
}
