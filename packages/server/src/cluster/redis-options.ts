import type { RedisOptions } from 'ioredis';

/** Reconnect delay of every Redis connection: doubling from 100 ms, capped at 2 s. */
export function redisReconnectDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 6), 2000);
}

/**
 * Options of a connection that fails fast while Redis is away: no offline queue and no retries, so
 * callers get `BrokerUnavailableError` (reply code UNAVAILABLE) at once instead of waiting.
 */
export function failFastRedisOptions(commandTimeoutMs: number, connectionName: string): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectionName,
    retryStrategy: redisReconnectDelay,
  };
}
