import type { AqueductClient, MeshChannel, PeerMesh, Room } from '@aqueduct/client';
import type { PointerPath } from '../pointer-channel.js';

/** Most points in one live-stroke message (a message stays well under 2 KB as JSON). */
export const MAX_POINTS_PER_MESSAGE = 64;
/** Highest chunk number of one live stroke (a stroke longer than this stops being shown live). */
export const MAX_CHUNKS_PER_STROKE = 400;

/**
 * One piece of a stroke being drawn. The channel is unordered and unreliable, so every message
 * stands alone: the stroke id and style, a chunk number, and its points (each chunk repeats the
 * previous chunk's last point, so a lost chunk leaves a straight segment, never a broken line).
 * `end` says the pen went up; the finished stroke then arrives as a shape in the document.
 */
export interface StrokeChunk {
  id: string;
  seq: number;
  /** Flat `[x0, y0, x1, y1, ...]` in board units, rounded to 0.1. */
  pts: number[];
  color: string;
  width: number;
  end?: boolean;
}

export type Via = 'p2p' | 'server';

export function isStrokeChunk(d: unknown): d is StrokeChunk {
  const c = d as Partial<StrokeChunk> | null;
  return !!c && typeof c.id === 'string' && /^[a-z0-9]{1,40}$/.test(c.id)
    && Number.isInteger(c.seq) && (c.seq as number) >= 0 && (c.seq as number) < MAX_CHUNKS_PER_STROKE
    && Array.isArray(c.pts) && c.pts.length % 2 === 0 && c.pts.length <= MAX_POINTS_PER_MESSAGE * 2 + 2
    && c.pts.every((n) => typeof n === 'number' && Number.isFinite(n))
    && typeof c.color === 'string' && /^#[0-9a-f]{6}$/i.test(c.color)
    && typeof c.width === 'number' && c.width >= 1 && c.width <= 40;
}

/** Bus event of live strokes when the mesh refused this page (MESH_FULL). */
const BUS_EVENT = 'wb.stroke';

/**
 * Carries live strokes to the other people on the board: a WebRTC mesh channel declared
 * `ordered: false, maxRetransmits: 0` (a late or lost piece of a stroke is not worth waiting for;
 * the committed shape follows through the document anyway). The SDK sends to each peer on its
 * DataChannel when open and as a volatile bus publication otherwise (the fallback); `onPaths`
 * reports which path each peer takes. If the mesh refuses this page (MESH_FULL beyond
 * `limits.maxMeshPeers`, or no `signal` permission), strokes go as volatile publications on a
 * plain bus room instead, which every page joins and listens to; mesh members publish there too
 * while that room has members outside their mesh.
 */
export class StrokeChannel {
  private readonly mesh: PeerMesh;
  private readonly channel: MeshChannel;
  private readonly paths = new Map<string, PointerPath>();
  private readonly chunkFns: Array<(from: string, c: StrokeChunk, via: Via) => void> = [];
  private readonly pathFns: Array<(paths: ReadonlyMap<string, PointerPath>, refused: boolean) => void> = [];
  private bus?: Room;
  private readonly offs: Array<() => void> = [];
  private refused = false;

  constructor(private readonly client: AqueductClient, meshRoom: string, private readonly busRoom: string) {
    this.mesh = client.peers(meshRoom, { channels: { stroke: { ordered: false, maxRetransmits: 0 } } });
    this.channel = this.mesh.channel('stroke');
    this.channel.on('message', (from, data, info) => this.deliver(from, data, info.via));
    this.mesh.on('peer', (peer) => this.setPath(peer.id, peer.path === 'connecting' ? 'server' : peer.path));
    this.mesh.on('path', (peer, path) => this.setPath(peer, path === 'connecting' ? 'server' : path));
    this.mesh.on('peer-left', (peer) => {
      this.paths.delete(peer);
      this.changed();
    });
    this.mesh.on('error', (err) => {
      if (err.code === 'MESH_FULL' || err.code === 'PERMISSION_DENIED') this.useBus();
    });
    // Pages refused by the mesh send on the bus room: listen there too.
    this.listenBus();
  }

