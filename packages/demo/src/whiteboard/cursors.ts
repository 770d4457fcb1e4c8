import type { Awareness } from 'y-protocols/awareness';
import { el, safeColor } from '../dom.js';
import { svgEl } from './render.js';
import { BOARD_H, BOARD_W } from './shapes.js';

/** What each page puts into the document's awareness. */
export interface BoardPresence {
  user: { name: string; color: string; id: string };
  /** Board coordinates of the pointer, or null when it is off the board. */
  cursor: { x: number; y: number } | null;
}

function presenceOf(v: unknown): BoardPresence | undefined {
  const p = v as Partial<BoardPresence> | null;
  if (!p || typeof p.user !== 'object' || p.user === null || typeof p.user.name !== 'string') return undefined;
  const c = p.cursor;
  const cursor = c && typeof c.x === 'number' && typeof c.y === 'number' && Number.isFinite(c.x) && Number.isFinite(c.y) ? { x: c.x, y: c.y } : null;
  return { user: { name: p.user.name.slice(0, 32), color: safeColor(p.user.color), id: String(p.user.id ?? '') }, cursor };
}

/**
 * Presence cursors and the list of people on the board, from Yjs awareness (it rides the document's
 * own `/yjs` connection; a page that closes or stops answering drops out after awareness' 30 s
 * timeout). Local pointer moves are sent at most once per animation frame.
 */
export class Cursors {
  private readonly nodes = new Map<number, SVGGElement>();
  private pending: { x: number; y: number } | null | undefined;
  private frame = 0;

  constructor(
    private readonly awareness: Awareness,
    private readonly layer: SVGGElement,
    private readonly people: HTMLElement,
    user: BoardPresence['user'],
  ) {
    awareness.setLocalState({ user, cursor: null } satisfies BoardPresence);
    awareness.on('change', () => this.render());
    this.render();
  }

  /** The local pointer moved to board coordinates `p` (null: it left the board). */
  move(p: { x: number; y: number } | null): void {
    this.pending = p && { x: Math.round(Math.min(BOARD_W, Math.max(0, p.x))), y: Math.round(Math.min(BOARD_H, Math.max(0, p.y))) };
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.pending === undefined) return;
      this.awareness.setLocalStateField('cursor', this.pending);
      this.pending = undefined;
    });
  }

  setUser(user: BoardPresence['user']): void {
    this.awareness.setLocalStateField('user', user);
  }

  private render(): void {
    const seen = new Set<number>();
    const names: Array<{ name: string; color: string; me: boolean }> = [];
    for (const [id, state] of this.awareness.getStates()) {
      const p = presenceOf(state);
      if (!p) continue;
      names.push({ name: p.user.name, color: p.user.color, me: id === this.awareness.clientID });
      if (id === this.awareness.clientID || !p.cursor) continue;
      seen.add(id);
      let g = this.nodes.get(id);
      if (!g) {
        g = svgEl('g', { class: 'cursor' });
        g.append(svgEl('path', { d: 'M0 0 L0 22 L6 16 L11 26 L15 24 L10 14 L18 14 Z', stroke: '#fff', 'stroke-width': 1.5 }));
        const rect = svgEl('rect', { x: 16, y: 22, rx: 4, height: 22 });
        const text = svgEl('text', { x: 22, y: 37, 'font-size': 14, fill: '#fff' });
        g.append(rect, text);
        this.layer.append(g);
        this.nodes.set(id, g);
      }
      g.dataset.name = p.user.name;
      g.setAttribute('transform', `translate(${p.cursor.x} ${p.cursor.y}) scale(1.5)`);
      g.querySelector('path')?.setAttribute('fill', p.user.color);
      const rect = g.querySelector('rect');
      const text = g.querySelector('text');
      if (text && text.textContent !== p.user.name) text.textContent = p.user.name;
      rect?.setAttribute('fill', p.user.color);
      rect?.setAttribute('width', String(12 + p.user.name.length * 8));
    }
    for (const [id, g] of this.nodes) if (!seen.has(id)) { g.remove(); this.nodes.delete(id); }
    this.people.replaceChildren(...names.sort((a, b) => Number(b.me) - Number(a.me) || a.name.localeCompare(b.name)).map((n) => {
      const dot = el('span', { class: 'dot', 'aria-hidden': 'true' });
      dot.style.background = n.color;
      return el('li', { 'data-name': n.name }, dot, n.me ? `${n.name} (you)` : n.name);
    }));
  }
}
