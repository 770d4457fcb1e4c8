import type { Member, Origin } from '@aqueduct/protocol';
import type { RoomConnection } from './connection.js';
import { Emitter } from './emitter.js';
import { AqueductError } from './errors.js';
import { MeshChannel, openChannel, type ChannelSink } from './mesh-channel.js';
import { IceServers, reportPath, type MeshHttp } from './mesh-http.js';
import {
  CONTROL_CHANNEL, FALLBACK_EVENT, MAX_CHANNEL_ID, channelIdOf, isFallback, isMeshSignal,
  type ChannelOptions, type FallbackMessage, type PeerInfo, type PeerMeshEvents, type PeerMeshOptions, type PeerPath, type PeerStats,
} from './mesh-types.js';
import { Negotiation } from './negotiation.js';
import { Peer, closeConnection } from './peer.js';
import type { Room, RoomMessage } from './room.js';
import { Signaling } from './signaling.js';

export { MeshChannel } from './mesh-channel.js';
export type {
  ChannelMessageInfo, ChannelOptions, MeshChannelEvents, PeerInfo, PeerMeshEvents, PeerMeshOptions, PeerPath, PeerStats,
} from './mesh-types.js';

/**
 * A WebRTC full mesh over one room (`client.peers(room, options)`).
 *
 * Membership comes from presence (members that joined with `mesh: true`); offers, answers and ICE
 * candidates ride `room.signal`. Every pair negotiates with the perfect-negotiation pattern: both
 * sides may offer at once, the polite side (lower client id) rolls back, the impolite side ignores
 * the colliding offer. A connection that does not connect or fails is ICE-restarted once; if that
 * fails too, the peer's channel data goes over the room bus and a fresh connection is tried later.
 * A reconnect of this client's WebSocket gives it a new client id, so the mesh is rebuilt.
 *
 * This file holds membership, the public API and data; `negotiation.ts` the peer connections,
 * `signaling.ts` the outbound signals, `mesh-http.ts` ICE servers and path reports.
 */
export class PeerMesh extends Emitter<PeerMeshEvents> {
  private readonly peers = new Map<string, Peer>();
  private readonly channels = new Map<string, MeshChannel>();
  private readonly tracks = new Map<MediaStreamTrack, MediaStream[]>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly net: MeshHttp;
  private readonly ice: IceServers;
  private readonly signaling: Signaling;
  private readonly negotiation: Negotiation;
  private readonly sink: ChannelSink;
  private selfId: string | undefined;
  private closed = false;

  /** Use `client.peers(room, options)`; `room` must have been created with `{ mesh: true }`. */
  constructor(private readonly conn: RoomConnection, readonly room: Room, private readonly options: PeerMeshOptions = {}) {
    super();
    const PC = options.RTCPeerConnection ?? (globalThis as { RTCPeerConnection?: typeof RTCPeerConnection }).RTCPeerConnection;
    const onError = (err: AqueductError) => this.emit('error', err);
    this.net = {
      http: () => conn.http(),
      fetch: (input, init) => (options.fetch ?? globalThis.fetch)(input, init),
      onError,
    };
    this.ice = new IceServers(this.net, room.name, options.iceTransportPolicy === 'relay', options.iceServers);
    this.signaling = new Signaling((to, payload) => room.signal(to, payload), onError);
    this.negotiation = new Negotiation({
      options,
      PC,
      iceServers: () => this.ice.get(),
      channels: () => this.channels.values(),
      tracks: () => this.tracks.entries(),
      signal: (peer, item) => this.signaling.queue(peer, item),
      setPath: (peer, path) => this.setPath(peer, path),
      stats: (peerId) => this.stats(peerId),
      report: (path) => void reportPath(this.net, path),
      track: (peerId, track, streams) => this.emit('track', peerId, track, streams),
      error: onError,
    });
    this.sink = {
      send: (channel, data, to) => this.send(channel, data, to),
      isOpen: (name, peerId) => this.peers.get(peerId)?.channels.get(name)?.readyState === 'open',
    };
    for (const [name, opts] of Object.entries(options.channels ?? {})) this.channel(name, opts);
    const r = room;
    this.unsubscribe.push(
      r.on('presence', (members) => this.onMembers(members)),
      r.on('presence.join', (m) => { if (m.mesh) this.addPeer(m.client, m.user); }),
      r.on('presence.leave', (m) => this.removePeer(m.client)),
      r.on('signal', (from, payload) => this.onSignal(from, payload)),
      r.on('message', (msg) => this.onBusMessage(msg)),
      r.on('error', onError),
    );
    if (r.isJoined) this.onMembers(r.members);
  }
  /** Resolves once the room is joined as a mesh member; rejects with MESH_FULL, PERMISSION_DENIED... */
  ready(): Promise<void> {
    return this.room.ready();
  }

