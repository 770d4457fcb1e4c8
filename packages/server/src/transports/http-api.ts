import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  MAX_CID_LENGTH, MAX_EVENT_NAME_LENGTH, decodeCursor, isValidRoomName, namespaceOf, type Position,
} from '@aqueduct/protocol';
import { can, type User } from '../auth/grants.js';
import { namespaceSettings } from '../config.js';
import { HttpError, authenticateRequest, isApiKeyRequest, readJsonBody, sendError, sendJson } from '../http-util.js';
import type { HttpModule } from '../http-module.js';
import { TokenBucket } from '../rate-limiter.js';
import type { ServerContext } from '../server.js';
import { asHttpError, intParam } from './stream-request.js';
import { admitRead, publishHook } from '../hooks/http-hooks.js';

/** Per-user publish buckets kept at most; the least recently created are forgotten first. */
const MAX_PUBLISH_BUCKETS = 10_000;
/** Room-path routes: `/api/rooms/:room/<action>` (`:room` URL-encoded; `/` inside it is allowed). */
const ROOM_PREFIX = '/api/rooms/';
const ROOM_ACTIONS = ['history', 'presence', 'disconnect'] as const;
type RoomAction = (typeof ROOM_ACTIONS)[number];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function methodNotAllowed(res: ServerResponse, allow: string): true {
  res.setHeader('Allow', allow);
  sendError(res, 405, 'BAD_REQUEST', `method not allowed; use ${allow}`);
  return true;
}

function parseRoomPath(pathname: string): { room: string; action: RoomAction } | null {
  if (!pathname.startsWith(ROOM_PREFIX)) return null;
  const rest = pathname.slice(ROOM_PREFIX.length);
  const slash = rest.lastIndexOf('/');
  if (slash <= 0) return null;
  const action = rest.slice(slash + 1) as RoomAction;
  if (!ROOM_ACTIONS.includes(action)) return null;
  let room: string;
  try {
    room = decodeURIComponent(rest.slice(0, slash));
  } catch {
    throw new HttpError(400, 'INVALID_ROOM', 'room is not valid URL encoding');
  }
  if (!isValidRoomName(room)) throw new HttpError(400, 'INVALID_ROOM', `invalid room name ${JSON.stringify(String(room as unknown).slice(0, 64))}`);
  return { room, action };
}

/** `since=` of the history route: `epoch:offset`, or a cursor (SSE id / poll cursor) holding the room. */
export function parseSince(raw: string, room: string): Position {
  const colon = raw.lastIndexOf(':');
  if (colon > 0) {
    const epoch = raw.slice(0, colon);
    const offset = raw.slice(colon + 1);
    if (epoch.length <= 64 && /^\d{1,15}$/.test(offset)) return { epoch, offset: Number(offset) };
    throw new HttpError(400, 'BAD_REQUEST', 'since must be epoch:offset or an event id');
  }
  let cursor: Record<string, Position>;
  try {
    cursor = decodeCursor(raw);
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'since must be epoch:offset or an event id');
  }
  const pos = cursor[room];
  if (!pos) throw new HttpError(400, 'BAD_REQUEST', `since (an event id) holds no position for ${room}`);
  return pos;
}

/**
 * The HTTP API (JSON in and out, errors as `{ error: { code, message } }`):
 * `POST /api/publish`, `GET /api/rooms/:room/history`, `GET /api/rooms/:room/presence`,
 * `POST /api/rooms/:room/disconnect`. See README §Server-Sent Events, long polling and the HTTP API and `/api/openapi.json`.
 */
