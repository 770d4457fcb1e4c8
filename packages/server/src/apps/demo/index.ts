import { NodeStatsSampler } from '../../admin/node-stats.js';
import type { NodeHost } from '../../context.js';
import { demoModule } from './demo.js';
import { demoOpenApi } from './openapi-demo.js';

export { withDemoApiKey } from './demo.js';

/** Mounts the demo module and starts the stats sampler (stopped on close). */
export function installDemo(host: NodeHost): void {
  const ctx = host.context;
  const { config, logger } = ctx;
  if (config.demo) logger.warn('demo mode is ON: anyone who can reach this server gets a token for demo:* rooms');
  const stats = new NodeStatsSampler({
    nodeId: ctx.nodeId,
    hub: ctx.hub,
    metrics: ctx.metrics,
    logger,
    intervalMs: config.admin.statsIntervalMs,
    samples: config.admin.statsSamples,
    maxRoomsListed: config.admin.maxRoomsListed,
  });
  stats.start();
  host.onClose(async () => stats.stop());
  host.use(demoModule(ctx, stats));
  host.addOpenApi(demoOpenApi(config));
}
