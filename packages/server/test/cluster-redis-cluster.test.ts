import { startRedisCluster, type RedisClusterHandle } from '@aqueduct/testkit';
import { runClusterEngineSuite } from './cluster-engine-suite.js';

/* The cluster tests on a Redis Cluster of 3 masters; every master behind a proxy the test can block
 * (the masters announce the proxies' ports, so clients only reach them that way). */
let cluster: RedisClusterHandle | undefined;

runClusterEngineSuite({
  name: 'a Redis Cluster of 3 masters',
  async start() {
    cluster = await startRedisCluster({ masters: 3, proxied: true });
    return { REDIS_URL: cluster.url, REDIS_CLUSTER: '1' };
  },
  // Every master restarted empty (the cluster layout survives in nodes.conf).
  loseData: async () => { await cluster?.restart(); },
  block: () => { for (const p of cluster?.proxies ?? []) p.block(); },
  unblock: () => { for (const p of cluster?.proxies ?? []) p.unblock(); },
  async stop() { await cluster?.stop(); },
});
