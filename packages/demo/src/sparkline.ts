const NS = 'http://www.w3.org/2000/svg';

export interface Series { values: number[]; className: string }

/**
 * Draws line series into an SVG with a 600x120 viewBox: a few grid lines, one polyline per series,
 * and the maximum as a label. Hand-drawn on purpose: the dashboard ships no chart library.
 */
export function drawChart(svg: SVGSVGElement, series: Series[], unit = ''): void {
  const w = 600, h = 120, pad = 4;
  const n = Math.max(2, ...series.map((s) => s.values.length));
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const nodes: SVGElement[] = [];
  for (const f of [0.25, 0.5, 0.75]) {
    const line = document.createElementNS(NS, 'line');
    line.setAttribute('class', 'grid');
    line.setAttribute('x1', '0');
    line.setAttribute('x2', String(w));
    line.setAttribute('y1', String(h * f));
    line.setAttribute('y2', String(h * f));
    nodes.push(line);
  }
  for (const s of series) {
    const offset = n - s.values.length;
    const pts = s.values.map((v, i) => `${(((i + offset) / (n - 1)) * w).toFixed(1)},${(h - pad - (v / max) * (h - 2 * pad)).toFixed(1)}`);
    const poly = document.createElementNS(NS, 'polyline');
    poly.setAttribute('class', s.className);
    poly.setAttribute('points', pts.join(' '));
    poly.setAttribute('vector-effect', 'non-scaling-stroke');
    nodes.push(poly);
  }
  const label = document.createElementNS(NS, 'text');
  label.setAttribute('x', '4');
  label.setAttribute('y', '12');
  label.textContent = `max ${formatNumber(max)}${unit}`;
  nodes.push(label);
  svg.replaceChildren(...nodes);
}

export function formatNumber(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
