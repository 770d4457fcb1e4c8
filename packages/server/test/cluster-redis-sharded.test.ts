import { ChaosProxy, startRedis, type RedisHandle } from '@aqueduct/testkit';
import { runClusterEngineSuite } from './cluster-engine-suite.js';

/* Issue 14: the cluster tests on three Redis shards (each behind a proxy the test can block). */
let shards: RedisHandle[] = [];
let proxies: ChaosProxy[] = [];

runClusterEngineSuite({
  name: '3 Redis shards',
  async start() {
    shards = await Promise.all([startRedis(), startRedis(), startRedis()]);
    proxies = shards.map((s) => new ChaosProxy({ targetPort: s.port }));
    const ports = await Promise.all(proxies.map((p) => p.listen()));
    return { REDIS_URL: ports.map((p) => `redis://127.0.0.1:${p}`).join(',') };
  },
  // Every shard restarted empty: whichever holds the room lost it.
  loseData: async () => { await Promise.all(shards.map((s) => s.restart())); },
  block: () => { for (const p of proxies) p.block(); },
  unblock: () => { for (const p of proxies) p.unblock(); },
  async stop() {
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all(shards.map((s) => s.stop()));
  },
});