export function httpApiModule(ctx: ServerContext): HttpModule {
  const buckets = new Map<string, TokenBucket>();

  /** User-token publishes are rate limited per user and namespace like a room-bus connection; the API key is not. */
  function rateLimited(user: User, room: string): boolean {
    if (user.superuser) return false;
    const namespace = namespaceOf(room);
    const ns = namespaceSettings(ctx.config, namespace);
    const key = `${user.id}\u0000${namespace in ctx.config.namespaces ? namespace : ''}`;
    let bucket = buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(ns.publishRatePerSec, ns.publishBurst);
      buckets.set(key, bucket);
      if (buckets.size > MAX_PUBLISH_BUCKETS) buckets.delete(buckets.keys().next().value as string);
    }
    return !bucket.take();
  }

  async function publish(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { config, hub } = ctx;
    const user = await authenticateRequest(req, url, ctx.auth, config.apiKey);
    const body = await readJsonBody(req, config.limits.maxMessageBytes + 4096);
    if (!isObj(body)) throw new HttpError(400, 'BAD_REQUEST', 'body must be a JSON object');
    const { room, data, event, volatile } = body;
    if (!isValidRoomName(room)) throw new HttpError(400, 'INVALID_ROOM', 'room must be a valid room name');
    if (data === undefined) throw new HttpError(400, 'BAD_REQUEST', 'data is required');
    if (event !== undefined && (typeof event !== 'string' || event.length === 0 || event.length > MAX_EVENT_NAME_LENGTH || /[\r\n\0]/.test(event))) {
      throw new HttpError(400, 'BAD_REQUEST', `event must be a single-line string of 1..${MAX_EVENT_NAME_LENGTH} characters`);
    }
    if (volatile !== undefined && typeof volatile !== 'boolean') throw new HttpError(400, 'BAD_REQUEST', 'volatile must be a boolean');
    const header = req.headers['idempotency-key'];
    const key = body.idempotencyKey ?? (typeof header === 'string' ? header : undefined);
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_CID_LENGTH)) {
      throw new HttpError(400, 'BAD_REQUEST', `idempotencyKey must be a string of 1..${MAX_CID_LENGTH} characters`);
    }
    if (Buffer.byteLength(JSON.stringify(data)) > config.limits.maxMessageBytes) {
      throw new HttpError(413, 'MESSAGE_TOO_LARGE', `data exceeds ${config.limits.maxMessageBytes} bytes`);
    }
    if (!can(user, 'pub', room)) throw new HttpError(403, 'PERMISSION_DENIED', `no pub permission for ${room}`);
    if (!user.superuser && !namespaceSettings(config, namespaceOf(room)).clientPublish) {
      throw new HttpError(403, 'PUBLISH_DISABLED', 'client publish is disabled in this namespace (use the server API key)');
    }
    if (rateLimited(user, room)) throw new HttpError(429, 'RATE_LIMITED', 'publish rate limit exceeded');
    const published = await publishHook(hub, { user, room, data, event: event as string | undefined, volatile: volatile === true }); // backend hooks
    // Scoped by caller, as on the bus: one caller's keys never collide with (or probe) another's.
    // The API key's scope starts with NUL, which no token `sub` can equal.
    const scope = user.superuser ? '\u0000api' : user.id;
    const outcome = await hub.publish(room, published, {
      event: event as string | undefined,
      volatile: volatile as boolean | undefined,
      from: user.superuser ? undefined : { client: 'http', user: user.id },
      idempotencyKey: key === undefined || volatile ? undefined : `${scope}\u0000${key as string}`,
    }).catch((err: unknown) => { throw asHttpError(err); });
    if (!outcome) return sendJson(res, 200, {});
    sendJson(res, 200, outcome.duplicate
      ? { epoch: outcome.epoch, offset: outcome.offset, duplicate: true }
      : { epoch: outcome.epoch, offset: outcome.offset });
  }

  async function history(req: IncomingMessage, res: ServerResponse, url: URL, room: string): Promise<void> {
    const { config, hub } = ctx;
    const user = await authenticateRequest(req, url, ctx.auth, config.apiKey);
    if (!can(user, 'sub', room)) throw new HttpError(403, 'PERMISSION_DENIED', `no sub permission for ${room}`);
    await admitRead(hub, user, room); // backend hooks
    const max = config.limits.maxHistoryLimit;
    const limit = intParam(url, 'limit', max, max);
    const raw = url.searchParams.get('since');
    const since = raw === null || raw === '' ? undefined : parseSince(raw, room);
    const page = await hub.broker.history(room, since ? { since, limit } : { limit }).catch((err: unknown) => { throw asHttpError(err); });
    sendJson(res, 200, page);
  }

  async function presence(req: IncomingMessage, res: ServerResponse, url: URL, room: string): Promise<void> {
    const { config, hub } = ctx;
    const user = await authenticateRequest(req, url, ctx.auth, config.apiKey);
    if (!can(user, 'presence', room)) throw new HttpError(403, 'PERMISSION_DENIED', `no presence permission for ${room}`);
    if (!namespaceSettings(config, namespaceOf(room)).presence) throw new HttpError(409, 'PRESENCE_DISABLED', 'presence is disabled in this namespace');
    const members = await hub.members(room).catch((err: unknown) => { throw asHttpError(err); });
    sendJson(res, 200, { members });
  }

  async function disconnect(req: IncomingMessage, res: ServerResponse, url: URL, room: string): Promise<void> {
    const { config, hub } = ctx;
    if (!config.apiKey) throw new HttpError(403, 'PERMISSION_DENIED', 'no API key is configured on this server (set AQUEDUCT_API_KEY)');
    if (!isApiKeyRequest(req, config.apiKey)) {
      // Distinguish "no/invalid credentials" (401) from "a valid user token, but not the API key" (403).
      const user = await authenticateRequest(req, url, ctx.auth, config.apiKey);
      if (!user.superuser) throw new HttpError(403, 'PERMISSION_DENIED', 'disconnect needs the server API key (Authorization: Bearer or X-API-Key)');
    }
    const body = await readJsonBody(req, 4096);
    if (!isObj(body) || typeof body.user !== 'string' || body.user.length === 0 || body.user.length > 256) {
      throw new HttpError(400, 'BAD_REQUEST', 'body must be { "user": "<token sub>" }');
    }
    await hub.broker.publishControl({ kind: 'disconnect', user: body.user, room }).catch((err: unknown) => { throw asHttpError(err); });
    ctx.logger.info({ user: body.user, room }, 'disconnect requested over the HTTP API');
    sendJson(res, 200, {});
  }

  return {
    name: 'http-api',
    async handle(req, res, url) {
      if (url.pathname === '/api/publish') {
        if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
        await publish(req, res, url);
        return true;
      }
      const route = parseRoomPath(url.pathname);
      if (!route) return false;
      switch (route.action) {
        case 'history':
          if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
          await history(req, res, url, route.room);
          return true;
        case 'presence':
          if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
          await presence(req, res, url, route.room);
          return true;
        case 'disconnect':
          if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
          await disconnect(req, res, url, route.room);
          return true;
      }
    },
  };
}
