import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  MAX_CID_LENGTH, decodeCursor, isValidRoomName, namespaceOf, type Position,
} from '@aqueduct/protocol';
import { can, type User } from '../auth/grants.js';
import { namespaceSettings, type NamespaceConfig } from '../config.js';
import { HttpError, authenticateRequest, isApiKeyRequest, readJsonBody, sendError, sendJson } from './http-util.js';
import type { HttpModule } from './http-module.js';
import { TokenBucket } from '../core/rate-limiter.js';
import type { ServerContext } from '../context.js';
import { dataBytes, publishAs, publishReply, PublishRefused } from '../core/publish-policy.js';
import { IDEMPOTENCY_KEY_MESSAGE, disconnectBody, publishBody } from './api-bodies.js';
import { parseBody } from './body.js';
import { admitRead, hookHttpError } from '../hooks/http-hooks.js';
import { asHttpError, intParam } from '../streams/stream-request.js';

/** Per-user publish buckets kept at most; the least recently created are forgotten first. */
const MAX_PUBLISH_BUCKETS = 10_000;
/** HTTP status of each publish refusal. */
const REFUSAL_STATUS = { MESSAGE_TOO_LARGE: 413, PERMISSION_DENIED: 403, PUBLISH_DISABLED: 403, RATE_LIMITED: 429 } as const;
/** Room-path routes: `/api/rooms/:room/<action>` (`:room` URL-encoded; `/` inside it is allowed). */
const ROOM_PREFIX = '/api/rooms/';
const ROOM_ACTIONS = ['history', 'presence', 'disconnect'] as const;
type RoomAction = (typeof ROOM_ACTIONS)[number];


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
  function take(user: User, bucketKey: string, ns: NamespaceConfig): boolean {
    const key = `${user.id}\u0000${bucketKey}`;
    let bucket = buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(ns.publishRatePerSec, ns.publishBurst);
      buckets.set(key, bucket);
      if (buckets.size > MAX_PUBLISH_BUCKETS) buckets.delete(buckets.keys().next().value as string);
    }
    return bucket.take();
  }

  async function publish(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { config, hub } = ctx;
    const user = await authenticateRequest(req, url, ctx.auth, config.apiKey);
    const body = parseBody(publishBody, await readJsonBody(req, config.limits.maxMessageBytes + 4096));
    const { room, data, event, volatile } = body;
    const header = req.headers['idempotency-key'];
    const key = body.idempotencyKey ?? (typeof header === 'string' ? header : undefined);
    if (key !== undefined && (key.length === 0 || key.length > MAX_CID_LENGTH)) throw new HttpError(400, 'BAD_REQUEST', IDEMPOTENCY_KEY_MESSAGE);
    const outcome = await publishAs(hub, config, {
      user,
      room,
      data,
      event,
      volatile,
      key,
      from: user.superuser ? undefined : { client: 'http', user: user.id },
      bytes: dataBytes(data),
    }, (bucketKey, ns) => take(user, bucketKey, ns)).catch((err: unknown) => {
      if (err instanceof PublishRefused) throw new HttpError(REFUSAL_STATUS[err.code], err.code, err.message);
      throw asHttpError(hookHttpError(err)); // backend hooks: 403 with the app's code, 503 HOOK_FAILED
    });
    sendJson(res, 200, publishReply(outcome));
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
    const page = await hub.history(room, since ? { since, limit } : { limit }).catch((err: unknown) => { throw asHttpError(err); });
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
    const body = parseBody(disconnectBody, await readJsonBody(req, 4096));
    await hub.disconnect(body.user, room).catch((err: unknown) => { throw asHttpError(err); });
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
