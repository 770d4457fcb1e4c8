import { connectorEnds, type Shape } from './shapes.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Creates an SVG element with attributes. */
export function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

const r1 = (n: number): string => (Math.round(n * 10) / 10).toString();

function label(s: Shape, size: number): SVGTextElement {
  const t = svgEl('text', { x: r1(s.x + s.w / 2), y: r1(s.y + s.h / 2), 'font-size': size, 'text-anchor': 'middle', 'dominant-baseline': 'central', fill: '#1b1f24' });
  t.textContent = s.text;
  return t;
}

/** The SVG of one shape (connectors need the shapes they join: `byId`). */
function drawShape(s: Shape, byId: ReadonlyMap<string, Shape>): SVGGElement | undefined {
  const g = svgEl('g', { class: `shape shape-${s.kind}`, 'data-id': s.id, 'data-kind': s.kind, 'data-author': s.author });
  switch (s.kind) {
    case 'rect':
      g.append(svgEl('rect', { x: r1(s.x), y: r1(s.y), width: r1(s.w), height: r1(s.h), rx: 8, fill: `${s.color}22`, stroke: s.color, 'stroke-width': 2.5 }));
      if (s.text) g.append(label(s, 24));
      break;
    case 'ellipse':
      g.append(svgEl('ellipse', { cx: r1(s.x + s.w / 2), cy: r1(s.y + s.h / 2), rx: r1(s.w / 2), ry: r1(s.h / 2), fill: `${s.color}22`, stroke: s.color, 'stroke-width': 2.5 }));
      if (s.text) g.append(label(s, 24));
      break;
    case 'text': {
      // An invisible box keeps the whole text area clickable.
      g.append(svgEl('rect', { x: r1(s.x), y: r1(s.y), width: r1(s.w), height: r1(s.h), fill: 'transparent' }));
      const t = svgEl('text', { x: r1(s.x + 4), y: r1(s.y + s.h / 2), 'font-size': r1(Math.min(72, Math.max(12, s.h * 0.7))), 'dominant-baseline': 'central', fill: s.color });
      t.textContent = s.text;
      g.append(t);
      break;
    }
    case 'stroke': {
      const pts = s.points ?? [];
      const sx = s.w / (s.pw ?? s.w);
      const sy = s.h / (s.ph ?? s.h);
      let d = '';
      for (let i = 0; i + 1 < pts.length; i += 2) d += `${i === 0 ? 'M' : 'L'}${r1(s.x + pts[i] * sx)} ${r1(s.y + pts[i + 1] * sy)}`;
      if (pts.length === 2) d += 'l0.1 0';
      g.append(svgEl('path', { d, fill: 'none', stroke: s.color, 'stroke-width': s.width ?? 3, 'stroke-linecap': 'round', 'stroke-linejoin': 'round' }));
      break;
    }
    case 'connector': {
      const a = byId.get(s.from ?? '');
      const b = byId.get(s.to ?? '');
      // A connector whose end is gone (deleted concurrently) is not drawn.
      if (!a || !b || a.kind === 'connector' || b.kind === 'connector') return undefined;
      const [p, q] = connectorEnds(a, b);
      g.append(svgEl('line', { x1: r1(p.x), y1: r1(p.y), x2: r1(q.x), y2: r1(q.y), class: 'hit', stroke: 'transparent', 'stroke-width': 14 }));
      g.append(svgEl('line', { x1: r1(p.x), y1: r1(p.y), x2: r1(q.x), y2: r1(q.y), stroke: s.color, 'stroke-width': 2.5, 'marker-end': 'url(#wb-arrow)' }));
      g.dataset.from = a.id;
      g.dataset.to = b.id;
      break;
    }
  }
  return g;
}

/**
 * Draws shapes into an SVG group, replacing what it held. Used for the live board and for replay
 * frames alike (the board is small enough for a full redraw per change; `requestAnimationFrame`
 * coalesces bursts in the caller).
 */
export function renderShapes(layer: SVGGElement, shapes: readonly Shape[]): void {
  const byId = new Map(shapes.map((s) => [s.id, s]));
  const frag = document.createDocumentFragment();
  // Connectors under the shapes, so arrows never hide the boxes they join.
  for (const s of shapes) if (s.kind === 'connector') { const g = drawShape(s, byId); if (g) frag.append(g); }
  for (const s of shapes) if (s.kind !== 'connector') { const g = drawShape(s, byId); if (g) frag.append(g); }
  layer.replaceChildren(frag);
}

/** The selection outline and resize handle of a shape. */
export function renderSelection(layer: SVGGElement, shape: Shape | undefined): void {
  if (!shape || shape.kind === 'connector') {
    layer.replaceChildren();
    return;
  }
  const pad = 6;
  layer.replaceChildren(
    svgEl('rect', { class: 'selection', x: r1(shape.x - pad), y: r1(shape.y - pad), width: r1(shape.w + 2 * pad), height: r1(shape.h + 2 * pad) }),
    svgEl('rect', { class: 'handle', 'data-handle': 'resize', x: r1(shape.x + shape.w + pad - 7), y: r1(shape.y + shape.h + pad - 7), width: 14, height: 14 }),
  );
}
