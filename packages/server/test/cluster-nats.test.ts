import { ChaosProxy, startNats, type NatsHandle } from '@aqueduct/testkit';
import { runClusterEngineSuite } from './cluster-engine-suite.js';

/* Issue 14: the cluster tests on NATS JetStream (one nats-server -js behind a proxy the test can block). */
let nats: NatsHandle;
let proxy: ChaosProxy;

runClusterEngineSuite({
  name: 'NATS JetStream',
  async start() {
    nats = await startNats();
    proxy = new ChaosProxy({ targetPort: nats.port });
    const port = await proxy.listen();
    return { NATS_URL: `nats://127.0.0.1:${port}` };
  },
  // nats-server killed and started with its JetStream store deleted.
  loseData: () => nats.restart({ keepStore: false }),
  block: () => proxy.block(),
  unblock: () => proxy.unblock(),
  async stop() {
    await proxy?.close();
    await nats?.stop();
  },
});
