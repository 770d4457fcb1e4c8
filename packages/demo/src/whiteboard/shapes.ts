/**
 * What a whiteboard is made of: plain shape records. The live board reads them out of the Y.Doc
 * (`board.ts`), a replay frame reads them out of a stored document version (`frames.ts`); both are
 * drawn by `render.ts`. Everything read from the network goes through `toShape` first.
 */

/** The board's own coordinate system (the SVG `viewBox`); every page scales it to its screen. */
export const BOARD_W = 1600;
export const BOARD_H = 1000;

export type ShapeKind = 'rect' | 'ellipse' | 'text' | 'stroke' | 'connector';
const KINDS: readonly ShapeKind[] = ['rect', 'ellipse', 'text', 'stroke', 'connector'];

/** Largest number of points of a committed stroke (after simplification). */
export const MAX_STROKE_POINTS = 2000;
/** Longest text of a shape. */
export const MAX_TEXT = 200;

export interface Shape {
  id: string;
  kind: ShapeKind;
  /** Bounding box in board units (connectors: unused, they follow their ends). */
  x: number;
  y: number;
  w: number;
  h: number;
  color: string;
  /** Label (rect, ellipse) or content (text). */
  text: string;
  /** Strokes: flat `[x0, y0, x1, y1, ...]` relative to the box as it was drawn (`pw` x `ph`). */
  points?: number[];
  pw?: number;
  ph?: number;
  /** Stroke width in board units. */
  width?: number;
  /** Connectors: the shapes they join. */
  from?: string;
  to?: string;
  /** User id of the author (the demo token's `sub`). */
  author: string;
  /** Stacking order: higher is drawn later. */
  z: number;
}

const COLOR_RE = /^#[0-9a-f]{6}$/i;
const ID_RE = /^[A-Za-z0-9_-]{1,40}$/;

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A shape record from untrusted JSON, or undefined when it is not one. */
export function toShape(id: string, v: unknown): Shape | undefined {
  if (!ID_RE.test(id) || v === null || typeof v !== 'object') return undefined;
  const r = v as Record<string, unknown>;
  const kind = r.kind as ShapeKind;
  if (!KINDS.includes(kind) || !num(r.x) || !num(r.y) || !num(r.w) || !num(r.h) || !num(r.z)) return undefined;
  const shape: Shape = {
    id,
    kind,
    x: r.x,
    y: r.y,
    w: Math.max(1, r.w),
    h: Math.max(1, r.h),
    color: typeof r.color === 'string' && COLOR_RE.test(r.color) ? r.color : '#333333',
    text: typeof r.text === 'string' ? r.text.slice(0, MAX_TEXT) : '',
    author: typeof r.author === 'string' ? r.author : '',
    z: r.z,
  };
  if (kind === 'stroke') {
    if (!Array.isArray(r.points) || r.points.length < 2 || r.points.length > MAX_STROKE_POINTS * 2 || !r.points.every(num)) return undefined;
    shape.points = r.points as number[];
    shape.pw = num(r.pw) && r.pw > 0 ? r.pw : shape.w;
    shape.ph = num(r.ph) && r.ph > 0 ? r.ph : shape.h;
    shape.width = num(r.width) ? Math.min(40, Math.max(1, r.width)) : 3;
  }
  if (kind === 'connector') {
    if (typeof r.from !== 'string' || typeof r.to !== 'string') return undefined;
    shape.from = r.from;
    shape.to = r.to;
  }
  return shape;
}

/** Shapes of a `{ id: record }` object (a version's `content.shapes`), in stacking order. */
export function shapesOf(records: unknown): Shape[] {
  if (records === null || typeof records !== 'object') return [];
  const out: Shape[] = [];
  for (const [id, v] of Object.entries(records as Record<string, unknown>)) {
    const s = toShape(id, v);
    if (s) out.push(s);
  }
  return out.sort((a, b) => a.z - b.z || (a.id < b.id ? -1 : 1));
}

/** A short random id (shape ids, stroke ids). */
export function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return Array.from(bytes, (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
}

/** The point where the segment from the box's centre towards (tx, ty) leaves the box. */
export function boxEdgePoint(s: Shape, tx: number, ty: number): { x: number; y: number } {
  const cx = s.x + s.w / 2;
  const cy = s.y + s.h / 2;
  const dx = tx - cx;
  const dy = ty - cy;
  if (dx === 0 && dy === 0) return { x: cx, y: cy };
  if (s.kind === 'ellipse') {
    const a = s.w / 2;
    const b = s.h / 2;
    const t = 1 / Math.sqrt((dx * dx) / (a * a) + (dy * dy) / (b * b));
    return { x: cx + dx * Math.min(1, t), y: cy + dy * Math.min(1, t) };
  }
  const t = Math.min(Math.abs(s.w / 2 / (dx || 1e-9)), Math.abs(s.h / 2 / (dy || 1e-9)));
  return { x: cx + dx * Math.min(1, t), y: cy + dy * Math.min(1, t) };
}

/** The two end points of a connector between shapes `a` and `b` (on their outlines). */
export function connectorEnds(a: Shape, b: Shape): [{ x: number; y: number }, { x: number; y: number }] {
  const ac = { x: a.x + a.w / 2, y: a.y + a.h / 2 };
  const bc = { x: b.x + b.w / 2, y: b.y + b.h / 2 };
  return [boxEdgePoint(a, bc.x, bc.y), boxEdgePoint(b, ac.x, ac.y)];
}