  /** This client's id in the mesh (changes after a reconnect). */
  get id(): string | undefined {
    return this.selfId;
  }

  /** The peers and the path each one uses. */
  get peerList(): PeerInfo[] {
    return [...this.peers.values()].map((p) => p.info());
  }

  /** The path data to `peerId` takes, or undefined for an unknown peer. */
  path(peerId: string): PeerPath | undefined {
    return this.peers.get(peerId)?.path;
  }

  /** The underlying peer connection (for transceivers, custom stats); undefined while on the bus path. */
  connection(peerId: string): RTCPeerConnection | undefined {
    return this.peers.get(peerId)?.pc;
  }

  /**
   * A named channel, opened on every peer connection (now and later) with a negotiated id, so both
   * sides agree without an in-band announcement. Use the same name and options on every page.
   */
  channel(name: string, options: ChannelOptions = {}): MeshChannel {
    const existing = this.channels.get(name);
    if (existing) return existing;
    if (name === CONTROL_CHANNEL.name) throw new Error(`channel name ${name} is reserved`);
    const id = options.id ?? channelIdOf(name);
    if (!Number.isInteger(id) || id < 1 || id > MAX_CHANNEL_ID) throw new Error(`channel id must be an integer in 1..${MAX_CHANNEL_ID}`);
    for (const c of this.channels.values()) {
      if (c.options.id === id) throw new Error(`channels "${c.name}" and "${name}" share id ${id}: pass an explicit id`);
    }
    const channel = new MeshChannel(this.sink, name, { ...options, id });
    this.channels.set(name, channel);
    for (const peer of this.peers.values()) if (peer.pc) openChannel(peer, channel);
    return channel;
  }

  /** Sends a media track to every peer (now and later). Renegotiates as needed. */
  addTrack(track: MediaStreamTrack, ...streams: MediaStream[]): void {
    if (this.tracks.has(track)) return;
    this.tracks.set(track, streams);
    for (const peer of this.peers.values()) {
      if (peer.pc && !peer.senders.has(track)) peer.senders.set(track, peer.pc.addTrack(track, ...streams));
    }
  }

  /** Stops sending a track to every peer. */
  removeTrack(track: MediaStreamTrack): void {
    if (!this.tracks.delete(track)) return;
    for (const peer of this.peers.values()) {
      const sender = peer.senders.get(track);
      peer.senders.delete(track);
      if (sender && peer.pc && peer.pc.signalingState !== 'closed') peer.pc.removeTrack(sender);
    }
  }

  /** Round-trip time and relay use of the connection to `peerId`, from the selected candidate pair. */
  async stats(peerId: string): Promise<PeerStats | undefined> {
    const pc = this.peers.get(peerId)?.pc;
    if (!pc || pc.connectionState === 'closed') return undefined;
    const report = await pc.getStats();
    let pair: RTCIceCandidatePairStats | undefined;
    report.forEach((s: RTCStats) => {
      if (s.type === 'transport') {
        const id = (s as RTCTransportStats).selectedCandidatePairId;
        if (id) pair ??= report.get(id) as RTCIceCandidatePairStats | undefined;
      }
    });
    if (!pair) {
      report.forEach((s: RTCStats) => {
        const p = s as RTCIceCandidatePairStats;
        if (s.type === 'candidate-pair' && p.nominated && p.state === 'succeeded') pair ??= p;
      });
    }
    if (!pair) return undefined;
    const local = report.get(pair.localCandidateId) as { candidateType?: string } | undefined;
    const remote = report.get(pair.remoteCandidateId) as { candidateType?: string } | undefined;
    return {
      rttMs: pair.currentRoundTripTime === undefined ? undefined : pair.currentRoundTripTime * 1000,
      relayed: local?.candidateType === 'relay' || remote?.candidateType === 'relay',
      localCandidateType: local?.candidateType,
      remoteCandidateType: remote?.candidateType,
    };
  }

