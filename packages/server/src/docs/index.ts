import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Authenticator } from '../auth/auth.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { DocsHttp } from './docs-http.js';
import { YjsTransport } from './yjs.js';
import type { DocBus } from './doc-bus.js';
import { DocManager, type DocHooks } from './doc-manager.js';
import { SqliteDocStore } from './doc-store-sqlite.js';
import type { DocStore } from './doc-store.js';
import type { Hooks } from '../hooks/hooks.js';
import { serverDocsApi, type ServerDocs } from './docs-api.js';

export type { DocHooks } from './doc-manager.js';
export { DocManager, DocsError, LiveDoc } from './doc-manager.js';
export type { DocStore, AuditEntry, DocVersion, DocVersionWithState, StoredDoc } from './doc-store.js';
export { SqliteDocStore } from './doc-store-sqlite.js';
export type { DocBus, RemoteDocUpdate } from './doc-bus.js';
export { MemoryDocBus } from './doc-bus-memory.js';
export { DocCloseCodes } from './yjs.js';

/** Collaborative documents as mounted on a server: `/yjs/:doc` upgrades and `/api/docs/*` routes. */
export interface DocsModule extends ServerDocs {
  /** Handles a WebSocket upgrade for /yjs/:doc (doc name already URL-decoded; validated here). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, docName: string): void;
  /** Handles /api/docs/* ; resolves false when the path is not one of ours. */
  handleHttp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  loadedCount(): number;
  /** The `/yjs` part of the node's heartbeat sweep (pings, dead-connection cleanup). */
  sweep(now: number): void;
  health(): { ok: boolean; detail?: string };
  /** Closes connections (SHUTDOWN), waits for queued updates, closes the store. */
  close(): Promise<void>;
  /** The document manager (embedding apps: server-side reads, versions, restore). */
  readonly manager: DocManager;
  readonly store: DocStore;
}

export interface DocsModuleDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  auth: Authenticator;
  store: DocStore;
  hooks?: DocHooks;
  /** Cross-node update fanout (issue 5); none for a single node. */
  bus?: DocBus;
  /** This node's id (ignores its own bus messages). */
  nodeId?: string;
  /** Backend hooks: onConnect / onJoin on `/yjs` connections, onDocUpdate on client updates. */
  backendHooks?: Hooks;
}

/** The default store for a config: SQLite at `<dataDir>/<docs.sqliteFile>`. */
export function createDefaultDocStore(config: Config): DocStore {
  return SqliteDocStore.forDataDir(config.dataDir, config.docs.sqliteFile, config.docs.sqliteSynchronous, config.docs.sqliteFlushMs);
}

export function createDocsModule(deps: DocsModuleDeps): DocsModule {
  const logger = deps.logger.child({ module: 'docs' });
  const manager = new DocManager({ store: deps.store, config: deps.config.docs, logger, metrics: deps.metrics, hooks: deps.hooks, bus: deps.bus, nodeId: deps.nodeId });
  const yjs = new YjsTransport({ config: deps.config, logger, metrics: deps.metrics, auth: deps.auth, manager, hooks: deps.backendHooks });
  const http = new DocsHttp({ config: deps.config, logger, auth: deps.auth, store: deps.store, manager });
  let storeOk = true;
  let storeDetail: string | undefined;
  const probe = setInterval(() => {
    deps.store.ping().then(() => { storeOk = true; storeDetail = undefined; }, (err: unknown) => { storeOk = false; storeDetail = `doc store: ${(err as Error).message}`; });
  }, 5000);
  probe.unref();
  let closing: Promise<void> | undefined;
  return {
    ...serverDocsApi(manager), // read, readJson, transact (docs-api.ts)
    manager,
    store: deps.store,
    handleUpgrade: (req, socket, head, docName) => yjs.handleUpgrade(req, socket, head, docName),
    handleHttp: (req, res, url) => http.handle(req, res, url),
    loadedCount: () => manager.loadedCount(),
    sweep: (now) => yjs.sweep(now),
    health: () => (storeOk ? { ok: true, detail: `${manager.loadedCount()} documents loaded, ${yjs.connectionCount()} connections` } : { ok: false, detail: storeDetail }),
    close() {
      closing ??= (async () => {
        clearInterval(probe);
        await yjs.close();
        await manager.close();
        await deps.bus?.close();
        await deps.store.close();
      })();
      return closing;
    },
  };
}
