/** What every demo page (room demo, whiteboard, live stream) reads from its URL and dials with. */
import type { WebSocketConstructor } from '@aqueduct/client';

/** The room slug from `?room=` (lower case, `[a-z0-9-]{1,40}`), else `fallback`. */
export function roomSlugFromUrl(params: URLSearchParams, fallback: string): string {
  const raw = (params.get('room') ?? fallback).toLowerCase();
  return /^[a-z0-9-]{1,40}$/.test(raw) ? raw : fallback;
}

/**
 * The browser WebSocket, refusing to dial while the browser says it has no network: the SDK treats
 * the refusal like a failed attempt and retries with backoff, and the page reconnects at once on
 * the `online` event. (Dialing anyway only fills the console with connection errors.)
 */
export const OnlineOnlyWebSocket = class extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    if (!navigator.onLine) throw new Error('browser is offline');
    super(url, protocols);
  }
} as unknown as WebSocketConstructor;
