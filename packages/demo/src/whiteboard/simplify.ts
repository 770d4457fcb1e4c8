/**
 * Ramer–Douglas–Peucker simplification of a flat `[x0, y0, x1, y1, ...]` polyline: keeps the
 * points that deviate more than `epsilon` from the line between their neighbours that were kept.
 * Iterative (no recursion depth limit), O(n log n) typical.
 */
export function simplify(points: readonly number[], epsilon: number): number[] {
  const n = points.length >> 1;
  if (n <= 2) return points.slice(0, n * 2);
  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[n - 1] = 1;
  const stack: Array<[number, number]> = [[0, n - 1]];
  const eps2 = epsilon * epsilon;
  while (stack.length > 0) {
    const [a, b] = stack.pop() as [number, number];
    const ax = points[a * 2], ay = points[a * 2 + 1];
    const bx = points[b * 2], by = points[b * 2 + 1];
    const dx = bx - ax, dy = by - ay;
    const len2 = dx * dx + dy * dy;
    let worst = -1;
    let worstD = eps2;
    for (let i = a + 1; i < b; i++) {
      const px = points[i * 2] - ax, py = points[i * 2 + 1] - ay;
      let d2: number;
      if (len2 === 0) d2 = px * px + py * py;
      else {
        const t = Math.max(0, Math.min(1, (px * dx + py * dy) / len2));
        const ex = px - t * dx, ey = py - t * dy;
        d2 = ex * ex + ey * ey;
      }
      if (d2 > worstD) { worstD = d2; worst = i; }
    }
    if (worst >= 0) {
      keep[worst] = 1;
      stack.push([a, worst], [worst, b]);
    }
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push(points[i * 2], points[i * 2 + 1]);
  return out;
}

/** Simplifies with a growing tolerance until at most `maxPoints` points remain. */
export function simplifyTo(points: readonly number[], epsilon: number, maxPoints: number): number[] {
  let eps = epsilon;
  let out = simplify(points, eps);
  while (out.length / 2 > maxPoints) {
    eps *= 2;
    out = simplify(points, eps);
  }
  return out;
}
