/**
 * `@aqueduct/client/yjs-offline`: a document provider whose Y.Doc is also kept in IndexedDB
 * (`y-indexeddb`), so edits made offline survive a reload and sync when the provider connects.
 */
import { IndexeddbPersistence } from 'y-indexeddb';
import type { WebsocketProvider } from 'y-websocket';
import { createDocProvider, type DocProviderOptions } from './yjs.js';

export interface OfflineDocProvider {
  provider: WebsocketProvider;
  /** The IndexedDB copy of the document (database named `<prefix><doc>`). */
  persistence: IndexeddbPersistence;
  /** Resolves once the stored copy is loaded into the Y.Doc. */
  whenLoaded: Promise<void>;
  /** Stops both (the stored copy stays). */
  destroy(): void;
}

/**
 * The IndexedDB copy of a document, beside any provider: `y-indexeddb` stores every update of
 * `ydoc` and loads them on the next start. Database name `aqueduct-doc:<doc>` unless given.
 */
export function persistDoc(doc: string, ydoc: import('yjs').Doc, dbName = `aqueduct-doc:${doc}`): IndexeddbPersistence {
  return new IndexeddbPersistence(dbName, ydoc);
}

/**
 * `createDocProvider` plus the IndexedDB copy. The provider connects after the stored copy is
 * loaded (unless `connect: false`), so the first sync exchanges only what differs.
 */
export function createOfflineDocProvider(opts: DocProviderOptions & { dbName?: string }): OfflineDocProvider {
  const persistence = persistDoc(opts.doc, opts.ydoc, opts.dbName);
  const provider = createDocProvider({ ...opts, connect: false });
  const whenLoaded = persistence.whenSynced.then(() => undefined);
  let destroyed = false;
  if (opts.connect !== false) void whenLoaded.then(() => { if (!destroyed) provider.connect(); });
  return {
    provider,
    persistence,
    whenLoaded,
    destroy() {
      destroyed = true;
      provider.destroy();
      void persistence.destroy();
    },
  };
}
