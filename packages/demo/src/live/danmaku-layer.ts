import { el, safeColor } from '../dom.js';

/** Horizontal lanes text flies in; a new line takes the lane that has been free longest. */
const LANES = 8;
/** Lines on screen at once; the oldest is removed first when more arrive (a chat burst). */
export const MAX_FLYING = 60;
/** Time a line takes to cross the stage. */
const FLY_MS = 8000;
/** A lane takes its next line once the previous one has flown this long (no overlap at the start). */
const LANE_GAP_MS = 1600;
/** Longest a line waits for a free lane; a burst beyond that is not flown (the chat list has it). */
export const MAX_WAIT_MS = 6000;
/** Longest text drawn (the chat list shows it whole). */
const MAX_DRAWN_CHARS = 80;

/**
 * Danmaku: chat lines flying right to left across the video. Purely visual (aria-hidden); the
 * chat list is the accessible record. Bounded: at most `MAX_FLYING` nodes exist at once.
 */
export class DanmakuLayer {
  private readonly laneFreeAt: number[] = new Array<number>(LANES).fill(0);
  private enabled = true;
  /** With reduced motion nothing flies: the chat list alone shows the lines. */
  private readonly still = window.matchMedia('(prefers-reduced-motion: reduce)');

  constructor(private readonly layer: HTMLElement) {}

  setEnabled(on: boolean): void {
    this.enabled = on;
    if (!on) this.layer.replaceChildren();
  }

  fly(text: string, color: string, mine: boolean): void {
    if (!this.enabled || document.hidden || this.still.matches) return;
    const now = performance.now();
    let lane = 0;
    for (let i = 1; i < LANES; i++) if (this.laneFreeAt[i] < this.laneFreeAt[lane]) lane = i;
    // In a burst every lane is taken: the line waits (off stage, right) for the lane that frees first.
    const startAt = Math.max(now, this.laneFreeAt[lane]);
    if (startAt - now > MAX_WAIT_MS) return;
    this.laneFreeAt[lane] = startAt + LANE_GAP_MS;
    const shown = text.length > MAX_DRAWN_CHARS ? `${text.slice(0, MAX_DRAWN_CHARS - 1)}…` : text;
    const style = `top:${4 + lane * (88 / LANES)}%;--who:${safeColor(color, '#ffffff')};--fly-ms:${FLY_MS}ms;animation-delay:${Math.round(startAt - now)}ms`;
    const node = el('span', { class: mine ? 'danmaku mine' : 'danmaku', style }, shown);
    node.addEventListener('animationend', () => node.remove(), { once: true });
    this.layer.append(node);
    while (this.layer.childElementCount > MAX_FLYING) this.layer.firstElementChild?.remove();
  }
}
