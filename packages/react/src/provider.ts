import { createContext, createElement, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { AqueductClient, type ClientOptions } from '@aqueduct/client';

/** Where `useDoc` connects: the server's `/yjs` endpoint and how to get a token for it. */
export interface DocSettings {
  /** Server base URL (`http(s)://` or `ws(s)://`). */
  url: string;
  token?: string;
  getToken?: () => string | Promise<string>;
  /** WebSocket implementation for Node (e.g. the `ws` package). */
  WebSocketPolyfill?: unknown;
}

export interface AqueductProviderProps {
  /** Connection settings: the provider creates the client on mount and closes it on unmount. */
  options?: ClientOptions;
  /** Or an existing client, shared with code outside React (the provider does not close it). */
  client?: AqueductClient;
  /** Settings for `useDoc`. Default: from `options` (first url, token, WebSocket). */
  docs?: DocSettings;
  children?: ReactNode;
}

interface AqueductContextValue {
  client: AqueductClient;
  docs: DocSettings | undefined;
}

const AqueductContext = createContext<AqueductContextValue | null>(null);

function docsFrom(options: ClientOptions | undefined): DocSettings | undefined {
  if (!options) return undefined;
  const url = Array.isArray(options.url) ? options.url[0] : options.url;
  const { token } = options;
  return typeof token === 'function'
    ? { url, getToken: token, WebSocketPolyfill: options.WebSocket }
    : { url, token, WebSocketPolyfill: options.WebSocket };
}

/**
 * Makes one Aqueduct client available to the hooks below it. Give `options` (the provider owns
 * the client) or `client` (the app owns it). Changing `options` or `docs` after mount has no effect: mount a
 * new provider (e.g. with a `key`) to connect elsewhere.
 */
export function AqueductProvider(props: AqueductProviderProps): ReactNode {
  const { client: given, options } = props;
  // Created without connecting (render must stay free of effects); connected by the effect.
  const [owned] = useState(() => (given ? undefined : new AqueductClient({ ...requireOptions(options), autoConnect: false })));
  const closing = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    if (!owned) return;
    // A StrictMode unmount/mount (or a quick remount) keeps the connection: the close is deferred.
    clearTimeout(closing.current);
    owned.connect();
    return () => { closing.current = setTimeout(() => owned.close(), 0); };
  }, [owned]);
  const [docs] = useState(() => props.docs ?? docsFrom(options));
  const client = given ?? owned;
  if (!client) throw new Error('AqueductProvider: pass client or options');
  const value: AqueductContextValue = { client, docs };
  return createElement(AqueductContext.Provider, { value }, props.children);
}

function requireOptions(options: ClientOptions | undefined): ClientOptions {
  if (!options) throw new Error('AqueductProvider: pass client or options');
  return options;
}

/** The provider's client. Throws outside an `AqueductProvider`. */
export function useClient(): AqueductClient {
  return useAqueduct().client;
}

/** @internal The provider's value. */
export function useAqueduct(): AqueductContextValue {
  const value = useContext(AqueductContext);
  if (!value) throw new Error('Aqueduct hooks must be used inside <AqueductProvider>');
  return value;
}
