import { sendJson } from './http-util.js';
import type { HttpModule } from './http-module.js';
import type { Config } from '../config.js';
import { disconnectBody, publishBody } from './api-bodies.js';
import { bodySchema } from './body.js';
import { CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_MAX_AGE_SEC } from './cors.js';
import { authErrors, corsPreflight, errorResponse, headOf, json, noAuth, originError, ref, type OpenApiFragment } from './openapi-common.js';

export type { OpenApiFragment } from './openapi-common.js';

const roomParam = {
  name: 'room', in: 'path', required: true,
  description: 'Room name, URL-encoded (`chat:lobby` → `chat%3Alobby`; a `/` inside the name may stay as is).',
  schema: { type: 'string', minLength: 1, maxLength: 200 },
};
const roomsParam = {
  name: 'rooms', in: 'query', required: true,
  description: 'Comma-separated room names (at most `sse.maxRoomsPerStream`, default 50). The token needs `sub` in each.',
  schema: { type: 'string' }, example: 'news:global,orders:42',
};
const tokenParam = {
  name: 'token', in: 'query', required: false,
  description: 'A user token, for clients that cannot set headers (EventSource). Prefer the Authorization header elsewhere.',
  schema: { type: 'string' },
};

function baseDocument(config: Config): Record<string, unknown> {
  const { sse, limits } = config;
  const openApiGet = {
    tags: ['meta'], operationId: 'openapi', summary: 'This document', security: noAuth,
    responses: {
      200: { description: 'OpenAPI 3.1 (`Cache-Control: public, max-age=60`).', content: json({ type: 'object', required: ['openapi', 'info', 'paths'] }) },
      ...originError,
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Aqueduct HTTP API',
      version: '1.0.0',
      description:
        'Every HTTP endpoint of an Aqueduct node: Server-Sent Events and long polling; server-side publish, history, presence and ' +
        'disconnect; document content, versions and audit log; ICE servers; health, readiness and metrics; the demo and admin ' +
        'routes; and the two WebSocket upgrades (`/ws`, `/yjs/{doc}`; their frames are in PROTOCOL.md). ' +
        'JSON in and out; every error is `{ "error": { "code", "message" } }` with the status listed (any route may also answer ' +
        '500 INTERNAL). Positions are `(epoch, offset)`; SSE ids and poll cursors encode the position of every room of the stream. ' +
        'A documented `/api/*` path called with an undocumented method answers 405 BAD_REQUEST (`/api/openapi.json`: 404); other ' +
        'paths, and an unknown path, answer 404 NOT_FOUND. Credentials: a user token (JWT) as `Authorization: Bearer`, the `aqueduct_token` cookie or `?token=`; ' +
        'or the server API key (AQUEDUCT_API_KEY) as `Authorization: Bearer` or `X-API-Key`, which holds every permission in every room.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { apiKey: [] }, { cookie: [] }, { queryToken: [] }],
    tags: [
      { name: 'streams', description: 'Server → client pipes: Server-Sent Events and long polling.' },
      { name: 'publish', description: 'Publishing from backends and clients without a socket.' },
      { name: 'rooms', description: 'History, presence and operator actions on one room.' },
      { name: 'meta', description: 'This document.' },
      { name: 'cors', description: 'Preflights answered by the CORS layer on `/api/*` (README §CORS).' },
    ],
    paths: {
      '/api/events': {
        get: {
          tags: ['streams'],
          operationId: 'streamEvents',
          summary: 'Server-Sent Events stream of one or more rooms, resumable by Last-Event-ID',
          description:
            'Each publication is one event: `event:` (its event name, default `message`; all are `message` with `named=0`), ' +
            '`data:` (JSON, see SseMessage) and `id:` (the cursor of every room after this event). ' +
            'Control events: `ready` (replay done, see SseReady), `reset` (history does not cover the id for a room, see SseReset), ' +
            `\`disconnect\` (the server ends the stream, see SseDisconnect). \`retry: ${sse.retryMs}\` is sent once; a \`: ping\` comment ` +
            `every ${sse.heartbeatMs} ms of silence. A reader more than ${sse.bufferBytes} bytes behind is closed (it resumes by id).`,
          parameters: [
            roomsParam,
            { name: 'Last-Event-ID', in: 'header', required: false, description: 'Resume after this event id (sent by EventSource on reconnect; wins over `lastEventId`).', schema: { type: 'string' } },
            { name: 'lastEventId', in: 'query', required: false, description: 'Resume after this event id (for clients that cannot set the header).', schema: { type: 'string' } },
            { name: 'named', in: 'query', required: false, description: '`0`: send every publication as `event: message` (its name stays in the JSON).', schema: { type: 'string', enum: ['0', '1'] } },
            tokenParam,
          ],
          responses: {
            200: {
              description: 'The event stream (`Cache-Control: no-store`, `X-Accel-Buffering: no`).',
              headers: {
                'Cache-Control': { schema: { type: 'string', const: 'no-store' } },
                'X-Accel-Buffering': { schema: { type: 'string', const: 'no' } },
              },
              content: { 'text/event-stream': { schema: { type: 'string', description: 'text/event-stream; see SseMessage, SseReset, SseReady, SseDisconnect.' } } },
            },
            400: errorResponse('BAD_REQUEST (malformed or forged Last-Event-ID, missing rooms), INVALID_ROOM, TOO_MANY_ROOMS'),
            ...authErrors,
            429: errorResponse(`RATE_LIMITED: more than ${sse.maxStreamsPerUser} open streams for this user`),
            503: errorResponse('UNAVAILABLE: node at its connection limit, or broker down; HOOK_FAILED: a backend hook failed (fail closed)'),
          },
        },
      },
      '/api/poll': {
        get: {
          tags: ['streams'],
          operationId: 'poll',
          summary: 'Long polling with the same cursor semantics as SSE',
          description:
            'Without `cursor`: answers at once with the current cursor. With one: answers at once when something is newer ' +
            `(or a room must be reset), otherwise holds until the first live event or \`timeoutMs\` (default and maximum ${sse.pollTimeoutMs} ms).`,
          parameters: [
            roomsParam,
            { name: 'cursor', in: 'query', required: false, description: 'The `cursor` of the previous answer, or an SSE event id.', schema: { type: 'string' } },
            { name: 'timeoutMs', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: sse.pollTimeoutMs } },
            { name: 'limit', in: 'query', required: false, description: 'Most events per answer.', schema: { type: 'integer', minimum: 1, maximum: limits.maxHistoryLimit } },
            tokenParam,
          ],
          responses: {
            200: { description: 'Events after the cursor (possibly none after the timeout).', content: json(ref('PollResult')) },
            400: errorResponse('BAD_REQUEST (malformed or forged cursor), INVALID_ROOM, TOO_MANY_ROOMS'),
            ...authErrors,
            429: errorResponse('RATE_LIMITED: too many open streams for this user'),
            503: errorResponse('UNAVAILABLE; HOOK_FAILED: a backend hook failed (fail closed)'),
          },
        },
      },
      '/api/publish': {
        post: {
          tags: ['publish'],
          operationId: 'publish',
          summary: 'Publish to a room',
          description:
            'With the server API key (backends) or a user token with `pub` on the room. A repeated `idempotencyKey` (or ' +
            '`Idempotency-Key` header) from the same caller within `limits.idempotencyTtlMs` publishes nothing and returns the first result with `duplicate: true`.',
          parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 128 } }],
          requestBody: { required: true, content: json(ref('PublishRequest')) },
          responses: {
            200: { description: 'Position of the publication (empty for volatile ones).', content: json(ref('PublishResult')) },
            400: errorResponse('BAD_REQUEST (not JSON, bad field), INVALID_ROOM'),
            401: authErrors[401],
            403: errorResponse('PERMISSION_DENIED, PUBLISH_DISABLED (user tokens in namespaces without client publish), or the code an onPublish backend hook denied with'),
            413: errorResponse(`MESSAGE_TOO_LARGE: data over ${limits.maxMessageBytes} bytes`),
            415: errorResponse('BAD_REQUEST: Content-Type must be application/json'),
            429: errorResponse('RATE_LIMITED (user tokens only)'),
            503: errorResponse('UNAVAILABLE; HOOK_FAILED: a backend hook failed (fail closed)'),
          },
        },
      },
      '/api/rooms/{room}/history': {
        get: {
          tags: ['rooms'],
          operationId: 'roomHistory',
          summary: 'Publications of a room (needs `sub`)',
          parameters: [
            roomParam,
            { name: 'since', in: 'query', required: false, description: '`epoch:offset`, or an SSE event id / poll cursor holding this room. Without it: the latest publications.', schema: { type: 'string' } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: limits.maxHistoryLimit } },
          ],
          responses: {
            200: { description: 'A page of history; `recovered: false` means history does not cover `since`.', content: json(ref('HistoryPage')) },
            400: errorResponse('BAD_REQUEST, INVALID_ROOM'),
            ...authErrors,
            503: errorResponse('UNAVAILABLE; HOOK_FAILED: a backend hook failed (fail closed)'),
          },
        },
      },
      '/api/rooms/{room}/presence': {
        get: {
          tags: ['rooms'],
          operationId: 'roomPresence',
          summary: 'Members of a room (needs `presence`)',
          parameters: [roomParam],
          responses: {
            200: { description: 'Current members (cluster-wide).', content: json({ type: 'object', required: ['members'], properties: { members: { type: 'array', items: ref('Member') } } }) },
            400: errorResponse('INVALID_ROOM'),
            ...authErrors,
            409: errorResponse('PRESENCE_DISABLED'),
            503: errorResponse('UNAVAILABLE'),
          },
        },
      },
      '/api/rooms/{room}/disconnect': {
        post: {
          tags: ['rooms'],
          operationId: 'roomDisconnect',
          summary: "Close a user's connections in a room (server API key only)",
          description: 'Every node closes the user\'s room-bus connections (close 4502) and SSE streams (`event: disconnect`, code 4502) in the room.',
          security: [{ bearer: [] }, { apiKey: [] }],
          parameters: [roomParam],
          requestBody: { required: true, content: json(bodySchema(disconnectBody)) },
          responses: {
            200: { description: 'Sent to every node.', content: json({ type: 'object' }) },
            400: errorResponse('BAD_REQUEST, INVALID_ROOM'),
            401: authErrors[401],
            403: errorResponse('PERMISSION_DENIED: not the API key, or none configured'),
            503: errorResponse('UNAVAILABLE'),
          },
        },
      },
      '/api/openapi.json': { get: openApiGet, head: headOf(openApiGet) },
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A user token, or the server API key.' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The server API key (AQUEDUCT_API_KEY).' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'aqueduct_token' },
        queryToken: { type: 'apiKey', in: 'query', name: 'token' },
      },
      schemas: {
        Error: {
          type: 'object', required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
        },
        Origin: { type: 'object', required: ['client', 'user'], properties: { client: { type: 'string' }, user: { type: 'string' } } },
        Member: {
          type: 'object', required: ['client', 'user'],
          properties: { client: { type: 'string' }, user: { type: 'string' }, info: { type: 'object' } },
        },
        Publication: {
          type: 'object', required: ['epoch', 'offset', 'data'],
          properties: { epoch: { type: 'string' }, offset: { type: 'integer', minimum: 1 }, event: { type: 'string' }, data: {}, from: ref('Origin') },
        },
        HistoryPage: {
          type: 'object', required: ['epoch', 'offset', 'recovered', 'publications'],
          properties: {
            epoch: { type: 'string' }, offset: { type: 'integer', minimum: 0 }, recovered: { type: 'boolean' },
            publications: { type: 'array', items: ref('Publication') },
          },
        },
        PublishRequest: bodySchema(publishBody),
        PublishResult: {
          type: 'object',
          properties: { epoch: { type: 'string' }, offset: { type: 'integer' }, duplicate: { type: 'boolean' } },
        },
        SseMessage: {
          type: 'object', required: ['room', 'data'],
          description: 'The `data:` of a publication event. Volatile ones have no epoch/offset and no `id:`.',
          properties: {
            room: { type: 'string' }, epoch: { type: 'string' }, offset: { type: 'integer' }, event: { type: 'string' },
            data: {}, from: ref('Origin'), volatile: { type: 'boolean', const: true },
          },
        },
        SseReset: {
          type: 'object', required: ['room', 'epoch', 'offset'],
          properties: { room: { type: 'string' }, epoch: { type: 'string' }, offset: { type: 'integer' } },
        },
        SseReady: {
          type: 'object', required: ['rooms'],
          properties: { rooms: { type: 'object', additionalProperties: { type: 'object', required: ['epoch', 'offset'], properties: { epoch: { type: 'string' }, offset: { type: 'integer' } } } } },
        },
        SseDisconnect: {
          type: 'object', required: ['code', 'reason', 'reconnect'],
          properties: { code: { type: 'integer' }, reason: { type: 'string' }, reconnect: { type: 'boolean' } },
        },
        PollEvent: {
          oneOf: [
            { allOf: [ref('SseMessage'), { type: 'object', required: ['type'], properties: { type: { const: 'message' }, id: { type: 'string' } } }] },
            { allOf: [ref('SseReset'), { type: 'object', required: ['type', 'id'], properties: { type: { const: 'reset' }, id: { type: 'string' } } }] },
            { allOf: [ref('SseDisconnect'), { type: 'object', required: ['type'], properties: { type: { const: 'disconnect' } } }] },
          ],
        },
        PollResult: {
          type: 'object', required: ['cursor', 'events', 'more'],
          properties: { cursor: { type: 'string' }, events: { type: 'array', items: ref('PollEvent') }, more: { type: 'boolean' } },
        },
      },
    },
  };
}

