import { el, safeColor } from '../dom.js';

/** Horizontal lanes text flies in; a new line takes the lane that has been free longest. */
const LANES = 8;
/** Lines on screen at once; the oldest is removed first when more arrive (a chat burst). */
export const MAX_FLYING = 60;
/** Seconds a line takes to cross; longer lines fly a little faster so lanes free up evenly. */
const FLY_MS = 8000;
/** Longest text drawn (the chat list shows it whole). */
const MAX_DRAWN_CHARS = 80;

/**
 * Danmaku: chat lines flying right to left across the video. Purely visual (aria-hidden); the
 * chat list is the accessible record. Bounded: at most `MAX_FLYING` nodes exist at once.
 */
export class DanmakuLayer {
  private readonly laneFreeAt: number[] = new Array<number>(LANES).fill(0);
  private enabled = true;

  constructor(private readonly layer: HTMLElement) {}

  setEnabled(on: boolean): void {
    this.enabled = on;
    if (!on) this.layer.replaceChildren();
  }

  fly(text: string, color: string, mine: boolean): void {
    if (!this.enabled || document.hidden) return;
    const now = performance.now();
    let lane = 0;
    for (let i = 1; i < LANES; i++) if (this.laneFreeAt[i] < this.laneFreeAt[lane]) lane = i;
    // A lane is reusable once the previous line has moved a third of the way in.
    this.laneFreeAt[lane] = Math.max(now, this.laneFreeAt[lane]) + FLY_MS / 3;
    const shown = text.length > MAX_DRAWN_CHARS ? `${text.slice(0, MAX_DRAWN_CHARS - 1)}…` : text;
    const node = el('span', { class: mine ? 'danmaku mine' : 'danmaku', style: `top:${4 + lane * (88 / LANES)}%;--who:${safeColor(color, '#ffffff')};--fly-ms:${FLY_MS}ms` }, shown);
    node.addEventListener('animationend', () => node.remove(), { once: true });
    this.layer.append(node);
    while (this.layer.childElementCount > MAX_FLYING) this.layer.firstElementChild?.remove();
  }
}
