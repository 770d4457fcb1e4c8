import type { Config } from '../../config.js';
import { bodySchema } from '../../http/body.js';
import { tokenBody } from './demo-bodies.js';
import { MAX_TOKEN_BODY_BYTES } from './demo.js';
import { LIVE_ROLES } from './demo-roles.js';
import { apiKeyOnly, bodyErrors, errorResponse, headOf, json, noAuth, ref, type OpenApiFragment } from '../../http/openapi-common.js';


const etag = { ETag: { schema: { type: 'string' } }, 'Cache-Control': { schema: { type: 'string', const: 'no-cache' } } };
const ifNoneMatch = { name: 'If-None-Match', in: 'header', required: false, description: 'The ETag of a previous answer: 304 when unchanged.', schema: { type: 'string' } };
const notModified = { description: 'Unchanged since the ETag sent in If-None-Match.', headers: etag };

/** A page or asset from `packages/server/public` (static-files.ts): GET and HEAD, ETag revalidation. */
function staticFile(operationId: string, summary: string, mediaTypes: string[], extra: { description?: string; parameters?: unknown[] } = {}) {
  return {
    tags: ['demo'], operationId, summary, security: noAuth,
    ...(extra.description ? { description: extra.description } : {}),
    parameters: [...(extra.parameters ?? []), ifNoneMatch],
    responses: {
      200: { description: 'The file.', headers: etag, content: Object.fromEntries(mediaTypes.map((t) => [t, { schema: { type: 'string' } }])) },
      304: notModified,
    },
  };
}

/**
 * The demo app and the admin dashboard (demo.ts): pages, static assets, `POST /api/demo/token`,
 * `GET /api/admin/stats`. Like every /api route they are behind the CORS layer (preflights,
 * Origin allow-list).
 */
