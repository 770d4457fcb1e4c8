import { can, type User } from '../auth/grants.js';
import type { HttpModule } from '../http/http-module.js';
import { authenticateRequest, HttpError, readJsonBody, sendJson } from '../http/http-util.js';
import type { ServerContext } from '../context.js';
import { parseBody } from '../http/body.js';
import { iceServersFor, turnConfigured } from './ice.js';
import { parseQuery } from '../http/route.js';
import { MAX_STATS_BODY_BYTES, webrtcRoutes } from './webrtc-routes.js';

/** Users who may make WebRTC connections: the mesh (`signal`) and the SFU (`media`, `media:*`). */
const RTC_PERMS = ['signal', 'media', 'media:publish', 'media:subscribe'] as const;

function hasSignalAnywhere(user: User): boolean {
  return user.superuser === true || user.grants.some((g) => RTC_PERMS.some((p) => g.perms.has(p)));
}

/**
 * WebRTC HTTP routes (README §WebRTC):
 * - `GET /api/ice-servers[?room=R][&turn=required]`: STUN URLs and TURN URLs with expiring coturn
 *   REST credentials, for callers with the `signal` permission (in `room`, or in some room).
 *   `turn=required` turns "TURN is not configured" into 503 UNAVAILABLE instead of a STUN-only list.
 * - `POST /api/webrtc/stats` `{ path: 'relay'|'direct' }`: counts a client's established peer
 *   connection by path, so operators see the relayed share (TURN bandwidth) in `/metrics`.
 */
export function webrtcModule(ctx: ServerContext): HttpModule {
  const { config, logger, metrics, auth } = ctx;
  const routes = webrtcRoutes(config);
  return {
    name: 'webrtc',
    async handle(req, res, url) {
      if (url.pathname === '/api/ice-servers') {
        if (req.method !== 'GET') throw new HttpError(405, 'BAD_REQUEST', 'use GET');
        const user = await authenticateRequest(req, url, auth, config.apiKey);
        const { room, turn } = parseQuery(routes.iceServers, url);
        if (room !== undefined) {
          if (!RTC_PERMS.some((p) => can(user, p, room))) throw new HttpError(403, 'PERMISSION_DENIED', `no signal or media permission for ${room}`);
        } else if (!hasSignalAnywhere(user)) {
          throw new HttpError(403, 'PERMISSION_DENIED', 'ICE servers are for users with the signal permission');
        }
        if (turn === 'required' && !turnConfigured(config.turn)) {
          throw new HttpError(503, 'UNAVAILABLE', 'TURN is not configured on this server (AQUEDUCT_TURN_SECRET and AQUEDUCT_TURN_URLS)');
        }
        sendJson(res, 200, iceServersFor(config.turn, user.id, Date.now()));
        return true;
      }
      if (url.pathname === '/api/webrtc/stats') {
        if (req.method !== 'POST') throw new HttpError(405, 'BAD_REQUEST', 'use POST');
        const user = await authenticateRequest(req, url, auth, config.apiKey);
        if (!hasSignalAnywhere(user)) throw new HttpError(403, 'PERMISSION_DENIED', 'stats are for users with the signal permission');
        const { path } = parseBody(routes.stats.body, await readJsonBody(req, MAX_STATS_BODY_BYTES));
        metrics.webrtcRelayed.inc({ path });
        logger.debug({ user: user.id, path }, 'webrtc connection reported');
        sendJson(res, 200, { ok: true });
        return true;
      }
      return false;
    },
  };
}
