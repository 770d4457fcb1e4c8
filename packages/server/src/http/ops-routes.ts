import { z } from 'zod';
import { noAuth } from './openapi-common.js';
import { route, type ApiRoutes } from './route.js';

/** `/healthz`, `/readyz`, `/metrics` (ops.ts). GET and HEAD; other methods are no route (404). */

const Readiness = z.object({
  ok: z.boolean(),
  reason: z.literal('shutting down').optional()
    .meta({ description: 'Present during a graceful shutdown (`shutdown.readyzGraceMs` before connections close).' }),
  node: z.string(),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string().optional() }))
    .meta({ description: 'One entry per backend: `broker`, `presence`, `docs`, and `docbus` when clustered; `shutdown` (not ok) during a graceful shutdown.' }),
}).meta({ id: 'Readiness' });

export const opsRoutes: ApiRoutes = {
  tags: [{ name: 'operations', description: 'Health, readiness and metrics of this node (no authentication; keep them off the public internet).' }],
  routes: [
    route({
      method: 'get', head: true, path: '/healthz', tags: ['operations'], operationId: 'healthz', summary: 'Liveness: 200 while the process serves', security: noAuth,
      responses: { 200: { description: 'Alive.', json: z.object({ ok: z.literal(true), node: z.string().meta({ description: 'This node\'s id.' }) }) } },
    }),
    route({
      method: 'get', head: true, path: '/readyz', tags: ['operations'], operationId: 'readyz',
      summary: 'Readiness: every backend reachable (broker, presence, docs, doc bus)', security: noAuth,
      responses: {
        200: { description: 'Every check is ok.', json: Readiness },
        503: { description: 'At least one check failed (its `detail` says why), or the node is shutting down (`reason`, README §Shutdown and readiness).', json: Readiness },
      },
    }),
    route({
      method: 'get', head: true, path: '/metrics', tags: ['operations'], operationId: 'metrics', summary: 'Prometheus metrics (text exposition format)', security: noAuth,
      responses: {
        200: {
          description: '`aqueduct_*` counters, gauges and histograms of this node, plus process metrics. `Cache-Control: no-store`.',
          content: { 'text/plain': z.string() },
        },
      },
    }),
  ],
};
