import type { Duplex } from 'node:stream';
import type { Config } from '../config.js';
import type { NodeHost } from '../context.js';
import type { Logger } from '../logger.js';
import { docsOpenApi } from './openapi-docs.js';
import { createDefaultDocStore, createDocsModule, type DocsModule } from './index.js';
import type { DocBus } from './doc-bus.js';
import type { DocHooks } from './doc-manager.js';
import type { DocStore } from './doc-store.js';

/** A node that holds its documents part once mounted (AqueductServer). */
export type DocsHost = NodeHost & { docs?: DocsModule };

/** The documents module mounted on a server, if any. */
export function docsOf(server: { docs?: DocsModule }): DocsModule | undefined {
  return server.docs;
}

export interface InstallDocsOptions {
  /** Default: SQLite in the data dir (`docs.sqliteFile`). */
  store?: DocStore;
  hooks?: DocHooks;
  bus?: DocBus;
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * Mounts collaborative documents on a server: upgrades on `/yjs/<doc>` (the stock provider appends
 * the raw document name to its base URL, so everything after `/yjs/` is the name, URL-decoded),
 * routes under `/api/docs/`, a `docs` health check, and a close hook that flushes and closes the
 * store. Idempotent per server.
 */
export function installDocs(server: DocsHost, opts: InstallDocsOptions = {}): DocsModule {
  if (server.docs) return server.docs;
  const { config, logger, metrics, auth, nodeId } = server.context;
  const docs = createDocsModule({
    config,
    logger,
    metrics,
    auth,
    store: opts.store ?? createDefaultDocStore(config),
    hooks: opts.hooks,
    bus: opts.bus,
    nodeId,
  });
  server.docs = docs;
  server.addUpgrade((req, socket, head, url) => {
    if (!url.pathname.startsWith('/yjs/')) return false;
    let name: string;
    try { name = decodeURIComponent(url.pathname.slice('/yjs/'.length)); } catch { rejectUpgrade(socket, 400, 'Bad Request'); return true; }
    docs.handleUpgrade(req, socket, head, name);
    return true;
  });
  server.use({ name: 'docs', handle: (req, res, url) => docs.handleHttp(req, res, url) });
  server.addHealth('docs', () => docs.health());
  const bus = opts.bus;
  if (bus?.health) server.addHealth('docbus', () => bus.health!());
  server.onClose(() => docs.close());
  server.addOpenApi(docsOpenApi(config));
  return docs;
}

/**
 * The document backends the config asks for: DATABASE_URL selects PostgreSQL (else SQLite in the
 * data dir), REDIS_URL carries updates across nodes. Loaded on demand so a single node never loads
 * `pg` or `ioredis`. Explicit options win.
 */
export async function configuredDocBackends(config: Config, logger: Logger, opts: InstallDocsOptions = {}): Promise<InstallDocsOptions> {
  const out: InstallDocsOptions = { ...opts };
  if (!out.store && config.databaseUrl) {
    const { PostgresDocStore } = await import('./doc-store-postgres.js');
    out.store = PostgresDocStore.forConfig(config, logger);
  }
  if (!out.bus && config.redisUrl) {
    const { RedisDocBus } = await import('./doc-bus-redis.js');
    // With several Redis shards, document updates travel over the first one (README §Brokers).
    const { splitUrls } = await import('../broker/shard-ring.js');
    out.bus = new RedisDocBus({ url: splitUrls(config.redisUrl)[0], logger, config });
  }
  return out;
}
