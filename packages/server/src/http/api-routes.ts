import { z } from 'zod';
import { MAX_CID_LENGTH, MAX_EVENT_NAME_LENGTH, MAX_ROOM_NAME_LENGTH, isValidRoomName } from '@aqueduct/protocol';
import type { Config } from '../config.js';
import { type BodySpec } from './body.js';
import { apiKeyOnly, authErrors, errorResponse } from './openapi-common.js';
import { intQuery, route } from './route.js';

/**
 * The room API (http-api.ts): `POST /api/publish`, `GET /api/rooms/{room}/history`,
 * `GET /api/rooms/{room}/presence`, `POST /api/rooms/{room}/disconnect`. The schemas below validate
 * the requests and are their OpenAPI (openapi-gen.ts).
 */

const ROOM = 'room must be a valid room name';
const EVENT = `event must be a single-line string of 1..${MAX_EVENT_NAME_LENGTH} characters`;
/** Also the message for a bad `Idempotency-Key` header. */
export const IDEMPOTENCY_KEY_MESSAGE = `idempotencyKey must be a string of 1..${MAX_CID_LENGTH} characters`;

const badRoom = (iss: { input?: unknown }) => `invalid room name ${JSON.stringify(String(iss.input).slice(0, 64))}`;
/** A room name in a path (already URL-decoded by the router). */
export const roomPathParam = z.string()
  .min(1, { error: badRoom }).max(MAX_ROOM_NAME_LENGTH, { error: badRoom }).refine(isValidRoomName, { error: badRoom })
  .meta({ errorCode: 'INVALID_ROOM', description: 'Room name, URL-encoded (`chat:lobby` → `chat%3Alobby`; a `/` inside the name may stay as is).' });

export const Origin = z.object({ client: z.string(), user: z.string() }).meta({ id: 'Origin' });
export const Member = z.object({ client: z.string(), user: z.string(), info: z.record(z.string(), z.unknown()).optional() }).meta({ id: 'Member' });
export const Publication = z.object({
  epoch: z.string(), offset: z.int().min(1), event: z.string().optional(), data: z.unknown(), from: Origin.optional(),
}).meta({ id: 'Publication' });
export const HistoryPage = z.object({
  epoch: z.string(), offset: z.int().min(0), recovered: z.boolean(), publications: z.array(Publication),
}).meta({ id: 'HistoryPage' });
const PublishResult = z.object({ epoch: z.string().optional(), offset: z.int().optional(), duplicate: z.boolean().optional() }).meta({ id: 'PublishResult' });

const idempotencyKey = z.string({ error: IDEMPOTENCY_KEY_MESSAGE }).min(1, IDEMPOTENCY_KEY_MESSAGE).max(MAX_CID_LENGTH, IDEMPOTENCY_KEY_MESSAGE);

/** `POST /api/publish`. */
export const publishBody = {
  notObject: 'body must be a JSON object',
  schema: z.object({
    room: z.string({ error: ROOM }).min(1, ROOM).max(MAX_ROOM_NAME_LENGTH, ROOM).refine(isValidRoomName, ROOM).meta({ errorCode: 'INVALID_ROOM' }),
    data: z.custom<unknown>((v) => v !== undefined, { error: 'data is required' }).meta({ description: 'Any JSON value.' }),
    event: z.string({ error: EVENT }).min(1, EVENT).max(MAX_EVENT_NAME_LENGTH, EVENT).refine((v) => !/[\r\n\0]/.test(v), EVENT).optional(),
    volatile: z.boolean({ error: 'volatile must be a boolean' }).optional().meta({ description: 'Not stored, no position, dropped first under backpressure.' }),
    idempotencyKey: idempotencyKey.optional(),
  }).meta({ id: 'PublishRequest' }),
} satisfies BodySpec<z.ZodType>;

const DISCONNECT = 'body must be { "user": "<token sub>" }';

