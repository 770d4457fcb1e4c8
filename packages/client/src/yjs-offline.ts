/**
 * `@aqueduct/client/yjs-offline`: the IndexedDB copy of a Yjs document (`y-indexeddb`), beside the
 * y-websocket provider, so that edits made offline survive a reload and merge on the next sync.
 */
import { IndexeddbPersistence } from 'y-indexeddb';
import type * as Y from 'yjs';

/**
 * Keeps `ydoc` in the IndexedDB database `aqueduct-doc:<doc>` (unless `dbName` is given): every
 * update is stored, and the stored ones are loaded into `ydoc` at once (`whenSynced` resolves
 * then). Connect the provider after `whenSynced`, so that the first sync sends only what differs.
 * `destroy()` stops it (the copy stays); `clearData()` deletes the copy.
 */
export function persistDoc(doc: string, ydoc: Y.Doc, dbName = `aqueduct-doc:${doc}`): IndexeddbPersistence {
  return new IndexeddbPersistence(dbName, ydoc);
}
