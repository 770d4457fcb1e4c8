import { clock, el } from './dom.js';

/** The room the admin dashboard posts announcements to; demo pages read it over SSE. */
export const ANNOUNCEMENT_ROOM = 'demo:announcements';
/** Announcements kept in the ticker. */
const MAX_SHOWN = 5;

export interface Announcement { text: string; at?: number }

/**
 * The announcement ticker: a Server-Sent Events stream of `demo:announcements` from
 * `/api/events`. EventSource cannot send headers, so the token travels as the `aqueduct_token`
 * cookie (scoped to `/api/events`, never in the URL). EventSource reconnects by itself and
 * resumes with `Last-Event-ID`, so no announcement is missed or repeated across drops.
 */
export class AnnouncementTicker {
  private source?: EventSource;
  private lastEventId = '';
  private readonly seen = new Set<string>();

  constructor(private readonly list: HTMLElement, private readonly status: HTMLElement) {}

  start(token: string): void {
    this.setToken(token);
    this.open();
  }

  /**
   * Closes the stream while the browser is offline (EventSource would keep dialing and fail) and
   * reopens it with `lastEventId` when the network is back, so nothing posted meanwhile is missed.
   */
  pause(): void {
    this.source?.close();
    this.source = undefined;
    this.status.textContent = 'offline';
    this.status.dataset.state = 'closed';
  }

  resume(): void {
    if (!this.source) this.open();
  }

  private open(): void {
    const resume = this.lastEventId ? `&lastEventId=${encodeURIComponent(this.lastEventId)}` : '';
    const url = `/api/events?rooms=${encodeURIComponent(ANNOUNCEMENT_ROOM)}${resume}`;
    const source = new EventSource(url);
    this.source = source;
    const onData = (ev: MessageEvent<string>) => this.onEvent(ev);
    source.addEventListener('message', onData);
    source.addEventListener('announcement', onData as EventListener);
    source.addEventListener('open', () => { this.status.textContent = 'live'; this.status.dataset.state = 'open'; });
    source.addEventListener('error', () => {
      this.status.textContent = source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting';
      this.status.dataset.state = source.readyState === EventSource.CLOSED ? 'closed' : 'connecting';
    });
  }

  /** The SSE stream authenticates with this cookie on its next (re)connect. */
  setToken(token: string): void {
    document.cookie = `aqueduct_token=${encodeURIComponent(token)}; path=/api/events; SameSite=Strict`;
  }

  private onEvent(ev: MessageEvent<string>): void {
    if (ev.lastEventId) {
      if (this.seen.has(ev.lastEventId)) return;
      this.seen.add(ev.lastEventId);
      if (this.seen.size > 100) this.seen.delete(this.seen.values().next().value as string);
      this.lastEventId = ev.lastEventId;
    }
    let payload: unknown;
    try { payload = JSON.parse(ev.data); } catch { return; }
    const a = unwrap(payload);
    if (!a) return;
    this.list.prepend(el('li', {}, el('span', { class: 'meta' }, clock(a.at ?? Date.now())), ' ', a.text));
    while (this.list.childElementCount > MAX_SHOWN) this.list.lastElementChild?.remove();
  }

  close(): void {
    this.source?.close();
  }
}

/** Accepts the announcement itself or an envelope around it (`{ data: {...} }`). */
function unwrap(payload: unknown): Announcement | undefined {
  const p = payload as { text?: unknown; at?: unknown; data?: unknown } | null;
  if (p && typeof p.text === 'string') return { text: p.text.slice(0, 300), at: typeof p.at === 'number' ? p.at : undefined };
  if (p && p.data !== undefined) return unwrap(p.data);
  return undefined;
}
