import { headOf, json, noAuth, ref, type OpenApiFragment } from './openapi-common.js';

/** `/healthz`, `/readyz`, `/metrics` (ops.ts). GET and HEAD; other methods are no route (404). */
export function opsOpenApi(): OpenApiFragment {
  const healthz = {
    tags: ['operations'], operationId: 'healthz', summary: 'Liveness: 200 while the process serves', security: noAuth,
    responses: {
      200: {
        description: 'Alive.',
        content: json({ type: 'object', required: ['ok', 'node'], properties: { ok: { const: true }, node: { type: 'string', description: 'This node\'s id.' } } }),
      },
    },
  };
  const readyz = {
    tags: ['operations'], operationId: 'readyz', summary: 'Readiness: every backend reachable (broker, presence, docs, doc bus)', security: noAuth,
    responses: {
      200: { description: 'Every check is ok.', content: json(ref('Readiness')) },
      503: { description: 'At least one check failed (its `detail` says why).', content: json(ref('Readiness')) },
    },
  };
  const metrics = {
    tags: ['operations'], operationId: 'metrics', summary: 'Prometheus metrics (text exposition format)', security: noAuth,
    responses: {
      200: {
        description: '`aqueduct_*` counters, gauges and histograms of this node, plus process metrics. `Cache-Control: no-store`.',
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
    },
  };
  return {
    tags: [{ name: 'operations', description: 'Health, readiness and metrics of this node (no authentication; keep them off the public internet).' }],
    paths: {
      '/healthz': { get: healthz, head: headOf(healthz) },
      '/readyz': { get: readyz, head: headOf(readyz) },
      '/metrics': { get: metrics, head: headOf(metrics) },
    },
    schemas: {
      Readiness: {
        type: 'object', required: ['ok', 'node', 'checks'],
        properties: {
          ok: { type: 'boolean' }, node: { type: 'string' },
          checks: {
            type: 'object', description: 'One entry per backend: `broker`, `presence`, `docs`, and `docbus` when clustered.',
            additionalProperties: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' }, detail: { type: 'string' } } },
          },
        },
      },
    },
  };
}
