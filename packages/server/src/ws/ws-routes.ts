import { z } from 'zod';
import type { Config } from '../config.js';
import { refused, upgradeErrors, upgradeHeaders, websocketTag } from '../http/openapi-common.js';
import { route, type ApiRoutes } from '../http/route.js';

/**
 * The room bus upgrade `/ws` (server.ts `onUpgrade`, ws.ts); `/yjs/{doc}` is declared by the
 * documents part (docs/docs-routes.ts). OpenAPI cannot describe the frames; PROTOCOL.md does.
 */
export function websocketRoutes(config: Config): ApiRoutes {
  const common = upgradeErrors;
  return {
    tags: [websocketTag],
    routes: [
      route({
        method: 'get', path: '/ws', tags: ['websocket'], operationId: 'roomBus', summary: 'The room bus (WebSocket upgrade)',
        description:
          'Subprotocols `aqueduct.json.v1` (text frames) and `aqueduct.msgpack.v1` (binary); another one is accepted and closed with 4503 BAD_PROTOCOL. ' +
          'Authenticate with the first `auth` frame, or `?token=` (answered as request id 0). See PROTOCOL.md.',
        security: [{ queryToken: [] }, {}],
        query: z.object({ token: z.string().optional().meta({ description: 'A user token (instead of the first `auth` frame).' }) }),
        headers: z.object({ ...upgradeHeaders, 'Sec-WebSocket-Protocol': z.enum(['aqueduct.json.v1', 'aqueduct.msgpack.v1']).optional() }),
        responses: {
          101: { description: 'Switched to the room bus.' },
          400: refused('Malformed WebSocket handshake'),
          ...common,
          503: refused(`Shutting down, or \`limits.maxConnections\` (${config.limits.maxConnections}) open on this node`),
        },
      }),
    ],
  };
}
