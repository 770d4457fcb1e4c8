import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { redisReconnectDelay } from '../redis-options.js';
import { splitUrls } from './shard-ring.js';

/** One Redis server, or a Redis Cluster reached through its seed nodes. */
export type RedisConnection = Redis | Cluster;

function seed(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) };
}

/**
 * A connection to `url`: a plain `Redis`, or with `cluster` an ioredis `Cluster` whose seed nodes
 * are the comma-separated URLs (credentials and TLS from the first). The options are those of each
 * node connection; a Cluster keeps their fail-fast behaviour (no offline queue) and reconnects with
 * the same capped back-off.
 */
export function redisConnection(url: string, cluster: boolean, options: RedisOptions): RedisConnection {
  if (!cluster) return new Redis(url, options);
  const urls = splitUrls(url);
  const first = new URL(urls[0]);
  const { lazyConnect, retryStrategy: _retry, ...nodeOptions } = options;
  return new Cluster(urls.map(seed), {
    lazyConnect,
    enableOfflineQueue: false,
    clusterRetryStrategy: redisReconnectDelay,
    // A MOVED/ASK during a resharding is followed; a slot whose master is down fails the command.
    maxRedirections: 16,
    retryDelayOnClusterDown: 100,
    slotsRefreshTimeout: options.connectTimeout ?? 5000,
    redisOptions: {
      ...nodeOptions,
      username: first.username ? decodeURIComponent(first.username) : undefined,
      password: first.password ? decodeURIComponent(first.password) : undefined,
      tls: first.protocol === 'rediss:' ? {} : undefined,
    },
  });
}
