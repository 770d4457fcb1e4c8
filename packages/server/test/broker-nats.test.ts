import { after, before } from 'node:test';
import { startNats, type NatsHandle } from '@aqueduct/testkit';
import { NatsBroker } from '../src/broker/broker-nats.js';
import { runBrokerConformance } from './conformance/broker-conformance.js';

let nats: NatsHandle;
before(async () => { nats = await startNats(); });
after(async () => { await nats?.stop(); });

runBrokerConformance('nats', {
  shared: true,
  async node(handler) {
    const broker = new NatsBroker({ url: nats.url });
    await broker.start(handler);
    return broker;
  },
});
