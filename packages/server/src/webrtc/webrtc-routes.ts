import { z } from 'zod';
import { isValidRoomName } from '@aqueduct/protocol';
import type { Config } from '../config.js';
import type { BodySpec } from '../http/body.js';
import { anyCredential, authErrors, bodyErrors, errorResponse } from '../http/openapi-common.js';
import { route } from '../http/route.js';

/** `GET /api/ice-servers`, `POST /api/webrtc/stats` (webrtc-http.ts): the schemas validate the requests and are their OpenAPI. */

/** Largest body of `POST /api/webrtc/stats` (a report is a few dozen bytes). */
export const MAX_STATS_BODY_BYTES = 1024;

const PATH = "path must be 'relay' or 'direct'";

/** `POST /api/webrtc/stats`: the path of an established peer connection. */
export const statsBody = {
  notObject: PATH,
  schema: z.object({ path: z.enum(['relay', 'direct'], { error: PATH }) }),
} satisfies BodySpec<z.ZodType>;

const IceServers = z.object({
  iceServers: z.array(z.object({ urls: z.array(z.string()), username: z.string().optional(), credential: z.string().optional() })),
  turn: z.boolean().meta({ description: 'Whether TURN servers (with credentials) are included.' }),
  ttlSec: z.int().optional().meta({ description: 'TURN credential lifetime (only with TURN).' }),
  expiresAt: z.int().optional().meta({ description: 'When the TURN credentials expire, ms since epoch (only with TURN).' }),
}).meta({ id: 'IceServers' });

export const webrtcTags = [{ name: 'webrtc', description: 'ICE servers (STUN, TURN with expiring coturn REST credentials) and connection-path reports.' }];

export function webrtcRoutes(config: Config) {
  const iceServers = route({
    method: 'get', path: '/api/ice-servers', tags: ['webrtc'], operationId: 'iceServers',
    summary: 'STUN URLs and TURN URLs with fresh credentials (needs `signal` or a `media` permission)',
    description:
      'For callers with the `signal` permission (mesh) or `media`, `media:publish`, `media:subscribe` (SFU) in `room`, or without `room` in some room (the API key always). ' +
      'TURN credentials are coturn REST-API form (`use-auth-secret`): username `<expiry unix seconds>:<sub>`, ' +
      `credential base64(HMAC-SHA1(secret, username)), valid \`turn.ttlSec\` (${config.turn.ttlSec} s). ` +
      'Without TURN configured the list holds the STUN URLs only and `turn: false`.',
    security: anyCredential,
    query: z.object({
      room: z.string().refine(isValidRoomName, 'invalid room name').optional().meta({ errorCode: 'INVALID_ROOM', description: 'Check the permission in this room.' }),
      turn: z.string().optional().meta({ description: '`required`: 503 instead of a STUN-only list when TURN is not configured (other values: ignored).' }),
    }),
    responses: {
      200: { description: 'Pass `iceServers` to `RTCPeerConnection`.', json: IceServers },
      400: errorResponse('INVALID_ROOM'),
      401: authErrors[401],
      403: errorResponse('PERMISSION_DENIED: no `signal` or media permission (in `room`, or anywhere), or Origin not allowed'),
      503: errorResponse('UNAVAILABLE: `turn=required` and TURN is not configured (AQUEDUCT_TURN_SECRET and AQUEDUCT_TURN_URLS)'),
    },
  });
  const stats = route({
    method: 'post', path: '/api/webrtc/stats', tags: ['webrtc'], operationId: 'webrtcStats',
    summary: 'Report an established peer connection by path (relayed or direct)',
    description: 'Counts `aqueduct_webrtc_connections_total{path}` in `/metrics`, so operators see the relayed (TURN) share. For callers with `signal` or a media permission in some room.',
    security: anyCredential,
    body: statsBody,
    responses: {
      200: { description: 'Counted.', json: z.object({ ok: z.literal(true) }) },
      400: errorResponse("BAD_REQUEST: path must be 'relay' or 'direct', or the body is not JSON"),
      401: authErrors[401],
      403: errorResponse('PERMISSION_DENIED: no `signal` or media permission anywhere, or Origin not allowed'),
      ...bodyErrors(MAX_STATS_BODY_BYTES),
    },
  });
  return { iceServers, stats };
}
