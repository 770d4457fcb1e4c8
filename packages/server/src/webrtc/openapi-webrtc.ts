import type { Config } from '../config.js';
import { bodySchema } from '../http/body.js';
import { statsBody } from './webrtc-bodies.js';
import { MAX_STATS_BODY_BYTES } from './webrtc-http.js';
import { anyCredential, authErrors, bodyErrors, errorResponse, json, ref, type OpenApiFragment } from '../http/openapi-common.js';

/** `GET /api/ice-servers`, `POST /api/webrtc/stats` (webrtc-http.ts). */
export function webrtcOpenApi(config: Config): OpenApiFragment {
  return {
    tags: [{ name: 'webrtc', description: 'ICE servers (STUN, TURN with expiring coturn REST credentials) and connection-path reports.' }],
    paths: {
      '/api/ice-servers': {
        get: {
          tags: ['webrtc'],
          operationId: 'iceServers',
          summary: 'STUN URLs and TURN URLs with fresh credentials (needs `signal`)',
          description:
            'For callers with the `signal` permission in `room`, or without `room` in some room (the API key always). ' +
            'TURN credentials are coturn REST-API form (`use-auth-secret`): username `<expiry unix seconds>:<sub>`, ' +
            `credential base64(HMAC-SHA1(secret, username)), valid \`turn.ttlSec\` (${config.turn.ttlSec} s). ` +
            'Without TURN configured the list holds the STUN URLs only and `turn: false`.',
          security: anyCredential,
          parameters: [
            { name: 'room', in: 'query', required: false, description: 'Check `signal` in this room.', schema: { type: 'string', minLength: 1, maxLength: 200 } },
            { name: 'turn', in: 'query', required: false, description: '`required`: 503 instead of a STUN-only list when TURN is not configured.', schema: { type: 'string', enum: ['required'] } },
          ],
          responses: {
            200: { description: 'Pass `iceServers` to `RTCPeerConnection`.', content: json(ref('IceServers')) },
            400: errorResponse('INVALID_ROOM'),
            401: authErrors[401],
            403: errorResponse('PERMISSION_DENIED: no `signal` (in `room`, or anywhere), or Origin not allowed'),
            503: errorResponse('UNAVAILABLE: `turn=required` and TURN is not configured (AQUEDUCT_TURN_SECRET and AQUEDUCT_TURN_URLS)'),
          },
        },
      },
      '/api/webrtc/stats': {
        post: {
          tags: ['webrtc'],
          operationId: 'webrtcStats',
          summary: 'Report an established peer connection by path (relayed or direct)',
          description: 'Counts `aqueduct_webrtc_connections_total{path}` in `/metrics`, so operators see the relayed (TURN) share. For callers with `signal` in some room.',
          security: anyCredential,
          requestBody: { required: true, content: json(bodySchema(statsBody)) },
          responses: {
            200: { description: 'Counted.', content: json({ type: 'object', required: ['ok'], properties: { ok: { const: true } } }) },
            400: errorResponse("BAD_REQUEST: path must be 'relay' or 'direct', or the body is not JSON"),
            401: authErrors[401],
            403: errorResponse('PERMISSION_DENIED: no `signal` permission anywhere, or Origin not allowed'),
            ...bodyErrors(MAX_STATS_BODY_BYTES),
          },
        },
      },
    },
    schemas: {
      IceServers: {
        type: 'object', required: ['iceServers', 'turn'],
        properties: {
          iceServers: {
            type: 'array',
            items: { type: 'object', required: ['urls'], properties: { urls: { type: 'array', items: { type: 'string' } }, username: { type: 'string' }, credential: { type: 'string' } } },
          },
          turn: { type: 'boolean', description: 'Whether TURN servers (with credentials) are included.' },
          ttlSec: { type: 'integer', description: 'TURN credential lifetime (only with TURN).' },
          expiresAt: { type: 'integer', description: 'When the TURN credentials expire, ms since epoch (only with TURN).' },
        },
      },
    },
  };
}
