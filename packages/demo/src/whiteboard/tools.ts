import type { Board } from './board.js';
import { svgEl } from './render.js';
import { MAX_STROKE_POINTS, newId, type Shape } from './shapes.js';
import { simplifyTo } from './simplify.js';
import { StrokeSender, type StrokeChannel } from './stroke-channel.js';

export type Tool = 'select' | 'rect' | 'ellipse' | 'text' | 'connector' | 'pen';
export const TOOLS: readonly Tool[] = ['select', 'rect', 'ellipse', 'text', 'connector', 'pen'];

/** Simplification tolerance of committed strokes, in board units. */
export const STROKE_EPSILON = 1.2;
/** Width of a drawn stroke, in board units. */
export const STROKE_WIDTH = 4;
/** A drag shorter than this makes a shape of the default size. */
const CLICK_SLOP = 8;

export interface ToolHost {
  board: Board;
  svg: SVGSVGElement;
  /** Where gestures draw their previews (not hit-tested). */
  preview: SVGGElement;
  strokes: StrokeChannel;
  color(): string;
  /** Text for the text tool and new labels. */
  text(): string;
  /** False while a replay frame is shown: the board is read-only then. */
  editable(): boolean;
  selectionChanged(id: string | undefined): void;
  pointer(p: { x: number; y: number } | null): void;
}

type Point = { x: number; y: number };
type Gesture =
  | { kind: 'move'; id: string; start: Point; orig: Point }
  | { kind: 'resize'; id: string; start: Point; orig: { w: number; h: number }; ratio: boolean }
  | { kind: 'create'; shape: 'rect' | 'ellipse'; start: Point; node: SVGElement }
  | { kind: 'connect'; from: string; node: SVGLineElement }
  | { kind: 'pen'; points: number[]; sender: StrokeSender; node: SVGPathElement };

/**
 * Pointer and keyboard input on the board: select, move (drag, or arrow keys), resize (corner
 * handle), delete (Delete/Backspace), undo/redo (Ctrl+Z, Ctrl+Shift+Z / Ctrl+Y); rectangles and ellipses (drag or
 * click), text (click), connectors (drag from one shape to another), freehand pen. Each gesture
 * is one undo step. The pen sends its points live over the stroke channel while drawing and
 * commits the simplified stroke to the document when the pen goes up.
 */
export class Tools {
  tool: Tool = 'select';
  selected?: string;
  private gesture?: Gesture;

  constructor(private readonly host: ToolHost) {
    const svg = host.svg;
    svg.addEventListener('pointerdown', (ev) => this.down(ev));
    svg.addEventListener('pointermove', (ev) => this.move(ev));
    svg.addEventListener('pointerup', (ev) => this.up(ev));
    svg.addEventListener('pointercancel', () => this.cancel());
    svg.addEventListener('pointerleave', () => host.pointer(null));
    document.addEventListener('keydown', (ev) => this.key(ev));
  }

  setTool(tool: Tool): void {
    this.cancel();
    this.tool = tool;
    this.host.svg.dataset.tool = tool;
    if (tool !== 'select') this.select(undefined);
  }

  select(id: string | undefined): void {
    if (this.selected === id) return;
    this.selected = id;
    this.host.selectionChanged(id);
  }

  /** Deletes the selected shape (and its connectors). */
  deleteSelected(): void {
    if (!this.selected || !this.host.editable()) return;
    this.host.board.beginStep();
    this.host.board.remove([this.selected]);
    this.select(undefined);
  }

