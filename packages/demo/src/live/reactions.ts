import type { AqueductClient, Room, RoomMessage } from '@aqueduct/client';
import { el } from '../dom.js';
import type { LiveLog } from './live-log.js';

/** The reactions a viewer can send (live.css draws each as an icon). */
export const REACTIONS = ['heart', 'star', 'fire', 'smile'] as const;
export type ReactionKind = (typeof REACTIONS)[number];
/** Reactions this page sends per second at most (a held-down button); extra clicks are ignored. */
export const MAX_REACTIONS_PER_SEC = 8;
/** Reaction icons floating at once; the oldest goes first. */
const MAX_FLOATING = 40;

const isKind = (k: unknown): k is ReactionKind => typeof k === 'string' && (REACTIONS as readonly string[]).includes(k);

/**
 * Reactions are volatile publications (event `react`): not stored, never replayed, and the first
 * thing the server drops for a connection whose outbound queue is half full — losing a heart under
 * load is fine, holding up chat for it is not. While offline they are not sent at all.
 */
export class Reactions {
  private sentAt: number[] = [];
  private received = 0;

  constructor(
    private readonly client: AqueductClient,
    private readonly room: Room,
    private readonly layer: HTMLElement,
    private readonly counter: HTMLElement,
    private readonly log: LiveLog,
    buttons: Iterable<HTMLButtonElement>,
  ) {
    room.on('message', (m) => this.onMessage(m));
    for (const b of buttons) b.addEventListener('click', () => { if (isKind(b.dataset.kind)) this.send(b.dataset.kind); });
  }

  /** Sends one reaction; false when rate-limited here or not connected (it is then not sent). */
  send(kind: ReactionKind): boolean {
    const now = Date.now();
    this.sentAt = this.sentAt.filter((t) => now - t < 1000);
    if (this.sentAt.length >= MAX_REACTIONS_PER_SEC) {
      this.log.reactions.refused++;
      return false;
    }
    const ok = this.room.publishVolatile({ kind }, { event: 'react' });
    if (!ok) {
      this.log.reactions.refused++;
      return false;
    }
    this.sentAt.push(now);
    this.log.reactions.sent++;
    // Our own reaction comes back from the server like everyone else's; it floats then.
    return true;
  }

  private onMessage(m: RoomMessage): void {
    if (m.event !== 'react' || !m.volatile) return;
    const kind = (m.data as { kind?: unknown } | null)?.kind;
    if (!isKind(kind)) return;
    this.received++;
    this.log.reactions.received++;
    this.counter.textContent = `${this.received} reaction${this.received === 1 ? '' : 's'}`;
    if (document.hidden) return;
    const mine = m.from?.client === this.client.clientId;
    const node = el('span', { class: 'reaction-float r-icon', 'data-kind': kind, style: `right:${(mine ? 4 : 8 + Math.random() * 22).toFixed(1)}%` });
    node.addEventListener('animationend', () => node.remove(), { once: true });
    this.layer.append(node);
    while (this.layer.childElementCount > MAX_FLOATING) this.layer.firstElementChild?.remove();
  }
}