export function demoOpenApi(config: Config): OpenApiFragment {
  const root = staticFile('demoPage', 'The demo room page (demo mode), or a landing page saying demo mode is off', ['text/html'], {
    description: '`/index.html` is the same page. With demo mode off: a small HTML landing page (no ETag, never 304).',
  });
  const live = staticFile('livePage', 'The live-stream room app (demo mode): `?role=host|cohost|viewer`, `?room=<slug>`, `?name=`', ['text/html'], {
    description: '`/live/` is the same page. With demo mode off: 404 NOT_FOUND.',
  });
  const whiteboard = staticFile('whiteboardPage', 'The whiteboard app page (demo mode only; 404 with demo mode off)', ['text/html']);
  const sw = staticFile('demoServiceWorker', 'The demo page\'s service worker (keeps the app shell for reloads without network; scope `/`)', ['text/javascript']);
  const admin = staticFile('adminPage', 'The admin dashboard page (its data needs the API key)', ['text/html'], { description: '`/admin/` is the same page.' });
  const build = staticFile('demoBundle', 'Scripts of the demo, whiteboard, live-stream and dashboard pages (`demo.js`, `whiteboard.js`, `live.js`, `admin.js` and their source maps)', ['text/javascript', 'application/json'], {
    parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' }, example: 'demo.js' }],
    description: 'Any other name: no route (404).',
  });
  const asset = staticFile('demoAsset', 'Top-level assets of the pages (`/style.css`, `/favicon.svg`)', ['text/css', 'image/svg+xml', 'image/x-icon', 'image/png', 'application/manifest+json'], {
    parameters: [{ name: 'asset', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9-]+\\.(css|svg|ico|png|webmanifest)$' }, example: 'style.css' }],
    description: 'Served with the content type of its extension. A name that matches no file: no route (404).',
  });
  return {
    tags: [{ name: 'demo', description: 'The demo app (demo mode only, `--demo`), the admin dashboard and their assets.' }],
    paths: {
      '/': { get: root, head: headOf(root) },
      '/live': { get: live, head: headOf(live) },
      '/admin': { get: admin, head: headOf(admin) },
      '/whiteboard': { get: whiteboard, head: headOf(whiteboard) },
      '/sw.js': { get: sw, head: headOf(sw) },
      '/build/{file}': { get: build, head: headOf(build) },
      '/{asset}': { get: asset, head: headOf(asset) },
      '/api/demo/token': {
        post: {
          tags: ['demo'],
          operationId: 'demoToken',
          summary: 'An anonymous short-lived token for `demo:*` rooms (demo mode only)',
          description:
            `Anyone who can reach the server gets a token (\`demoTokenTtlSec\`, ${config.demoTokenTtlSec} s) with \`sub\`, \`pub\`, \`presence\` and \`signal\` ` +
            'in every `demo:*` room; the user id always starts with `demo-`. Missing fields are generated. Not behind the CORS layer.',
          security: noAuth,
          requestBody: {
            required: true,
            description: 'A JSON object; every field is optional (`{}` is fine).',
            content: json(bodySchema(tokenBody)),
          },
          responses: {
            200: { description: 'The token and who it is for.', content: json(ref('DemoToken')) },
            400: errorResponse('BAD_REQUEST naming the bad field, or the body is not JSON'),
            404: errorResponse('NOT_FOUND: demo mode is off (start the server with --demo)'),
            ...bodyErrors(MAX_TOKEN_BODY_BYTES),
          },
        },
      },
      '/api/admin/stats': {
        get: {
          tags: ['demo'],
          operationId: 'adminStats',
          summary: 'One report per live node (the dashboard\'s data; API key only)',
          description: 'Nodes share their reports through the broker, so any node answers for the cluster. Not behind the CORS layer.',
          security: apiKeyOnly,
          responses: {
            200: {
              description: 'This node\'s id, whether demo mode is on, and the reports of every node seen in the last three sampling intervals.',
              content: json({ type: 'object', required: ['node', 'demo', 'nodes'], properties: { node: { type: 'string' }, demo: { type: 'boolean' }, nodes: { type: 'array', items: ref('NodeStats') } } }),
            },
            401: errorResponse('NOT_AUTHENTICATED: no credentials, or credentials other than the API key (a user token too)'),
            403: errorResponse('PERMISSION_DENIED: no API key is configured on this server'),
          },
        },
      },
    },
    schemas: {
      DemoToken: {
        type: 'object', required: ['token', 'user', 'name', 'color', 'rooms', 'expiresAt'],
        properties: {
          token: { type: 'string' }, user: { type: 'string' }, name: { type: 'string' }, color: { type: 'string' },
          role: { type: 'string', enum: [...LIVE_ROLES], description: 'Present when one was asked for.' },
          rooms: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } }, description: 'The grants: `{ "demo:*": [...] }`.' },
          expiresAt: { type: 'integer', description: 'ms since epoch' },
        },
      },
      NodeStats: {
        type: 'object',
        required: ['node', 'at', 'uptimeSec', 'connections', 'connectionsTotal', 'rooms', 'roomCount', 'messagesInPerSec', 'messagesOutPerSec',
          'messagesIn', 'messagesOut', 'drops', 'slowDisconnects', 'docsLoaded', 'sseStreams', 'series'],
        properties: {
          node: { type: 'string' },
          at: { type: 'integer', description: 'When the report was made, ms since epoch.' },
          uptimeSec: { type: 'integer' },
          connections: { type: 'object', additionalProperties: { type: 'number' }, description: 'Open connections by transport (`ws`, `sse`, `yjs`).' },
          connectionsTotal: { type: 'number' },
          rooms: { type: 'array', description: 'Rooms with local subscribers, largest first (at most `admin.maxRoomsListed`).', items: { type: 'object', required: ['room', 'subscribers'], properties: { room: { type: 'string' }, subscribers: { type: 'integer' } } } },
          roomCount: { type: 'integer' },
          messagesInPerSec: { type: 'number' }, messagesOutPerSec: { type: 'number' },
          messagesIn: { type: 'number' }, messagesOut: { type: 'number' },
          drops: { type: 'number' }, slowDisconnects: { type: 'number' }, docsLoaded: { type: 'number' }, sseStreams: { type: 'number' },
          sfu: {
            type: 'object', description: 'Media through the SFU on this node (README §Media (SFU)); absent without `sfu.janusUrl`.',
            required: ['up', 'rooms', 'publishers', 'subscribers'],
            properties: { up: { type: 'boolean' }, rooms: { type: 'integer' }, publishers: { type: 'integer' }, subscribers: { type: 'integer' } },
          },
          series: {
            type: 'array', description: 'Recent samples, oldest first (at most `admin.statsSamples`).',
            items: { type: 'object', required: ['t', 'connections', 'inPerSec', 'outPerSec'], properties: { t: { type: 'integer' }, connections: { type: 'number' }, inPerSec: { type: 'number' }, outPerSec: { type: 'number' } } },
          },
        },
      },
    },
  };
}
