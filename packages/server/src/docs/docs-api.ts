import * as Y from 'yjs';
import { isValidRoomName } from '@aqueduct/protocol';
import { docToContent, type DocContent } from './doc-content.js';
import type { DocManager } from './doc-manager.js';

/** Audit author of changes made with `server.docs.transact` (unless another is given). */
export const SERVER_AUTHOR = 'server';

/**
 * Server-side documents API of the embedding app (README §Server-side documents API). Documents
 * are loaded on demand like for a client, and released afterwards.
 */
export interface ServerDocs {
  /** A snapshot of the document as a new Y.Doc (yours: not live, destroy it when done). */
  read(name: string): Promise<Y.Doc>;
  /** The document's content as JSON (what `GET /api/docs/:doc` answers). */
  readJson(name: string): Promise<DocContent>;
  /**
   * Changes the document as the server: `fn` runs on a copy of the current state; what it changed is
   * applied, stored (audit author `server`, or `options.author`) and broadcast to connected clients
   * and other nodes, like a client's update. Resolves with `fn`'s result and the update's seq (null
   * when `fn` changed nothing).
   */
  transact<T>(name: string, fn: (doc: Y.Doc) => T, options?: { author?: string }): Promise<{ result: T; seq: number | null }>;
}

function checkName(name: string): void {
  if (!isValidRoomName(name)) throw new Error(`invalid document name ${JSON.stringify(String(name).slice(0, 64))}`);
}

async function snapshot(manager: DocManager, name: string): Promise<Y.Doc> {
  checkName(name);
  const { state } = await manager.state(name);
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  return doc;
}

/** The documents API over a node's document manager (part of `server.docs`). */
export function serverDocsApi(manager: DocManager): ServerDocs {
  return {
    read: (name) => snapshot(manager, name),
    async readJson(name) {
      const doc = await snapshot(manager, name);
      try { return docToContent(doc); } finally { doc.destroy(); }
    },
    async transact(name, fn, options = {}) {
      const doc = await snapshot(manager, name);
      try {
        const changes: Uint8Array[] = [];
        doc.on('update', (u: Uint8Array) => { changes.push(u); });
        let result!: ReturnType<typeof fn>;
        doc.transact(() => { result = fn(doc); }, SERVER_AUTHOR);
        if (changes.length === 0) return { result, seq: null };
        const update = changes.length === 1 ? changes[0] : Y.mergeUpdates(changes);
        const stored = await manager.withDoc(name, (live) => manager.submit(live, update, { author: options.author ?? SERVER_AUTHOR, incremental: true }));
        return { result, seq: stored?.seq ?? null };
      } finally {
        doc.destroy();
      }
    },
  };
}
