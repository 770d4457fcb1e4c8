import { MemoryBroker } from '../src/broker/broker-memory.js';
import { runBrokerConformance } from './conformance/broker-conformance.js';

runBrokerConformance('memory', {
  shared: false,
  async node(handler) {
    const broker = new MemoryBroker();
    await broker.start(handler);
    return broker;
  },
});
