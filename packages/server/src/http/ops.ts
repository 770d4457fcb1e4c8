import type { HttpModule } from './http-module.js';
import { sendJson } from './http-util.js';
import type { ServerContext } from '../context.js';

/** `/healthz` (process alive), `/readyz` (backends reachable), `/metrics` (Prometheus text). */
export function opsModule(ctx: ServerContext): HttpModule {
  return {
    name: 'ops',
    async handle(req, res, url) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      switch (url.pathname) {
        case '/healthz':
          sendJson(res, 200, { ok: true, node: ctx.nodeId });
          return true;
        case '/readyz': {
          const checks = ctx.readiness();
          const ok = Object.values(checks).every((c) => c.ok);
          // During a graceful shutdown the body says so first (README §Shutdown and readiness).
          const reason = checks.shutdown?.ok === false ? { reason: 'shutting down' } : {};
          sendJson(res, ok ? 200 : 503, { ok, ...reason, node: ctx.nodeId, checks });
          return true;
        }
        case '/metrics': {
          const body = await ctx.metrics.registry.metrics();
          res.writeHead(200, { 'Content-Type': ctx.metrics.registry.contentType, 'Cache-Control': 'no-store' });
          res.end(body);
          return true;
        }
        default:
          return false;
      }
    },
  };
}
