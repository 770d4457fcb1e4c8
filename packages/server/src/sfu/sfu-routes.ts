import { z } from 'zod';
import { apiKeyOnly, errorResponse } from '../http/openapi-common.js';
import { route, type ApiRoutes } from '../http/route.js';

/** The SFU module's HTTP route (sfu-admin.ts); its bus messages are in PROTOCOL.md §Media (SFU). */

const count = z.int().min(0);

export const sfuRoutes: ApiRoutes = {
  tags: [{ name: 'sfu', description: 'Media through the Janus SFU (README §Media (SFU)).' }],
  routes: [
    route({
      method: 'get', path: '/api/admin/sfu', tags: ['sfu'], operationId: 'adminSfu',
      summary: "This node's SFU figures, and the sessions Janus holds (API key only)",
      description: 'With `sfu.adminUrl`, `janusSessions` is the length of the Janus Admin API `list_sessions` (null when it could not be read, with `adminError`).',
      security: apiKeyOnly,
      responses: {
        200: {
          description: 'Counts of this node; `configured: false` when `sfu.janusUrl` is not set.',
          json: z.object({
            node: z.string(), configured: z.boolean(), up: z.boolean(),
            rooms: count, publishers: count, subscribers: count, participants: count,
            janusSessions: z.int().nullable().optional(), adminError: z.string().optional(),
          }),
        },
        401: errorResponse('NOT_AUTHENTICATED: no credentials, or credentials other than the API key'),
        403: errorResponse('PERMISSION_DENIED: no API key is configured on this server, or Origin not in allowedOrigins'),
      },
    }),
  ],
};
