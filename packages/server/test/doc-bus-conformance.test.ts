import { after, before } from 'node:test';
import { startNats, startRedis, type NatsHandle, type RedisHandle } from '@aqueduct/testkit';
import { NatsDocBus } from '../src/cluster/doc-bus-nats.js';
import { MemoryDocBus } from '../src/docs/doc-bus-memory.js';
import { RedisDocBus } from '../src/docs/doc-bus-redis.js';
import { runDocBusConformance } from './conformance/doc-bus-conformance.js';

// One process hosting several nodes shares one MemoryDocBus: each "node" is that instance.
const shared = new MemoryDocBus();
runDocBusConformance('memory', { node: async () => shared });

let redis: RedisHandle;
before(async () => { redis = await startRedis(); });
after(async () => { await redis?.stop(); });
runDocBusConformance('redis', { node: async () => new RedisDocBus({ url: redis.url }) });

let nats: NatsHandle;
before(async () => { nats = await startNats(); });
after(async () => { await nats?.stop(); });
runDocBusConformance('nats', { node: async () => new NatsDocBus({ url: nats.url }) });
