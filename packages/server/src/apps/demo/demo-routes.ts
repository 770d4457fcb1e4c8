import { z } from 'zod';
import type { Config } from '../../config.js';
import type { BodySpec } from '../../http/body.js';
import { apiKeyOnly, bodyErrors, errorResponse, noAuth } from '../../http/openapi-common.js';
import { route, type ResponseSpec, type RouteSpec } from '../../http/route.js';
import { LIVE_ROLES } from './demo-roles.js';

/**
 * The demo app and the admin dashboard (demo.ts): pages, static assets, `POST /api/demo/token`,
 * `GET /api/admin/stats`. The token body schema validates the request and is its OpenAPI.
 */

/** Largest body of `POST /api/demo/token`. */
export const MAX_TOKEN_BODY_BYTES = 1024;

const NAME_RE = /^[\p{L}\p{N} _.'-]{1,32}$/u;
const USER = 'user must look like "demo-" followed by 6-32 lowercase letters or digits';
const NAME = "name must be 1-32 letters, digits, spaces or _ . ' -";
const COLOR = 'color must be #rrggbb';
const ROLE = `role must be one of ${LIVE_ROLES.join(', ')}`;

/** `POST /api/demo/token`: every field optional; missing ones are generated. */
export const tokenBody = {
  notObject: 'body must be a JSON object',
  schema: z.object({
    user: z.string({ error: USER }).regex(/^demo-[a-z0-9]{6,32}$/, USER).optional().meta({ description: 'Reuse an id (the page keeps it in sessionStorage).' }),
    name: z.string({ error: NAME }).refine((v) => NAME_RE.test(v.trim()), NAME).transform((v) => v.trim()).optional()
      .meta({ description: "1-32 letters, digits, space, _ . ' - (surrounding spaces are trimmed)" }),
    color: z.string({ error: COLOR }).regex(/^#[0-9a-fA-F]{6}$/, COLOR).transform((v) => v.toLowerCase()).optional(),
    role: z.enum(LIVE_ROLES, { error: ROLE }).optional()
      .meta({ description: 'A role of the live-stream app (`/live`): adds its media grant on `demo:live-*` (host, cohost: `media`; viewer: `media:subscribe`).' }),
  }),
} satisfies BodySpec<z.ZodType>;

const DemoToken = z.object({
  token: z.string(), user: z.string(), name: z.string(), color: z.string(),
  role: z.enum(LIVE_ROLES).optional().meta({ description: 'Present when one was asked for.' }),
  rooms: z.record(z.string(), z.array(z.string())).meta({ description: 'The grants: `{ "demo:*": [...] }`.' }),
  expiresAt: z.int().meta({ description: 'ms since epoch' }),
}).meta({ id: 'DemoToken' });

const NodeStats = z.object({
  node: z.string(),
  at: z.int().meta({ description: 'When the report was made, ms since epoch.' }),
  uptimeSec: z.int(),
  connections: z.record(z.string(), z.number()).meta({ description: 'Open connections by transport (`ws`, `sse`, `yjs`).' }),
  connectionsTotal: z.number(),
  rooms: z.array(z.object({ room: z.string(), subscribers: z.int() }))
    .meta({ description: 'Rooms with local subscribers, largest first (at most `admin.maxRoomsListed`).' }),
  roomCount: z.int(),
  messagesInPerSec: z.number(), messagesOutPerSec: z.number(),
  messagesIn: z.number(), messagesOut: z.number(),
  drops: z.number(), slowDisconnects: z.number(), docsLoaded: z.number(), sseStreams: z.number(),
  sfu: z.object({ up: z.boolean(), rooms: z.int(), publishers: z.int(), subscribers: z.int() }).optional()
    .meta({ description: 'Media through the SFU on this node (README §Media (SFU)); absent without `sfu.janusUrl`.' }),
  series: z.array(z.object({ t: z.int(), connections: z.number(), inPerSec: z.number(), outPerSec: z.number() }))
    .meta({ description: 'Recent samples, oldest first (at most `admin.statsSamples`).' }),
}).meta({ id: 'NodeStats' });

/** Top-level asset names served from `public/` (`/style.css`, `/favicon.svg`, ...). */
export const ASSET_RE = /^[a-z0-9-]+\.(css|svg|ico|png|webmanifest)$/;

const etag = { ETag: { schema: z.string() }, 'Cache-Control': { schema: z.literal('no-cache') } };
const ifNoneMatch = { 'If-None-Match': z.string().optional().meta({ description: 'The ETag of a previous answer: 304 when unchanged.' }) };
const notModified: ResponseSpec = { description: 'Unchanged since the ETag sent in If-None-Match.', headers: etag };

/** A page or asset from `packages/server/public` (static-files.ts): GET and HEAD, ETag revalidation. */
function staticFile(path: string, operationId: string, summary: string, description: string, mediaTypes: string[], params?: z.ZodObject<z.ZodRawShape>): RouteSpec {
  return route({
    method: 'get', head: true, path, tags: ['demo'], operationId, summary, description, security: noAuth,
    ...(params ? { params } : {}),
    headers: z.object(ifNoneMatch),
    responses: {
      200: { description: 'The file.', headers: etag, content: Object.fromEntries(mediaTypes.map((t) => [t, z.string()])) },
      304: notModified,
    },
  });
}

export const demoTags = [{ name: 'demo', description: 'The demo app (demo mode only, `--demo`), the admin dashboard and their assets.' }];

export function demoRoutes(config: Config) {
  const token = route({
    method: 'post', path: '/api/demo/token', tags: ['demo'], operationId: 'demoToken',
    summary: 'An anonymous short-lived token for `demo:*` rooms (demo mode only)',
    description:
      `Anyone who can reach the server gets a token (\`demoTokenTtlSec\`, ${config.demoTokenTtlSec} s) with \`sub\`, \`pub\`, \`presence\` and \`signal\` ` +
      'in every `demo:*` room; the user id always starts with `demo-`. Missing fields are generated.',
    security: noAuth,
    body: { ...tokenBody, description: 'A JSON object; every field is optional (`{}` is fine).' },
    responses: {
      200: { description: 'The token and who it is for.', json: DemoToken },
      400: errorResponse('BAD_REQUEST naming the bad field, or the body is not JSON'),
      404: errorResponse('NOT_FOUND: demo mode is off (start the server with --demo)'),
      ...bodyErrors(MAX_TOKEN_BODY_BYTES),
    },
  });
  const stats = route({
    method: 'get', path: '/api/admin/stats', tags: ['demo'], operationId: 'adminStats',
    summary: 'One report per live node (the dashboard\'s data; API key only)',
    description: 'Nodes share their reports through the broker, so any node answers for the cluster.',
    security: apiKeyOnly,
    responses: {
      200: {
        description: 'This node\'s id, whether demo mode is on, and the reports of every node seen in the last three sampling intervals.',
        json: z.object({ node: z.string(), demo: z.boolean(), nodes: z.array(NodeStats) }),
      },
      401: errorResponse('NOT_AUTHENTICATED: no credentials, or credentials other than the API key (a user token too)'),
      403: errorResponse('PERMISSION_DENIED: no API key is configured on this server'),
    },
  });
  const pages = [
    staticFile('/', 'demoPage', 'The demo room page (demo mode), or a landing page saying demo mode is off',
      '`/index.html` is the same page. With demo mode off: a small HTML landing page (no ETag, never 304).', ['text/html']),
    staticFile('/live', 'livePage', 'The live-stream room app (demo mode): `?role=host|cohost|viewer`, `?room=<slug>`, `?name=`',
      '`/live/` is the same page. With demo mode off: 404 NOT_FOUND.', ['text/html']),
    staticFile('/sw.js', 'demoServiceWorker', 'The demo page\'s service worker (keeps the app shell for reloads without network; scope `/`)',
      'Served from the root so that its scope is `/`.', ['text/javascript']),
    staticFile('/whiteboard', 'whiteboardPage', 'The whiteboard app page (demo mode only; 404 with demo mode off)',
      'Served only with demo mode on; otherwise no route (404).', ['text/html']),
    staticFile('/admin', 'adminPage', 'The admin dashboard page (its data needs the API key)', '`/admin/` is the same page.', ['text/html']),
    staticFile('/build/{file}', 'demoBundle', 'Scripts of the demo, whiteboard, live-stream and dashboard pages (`demo.js`, `whiteboard.js`, `live.js`, `admin.js` and their source maps)',
      'Any other name: no route (404).', ['text/javascript', 'application/json'],
      z.object({ file: z.string().meta({ example: 'demo.js' }) })),
    staticFile('/{asset}', 'demoAsset', 'Top-level assets of the pages (`/style.css`, `/favicon.svg`)',
      'Served with the content type of its extension. A name that matches no file: no route (404).',
      ['text/css', 'image/svg+xml', 'image/x-icon', 'image/png', 'application/manifest+json'],
      z.object({ asset: z.string().regex(ASSET_RE).meta({ example: 'style.css' }) })),
  ];
  return { token, stats, pages };
}
