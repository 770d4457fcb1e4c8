import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { ChaosProxy } from './proxy.js';
import { startRedis, type RedisHandle } from './redis.js';

const run = promisify(execFile);

export interface RedisClusterOptions {
  /** Masters (no replicas). Default 3. */
  masters?: number;
  /** Longest wait for `cluster info` to say `cluster_state:ok` on every node. Default 30 s. */
  readyTimeoutMs?: number;
  /**
   * Put a ChaosProxy in front of each node and make the nodes announce the proxies' ports, so that
   * clients reach the cluster only through them (`proxies[i].block()` makes it unreachable).
   */
  proxied?: boolean;
}

/** A throwaway Redis Cluster owned by a test. */
export interface RedisClusterHandle {
  /** Seed URLs, comma-separated (every master): the form `redisUrl` takes with `redis.cluster`. */
  url: string;
  nodes: RedisHandle[];
  /** With `proxied`: the proxy in front of each node (the URLs point at them). */
  proxies: ChaosProxy[];
  /** Kills and restarts every node with its data lost (the cluster layout is kept); resolves when ok again. */
  restart(): Promise<void>;
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
  const proxies: ChaosProxy[] = [];
  const all = [...nodes];
  const stop = async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await Promise.all(nodes.splice(0).map((h) => h.stop()));
  };
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const waitOk = async () => {
    const deadline = Date.now() + readyTimeoutMs;
    for (const h of all) {
      while (!(await clusterOk(h.port)) || (await knownNodes(h.port)) < n) {
        if (Date.now() > deadline) throw new Error(`redis cluster: node ${h.port} not ok after ${readyTimeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const urls: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const busPort = await freePort();
      const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort), '--cluster-node-timeout', '5000'];
      if (opts.proxied) {
        const port = await freePort();
        const proxy = new ChaosProxy({ targetPort: port });
        const proxyPort = await proxy.listen();
        proxies.push(proxy);
        urls.push(`redis://127.0.0.1:${proxyPort}`);
        args.push('--cluster-announce-ip', '127.0.0.1', '--cluster-announce-port', String(proxyPort), '--cluster-announce-bus-port', String(busPort));
        nodes.push(await startRedis({ port, args }));
      } else {
        nodes.push(await startRedis({ args }));
        urls.push(nodes[i].url);
      }
    }
    all.push(...nodes);
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((h) => `127.0.0.1:${h.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 60_000 });
    await waitOk();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: urls.join(','),
    nodes: [...nodes],
    proxies: [...proxies],
    async restart() {
      await Promise.all(all.map((h) => h.restart()));
      await waitOk();
    },
    stop,
  };
}