  /** Board coordinates of a pointer event. */
  toBoard(ev: { clientX: number; clientY: number }): Point {
    const m = this.host.svg.getScreenCTM();
    if (!m) return { x: 0, y: 0 };
    const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m.inverse());
    return { x: p.x, y: p.y };
  }

  private shapeAt(ev: { clientX: number; clientY: number }): string | undefined {
    const hit = document.elementFromPoint(ev.clientX, ev.clientY);
    const g = hit?.closest<SVGGElement>('#shapes-layer [data-id]');
    return g?.dataset.id;
  }

  private down(ev: PointerEvent): void {
    if (ev.button !== 0 || !this.host.editable()) return;
    // The board takes the keyboard (Delete, Ctrl+Z) from the toolbar's text field.
    const active = document.activeElement;
    if (active instanceof HTMLElement && active.tagName === 'INPUT') active.blur();
    const p = this.toBoard(ev);
    const board = this.host.board;
    const target = ev.target as Element;
    const hitId = this.shapeAt(ev);
    let gesture: Gesture | undefined;
    switch (this.tool) {
      case 'select': {
        const selected = this.selected ? board.get(this.selected) : undefined;
        if (selected && target.closest('[data-handle="resize"]')) {
          gesture = { kind: 'resize', id: selected.id, start: p, orig: { w: selected.w, h: selected.h }, ratio: selected.kind === 'text' };
        } else if (hitId) {
          this.select(hitId);
          const s = board.get(hitId);
          if (s && s.kind !== 'connector') gesture = { kind: 'move', id: hitId, start: p, orig: { x: s.x, y: s.y } };
        } else this.select(undefined);
        break;
      }
      case 'rect':
      case 'ellipse': {
        const node = this.tool === 'rect' ? svgEl('rect', { class: 'draft' }) : svgEl('ellipse', { class: 'draft' });
        this.host.preview.append(node);
        gesture = { kind: 'create', shape: this.tool, start: p, node };
        break;
      }
      case 'text': {
        const text = this.host.text().trim() || 'Text';
        board.beginStep();
        const id = board.add({ kind: 'text', x: p.x, y: p.y - 16, w: Math.max(40, text.length * 12 + 8), h: 32, color: this.host.color(), text });
        this.select(id);
        return;
      }
      case 'connector': {
        const from = hitId && board.get(hitId);
        if (!from || from.kind === 'connector') return;
        const node = svgEl('line', { class: 'draft', x1: from.x + from.w / 2, y1: from.y + from.h / 2, x2: p.x, y2: p.y });
        this.host.preview.append(node);
        gesture = { kind: 'connect', from: from.id, node };
        break;
      }
      case 'pen': {
        const id = newId();
        const color = this.host.color();
        const sender = new StrokeSender(this.host.strokes, id, color, STROKE_WIDTH);
        const node = svgEl('path', { class: 'own-stroke', fill: 'none', stroke: color, 'stroke-width': STROKE_WIDTH, 'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'data-id': id });
        this.host.preview.append(node);
        gesture = { kind: 'pen', points: [], sender, node };
        this.addPenPoint(gesture, p);
        break;
      }
    }
    if (!gesture) return;
    ev.preventDefault();
    board.beginStep();
    this.gesture = gesture;
    this.host.svg.setPointerCapture(ev.pointerId);
  }

  private move(ev: PointerEvent): void {
    const p = this.toBoard(ev);
    this.host.pointer(p);
    const g = this.gesture;
    if (!g) return;
    const board = this.host.board;
    switch (g.kind) {
      case 'move':
        board.update(g.id, { x: round(g.orig.x + p.x - g.start.x), y: round(g.orig.y + p.y - g.start.y) });
        break;
      case 'resize': {
        let w = Math.max(10, g.orig.w + p.x - g.start.x);
        let h = Math.max(10, g.orig.h + p.y - g.start.y);
        if (g.ratio) { const k = w / g.orig.w; w = g.orig.w * k; h = g.orig.h * k; }
        board.update(g.id, { w: round(w), h: round(h) });
        break;
      }
      case 'create': {
        const r = box(g.start, p);
        if (g.shape === 'rect') setAttrs(g.node, { x: r.x, y: r.y, width: r.w, height: r.h });
        else setAttrs(g.node, { cx: r.x + r.w / 2, cy: r.y + r.h / 2, rx: r.w / 2, ry: r.h / 2 });
        break;
      }
      case 'connect':
        setAttrs(g.node, { x2: p.x, y2: p.y });
        break;
      case 'pen': {
        const events = typeof ev.getCoalescedEvents === 'function' ? ev.getCoalescedEvents() : [];
        for (const e of events.length > 0 ? events : [ev]) this.addPenPoint(g, this.toBoard(e));
        break;
      }
    }
  }

  private up(ev: PointerEvent): void {
    const g = this.gesture;
    if (!g) return;
    this.gesture = undefined;
    if (this.host.svg.hasPointerCapture(ev.pointerId)) this.host.svg.releasePointerCapture(ev.pointerId);
    const p = this.toBoard(ev);
    const board = this.host.board;
    switch (g.kind) {
      case 'create': {
        g.node.remove();
        let r = box(g.start, p);
        if (r.w < CLICK_SLOP && r.h < CLICK_SLOP) r = { x: g.start.x, y: g.start.y, w: 160, h: 100 };
        const id = board.add({ kind: g.shape, ...roundBox(r), color: this.host.color(), text: this.host.text().trim() });
        this.select(id);
        break;
      }
      case 'connect': {
        g.node.remove();
        const to = this.shapeAt(ev);
        const target = to ? board.get(to) : undefined;
        if (target && target.id !== g.from && target.kind !== 'connector') {
          board.add({ kind: 'connector', x: 0, y: 0, w: 1, h: 1, color: '#444444', text: '', from: g.from, to: target.id });
        }
        break;
      }
      case 'pen':
        this.addPenPoint(g, p);
        g.sender.end();
        this.commitStroke(g.sender.id, g.points);
        g.node.remove();
        break;
      default:
        break;
    }
    board.beginStep();
  }

  private cancel(): void {
    const g = this.gesture;
    this.gesture = undefined;
    if (!g) return;
    if (g.kind === 'create' || g.kind === 'connect') g.node.remove();
    if (g.kind === 'pen') {
      g.sender.end();
      this.commitStroke(g.sender.id, g.points);
      g.node.remove();
    }
  }

  private addPenPoint(g: Extract<Gesture, { kind: 'pen' }>, p: Point): void {
    const n = g.points.length;
    if (n >= 2 && Math.abs(g.points[n - 2] - p.x) < 0.5 && Math.abs(g.points[n - 1] - p.y) < 0.5) return;
    // The raw stroke is bounded too: 50x the points a committed stroke may keep.
    if (n >= MAX_STROKE_POINTS * 100) return;
    g.points.push(p.x, p.y);
    g.sender.add(p.x, p.y);
    const d = g.node.getAttribute('d') ?? '';
    g.node.setAttribute('d', `${d}${d ? 'L' : 'M'}${p.x.toFixed(1)} ${p.y.toFixed(1)}`);
  }

  /** Commits a finished stroke to the document: simplified, relative to its bounding box. */
  private commitStroke(id: string, points: number[]): void {
    if (points.length < 2) return;
    const simple = simplifyTo(points, STROKE_EPSILON, MAX_STROKE_POINTS);
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < simple.length; i += 2) {
      minX = Math.min(minX, simple[i]); maxX = Math.max(maxX, simple[i]);
      minY = Math.min(minY, simple[i + 1]); maxY = Math.max(maxY, simple[i + 1]);
    }
    const w = Math.max(1, maxX - minX);
    const h = Math.max(1, maxY - minY);
    const rel = simple.map((v, i) => Math.round((v - (i % 2 === 0 ? minX : minY)) * 10) / 10);
    const shape: Omit<Shape, 'author' | 'z'> = {
      id, kind: 'stroke', x: round(minX), y: round(minY), w: round(w), h: round(h), pw: round(w), ph: round(h),
      points: rel, width: STROKE_WIDTH, color: this.host.color(), text: '',
    };
    this.host.board.beginStep();
    this.host.board.add(shape);
  }

  private key(ev: KeyboardEvent): void {
    const t = ev.target as HTMLElement | null;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
    const mod = ev.ctrlKey || ev.metaKey;
    const k = ev.key.toLowerCase();
    if (mod && k === 'z') {
      ev.preventDefault();
      if (!this.host.editable()) return;
      if (ev.shiftKey) this.host.board.redo(); else this.host.board.undo();
    } else if (mod && k === 'y') {
      ev.preventDefault();
      if (this.host.editable()) this.host.board.redo();
    } else if (!mod && (ev.key === 'Delete' || ev.key === 'Backspace') && this.selected) {
      ev.preventDefault();
      this.deleteSelected();
    } else if (!mod && ev.key.startsWith('Arrow') && this.selected && this.host.editable()) {
      // Nudge the selection: 10 board units, 1 with Shift; held keys are one undo step.
      const s = this.host.board.get(this.selected);
      if (!s || s.kind === 'connector') return;
      ev.preventDefault();
      const d = ev.shiftKey ? 1 : 10;
      const dx = ev.key === 'ArrowLeft' ? -d : ev.key === 'ArrowRight' ? d : 0;
      const dy = ev.key === 'ArrowUp' ? -d : ev.key === 'ArrowDown' ? d : 0;
      if (!ev.repeat) this.host.board.beginStep();
      this.host.board.update(s.id, { x: round(s.x + dx), y: round(s.y + dy) });
    } else if (ev.key === 'Escape') {
      this.cancel();
      this.select(undefined);
    }
  }
}

function box(a: Point, b: Point): { x: number; y: number; w: number; h: number } {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
}

function roundBox(r: { x: number; y: number; w: number; h: number }): { x: number; y: number; w: number; h: number } {
  return { x: round(r.x), y: round(r.y), w: round(r.w), h: round(r.h) };
}

const round = (n: number): number => Math.round(n * 10) / 10;

function setAttrs(node: Element, attrs: Record<string, number>): void {
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v.toFixed(1));
}
