import { z } from 'zod';
import { sendJson } from './http-util.js';
import type { HttpModule } from './http-module.js';
import { CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_MAX_AGE_SEC } from './cors.js';
import { noAuth, originError } from './openapi-common.js';
import { SchemaSet, operationOf, pathsOf } from './openapi-gen.js';
import { route, type ApiRoutes, type RouteSpec } from './route.js';

/**
 * `/api/openapi.json`, generated from the route descriptors every part adds (route.ts): the room
 * API, streams, operations, WebSocket upgrades, documents, WebRTC, demo/admin, and this route.
 */

function baseDocument(): Record<string, unknown> {
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
    paths: {},
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A user token, or the server API key.' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The server API key (AQUEDUCT_API_KEY).' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'aqueduct_token' },
        queryToken: { type: 'apiKey', in: 'query', name: 'token' },
      },
    },
  };
}

/** `GET|HEAD /api/openapi.json`. */
const openApiRoute = route({
  method: 'get', head: true, path: '/api/openapi.json', tags: ['meta'], operationId: 'openapi', summary: 'This document', security: noAuth,
  responses: {
    200: { description: 'OpenAPI 3.1 (`Cache-Control: public, max-age=60`).', json: z.object({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) }) },
    ...originError,
  },
});

/**
 * The `OPTIONS` operation the CORS layer (cors.ts) answers on every `/api/*` path mounted after it.
 * `operationId` is derived from the path.
 */
function corsPreflight(path: string): RouteSpec {
  const id = path.replace(/^\/api\//, '').replace(/[{}]/g, '').split(/[^A-Za-z0-9]+/).filter(Boolean)
    .map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1))).join('');
  const methods = z.literal(CORS_ALLOW_METHODS);
  return route({
    method: 'options', path, tags: ['cors'], operationId: `preflight_${id}`, summary: 'CORS preflight', security: noAuth,
    description:
      'Answered by the CORS layer before the route itself. Without `Origin`: 204 with `Allow`. From an allowed origin ' +
      `(any, when \`allowedOrigins\` is empty): 204 with \`Access-Control-Allow-Methods: ${CORS_ALLOW_METHODS}\`, ` +
      `\`Access-Control-Allow-Headers: ${CORS_ALLOW_HEADERS}\`, \`Access-Control-Max-Age: ${CORS_MAX_AGE_SEC}\`. ` +
      'From an origin not in `allowedOrigins`: 403. (A same-origin `Origin` is not CORS: the route answers, 405 for OPTIONS.)',
    headers: z.object({ Origin: z.string().optional() }),
    responses: {
      204: {
        description: 'Preflight accepted (or no Origin).',
        headers: {
          Allow: { description: 'Without Origin.', schema: methods },
          'Access-Control-Allow-Origin': { description: '`*`, or the echoed origin with an allow-list.', schema: z.string() },
          'Access-Control-Allow-Methods': { schema: methods },
          'Access-Control-Allow-Headers': { schema: z.literal(CORS_ALLOW_HEADERS) },
          'Access-Control-Max-Age': { schema: z.literal(String(CORS_MAX_AGE_SEC)) },
        },
      },
      ...originError,
    },
  });
}

/**
 * Builds the document from the parts' routes (and this route), then the CORS preflight (`OPTIONS`)
 * of every `/api/*` path behind the CORS layer (routes marked `cors: false` are mounted before it).
 */
export function buildOpenApi(parts: readonly ApiRoutes[] = []): Record<string, unknown> {
  const doc = baseDocument();
  const tags = doc.tags as Array<{ name: string }>;
  const set = new SchemaSet();
  const all: ApiRoutes[] = [...parts, { routes: [openApiRoute] }];
  for (const part of all) for (const t of part.tags ?? []) if (!tags.some((x) => x.name === t.name)) tags.push(t);
  const paths = pathsOf(all, set);
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith('/api/') || item.options || item['x-aqueduct-cors'] === false) continue;
    item.options = operationOf(corsPreflight(path), set);
  }
  doc.paths = paths;
  const components = doc.components as { schemas?: Record<string, unknown> };
  components.schemas = Object.fromEntries(Object.entries(set.components).sort(([a], [b]) => a.localeCompare(b)));
  return doc;
}

/** `GET /api/openapi.json` (no authentication: it describes, it holds no data). */
export function openApiModule(partsOf: () => readonly ApiRoutes[]): HttpModule {
  let cached: Record<string, unknown> | undefined;
  let cachedFor = -1;
  return {
    name: 'openapi',
    async handle(req, res, url) {
      if (url.pathname !== '/api/openapi.json' || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
      const parts = partsOf();
      if (!cached || cachedFor !== parts.length) {
        cached = buildOpenApi(parts);
        cachedFor = parts.length;
      }
      sendJson(res, 200, cached, { 'Cache-Control': 'public, max-age=60' });
      return true;
    },
  };
}