  /**
   * Replaces the connection to `peerId` with a fresh one (new ICE gathering, new DTLS); the peer
   * follows. For a "reconnect" button, or after the network changed under a connection.
   */
  reconnect(peerId: string): void {
    const peer = this.peers.get(peerId);
    if (!peer || this.closed) return;
    this.negotiation.restart(peer);
  }

  /** Closes every peer connection and leaves the room. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribe.splice(0)) off();
    for (const id of [...this.peers.keys()]) this.removePeer(id);
    await this.room.leave();
  }

  // ------------------------------------------------------------------ membership

  private onMembers(members: Member[]): void {
    const me = this.conn.clientId;
    if (me !== this.selfId) {
      // A new connection (first join, or a reconnect): peers knew this client by its old id and
      // drop those connections when presence says it left, so start every pair afresh.
      for (const id of [...this.peers.keys()]) this.removePeer(id);
      this.selfId = me;
    }
    for (const m of members) if (m.mesh) this.addPeer(m.client, m.user);
  }

  private addPeer(id: string, user: string): Peer | undefined {
    if (this.closed || !this.selfId || id === this.selfId) return undefined;
    const existing = this.peers.get(id);
    if (existing) return existing;
    if (this.peers.size >= (this.options.maxPeers ?? 32)) return undefined;
    const peer = new Peer(id, user, this.selfId < id);
    this.peers.set(id, peer);
    this.emit('peer', peer.info());
    void this.negotiation.start(peer);
    return peer;
  }

  private removePeer(id: string): void {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    peer.closed = true;
    closeConnection(peer);
    this.emit('peer-left', id);
  }

  private setPath(peer: Peer, path: PeerPath): void {
    if (peer.path === path || peer.closed) return;
    peer.path = path;
    this.emit('path', peer.id, path);
  }

  // ------------------------------------------------------------------ signaling and data

  private onSignal(from: Origin, payload: unknown): void {
    if (!isMeshSignal(payload) || this.closed) return;
    // A signal can come before presence told us about its sender (joins racing): accept it.
    const peer = this.peers.get(from.client) ?? this.addPeer(from.client, from.user);
    if (!peer) return;
    peer.inbound = peer.inbound.then(() => this.negotiation.handleSignal(peer, payload)).catch((err: unknown) => {
      if (!peer.closed) this.emit('error', new AqueductError('INTERNAL', `signal from ${peer.id}: ${(err as Error).message}`));
    });
  }

  /** Sends channel data: DataChannel where open, else one bus publication for the rest. */
  private send(channel: MeshChannel, data: unknown, to: string[] | undefined): string[] {
    const targets = to ? to.map((id) => this.peers.get(id)).filter((p): p is Peer => p !== undefined) : [...this.peers.values()];
    const missing = to ? to.filter((id) => !this.peers.has(id)) : [];
    const viaBus: string[] = [];
    let text: string | undefined;
    for (const peer of targets) {
      const dc = peer.channels.get(channel.name);
      if (dc && dc.readyState === 'open') {
        text ??= JSON.stringify(data);
        try {
          dc.send(text);
          continue;
        } catch { /* closed under us: fall through to the bus */ }
      }
      viaBus.push(peer.id);
    }
    if (viaBus.length === 0) return missing;
    if (this.options.fallback === false) return [...missing, ...viaBus];
    const message: FallbackMessage = { aq: 'mesh', ch: channel.name, to: viaBus, d: data };
    return this.room.publishVolatile(message, { event: FALLBACK_EVENT }) ? missing : [...missing, ...viaBus];
  }

  private onBusMessage(msg: RoomMessage): void {
    if (!msg.volatile || msg.event !== FALLBACK_EVENT || !msg.from || !isFallback(msg.data)) return;
    const me = this.selfId;
    if (!me || !msg.data.to.includes(me) || msg.from.client === me) return;
    this.channels.get(msg.data.ch)?._emit(msg.from.client, msg.data.d, { via: 'server' });
  }
}
