import type { Broker } from '../broker/broker.js';
import { MemoryBroker } from '../broker/broker-memory.js';
import { splitUrls } from '../broker/shard-ring.js';
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Presence } from '../presence/presence.js';
import { MemoryPresence } from '../presence/presence-memory.js';
import type { InstallDocsOptions } from '../docs/install.js';

/** Which backend carries history, fanout and presence (README §Brokers). */
export type BackendKind = 'memory' | 'redis' | 'nats';

/** `config.broker`, or what the configured URLs imply: NATS, else Redis, else memory. */
export function backendKind(config: Config): BackendKind {
  const kind = config.broker ?? (config.natsUrl ? 'nats' : config.redisUrl ? 'redis' : 'memory');
  if (kind === 'nats' && !config.natsUrl) throw new ConfigError('broker "nats" needs natsUrl (NATS_URL)');
  if (kind === 'redis' && !config.redisUrl) throw new ConfigError('broker "redis" needs redisUrl (REDIS_URL)');
  return kind;
}

// Loaded on demand so that single-node deployments load neither ioredis nor the NATS client.
const MODULES = {
  natsBroker: '../broker/broker-nats.js',
  natsPresence: '../presence/presence-nats.js',
  redisBroker: '../broker/broker-redis.js',
  redisPresence: '../presence/presence-redis.js',
  shardedBroker: '../broker/broker-redis-sharded.js',
  shardedPresence: '../presence/presence-redis-sharded.js',
} as const;

interface Common { logger: Logger; config: Config; nodeId?: string }
type Ctor<O, T> = new (opts: O) => T;

async function load<T>(path: string, name: string): Promise<T> {
  return ((await import(path)) as Record<string, T>)[name];
}

/**
 * The broker and presence of a node, from the config, unless injected: memory by default; one
 * Redis, several Redis shards (comma-separated `redisUrl`) or a Redis Cluster (`redis.cluster`);
 * or NATS JetStream (`natsUrl`).
 */
export async function createBackends(config: Config, logger: Logger, injected: { broker?: Broker; presence?: Presence }): Promise<{ broker: Broker; presence: Presence }> {
  const kind = backendKind(config);
  const common: Common = { logger, config, nodeId: config.nodeId };
  let broker = injected.broker;
  let presence = injected.presence;
  if (kind === 'memory') {
    broker ??= new MemoryBroker({ maxRooms: config.limits.maxRooms, maxIdempotencyKeysPerRoom: config.limits.maxIdempotencyKeysPerRoom });
    presence ??= new MemoryPresence();
  } else if (kind === 'nats') {
    const url = config.natsUrl as string;
    broker ??= new (await load<Ctor<Common & { url: string }, Broker>>(MODULES.natsBroker, 'NatsBroker'))({ ...common, url });
    presence ??= new (await load<Ctor<Common & { url: string }, Presence>>(MODULES.natsPresence, 'NatsPresence'))({ ...common, url });
  } else {
    const urls = splitUrls(config.redisUrl as string);
    if (urls.length === 1 || config.redis.cluster) {
      // A Redis Cluster is one broker whose connection takes every URL as a seed node.
      const url = config.redis.cluster ? urls.join(',') : urls[0];
      broker ??= new (await load<Ctor<Common & { url: string }, Broker>>(MODULES.redisBroker, 'RedisBroker'))({ ...common, url });
      presence ??= new (await load<Ctor<Common & { url: string }, Presence>>(MODULES.redisPresence, 'RedisPresence'))({ ...common, url });
    } else {
      broker ??= new (await load<Ctor<Common & { urls: string[] }, Broker>>(MODULES.shardedBroker, 'ShardedRedisBroker'))({ ...common, urls });
      presence ??= new (await load<Ctor<Common & { urls: string[] }, Presence>>(MODULES.shardedPresence, 'ShardedRedisPresence'))({ ...common, urls });
    }
  }
  return { broker, presence };
}

/**
 * The document backends the config asks for: DATABASE_URL selects PostgreSQL (else SQLite in the
 * data dir); NATS_URL (when NATS is the broker) or REDIS_URL carries updates across nodes. Loaded
 * on demand so a single node never loads `pg`, `ioredis` or `nats`. Explicit options win.
 */
export async function configuredDocBackends(config: Config, logger: Logger, opts: InstallDocsOptions = {}): Promise<InstallDocsOptions> {
  const out: InstallDocsOptions = { ...opts };
  if (!out.store && config.databaseUrl) {
    const { PostgresDocStore } = await import('../docs/doc-store-postgres.js');
    out.store = PostgresDocStore.forConfig(config, logger);
  }
  if (!out.bus && config.natsUrl && (config.broker ?? 'nats') === 'nats') {
    // On NATS, document updates travel over core NATS subjects next to the room bus (README §NATS JetStream).
    const { NatsDocBus } = await import('./doc-bus-nats.js');
    out.bus = new NatsDocBus({ url: config.natsUrl, logger, config });
  }
  if (!out.bus && config.redisUrl) {
    const { RedisDocBus } = await import('../docs/doc-bus-redis.js');
    // With several Redis shards, document updates travel over the first one (README §Brokers).
    out.bus = new RedisDocBus({ url: splitUrls(config.redisUrl)[0], logger, config });
  }
  return out;
}
