import type { Config } from '../config.js';
import { errorResponse, type OpenApiFragment } from '../http/openapi-common.js';

const upgradeHeaders = [
  { name: 'Upgrade', in: 'header', required: true, schema: { type: 'string', const: 'websocket' } },
  { name: 'Connection', in: 'header', required: true, schema: { type: 'string', const: 'Upgrade' } },
  { name: 'Sec-WebSocket-Key', in: 'header', required: true, schema: { type: 'string' } },
  { name: 'Sec-WebSocket-Version', in: 'header', required: true, schema: { type: 'string', const: '13' } },
];
/** Refused upgrades (server.ts `rejectUpgrade`) are an empty body with the status. */
const refused = (description: string) => ({ description: `${description} (empty body, \`Connection: close\`).` });

/**
 * The two WebSocket endpoints (server.ts `onUpgrade`, ws.ts, docs/install.ts + yjs.ts). OpenAPI
 * cannot describe the frames; PROTOCOL.md and README §Collaborative documents do.
 */
export function websocketOpenApi(config: Config): OpenApiFragment {
  const common = {
    403: refused('Origin not in `allowedOrigins`'),
    404: errorResponse('NOT_FOUND: not an upgrade request (a plain GET is no route)'),
  };
  return {
    tags: [{ name: 'websocket', description: 'WebSocket upgrades: the room bus and Yjs document sync. The frames are described in PROTOCOL.md and the README.' }],
    paths: {
      '/ws': {
        get: {
          tags: ['websocket'],
          operationId: 'roomBus',
          summary: 'The room bus (WebSocket upgrade)',
          description:
            'Subprotocols `aqueduct.json.v1` (text frames) and `aqueduct.msgpack.v1` (binary); another one is accepted and closed with 4503 BAD_PROTOCOL. ' +
            'Authenticate with the first `auth` frame, or `?token=` (answered as request id 0). See PROTOCOL.md.',
          security: [{ queryToken: [] }, {}],
          parameters: [
            ...upgradeHeaders,
            { name: 'Sec-WebSocket-Protocol', in: 'header', required: false, schema: { type: 'string', enum: ['aqueduct.json.v1', 'aqueduct.msgpack.v1'] } },
            { name: 'token', in: 'query', required: false, description: 'A user token (instead of the first `auth` frame).', schema: { type: 'string' } },
          ],
          responses: {
            101: { description: 'Switched to the room bus.' },
            400: refused('Malformed WebSocket handshake'),
            ...common,
            503: refused(`Shutting down, or \`limits.maxConnections\` (${config.limits.maxConnections}) open on this node`),
          },
        },
      },
      '/yjs/{doc}': {
        get: {
          tags: ['websocket'],
          operationId: 'yjsSync',
          summary: 'Yjs sync and awareness for the stock y-websocket provider (WebSocket upgrade)',
          description:
            'Everything after `/yjs/` is the document name, URL-decoded (the provider appends the raw name). A user token is required ' +
            '(`?token=`, Bearer or the `aqueduct_token` cookie): `sub` reads, `pub` writes. Refusals after the upgrade are close codes (README §Collaborative documents).',
          security: [{ queryToken: [] }, { bearer: [] }, { cookie: [] }],
          parameters: [
            { name: 'doc', in: 'path', required: true, description: 'Document (room) name.', schema: { type: 'string', minLength: 1, maxLength: 200 } },
            ...upgradeHeaders,
            { name: 'token', in: 'query', required: false, description: 'A user token.', schema: { type: 'string' } },
          ],
          responses: {
            101: { description: 'Switched to the Yjs sync protocol.' },
            400: refused('Invalid document name or URL encoding, or a malformed handshake'),
            ...common,
            503: refused(`Shutting down, or \`docs.maxConnections\` (${config.docs.maxConnections}) open on this node`),
          },
        },
      },
    },
  };
}
