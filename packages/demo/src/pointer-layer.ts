import type { Member } from '@aqueduct/client';
import { el, safeColor } from './dom.js';
import type { PointerChannel, PointerPath } from './pointer-channel.js';

/** A remote pointer not moved for this long is hidden. */
const STALE_MS = 15_000;

const PATH_TEXT: Record<PointerPath, string> = { 'p2p-direct': 'P2P', 'p2p-relay': 'relayed', server: 'via server' };

/**
 * Live pointers over the workspace: local pointer moves are sent at most once per animation frame;
 * remote pointers are drawn as labelled arrows. The path badge says how pointers travel right now:
 * "P2P" (every peer over a direct DataChannel), "relayed" (some over TURN), "via server" (some over
 * the bus), or "alone".
 */
export class PointerLayer {
  private readonly pointers = new Map<string, { node: HTMLElement; at: number }>();
  private pending?: { x: number; y: number };
  private frame = 0;
  private sweep: ReturnType<typeof setInterval>;

  constructor(
    private readonly area: HTMLElement,
    private readonly layer: HTMLElement,
    private readonly badge: HTMLElement,
    private readonly channel: PointerChannel,
    private readonly me: () => { name: string; color: string },
  ) {
    area.addEventListener('pointermove', (ev) => this.move(ev));
    channel.onPointer((from, p) => this.draw(from, p.x, p.y, p.name, p.color));
    channel.onPaths((paths) => this.renderPaths(paths));
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [client, p] of this.pointers) if (now - p.at > STALE_MS) this.remove(client);
    }, 5000);
  }

  /** Removes pointers of clients that left the room. */
  syncMembers(members: Member[]): void {
    const present = new Set(members.map((m) => m.client));
    for (const client of this.pointers.keys()) if (!present.has(client)) this.remove(client);
  }

  private move(ev: PointerEvent): void {
    const r = this.area.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return;
    this.pending = { x: clamp((ev.clientX - r.left) / r.width), y: clamp((ev.clientY - r.top) / r.height) };
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const p = this.pending;
      if (!p) return;
      this.pending = undefined;
      this.channel.send({ ...p, ...this.me() });
    });
  }

  private draw(client: string, x: number, y: number, name: string, color: string): void {
    let p = this.pointers.get(client);
    if (!p) {
      const node = el('div', { class: 'pointer', 'data-client': client, role: 'img', 'aria-label': `${name}'s pointer` },
        el('span', { class: 'arrow', 'aria-hidden': 'true' }),
        el('span', { class: 'pointer-label' }, name));
      this.layer.append(node);
      p = { node, at: 0 };
      this.pointers.set(client, p);
    }
    p.at = Date.now();
    const c = safeColor(color);
    p.node.style.setProperty('--pointer-color', c);
    p.node.style.transform = `translate(${(x * this.area.clientWidth).toFixed(1)}px, ${(y * this.area.clientHeight).toFixed(1)}px)`;
    p.node.dataset.x = x.toFixed(3);
    p.node.dataset.y = y.toFixed(3);
    const label = p.node.querySelector('.pointer-label');
    if (label && label.textContent !== name) label.textContent = name;
  }

  private remove(client: string): void {
    this.pointers.get(client)?.node.remove();
    this.pointers.delete(client);
  }

  private renderPaths(paths: ReadonlyMap<string, PointerPath>): void {
    const values = [...paths.values()];
    const summary: PointerPath | 'alone' = values.length === 0 ? 'alone'
      : values.includes('server') ? 'server' : values.includes('p2p-relay') ? 'p2p-relay' : 'p2p-direct';
    this.badge.dataset.path = summary;
    this.badge.textContent = summary === 'alone' ? 'Pointers: nobody else here' : `Pointers: ${PATH_TEXT[summary]}`;
    const counts = Object.entries(PATH_TEXT).map(([k, text]) => [text, values.filter((v) => v === k).length] as const).filter(([, n]) => n > 0);
    this.badge.title = counts.map(([text, n]) => `${n} peer${n > 1 ? 's' : ''} ${text}`).join(', ') || 'no peers';
  }

  dispose(): void {
    clearInterval(this.sweep);
    cancelAnimationFrame(this.frame);
    this.channel.close();
  }
}

function clamp(n: number): number {
  return Math.min(1, Math.max(0, n));
}