  /** The mesh (for tests and diagnostics). */
  get peerMesh(): PeerMesh {
    return this.mesh;
  }

  send(chunk: StrokeChunk): void {
    if (!this.refused) this.channel.send(chunk);
    // Pages outside the mesh (refused by it) only listen on the bus room: publish there too while
    // there are any (chunks are idempotent, a page that gets one twice draws it once).
    if (this.refused || this.hasOutsiders()) this.bus?.publishVolatile(chunk, { event: BUS_EVENT });
  }

  /** Whether someone on the bus room is not a peer of this page's mesh. */
  private hasOutsiders(): boolean {
    const me = this.client.clientId;
    return (this.bus?.members ?? []).some((m) => m.client !== me && this.mesh.path(m.client) === undefined);
  }

  onChunk(fn: (from: string, c: StrokeChunk, via: Via) => void): void {
    this.chunkFns.push(fn);
  }

  /** Called with every peer's path whenever one changes; `refused`: this page is not in the mesh. */
  onPaths(fn: (paths: ReadonlyMap<string, PointerPath>, refused: boolean) => void): void {
    this.pathFns.push(fn);
    fn(this.paths, this.refused);
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
    void this.mesh.close();
    void this.bus?.leave();
  }

  private deliver(from: string, data: unknown, via: Via): void {
    if (!isStrokeChunk(data)) return;
    for (const fn of this.chunkFns) fn(from, data, via);
  }

  private listenBus(): void {
    this.bus = this.client.room(this.busRoom);
    this.offs.push(this.bus.on('message', (m) => {
      if (m.event !== BUS_EVENT || !m.from || m.from.client === this.client.clientId) return;
      this.deliver(m.from.client, m.data, 'server');
    }));
    this.offs.push(this.bus.on('presence', (members) => {
      if (!this.refused) return;
      this.paths.clear();
      for (const m of members) if (m.client !== this.client.clientId) this.paths.set(m.client, 'server');
      this.changed();
    }));
  }

  private useBus(): void {
    if (this.refused) return;
    this.refused = true;
    void this.mesh.close();
    this.paths.clear();
    for (const m of this.bus?.members ?? []) if (m.client !== this.client.clientId) this.paths.set(m.client, 'server');
    this.changed();
  }

  private setPath(peer: string, path: PointerPath): void {
    if (this.refused || this.paths.get(peer) === path) return;
    this.paths.set(peer, path);
    this.changed();
  }

  private changed(): void {
    for (const fn of this.pathFns) fn(this.paths, this.refused);
  }
}

/**
 * Cuts a stroke being drawn into messages: points are buffered and flushed at most once per
 * animation frame, `MAX_POINTS_PER_MESSAGE` at most per message.
 */
export class StrokeSender {
  private seq = 0;
  private pending: number[] = [];
  private last?: [number, number];
  private frame = 0;

  constructor(private readonly channel: StrokeChannel, readonly id: string, private readonly color: string, private readonly width: number) {}

  add(x: number, y: number): void {
    this.pending.push(Math.round(x * 10) / 10, Math.round(y * 10) / 10);
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.flush(false); });
  }

  /** The pen went up: sends what is left with `end`. */
  end(): void {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.flush(true);
  }

  private flush(end: boolean): void {
    while (this.pending.length > 0 || end) {
      if (this.seq >= MAX_CHUNKS_PER_STROKE) { this.pending = []; return; }
      const take = this.pending.splice(0, MAX_POINTS_PER_MESSAGE * 2);
      const pts = this.last ? [...this.last, ...take] : take;
      if (take.length >= 2) this.last = [take[take.length - 2], take[take.length - 1]];
      const done = end && this.pending.length === 0;
      this.channel.send({ id: this.id, seq: this.seq++, pts, color: this.color, width: this.width, ...(done ? { end: true } : {}) });
      if (done) return;
    }
  }
}