/** `POST /api/rooms/:room/disconnect`. */
export const disconnectBody = {
  notObject: DISCONNECT,
  schema: z.object({
    user: z.string({ error: DISCONNECT }).min(1, DISCONNECT).max(256, DISCONNECT).meta({ description: 'The token `sub`.' }),
  }),
} satisfies BodySpec<z.ZodType>;

const roomParams = z.object({ room: roomPathParam });

/** The room API's routes for a config (limits appear in the text and the parameter bounds). */
export function apiRoutes(config: Config) {
  const { limits } = config;
  const publish = route({
    method: 'post', path: '/api/publish', tags: ['publish'], operationId: 'publish', summary: 'Publish to a room',
    description:
      'With the server API key (backends) or a user token with `pub` on the room. A repeated `idempotencyKey` (or ' +
      '`Idempotency-Key` header) from the same caller within `limits.idempotencyTtlMs` publishes nothing and returns the first result with `duplicate: true`.',
    headers: z.object({ 'Idempotency-Key': idempotencyKey.optional() }),
    body: publishBody,
    responses: {
      200: { description: 'Position of the publication (empty for volatile ones).', json: PublishResult },
      400: errorResponse('BAD_REQUEST (not JSON, bad field), INVALID_ROOM'),
      401: authErrors[401],
      403: errorResponse('PERMISSION_DENIED, PUBLISH_DISABLED (user tokens in namespaces without client publish), or the code an onPublish backend hook denied with'),
      413: errorResponse(`MESSAGE_TOO_LARGE: data over ${limits.maxMessageBytes} bytes`),
      415: errorResponse('BAD_REQUEST: Content-Type must be application/json'),
      429: errorResponse('RATE_LIMITED (user tokens only)'),
      503: errorResponse('UNAVAILABLE; HOOK_FAILED: a backend hook failed (fail closed)'),
    },
  });
  const history = route({
    method: 'get', path: '/api/rooms/{room}/history', tags: ['rooms'], operationId: 'roomHistory', summary: 'Publications of a room (needs `sub`)',
    params: roomParams,
    query: z.object({
      since: z.string().optional().meta({ description: '`epoch:offset`, or an SSE event id / poll cursor holding this room. Without it: the latest publications.' }),
      limit: intQuery('limit', limits.maxHistoryLimit, limits.maxHistoryLimit),
    }),
    responses: {
      200: { description: 'A page of history; `recovered: false` means history does not cover `since`.', json: HistoryPage },
      400: errorResponse('BAD_REQUEST, INVALID_ROOM'),
      ...authErrors,
      503: errorResponse('UNAVAILABLE; HOOK_FAILED: a backend hook failed (fail closed)'),
    },
  });
  const presence = route({
    method: 'get', path: '/api/rooms/{room}/presence', tags: ['rooms'], operationId: 'roomPresence', summary: 'Members of a room (needs `presence`)',
    params: roomParams,
    responses: {
      200: { description: 'Current members (cluster-wide).', json: z.object({ members: z.array(Member) }) },
      400: errorResponse('INVALID_ROOM'),
      ...authErrors,
      409: errorResponse('PRESENCE_DISABLED'),
      503: errorResponse('UNAVAILABLE'),
    },
  });
  const disconnect = route({
    method: 'post', path: '/api/rooms/{room}/disconnect', tags: ['rooms'], operationId: 'roomDisconnect',
    summary: "Close a user's connections in a room (server API key only)",
    description: 'Every node closes the user\'s room-bus connections (close 4502) and SSE streams (`event: disconnect`, code 4502) in the room.',
    security: apiKeyOnly,
    params: roomParams,
    body: disconnectBody,
    responses: {
      200: { description: 'Sent to every node.', json: z.object({}) },
      400: errorResponse('BAD_REQUEST, INVALID_ROOM'),
      401: authErrors[401],
      403: errorResponse('PERMISSION_DENIED: not the API key, or none configured'),
      503: errorResponse('UNAVAILABLE'),
    },
  });
  return { publish, history, presence, disconnect };
}
