import type { Duplex } from 'node:stream';
import type { NodeHost } from '../context.js';
import { docsRoutes, docsTags } from './docs-routes.js';
import { parseParams } from '../http/route.js';
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
    backendHooks: server.context.hub.hooks,
  });
  server.docs = docs;
  const routes = docsRoutes(config);
  server.addUpgrade((req, socket, head, url) => {
    if (!url.pathname.startsWith('/yjs/')) return false;
    let name: string;
    try {
      name = parseParams(routes.yjs, { doc: decodeURIComponent(url.pathname.slice('/yjs/'.length)) }).doc;
    } catch {
      rejectUpgrade(socket, 400, 'Bad Request'); // not URL encoding, or not a valid document name
      return true;
    }
    docs.handleUpgrade(req, socket, head, name);
    return true;
  });
  server.use({ name: 'docs', handle: (req, res, url) => docs.handleHttp(req, res, url) });
  server.addHealth('docs', () => docs.health());
  const bus = opts.bus;
  if (bus?.health) server.addHealth('docbus', () => bus.health!());
  server.addSweep((now) => docs.sweep(now));
  server.onClose(() => docs.close());
  server.addOpenApi({ tags: docsTags, routes: Object.values(routes) });
  return docs;
}
