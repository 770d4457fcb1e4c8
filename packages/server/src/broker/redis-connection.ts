import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { redisReconnectDelay } from '../cluster/redis-options.js';
import { BrokerUnavailableError } from './broker.js';
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

/**
 * Calls `fn` each time a Cluster's subscriber connection is replaced and ready (ioredis moves it to
 * another node when its node goes away, and resubscribes the channels, but says nothing: messages
 * published meanwhile were missed and the caller must catch up). Polls the client's subscriber every
 * `everyMs`; reads ioredis's internal `subscriber` (no public event exists). Returns the stop function.
 */
export function watchClusterSubscriber(cluster: Cluster, fn: () => void, everyMs = 500): () => void {
  type Sub = { status: string; once(event: 'ready', cb: () => void): void };
  const current = () => (cluster as unknown as { subscriber?: { getInstance(): Sub | null } }).subscriber?.getInstance() ?? null;
  let last = current();
  const timer = setInterval(() => {
    const inst = current();
    if (!inst || inst === last) return;
    const first = last === null;
    last = inst;
    if (first) return;
    if (inst.status === 'ready') fn();
    else inst.once('ready', () => { if (last === inst) fn(); });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Turns any Redis client error into the broker's temporary error; the cause is kept. */
export function redisUnavailable(err: unknown): BrokerUnavailableError {
  if (err instanceof BrokerUnavailableError) return err;
  const e = new BrokerUnavailableError(`redis unavailable: ${(err as Error)?.message ?? String(err)}`);
  (e as Error & { cause?: unknown }).cause = err;
  return e;
}
