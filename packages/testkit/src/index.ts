export { freePort, waitForPort } from './ports.js';
export { startRedis, type RedisHandle, type RedisOptions } from './redis.js';
export { startPostgres, type PostgresHandle, type PostgresOptions } from './postgres.js';
export { startCoturn, type CoturnHandle, type CoturnOptions } from './coturn.js';
export { launchChromium, CHROMIUM_ARGS } from './chromium.js';
export { ChaosProxy, type ChaosProxyOptions } from './proxy.js';
export { spawnServer, REPO_ROOT, type ServerProcess, type SpawnServerOptions } from './server.js';
export { signToken, type TestTokenClaims } from './tokens.js';
export { LineTail, exitOf, stopChild, type ExitInfo } from './process-util.js';
