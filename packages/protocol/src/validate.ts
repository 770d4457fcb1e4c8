import type { ClientMessage, JoinRequest } from './messages.js';
import type { Position } from './position.js';
import { isValidRoomName } from './room-name.js';
import { parseMediaOp } from './media.js';
import type { ErrorCode } from './codes.js';

export type ParseResult =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: ErrorCode; message: string; id?: number };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPosition = (v: unknown): v is Position =>
  isObj(v) && typeof v.epoch === 'string' && v.epoch.length <= 64 &&
  typeof v.offset === 'number' && Number.isSafeInteger(v.offset) && v.offset >= 0;

/** Maximum length of a client publish id and of an event name. */
export const MAX_CID_LENGTH = 128;
export const MAX_EVENT_NAME_LENGTH = 64;

/**
 * Validates a decoded client frame. Pure: no limits that depend on configuration (sizes, rates);
 * those are checked by the server.
 */
export function parseClientMessage(value: unknown): ParseResult {
  if (!isObj(value)) return { ok: false, code: 'BAD_REQUEST', message: 'frame must be an object' };
  const t = value.t;
  if (t === 'pong') return { ok: true, message: { t: 'pong' } };
  const id = value.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
    return { ok: false, code: 'BAD_REQUEST', message: 'request id must be a non-negative integer' };
  }
  const bad = (message: string, code: ErrorCode = 'BAD_REQUEST'): ParseResult => ({ ok: false, code, message, id });
  const needRoom = (): string | undefined => (isValidRoomName(value.room) ? value.room : undefined);
  switch (t) {
    case 'auth':
    case 'refresh':
      if (typeof value.token !== 'string' || value.token.length === 0 || value.token.length > 8192) return bad('token must be a string');
      return { ok: true, message: { t, id, token: value.token } };
    case 'join': {
      const room = needRoom();
      if (!room) return bad('invalid room name', 'INVALID_ROOM');
      if (value.since !== undefined && !isPosition(value.since)) return bad('since must be {epoch, offset}');
      if (value.history !== undefined && (typeof value.history !== 'number' || !Number.isSafeInteger(value.history) || value.history < 0)) return bad('history must be a non-negative integer');
      if (value.mesh !== undefined && typeof value.mesh !== 'boolean') return bad('mesh must be a boolean');
      const join: JoinRequest = { t, id, room, since: value.since as Position | undefined, history: value.history as number | undefined };
      if (value.mesh === true) join.mesh = true;
      return { ok: true, message: join };
    }
    case 'leave':
    case 'presence': {
      const room = needRoom();
      if (!room) return bad('invalid room name', 'INVALID_ROOM');
      return { ok: true, message: { t, id, room } };
    }
    case 'history': {
      const room = needRoom();
      if (!room) return bad('invalid room name', 'INVALID_ROOM');
      if (value.since !== undefined && !isPosition(value.since)) return bad('since must be {epoch, offset}');
      if (value.limit !== undefined && (typeof value.limit !== 'number' || !Number.isSafeInteger(value.limit) || value.limit < 0)) return bad('limit must be a non-negative integer');
      return { ok: true, message: { t, id, room, since: value.since as Position | undefined, limit: value.limit as number | undefined } };
    }
    case 'pub': {
      const room = needRoom();
      if (!room) return bad('invalid room name', 'INVALID_ROOM');
      if (!('data' in value) || value.data === undefined) return bad('data is required');
      if (value.cid !== undefined && (typeof value.cid !== 'string' || value.cid.length === 0 || value.cid.length > MAX_CID_LENGTH)) return bad('cid must be a string of 1..128 characters');
      if (value.event !== undefined && (typeof value.event !== 'string' || value.event.length === 0 || value.event.length > MAX_EVENT_NAME_LENGTH || /[\r\n]/.test(value.event))) return bad('event must be a single-line string of 1..64 characters');
      if (value.volatile !== undefined && typeof value.volatile !== 'boolean') return bad('volatile must be a boolean');
      return {
        ok: true,
        message: { t, id, room, data: value.data, cid: value.cid as string | undefined, event: value.event as string | undefined, volatile: value.volatile as boolean | undefined },
      };
    }
    case 'signal': {
      const room = needRoom();
      if (!room) return bad('invalid room name', 'INVALID_ROOM');
      if (typeof value.to !== 'string' || value.to.length === 0 || value.to.length > 64) return bad('to must be a client id');
      if (value.payload === undefined) return bad('payload is required');
      return { ok: true, message: { t, id, room, to: value.to, payload: value.payload } };
    }
    case 'media': { // SFU signaling: see media.ts
      const room = needRoom();
      if (!room) return bad('invalid room name', 'INVALID_ROOM');
      const op = parseMediaOp(value);
      return typeof op === 'string' ? bad(op) : { ok: true, message: { t, id, room, ...op } };
    }
    default:
      return bad(`unknown message type ${JSON.stringify(typeof t === 'string' ? t.slice(0, 32) : t)}`, 'UNKNOWN_TYPE');
  }
}
