import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { startRedis, type RedisHandle } from './redis.js';

const run = promisify(execFile);

export interface RedisClusterOptions {
  /** Masters (no replicas). Default 3. */
  masters?: number;
  /** Longest wait for `cluster info` to say `cluster_state:ok` on every node. Default 30 s. */
  readyTimeoutMs?: number;
}

/** A throwaway Redis Cluster owned by a test. */
export interface RedisClusterHandle {
  /** Seed URLs, comma-separated (every master): the form `redisUrl` takes with `redis.cluster`. */
  url: string;
  nodes: RedisHandle[];
  /** Stops every node and removes their temp dirs. Safe to call twice. */
  stop(): Promise<void>;
}

async function clusterOk(port: number): Promise<boolean> {
  try {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'cluster', 'info'], { timeout: 5000 });
    return /cluster_state:ok/.test(stdout) && /cluster_slots_ok:16384/.test(stdout) && /cluster_known_nodes:(\d+)/.exec(stdout) !== null;
  } catch {
    return false;
  }
}

async function knownNodes(port: number): Promise<number> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'cluster', 'info'], { timeout: 5000 });
  return Number(/cluster_known_nodes:(\d+)/.exec(stdout)?.[1] ?? 0);
}

/**
 * Starts a Redis Cluster of `masters` masters and no replicas: each `redis-server --cluster-enabled
 * yes` on a free port (and a free cluster-bus port) in its own temp dir, joined with
 * `redis-cli --cluster create`, and resolves once every node reports `cluster_state:ok` and knows
 * every other node.
 */
export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const n = opts.masters ?? 3;
  const nodes: RedisHandle[] = [];
  const stop = async () => { await Promise.all(nodes.splice(0).map((h) => h.stop())); };
  try {
    for (let i = 0; i < n; i++) {
      const busPort = await freePort();
      nodes.push(await startRedis({
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort), '--cluster-node-timeout', '5000'],
      }));
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((h) => `127.0.0.1:${h.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 60_000 });
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    for (const h of nodes) {
      while (!(await clusterOk(h.port)) || (await knownNodes(h.port)) < n) {
        if (Date.now() > deadline) throw new Error(`redis cluster: node ${h.port} not ok after ${opts.readyTimeoutMs ?? 30_000} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: nodes.map((h) => h.url).join(','), nodes: [...nodes], stop };
}
