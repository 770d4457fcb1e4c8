import type { Origin, SseDisconnectData, SseMessageData, SseReadyData, SseResetData } from '@aqueduct/protocol';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { AqueductError, type ClientErrorCode } from './errors.js';

/** One event as an EventSource hands it over. */
export interface EventSourceMessageLike {
  readonly data: unknown;
  readonly lastEventId: string;
}

/**
 * The EventSource shape used: the browser's native `EventSource`, or the `eventsource` package on
 * Node (whose error events also carry the HTTP `code`).
 */
export interface EventSourceLike {
  readonly readyState: number;
  onerror: ((ev: { code?: number; message?: string }) => void) | null;
  addEventListener(type: string, listener: (ev: EventSourceMessageLike) => void): void;
  close(): void;
}
export type EventSourceConstructor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;

/** A publication received over SSE. */
export interface EventMessage<T = unknown> {
  room: string;
  /** The publication's event name (`message` when it has none). */
  event: string;
  data: T;
  /** Position; absent for volatile publications. */
  epoch?: string;
  offset?: number;
  from?: Origin;
  volatile: boolean;
}

/** `connecting` (first connect or reconnecting), `open` (replay done, live), `closed` (for good). */
export type EventsState = 'connecting' | 'open' | 'closed';

export interface EventsHandlers<T = unknown> {
  message?: (message: EventMessage<T>) => void;
  /**
   * History could not cover the gap for this room (too short, or lost on the server): reload the
   * room's state by other means. Events continue after `(epoch, offset)`.
   */
  reset?: (info: SseResetData) => void;
  /** Replay finished on this connection; `rooms` holds every room's position. */
  ready?: (info: SseReadyData) => void;
  state?: (state: EventsState) => void;
  /** Failures: `temporary` ones are retried by the helper; others close the subscription. */
  error?: (error: AqueductError) => void;
}

export interface SubscribeEventsOptions<T = unknown> {
  /** Server base URL (`http(s)://` or `ws(s)://`; a path other than `/` or `/ws` is kept as a prefix). */
  url: string;
  /** A token or a token function (called on every (re)open). Omit to rely on the `aqueduct_token` cookie. */
  token?: string | (() => string | Promise<string>);
  rooms: readonly string[];
  handlers: EventsHandlers<T>;
  /** EventSource implementation; default `globalThis.EventSource`, else the `eventsource` package. */
  EventSource?: EventSourceConstructor;
  /** Resume after this event id (e.g. one saved in storage). */
  lastEventId?: string;
  /**
   * Where the subscription's position is kept across reloads (set by `client.events()` with offline
   * storage): loaded before the first connection when `lastEventId` is not given, saved on every event.
   */
  savedEventId?: { load(): Promise<string | undefined>; save(id: string): void };
  /** Send cookies cross-origin (the server must list your origin in `allowedOrigins`). */
  withCredentials?: boolean;
  /** Delays of the helper's own reopen (after a failed connection or a server disconnect). */
  reconnect?: BackoffOptions;
}

export interface EventsSubscription {
  /** The id of the last event received: resumes every room. */
  readonly lastEventId: string | undefined;
  readonly state: EventsState;
  close(): void;
}

const STATUS_CODES: Record<number, ClientErrorCode> = {
  400: 'BAD_REQUEST', 401: 'TOKEN_INVALID', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RATE_LIMITED', 503: 'UNAVAILABLE',
};

