import type { NodeHost } from '../context.js';
import type { SessionExtensions } from '../core/session-extensions.js';
import { JanusConnection } from './janus-connection.js';
import { sfuAdminModule } from './sfu-admin.js';
import { sfuRoutes } from './sfu-routes.js';
import { SfuMetrics } from './sfu-metrics.js';
import { SfuService } from './sfu-service.js';

/**
 * Mounts the SFU module: `media` requests on the room bus go to `SfuService`; with `sfu.janusUrl`
 * set, one Janus connection per node, the `sfu` readiness check (503 on `/readyz` while Janus is
 * unreachable) and the `aqueduct_sfu_*` metrics. Without it, media requests answer UNAVAILABLE.
 */
export function installSfu(server: NodeHost & { readonly extensions: SessionExtensions }): void {
  const ctx = server.context;
  const cfg = ctx.config.sfu;
  const logger = ctx.logger;
  let service: SfuService | undefined;
  const janus = cfg.janusUrl === undefined ? undefined : new JanusConnection({
    url: cfg.janusUrl,
    apiSecret: cfg.apiSecret,
    requestTimeoutMs: cfg.requestTimeoutMs,
    maxPendingRequests: cfg.maxPendingRequests,
    keepaliveMs: cfg.keepaliveMs,
    reconnectMinMs: cfg.reconnectMinMs,
    reconnectMaxMs: Math.max(cfg.reconnectMinMs, cfg.reconnectMaxMs),
  }, {
    up: () => undefined,
    down: (reason) => {
      metrics.errors.inc({ code: 'JANUS_DOWN' });
      service?.onJanusDown(reason);
    },
    event: (msg) => service?.onJanusEvent(msg),
    rtt: (ms, request) => metrics.janusRtt.observe({ request }, ms / 1000),
  }, logger.child({ module: 'sfu' }));
  service = new SfuService(cfg, janus, logger.child({ module: 'sfu' }), {
    maxRoomsPerConnection: ctx.config.limits.maxRoomsPerConnection,
    meshMembers: (room) => ctx.hub.members(room).then((ms) => ms.filter((m) => m.mesh === true).length, () => 0),
    announceSfu: (room) => {
      ctx.hub.publish(room, { sfu: true }, { volatile: true, event: 'aq.media' })
        .catch((err: unknown) => logger.info({ err, room }, 'sfu announcement failed'));
    },
  });
  const s = service;
  const metrics = new SfuMetrics(ctx.metrics.registry, () => s.stats());
  service.metrics = metrics;
  server.extensions.media = service;
  server.use(sfuAdminModule(ctx, () => s.stats()));
  server.addOpenApi(sfuRoutes);
  if (!janus) return;
  server.addHealth('sfu', () => janus.isUp ? { ok: true } : { ok: false, detail: `janus unreachable: ${janus.downReason}` });
  janus.start();
  server.onClose(async () => {
    await s.close();
    janus.close();
  });
}
