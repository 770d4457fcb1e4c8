import { useEffect, useMemo, useState } from 'react';
import * as Y from 'yjs';
import { createDocProvider } from '@aqueduct/client/yjs';
import type { WebsocketProvider } from 'y-websocket';
import { useAqueduct } from './provider.js';

export interface UseDocOptions {
  /** Re-render the component on every change of the document (local or remote). Default true. */
  rerenderOnUpdate?: boolean;
}

export type DocStatus = 'connecting' | 'connected' | 'disconnected';

export interface UseDocResult {
  /** The document (one per name for the life of the component). */
  doc: Y.Doc;
  /** The stock y-websocket provider (awareness, events); set once mounted. */
  provider: WebsocketProvider | undefined;
  /** Whether the first sync with the server completed. */
  synced: boolean;
  status: DocStatus;
}

/**
 * A Yjs document synced with `/yjs/:name` through the stock y-websocket provider
 * (`createDocProvider` of `@aqueduct/client/yjs`), connected while the component is mounted.
 * The server and token come from the provider's `docs` (or its `options`).
 */
export function useDoc(name: string, options: UseDocOptions = {}): UseDocResult {
  const { docs } = useAqueduct();
  if (!docs) throw new Error('useDoc: give <AqueductProvider> `docs` (or `options`)');
  const doc = useMemo(() => new Y.Doc(), [name]);
  const [provider, setProvider] = useState<WebsocketProvider | undefined>(undefined);
  const [synced, setSynced] = useState(false);
  const [status, setStatus] = useState<DocStatus>('connecting');
  const [, setVersion] = useState(0);
  const rerender = options.rerenderOnUpdate !== false;
  const { url, token, getToken, WebSocketPolyfill } = docs;

  useEffect(() => {
    const p = createDocProvider({ url, doc: name, ydoc: doc, token, getToken, WebSocketPolyfill });
    setProvider(p);
    setSynced(p.synced);
    const onSync = (isSynced: boolean) => setSynced(isSynced);
    const onStatus = (e: { status: DocStatus }) => setStatus(e.status);
    p.on('sync', onSync);
    p.on('status', onStatus);
    return () => {
      p.off('sync', onSync);
      p.off('status', onStatus);
      p.destroy();
      setProvider(undefined);
    };
  }, [doc, name, url, token, getToken, WebSocketPolyfill]);

  useEffect(() => {
    if (!rerender) return;
    const onUpdate = () => setVersion((v) => v + 1);
    doc.on('update', onUpdate);
    return () => doc.off('update', onUpdate);
  }, [doc, rerender]);

  return { doc, provider, synced, status };
}
