import type { Duplex } from 'node:stream';
import type { AqueductServer } from '../server.js';
import { createDefaultDocStore, createDocsModule, type DocsModule } from './index.js';
import type { DocBus } from './doc-bus.js';
import type { DocHooks } from './doc-manager.js';
import type { DocStore } from './doc-store.js';
import { registerServerDocs } from './docs-api.js';

const mounted = new WeakMap<AqueductServer, DocsModule>();

/** The documents module mounted on a server, if any. */
export function docsOf(server: AqueductServer): DocsModule | undefined {
  return mounted.get(server);
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
export function installDocs(server: AqueductServer, opts: InstallDocsOptions = {}): DocsModule {
  const existing = mounted.get(server);
  if (existing) return existing;
  const docs = createDocsModule({
    config: server.config,
    logger: server.logger,
    metrics: server.metrics,
    auth: server.auth,
    store: opts.store ?? createDefaultDocStore(server.config),
    hooks: opts.hooks,
    bus: opts.bus,
    nodeId: server.nodeId,
    backendHooks: server.hooks,
  });
  mounted.set(server, docs);
  registerServerDocs(server, docs.manager); // server.docs (docs-api.ts)
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
  return docs;
}

/**
 * The document backends the config asks for: DATABASE_URL selects PostgreSQL (else SQLite in the
 * data dir), REDIS_URL carries updates across nodes. Loaded on demand so a single node never loads
 * `pg` or `ioredis`. Explicit options win.
 */
export async function configuredDocBackends(server: AqueductServer, opts: InstallDocsOptions = {}): Promise<InstallDocsOptions> {
  const out: InstallDocsOptions = { ...opts };
  if (!out.store && server.config.databaseUrl) {
    const { PostgresDocStore } = await import('./doc-store-postgres.js');
    out.store = PostgresDocStore.forConfig(server.config, server.logger);
  }
  if (!out.bus && server.config.redisUrl) {
    const { RedisDocBus } = await import('./doc-bus-redis.js');
    // With several Redis shards, document updates travel over the first one (README §Brokers).
    const { splitUrls } = await import('../broker/shard-ring.js');
    out.bus = new RedisDocBus({ url: splitUrls(server.config.redisUrl)[0], logger: server.logger, config: server.config });
  }
  return out;
}