/** Builds the `/api/events` URL of a server base URL. */
export function eventsUrl(base: string, rooms: readonly string[], extra: Record<string, string | undefined>): string {
  const u = new URL(base);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  if (u.protocol === 'wss:') u.protocol = 'https:';
  const prefix = u.pathname === '/' || u.pathname === '/ws' ? '' : u.pathname.replace(/\/ws$/, '').replace(/\/$/, '');
  u.pathname = `${prefix}/api/events`;
  u.search = '';
  u.hash = '';
  u.searchParams.set('rooms', rooms.join(','));
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

async function defaultEventSource(): Promise<EventSourceConstructor> {
  const native = (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
  if (native) return native;
  const mod = (await import('eventsource')) as unknown as { EventSource: EventSourceConstructor };
  return mod.EventSource;
}

/**
 * Subscribes to rooms over Server-Sent Events. The EventSource reconnects by itself after a network
 * error, sending `Last-Event-ID`, and the server replays exactly what each room missed. When the
 * connection fails for good (HTTP error, server disconnect, expired token) this helper reopens it
 * with a fresh token and the last id, with backoff — unless the failure is permanent (bad request,
 * permission), which is reported through `handlers.error` and closes the subscription.
 */
export function subscribeEvents<T = unknown>(options: SubscribeEventsOptions<T>): EventsSubscription {
  const { handlers } = options;
  let es: EventSourceLike | undefined;
  let lastEventId = options.lastEventId;
  let state: EventsState = 'connecting';
  let closed = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const setState = (s: EventsState) => {
    if (state === s) return;
    state = s;
    handlers.state?.(s);
  };
  const fail = (err: AqueductError) => handlers.error?.(err);
  const parse = (ev: EventSourceMessageLike): unknown => {
    try {
      return JSON.parse(String(ev.data));
    } catch {
      fail(new AqueductError('BAD_REQUEST', 'undecodable event from server'));
      return undefined;
    }
  };
  const track = (ev: EventSourceMessageLike) => {
    if (!ev.lastEventId || ev.lastEventId === lastEventId) return;
    lastEventId = ev.lastEventId;
    options.savedEventId?.save(ev.lastEventId);
  };
  let restore = lastEventId === undefined ? options.savedEventId : undefined;

  const shutdown = () => {
    closed = true;
    clearTimeout(timer);
    es?.close();
    es = undefined;
    setState('closed');
  };

  const reopenLater = () => {
    es?.close();
    es = undefined;
    if (closed) return;
    setState('connecting');
    clearTimeout(timer);
    timer = setTimeout(() => void open(), backoffDelay(attempt++, { minDelayMs: 500, ...options.reconnect }));
  };

  /** Learns why a connection failed: the `eventsource` package reports the status; browsers need a probe. */
  const diagnose = async (url: string, ev: { code?: number; message?: string }): Promise<AqueductError> => {
    let status = typeof ev.code === 'number' ? ev.code : undefined;
    let message = ev.message;
    const f = (globalThis as { fetch?: typeof fetch }).fetch;
    if (status === undefined && f) {
      const abort = new AbortController();
      try {
        const res = await f(url, { signal: abort.signal, credentials: options.withCredentials ? 'include' : 'same-origin' });
        status = res.status;
        if (!res.ok) message = ((await res.json()) as { error?: { message?: string } }).error?.message ?? message;
      } catch {
        // Network down: leave it temporary.
      } finally {
        abort.abort();
      }
    }
    if (status === undefined || status === 200) return new AqueductError('DISCONNECTED', message ?? 'event stream failed', true);
    const code = STATUS_CODES[status] ?? (status >= 500 ? 'UNAVAILABLE' : 'BAD_REQUEST');
    const temporary = status >= 500 || status === 429 || (status === 401 && typeof options.token === 'function');
    return new AqueductError(code, message ?? `event stream failed with HTTP ${status}`, temporary);
  };

  async function open(): Promise<void> {
    if (closed) return;
    setState('connecting');
    let token: string | undefined;
    let ES: EventSourceConstructor;
    try {
      if (restore) {
        const saved = await restore.load();
        restore = undefined;
        lastEventId ??= saved;
      }
      token = typeof options.token === 'function' ? await options.token() : options.token;
      ES = options.EventSource ?? (await defaultEventSource());
    } catch (err) {
      fail(new AqueductError('TOKEN_INVALID', `token function failed: ${(err as Error).message}`, true));
      return reopenLater();
    }
    if (closed) return;
    const url = eventsUrl(options.url, options.rooms, { named: '0', token, lastEventId });
    const source = new ES(url, options.withCredentials ? { withCredentials: true } : undefined);
    es = source;
    source.addEventListener('message', (ev) => {
      if (es !== source) return;
      const m = parse(ev) as SseMessageData | undefined;
      if (!m) return;
      if (!m.volatile) track(ev);
      const out: EventMessage<T> = { room: m.room, event: m.event ?? 'message', data: m.data as T, volatile: m.volatile === true };
      if (m.epoch !== undefined) out.epoch = m.epoch;
      if (m.offset !== undefined) out.offset = m.offset;
      if (m.from !== undefined) out.from = m.from;
      handlers.message?.(out);
    });
    source.addEventListener('reset', (ev) => {
      if (es !== source) return;
      track(ev);
      const info = parse(ev) as SseResetData | undefined;
      if (info) handlers.reset?.(info);
    });
    source.addEventListener('ready', (ev) => {
      if (es !== source) return;
      track(ev);
      attempt = 0;
      setState('open');
      const info = parse(ev) as SseReadyData | undefined;
      if (info) handlers.ready?.(info);
    });
    source.addEventListener('disconnect', (ev) => {
      if (es !== source) return;
      const info = parse(ev) as SseDisconnectData | undefined;
      source.close();
      if (info && !info.reconnect) {
        fail(new AqueductError('CLOSED', `disconnected by the server: ${info.code} ${info.reason}`));
        shutdown();
        return;
      }
      // Shutdown or expired token: reopen ourselves, with a fresh token and the last id.
      reopenLater();
    });
    source.onerror = (ev) => {
      if (es !== source) return;
      if (source.readyState !== 2) {
        // The EventSource reconnects by itself, with Last-Event-ID.
        setState('connecting');
        return;
      }
      void diagnose(url, ev).then((err) => {
        if (es !== source) return;
        fail(err);
        if (err.temporary) reopenLater();
        else shutdown();
      });
    };
  }

  void open();
  return {
    get lastEventId() { return lastEventId; },
    get state() { return state; },
    close: shutdown,
  };
}
