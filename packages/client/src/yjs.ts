import { DocCloseCodes, isFinalDocClose } from '@aqueduct/protocol';
import { WebsocketProvider } from 'y-websocket';
import type { Awareness } from 'y-protocols/awareness';
import type * as Y from 'yjs';

/** Options of the stock provider that this helper passes through unchanged. */
export type PassThroughProviderOptions = {
  resyncInterval?: number;
  maxBackoffTime?: number;
  disableBc?: boolean;
  protocols?: string[];
};

export interface DocProviderOptions {
  /** The Aqueduct server: `http(s)://host` or `ws(s)://host` (optionally already ending in `/yjs`). */
  url: string;
  /** Document (room) name, e.g. `doc:article-42`. */
  doc: string;
  ydoc: Y.Doc;
  /** A fixed token. Give `getToken` instead (or too) to refresh tokens. */
  token?: string;
  /** Fetches a fresh token: called before the first connection (when no `token`), ahead of expiry, and after the server closed for an expired/invalid token. */
  getToken?: () => string | Promise<string>;
  /** WebSocket implementation for Node (e.g. the `ws` package). */
  WebSocketPolyfill?: unknown;
  awareness?: Awareness;
  /** Connect right away (default true). */
  connect?: boolean;
  /** With `getToken`: refresh this long before the token's `exp` (default 30 s). */
  refreshBeforeExpiryMs?: number;
  /** Passed to the stock `WebsocketProvider`. */
  providerOptions?: PassThroughProviderOptions;
}

/** Close codes the server sends on `/yjs` for token problems (PROTOCOL.md §Close codes of `/yjs`). */
const TOKEN_EXPIRED = DocCloseCodes.TOKEN_EXPIRED.code;
const AUTH_FAILED = DocCloseCodes.AUTH_FAILED.code;

/** `https://h` -> `wss://h/yjs`; a URL already ending in `/yjs` is kept. */
export function yjsBaseUrl(url: string): string {
  let base = url.replace(/^http(s?):\/\//i, 'ws$1://').replace(/\/+$/, '');
  if (!/\/yjs$/.test(base)) base += '/yjs';
  return base;
}

/** Seconds-since-epoch `exp` of a JWT, without verifying it (only used to schedule a refresh). */
function tokenExpiry(token: string): number | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const json = typeof atob === 'function' ? atob(b64) : Buffer.from(b64, 'base64').toString('binary');
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Builds the stock y-websocket `WebsocketProvider` for an Aqueduct document: the `/yjs` endpoint,
 * the document name, and the token as the `token` URL parameter. With `getToken`, the token is
 * refreshed ahead of expiry and whenever the server closes for an expired or rejected token, so the
 * provider's own reconnect uses a fresh one. Everything else is the unmodified provider.
 */
export function createDocProvider(opts: DocProviderOptions): WebsocketProvider {
  const { getToken } = opts;
  if (!opts.token && !getToken) throw new Error('createDocProvider needs token or getToken');
  const refreshBeforeMs = opts.refreshBeforeExpiryMs ?? 30_000;
  const provider = new WebsocketProvider(yjsBaseUrl(opts.url), opts.doc, opts.ydoc, {
    ...opts.providerOptions,
    params: opts.token ? { token: opts.token } : {},
    connect: false,
    awareness: opts.awareness,
    WebSocketPolyfill: opts.WebSocketPolyfill as typeof WebSocket | undefined,
    // Like the stock rule (4400–4499 are final), except that a rejected token is worth another try
    // once we can fetch a new one.
    shouldReconnect: (event: CloseEvent) => !isFinalDocClose(event.code) || (event.code === AUTH_FAILED && getToken !== undefined),
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let destroyed = false;
  let refreshing: Promise<void> | undefined;

  const schedule = (token: string) => {
    clearTimeout(timer);
    const exp = tokenExpiry(token);
    if (!getToken || exp === undefined) return;
    const delay = Math.max(1000, exp * 1000 - Date.now() - refreshBeforeMs);
    timer = setTimeout(() => void refresh(), Math.min(delay, 2 ** 31 - 1));
    (timer as { unref?: () => void }).unref?.();
  };

  const refresh = (): Promise<void> => {
    if (!getToken || destroyed) return Promise.resolve();
    refreshing ??= (async () => {
      try {
        const token = await getToken();
        if (destroyed) return;
        // The provider reads `params` for every new connection.
        provider.params = { ...provider.params, token };
        schedule(token);
      } catch (err) {
        provider.emit('connection-error', [err as Event, provider]);
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };

  provider.on('connection-close', (event) => {
    if (event && (event.code === TOKEN_EXPIRED || event.code === AUTH_FAILED)) void refresh();
  });
  const destroy = provider.destroy.bind(provider);
  provider.destroy = () => {
    destroyed = true;
    clearTimeout(timer);
    destroy();
    // The stock provider leaves the awareness it created running (its timer keeps Node alive).
    if (!opts.awareness) provider.awareness.destroy();
  };

  const start = opts.connect !== false;
  if (opts.token) {
    schedule(opts.token);
    if (start) provider.connect();
  } else {
    void refresh().then(() => { if (start && !destroyed && provider.params.token) provider.connect(); });
  }
  return provider;
}
