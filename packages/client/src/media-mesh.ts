import type { MediaBackend, MediaBackendHost, MediaTrackInfo } from './media-types.js';
import type { PeerMesh } from './peers.js';

/** Volatile bus event by which the server tells mesh members that the room moved to the SFU. */
export const MEDIA_UPGRADE_EVENT = 'aq.media';

/**
 * The mesh side of a `MediaSession` (small rooms): tracks go to every peer of `client.peers(room)`.
 * `onCrowded` fires when the mesh outgrows `maxParticipants` or the server says the room is on the
 * SFU (mode `'auto'` then moves to the SFU).
 */
export class MeshMedia implements MediaBackend {
  private mesh: PeerMesh | undefined;
  private readonly tracks = new Map<string, MediaTrackInfo[]>();
  private readonly offs: Array<() => void> = [];
  private published: MediaStream | undefined;

  constructor(
    private readonly host: MediaBackendHost,
    private readonly open: () => PeerMesh,
    private readonly maxParticipants: number | undefined,
    private readonly onCrowded: () => void,
  ) {}

  async join(): Promise<void> {
    const mesh = this.open();
    this.mesh = mesh;
    this.offs.push(
      mesh.on('track', (peerId, track, streams) => {
        const user = mesh.peerList.find((p) => p.id === peerId)?.user ?? '';
        const info: MediaTrackInfo = { peerId, userId: user, track, stream: streams[0] ?? new MediaStream([track]) };
        const list = this.tracks.get(peerId) ?? [];
        list.push(info);
        this.tracks.set(peerId, list);
        track.addEventListener('ended', () => this.dropTrack(peerId, track));
        this.host.track(info);
      }),
      mesh.on('peer-left', (peerId) => {
        for (const info of this.tracks.get(peerId) ?? []) this.host.trackRemoved(info);
        this.tracks.delete(peerId);
      }),
      mesh.on('peer', () => {
        if (this.maxParticipants !== undefined && mesh.peerList.length + 1 > this.maxParticipants) this.onCrowded();
      }),
      mesh.on('error', (err) => this.host.error(err)),
      mesh.room.on('message', (msg) => { if (msg.volatile && msg.event === MEDIA_UPGRADE_EVENT) this.onCrowded(); }),
    );
    await mesh.ready();
  }

  private dropTrack(peerId: string, track: MediaStreamTrack): void {
    const list = this.tracks.get(peerId);
    const i = list?.findIndex((t) => t.track === track) ?? -1;
    if (!list || i < 0) return;
    const [info] = list.splice(i, 1);
    this.host.trackRemoved(info);
  }

  async publish(stream: MediaStream): Promise<void> {
    await this.unpublish();
    this.published = stream;
    for (const track of stream.getTracks()) this.mesh?.addTrack(track, stream);
  }

  async unpublish(): Promise<void> {
    for (const track of this.published?.getTracks() ?? []) this.mesh?.removeTrack(track);
    this.published = undefined;
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
    for (const list of this.tracks.values()) for (const info of list) this.host.trackRemoved(info);
    this.tracks.clear();
    const mesh = this.mesh;
    this.mesh = undefined;
    void mesh?.close().catch(() => undefined);
  }

  async leave(): Promise<void> {
    this.close();
  }
}
