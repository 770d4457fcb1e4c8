import type { Duplex } from 'node:stream';
import type { NodeHost } from '../context.js';
import { docsOpenApi } from './openapi-docs.js';
import { createDefaultDocStore, createDocsModule, type DocsModule } from './index.js';
import type { DocBus } from './doc-bus.js';
import type { DocHooks } from './doc-manager.js';
import type { DocStore } from './doc-store.js';
import { hooksOf } from '../hooks/hooks.js';

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
    backendHooks: hooksOf(server.context.hub),
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
  server.addSweep((now) => docs.sweep(now));
  server.onClose(() => docs.close());
  server.addOpenApi(docsOpenApi(config));
  return docs;
}
