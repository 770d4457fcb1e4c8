import type { PointerPath } from '../pointer-channel.js';
import { svgEl } from './render.js';
import type { StrokeChunk, Via } from './stroke-channel.js';

/** Live strokes of others shown at once; the oldest is dropped beyond this. */
export const MAX_LIVE_STROKES = 32;
/** A live stroke with no news for this long is removed (its commit never came, or it was undone). */
const STALE_MS = 10_000;

interface Live {
  chunks: Map<number, number[]>;
  node: SVGPathElement;
  at: number;
}

/**
 * Other people's strokes while they are being drawn. Chunks may come in any order or not at all;
 * the path is redrawn from the chunks received, in chunk order. A live stroke goes away as soon
 * as the document holds the committed stroke with the same id (`isCommitted`), or when stale.
 */
export class LiveStrokes {
  private readonly live = new Map<string, Live>();
  private readonly sweep: ReturnType<typeof setInterval>;
  /** Messages received per path (shown in the badge's tooltip, read by tests). */
  readonly received: Record<Via, number> = { p2p: 0, server: 0 };

  constructor(private readonly layer: SVGGElement, private readonly isCommitted: (id: string) => boolean) {
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [id, l] of this.live) if (now - l.at > STALE_MS) this.drop(id);
    }, 2000);
  }

  /** One chunk from `from` (a client id) that arrived over `via`. */
  receive(from: string, c: StrokeChunk, via: Via): void {
    this.received[via]++;
    if (this.isCommitted(c.id)) return;
    let l = this.live.get(c.id);
    if (!l) {
      if (this.live.size >= MAX_LIVE_STROKES) this.drop(this.live.keys().next().value as string);
      const node = svgEl('path', { class: 'live-stroke', fill: 'none', 'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'data-id': c.id, 'data-from': from });
      this.layer.append(node);
      l = { chunks: new Map(), node, at: 0 };
      this.live.set(c.id, l);
    }
    l.at = Date.now();
    l.chunks.set(c.seq, c.pts);
    l.node.setAttribute('stroke', c.color);
    l.node.setAttribute('stroke-width', String(c.width));
    l.node.dataset.via = via;
    l.node.dataset.chunks = String(l.chunks.size);
    if (c.end) l.node.dataset.ended = 'true';
    let d = '';
    for (const seq of [...l.chunks.keys()].sort((a, b) => a - b)) {
      const pts = l.chunks.get(seq) as number[];
      for (let i = 0; i + 1 < pts.length; i += 2) d += `${d ? 'L' : 'M'}${pts[i]} ${pts[i + 1]}`;
    }
    l.node.setAttribute('d', d);
  }

  /** Removes live strokes that are now in the document. */
  prune(): void {
    for (const id of [...this.live.keys()]) if (this.isCommitted(id)) this.drop(id);
  }

  dispose(): void {
    clearInterval(this.sweep);
    for (const id of [...this.live.keys()]) this.drop(id);
  }

  private drop(id: string): void {
    this.live.get(id)?.node.remove();
    this.live.delete(id);
  }
}

const PATH_TEXT: Record<PointerPath, string> = { 'p2p-direct': 'P2P', 'p2p-relay': 'P2P (relayed)', server: 'via server' };

/**
 * The badge saying which path this page's strokes take: "P2P" when every peer is reached over a
 * direct DataChannel, "P2P (relayed)" when some go through TURN, "via server" when some go over the
 * bus (no DataChannel yet, or this page is not in the mesh).
 */
export function renderStrokePath(badge: HTMLElement, paths: ReadonlyMap<string, PointerPath>, refused: boolean): void {
  const values = [...paths.values()];
  const summary: PointerPath | 'alone' = refused ? 'server' : values.length === 0 ? 'alone'
    : values.includes('server') ? 'server' : values.includes('p2p-relay') ? 'p2p-relay' : 'p2p-direct';
  badge.dataset.path = summary;
  badge.textContent = summary === 'alone' ? 'Strokes: nobody else here' : `Strokes: ${PATH_TEXT[summary]}`;
  const counts = Object.entries(PATH_TEXT).map(([k, text]) => [text, values.filter((v) => v === k).length] as const).filter(([, n]) => n > 0);
  badge.title = refused ? 'not in the peer mesh: strokes go over the server' : counts.map(([text, n]) => `${n} peer${n > 1 ? 's' : ''} ${text}`).join(', ') || 'no peers';
}
