import type { NodeHost } from '../context.js';
import { webrtcOpenApi } from './openapi-webrtc.js';
import { webrtcModule } from './webrtc-http.js';

/** Mounts the WebRTC routes and warns about a half-configured TURN set-up. */
export function installWebrtc(host: NodeHost): void {
  const { config, logger } = host.context;
  const { turn } = config;
  if (Boolean(turn.secret) !== turn.urls.length > 0) {
    logger.warn('TURN needs both AQUEDUCT_TURN_SECRET and AQUEDUCT_TURN_URLS; serving STUN only');
  }
  host.use(webrtcModule(host.context));
  host.addOpenApi(webrtcOpenApi(config));
}
