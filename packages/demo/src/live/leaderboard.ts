import { encodeCursor } from '@aqueduct/protocol';
import { subscribeEvents, type EventMessage, type EventsSubscription } from '@aqueduct/client';
import { el } from '../dom.js';
import type { LiveLog } from './live-log.js';

/** One leaderboard update (event `board`), as `scripts/live-feed.mjs` posts it to `POST /api/publish`. */
export interface BoardUpdate {
  /** Grows by one per update of a feed run. */
  seq: number;
  at: number;
  leaders: Array<{ name: string; score: number }>;
  stock?: { label: string; left: number };
}
/** Leaders shown. */
const MAX_LEADERS = 10;

function isBoardUpdate(d: unknown): d is BoardUpdate {
  const b = d as Partial<BoardUpdate> | null;
  return !!b && typeof b.seq === 'number' && Array.isArray(b.leaders);
}

export interface LeaderboardNodes { list: HTMLElement; stock: HTMLElement; stockLabel: HTMLElement; status: HTMLElement }

interface HistoryPage { epoch: string; offset: number; publications: Array<{ epoch: string; offset: number; event?: string; data: unknown }> }

/**
 * The leaderboard and stock counter: server-pushed over Server-Sent Events (`/api/events`, the SDK's
 * `subscribeEvents`) from a room only the HTTP publish API writes to in practice. Each update is a
 * whole snapshot, so the page starts from the latest one (`GET /api/rooms/:room/history?limit=1`)
 * and streams from exactly that position (the cursor is the SSE `lastEventId`): nothing between the
 * two is missed, and the offset check drops anything seen twice. The EventSource authenticates with
 * the `aqueduct_token` cookie (scoped to `/api/events`), so the token never appears in a URL.
 */
export class Leaderboard {
  private epoch?: string;
  private offset = 0;
  private sub?: EventsSubscription;

  constructor(private readonly nodes: LeaderboardNodes, private readonly room: string, private readonly log: LiveLog) {}

  /** The SSE stream authenticates with this cookie on its next (re)connect. */
  setToken(token: string): void {
    document.cookie = `aqueduct_token=${encodeURIComponent(token)}; path=/api/events; SameSite=Strict`;
  }

  async start(token: string): Promise<void> {
    this.setToken(token);
    let lastEventId: string | undefined;
    try {
      const res = await fetch(`/api/rooms/${encodeURIComponent(this.room)}/history?limit=1`, { headers: { Authorization: `Bearer ${token}` } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const page = (await res.json()) as HistoryPage;
      for (const p of page.publications) this.apply(p.epoch, p.offset, p.event, p.data);
      lastEventId = encodeCursor({ [this.room]: { epoch: page.epoch, offset: page.offset } });
      this.epoch = page.epoch;
      this.offset = Math.max(this.offset, page.offset);
    } catch (err) {
      // No snapshot: stream from now on; the next update fills the board.
      this.nodes.status.textContent = `no snapshot (${(err as Error).message})`;
    }
    this.sub = subscribeEvents({
      url: location.origin,
      rooms: [this.room],
      lastEventId,
      handlers: {
        message: (m) => this.onMessage(m),
        reset: (info) => {
          // The room's history was lost (server restart): positions start over.
          this.epoch = info.epoch;
          this.offset = info.offset;
        },
        state: (s) => {
          this.nodes.status.dataset.state = s;
          this.nodes.status.textContent = s === 'open' ? 'live' : s === 'connecting' ? 'connecting' : 'closed';
        },
        error: (err) => { if (!err.temporary) this.nodes.status.textContent = `closed: ${err.message}`; },
      },
    });
  }

  pause(): void {
    this.sub?.close();
    this.sub = undefined;
    this.nodes.status.dataset.state = 'closed';
    this.nodes.status.textContent = 'offline';
  }

  resume(token: string): void {
    if (!this.sub) void this.start(token);
  }

  private onMessage(m: EventMessage): void {
    if (m.volatile || m.epoch === undefined || m.offset === undefined) return;
    this.apply(m.epoch, m.offset, m.event, m.data);
  }

  private apply(epoch: string, offset: number, event: string | undefined, data: unknown): void {
    if (epoch === this.epoch && offset <= this.offset) return;
    this.epoch = epoch;
    this.offset = offset;
    if (event !== 'board' || !isBoardUpdate(data)) return;
    this.log.add(this.log.board, { seq: data.seq, offset });
    this.render(data);
  }

  private render(b: BoardUpdate): void {
    const leaders = [...b.leaders].filter((l) => typeof l?.name === 'string' && typeof l.score === 'number').sort((x, y) => y.score - x.score).slice(0, MAX_LEADERS);
    this.nodes.list.replaceChildren(...leaders.map((l, i) => el('li', {}, el('span', { class: 'name' }, el('span', { class: 'rank' }, `${i + 1}.`), ' ', l.name.slice(0, 32)), el('span', { class: 'score' }, l.score.toLocaleString()))));
    this.nodes.list.dataset.seq = String(b.seq);
    if (b.stock && typeof b.stock.left === 'number') {
      this.nodes.stock.textContent = b.stock.left.toLocaleString();
      this.nodes.stockLabel.textContent = typeof b.stock.label === 'string' ? b.stock.label.slice(0, 60) : 'left in stock';
    }
  }
}