/**
 * Builds the document: this module's routes, then every fragment the node's parts added (ops,
 * WebSocket upgrades, documents, WebRTC, demo/admin), then the CORS preflight (`OPTIONS`) of every `/api/*` path behind the CORS layer
 * (path items marked `x-aqueduct-cors: false` are mounted before it).
 */
export function buildOpenApi(config: Config, fragments: readonly OpenApiFragment[] = []): Record<string, unknown> {
  const doc = baseDocument(config);
  const paths = doc.paths as Record<string, Record<string, unknown>>;
  const schemas = (doc.components as { schemas: Record<string, unknown> }).schemas;
  const tags = doc.tags as Array<{ name: string }>;
  for (const f of fragments) {
    Object.assign(paths, f.paths ?? {});
    Object.assign(schemas, f.schemas ?? {});
    for (const t of f.tags ?? []) if (!tags.some((x) => x.name === t.name)) tags.push(t);
  }
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith('/api/') || item.options || item['x-aqueduct-cors'] === false) continue;
    item.options = corsPreflight(path, CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_MAX_AGE_SEC);
  }
  return doc;
}

/** `GET /api/openapi.json` (no authentication: it describes, it holds no data). */
export function openApiModule(config: Config, fragmentsOf: () => readonly OpenApiFragment[]): HttpModule {
  let cached: Record<string, unknown> | undefined;
  let cachedFor = -1;
  return {
    name: 'openapi',
    async handle(req, res, url) {
      if (url.pathname !== '/api/openapi.json' || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
      const fragments = fragmentsOf();
      if (!cached || cachedFor !== fragments.length) {
        cached = buildOpenApi(config, fragments);
        cachedFor = fragments.length;
      }
      sendJson(res, 200, cached, { 'Cache-Control': 'public, max-age=60' });
      return true;
    },
  };
}
