import { apiKeyOnly, errorResponse, json, type OpenApiFragment } from '../http/openapi-common.js';

/** OpenAPI of the SFU module's HTTP route (its bus messages are in PROTOCOL.md §Media (SFU)). */
export function sfuOpenApi(): OpenApiFragment {
  const count = { type: 'integer', minimum: 0 };
  return {
    tags: [{ name: 'sfu', description: 'Media through the Janus SFU (README §Media (SFU)).' }],
    paths: {
      '/api/admin/sfu': {
        get: {
          tags: ['sfu'],
          operationId: 'adminSfu',
          summary: "This node's SFU figures, and the sessions Janus holds (API key only)",
          description: 'With `sfu.adminUrl`, `janusSessions` is the length of the Janus Admin API `list_sessions` (null when it could not be read, with `adminError`).',
          security: apiKeyOnly,
          responses: {
            200: {
              description: 'Counts of this node; `configured: false` when `sfu.janusUrl` is not set.',
              content: json({
                type: 'object', required: ['node', 'configured', 'up', 'rooms', 'publishers', 'subscribers', 'participants'],
                properties: {
                  node: { type: 'string' }, configured: { type: 'boolean' }, up: { type: 'boolean' },
                  rooms: count, publishers: count, subscribers: count, participants: count,
                  janusSessions: { type: ['integer', 'null'] }, adminError: { type: 'string' },
                },
              }),
            },
            401: errorResponse('NOT_AUTHENTICATED: no credentials, or credentials other than the API key'),
            403: errorResponse('PERMISSION_DENIED: no API key is configured on this server, or Origin not in allowedOrigins'),
          },
        },
      },
    },
  };
}
