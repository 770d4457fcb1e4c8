import type { Room } from '@aqueduct/client';

/** How pointer updates reach one peer. */
export type PointerPath = 'p2p-direct' | 'p2p-relay' | 'server';

/** A pointer position, relative to the shared workspace (0..1 on both axes). */
export interface PointerMsg { x: number; y: number; name: string; color: string }

/**
 * Carries pointer positions to the other people in a room. Implementations: WebRTC DataChannels
 * with a per-peer fallback to volatile bus messages (`PeersPointerChannel`), or the bus alone
 * (`BusPointerChannel`).
 */
export interface PointerChannel {
  send(p: PointerMsg): void;
  onPointer(fn: (fromClient: string, p: PointerMsg) => void): void;
  /** Called when the path to any peer changes (peer client id -> path). */
  onPaths(fn: (paths: ReadonlyMap<string, PointerPath>) => void): void;
  close(): void;
}

export function isPointerMsg(d: unknown): d is PointerMsg {
  const p = d as Partial<PointerMsg> | null;
  return !!p && typeof p.x === 'number' && typeof p.y === 'number' && p.x >= 0 && p.x <= 1 && p.y >= 0 && p.y <= 1 && typeof p.name === 'string';
}

/** Pointers as volatile bus messages (event `pointer`): dropped first under load, never stored. */
export class BusPointerChannel implements PointerChannel {
  private readonly pointerFns: Array<(from: string, p: PointerMsg) => void> = [];
  private readonly pathFns: Array<(paths: ReadonlyMap<string, PointerPath>) => void> = [];
  private readonly paths = new Map<string, PointerPath>();
  private readonly offs: Array<() => void> = [];

  /** `trackPaths: false` only receives (a listener beside a mesh, which knows the paths itself). */
  constructor(private readonly room: Room, private readonly selfClient: () => string | undefined, trackPaths = true) {
    this.offs.push(room.on('message', (m) => {
      if (m.event !== 'pointer' || !m.from || m.from.client === this.selfClient() || !isPointerMsg(m.data)) return;
      for (const fn of this.pointerFns) fn(m.from.client, m.data);
    }));
    if (trackPaths) this.offs.push(room.on('presence', (members) => {
      this.paths.clear();
      for (const m of members) if (m.client !== this.selfClient()) this.paths.set(m.client, 'server');
      for (const fn of this.pathFns) fn(this.paths);
    }));
  }

  send(p: PointerMsg): void {
    this.room.publishVolatile(p, { event: 'pointer' });
  }

  onPointer(fn: (from: string, p: PointerMsg) => void): void {
    this.pointerFns.push(fn);
  }

  onPaths(fn: (paths: ReadonlyMap<string, PointerPath>) => void): void {
    this.pathFns.push(fn);
    fn(this.paths);
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
  }
}
