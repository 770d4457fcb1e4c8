import { after, before } from 'node:test';
import { startRedis, type RedisHandle } from '@aqueduct/testkit';
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
