import type { AqueductClient, MeshChannel, PeerMesh, Room } from '@aqueduct/client';
import { BusPointerChannel, isPointerMsg, type PointerChannel, type PointerMsg, type PointerPath } from './pointer-channel.js';

/**
 * Pointers over a WebRTC peer mesh (`client.peers`) on a room of their own (the mesh joins its
 * room with `mesh: true`, the chat room keeps its history option). The SDK sends each update on the
 * peer's DataChannel when it is open and as a volatile bus message otherwise; the path per peer
 * comes from the mesh. If the mesh is refused (MESH_FULL beyond `limits.maxMeshPeers`), pointers
 * go over the chat room's bus instead.
 */
export class PeersPointerChannel implements PointerChannel {
  private readonly mesh: PeerMesh;
  private readonly channel: MeshChannel;
  private readonly paths = new Map<string, PointerPath>();
  private readonly pointerFns: Array<(from: string, p: PointerMsg) => void> = [];
  private readonly pathFns: Array<(paths: ReadonlyMap<string, PointerPath>) => void> = [];
  private fallback?: BusPointerChannel;
  private readonly busListener: BusPointerChannel;

  constructor(client: AqueductClient, meshRoom: string, private readonly chatRoom: Room) {
    // Unordered, never retransmitted: a late pointer position is worthless, the next one replaces it.
    this.mesh = client.peers(meshRoom, { channels: { pointer: { ordered: false, maxRetransmits: 0 } } });
    this.channel = this.mesh.channel('pointer');
    this.channel.on('message', (from, data) => {
      if (isPointerMsg(data)) for (const fn of this.pointerFns) fn(from, data);
    });
    this.mesh.on('peer', (peer) => this.setPath(peer.id, peer.path === 'connecting' ? 'server' : peer.path));
    this.mesh.on('path', (peer, path) => this.setPath(peer, path === 'connecting' ? 'server' : path));
    this.mesh.on('peer-left', (peer) => {
      this.paths.delete(peer);
      this.changed();
    });
    this.mesh.on('error', (err) => {
      if (err.code === 'MESH_FULL' || err.code === 'PERMISSION_DENIED') this.useBus(client);
    });
    // Members refused by the mesh send their pointers on the chat room's bus: show those too.
    this.busListener = new BusPointerChannel(chatRoom, () => client.clientId, false);
    this.busListener.onPointer((from, p) => { for (const fn of this.pointerFns) fn(from, p); });
  }

  private useBus(client: AqueductClient): void {
    if (this.fallback) return;
    void this.mesh.close();
    this.fallback = new BusPointerChannel(this.chatRoom, () => client.clientId);
    this.fallback.onPaths((paths) => {
      this.paths.clear();
      for (const [k, v] of paths) this.paths.set(k, v);
      this.changed();
    });
  }

  private setPath(peer: string, path: PointerPath): void {
    if (this.paths.get(peer) === path) return;
    this.paths.set(peer, path);
    this.changed();
  }

  private changed(): void {
    for (const fn of this.pathFns) fn(this.paths);
  }

  send(p: PointerMsg): void {
    if (this.fallback) this.fallback.send(p);
    else this.channel.send(p);
  }

  onPointer(fn: (from: string, p: PointerMsg) => void): void {
    this.pointerFns.push(fn);
  }

  onPaths(fn: (paths: ReadonlyMap<string, PointerPath>) => void): void {
    this.pathFns.push(fn);
    fn(this.paths);
  }

  close(): void {
    this.fallback?.close();
    this.busListener.close();
    void this.mesh.close();
  }
}

/**
 * How pointers travel: a WebRTC mesh. Without RTCPeerConnection (or when a peer connection cannot
 * be made) the SDK carries the channel over the bus itself, and the badge says "via server".
 */
export function createPointerChannel(client: AqueductClient, chatRoom: Room, meshRoom: string): PointerChannel {
  return new PeersPointerChannel(client, meshRoom, chatRoom);
}
