import type { Member, Origin } from '@aqueduct/protocol';
import type { AqueductClient } from './client.js';
import { Emitter } from './emitter.js';
import { AqueductError } from './errors.js';
import type { Room, RoomMessage } from './room.js';

/**
 * How data reaches a peer: through a direct peer connection, through a TURN relay, or over the
 * room bus (volatile publications) when no peer connection could be made.
 */
export type PeerPath = 'connecting' | 'p2p-direct' | 'p2p-relay' | 'server';

/** Reliability of a named DataChannel. Both sides must declare a channel with the same name and options. */
export interface ChannelOptions {
  /** Deliver in order (default true). Cursors: `false`. */
  ordered?: boolean;
  /** Give up on a message after this many retransmits (0 = never retransmit). Unset: reliable. */
  maxRetransmits?: number;
  /** Give up on a message after this many milliseconds. Unset: reliable. */
  maxPacketLifeTime?: number;
  /**
   * SCTP stream id, 1..1000 (0 is the SDK's own). Both sides open the channel with this id, so no
   * in-band announcement is needed. Default: a hash of the name (declaring two names with the
   * same hash throws; pass an explicit id then).
   */
  id?: number;
}

export interface PeerMeshOptions {
  /** ICE servers to use instead of fetching `GET /api/ice-servers` from the server. */
  iceServers?: RTCIceServer[];
  /** `'relay'` forces TURN (and asks the server for TURN credentials, failing clearly without them). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** A peer connection not connected after this long is ICE-restarted once, then given up on. Default 15,000 ms. */
  connectTimeoutMs?: number;
  /** After giving up on a peer connection, try a fresh one this much later (the bus carries data meanwhile). Default 30,000 ms. */
  retryAfterMs?: number;
  /** Send channel data over the room bus to peers without an open DataChannel. Default true. */
  fallback?: boolean;
  /** Report each established connection's path to `POST /api/webrtc/stats`. Default true. */
  reportStats?: boolean;
  /** Peers held at most (the server's `limits.maxMeshPeers` is the real cap). Default 32. */
  maxPeers?: number;
  /** Channels to open from the start (also possible later with `mesh.channel(name, options)`). */
  channels?: Record<string, ChannelOptions>;
  /** `RTCPeerConnection` implementation; default the global one. Without one, every peer uses the bus. */
  RTCPeerConnection?: typeof RTCPeerConnection;
  /** `fetch` implementation; default the global one. */
  fetch?: typeof fetch;
}

/** Connection stats of one peer, from the selected ICE candidate pair. */
export interface PeerStats {
  /** Current round-trip time of the selected pair (STUN consent checks), if measured yet. */
  rttMs: number | undefined;
  /** Whether either end of the selected pair is a TURN relay candidate. */
  relayed: boolean;
  localCandidateType: string | undefined;
  remoteCandidateType: string | undefined;
}

/** Metadata of a received channel message. */
export interface ChannelMessageInfo {
  via: 'p2p' | 'server';
}

export interface MeshChannelEvents {
  message: (from: string, data: unknown, info: ChannelMessageInfo) => void;
  /** The DataChannel to a peer opened. */
  open: (peerId: string) => void;
}

export interface PeerInfo {
  id: string;
  user: string;
  path: PeerPath;
  /** Whether this side is the polite one (the lower client id is polite). */
  polite: boolean;
}

export interface PeerMeshEvents {
  /** A peer joined the mesh (a connection to it is being made). */
  peer: (peer: PeerInfo) => void;
  /** A peer left (presence said so) or this mesh was rebuilt after a reconnect. */
  'peer-left': (peerId: string) => void;
  /** A peer's path changed. */
  path: (peerId: string, path: PeerPath) => void;
  /** A remote media track arrived. */
  track: (peerId: string, track: MediaStreamTrack, streams: readonly MediaStream[]) => void;
  /** Join refused (MESH_FULL, PERMISSION_DENIED...), ICE servers unavailable, a report failed. */
  error: (err: AqueductError) => void;
}

/** Signal payloads of the mesh (`room.signal`); other payloads are left to the app. */
interface MeshSignal {
  aq: 'mesh';
  /** The sender's peer-connection generation: a higher one means the sender started afresh. */
  gen: number;
  /** The receiver's generation the sender's connection is paired with; -1 before it paired. */
  ack: number;
  sdp?: RTCSessionDescriptionInit;
  candidates?: RTCIceCandidateInit[];
}

/** Volatile bus publication carrying channel data to peers without a DataChannel. */
interface FallbackMessage {
  aq: 'mesh';
  ch: string;
  to: string[];
  d: unknown;
}

const FALLBACK_EVENT = 'aq.mesh';
const CONTROL_CHANNEL = { name: '__aq', id: 0 };
const MAX_CHANNEL_ID = 1000;

function channelIdOf(name: string): number {
  // FNV-1a: stable across browsers and releases, so both sides derive the same id.
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % MAX_CHANNEL_ID) + 1;
}

const isMeshSignal = (v: unknown): v is MeshSignal =>
  typeof v === 'object' && v !== null && (v as MeshSignal).aq === 'mesh' && typeof (v as MeshSignal).gen === 'number';

const isFallback = (v: unknown): v is FallbackMessage =>
  typeof v === 'object' && v !== null && (v as FallbackMessage).aq === 'mesh' &&
  typeof (v as FallbackMessage).ch === 'string' && Array.isArray((v as FallbackMessage).to);

/**
 * A named channel over every peer of the mesh. Data is any JSON value; it travels on the peer's
 * DataChannel when open, else (with `fallback`) as a volatile publication on the room bus.
 */
export class MeshChannel extends Emitter<MeshChannelEvents> {
  constructor(private readonly mesh: PeerMesh, readonly name: string, readonly options: Required<Pick<ChannelOptions, 'id'>> & ChannelOptions) {
    super();
  }

  /** Sends to every peer. Returns the ids of the peers it could not be sent to. */
  send(data: unknown): string[] {
    return this.mesh._send(this, data, undefined);
  }

  /** Whether this channel's DataChannel to `peerId` is open (else sends to it go over the bus). */
  isOpen(peerId: string): boolean {
    return this.mesh._channelOpen(this.name, peerId);
  }

  /** Sends to one peer. Returns false if it could not be sent. */
  sendTo(peerId: string, data: unknown): boolean {
    return this.mesh._send(this, data, [peerId]).length === 0;
  }

  /** @internal */
  _emit(from: string, data: unknown, info: ChannelMessageInfo): void {
    this.emit('message', from, data, info);
  }

  /** @internal */
  _opened(peerId: string): void {
    this.emit('open', peerId);
  }
}

/** One remote member of the mesh and the peer connection to it. */
class Peer {
  pc: RTCPeerConnection | undefined;
  gen = -1;
  /** Generation of the remote connection this one is paired with (-1: not paired yet). */
  remoteGen = -1;
  readonly channels = new Map<string, RTCDataChannel>();
  readonly senders = new Map<MediaStreamTrack, RTCRtpSender>();
  path: PeerPath = 'connecting';
  makingOffer = false;
  ignoreOffer = false;
  settingRemoteAnswer = false;
  restarted = false;
  /**
   * The polite side of a new connection lets the impolite side make the first offer instead of
   * offering at the same moment (see `startConnection`); it applies until a remote offer arrived.
   */
  awaitOffer = false;
  reported = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Serial queue of inbound signal handling (descriptions and candidates must apply in order). */
  inbound: Promise<void> = Promise.resolve();
  /** Outbound signals: sent one at a time so they arrive in order; candidates batch while one is in flight. */
  outSdp: RTCSessionDescriptionInit | undefined;
  outCandidates: RTCIceCandidateInit[] = [];
  sending = false;
  closed = false;

  constructor(readonly id: string, public user: string, readonly polite: boolean) {}

  info(): PeerInfo {
    return { id: this.id, user: this.user, path: this.path, polite: this.polite };
  }
}

/**
 * A WebRTC full mesh over one room (`client.peers(room, options)`).
 *
 * Membership comes from presence (members that joined with `mesh: true`); offers, answers and ICE
 * candidates ride `room.signal`. Every pair negotiates with the perfect-negotiation pattern: both
 * sides may offer at once, the polite side (lower client id) rolls back, the impolite side ignores
 * the colliding offer. A connection that does not connect or fails is ICE-restarted once; if that
 * fails too, the peer's channel data goes over the room bus and a fresh connection is tried later.
 * A reconnect of this client's WebSocket gives it a new client id, so the mesh is rebuilt.
 */
export class PeerMesh extends Emitter<PeerMeshEvents> {
  readonly room: Room;
  private readonly peers = new Map<string, Peer>();
  private readonly channels = new Map<string, MeshChannel>();
  private readonly tracks = new Map<MediaStreamTrack, MediaStream[]>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly PC: typeof RTCPeerConnection | undefined;
  private selfId: string | undefined;
  private nextGen = 0;
  private iceServers: RTCIceServer[] | undefined;
  private iceExpiresAt = Infinity;
  private iceFetch: Promise<RTCIceServer[] | undefined> | undefined;
  private closed = false;

  constructor(private readonly client: AqueductClient, roomName: string, private readonly options: PeerMeshOptions = {}) {
    super();
    this.PC = options.RTCPeerConnection ?? (globalThis as { RTCPeerConnection?: typeof RTCPeerConnection }).RTCPeerConnection;
    if (options.iceServers) this.iceServers = options.iceServers;
    for (const [name, opts] of Object.entries(options.channels ?? {})) this.channel(name, opts);
    this.room = client.room(roomName, { mesh: true });
    const r = this.room;
    this.unsubscribe.push(
      r.on('presence', (members) => this.onMembers(members)),
      r.on('presence.join', (m) => { if (m.mesh) this.addPeer(m.client, m.user); }),
      r.on('presence.leave', (m) => this.removePeer(m.client)),
      r.on('signal', (from, payload) => this.onSignal(from, payload)),
      r.on('message', (msg) => this.onBusMessage(msg)),
      r.on('error', (err) => this.emit('error', err)),
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
    const channel = new MeshChannel(this, name, { ...options, id });
    this.channels.set(name, channel);
    for (const peer of this.peers.values()) if (peer.pc) this.openChannel(peer, channel);
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
    this.closeConnection(peer);
    void this.startConnection(peer, { offer: true }); // the peer learns of the fresh start from our offer
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
    const me = this.client.clientId;
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
    void this.startConnection(peer);
    return peer;
  }

  private removePeer(id: string): void {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    peer.closed = true;
    this.closeConnection(peer);
    this.emit('peer-left', id);
  }

  private setPath(peer: Peer, path: PeerPath): void {
    if (peer.path === path || peer.closed) return;
    peer.path = path;
    this.emit('path', peer.id, path);
  }

  // ------------------------------------------------------------------ connections

  private async getIceServers(): Promise<RTCIceServer[] | undefined> {
    if (this.iceServers && Date.now() < this.iceExpiresAt - 60_000) return this.iceServers;
    this.iceFetch ??= this.fetchIceServers().finally(() => { this.iceFetch = undefined; });
    return this.iceFetch;
  }

  private async fetchIceServers(): Promise<RTCIceServer[] | undefined> {
    const relayOnly = this.options.iceTransportPolicy === 'relay';
    try {
      const { baseUrl, token } = await this.client._http();
      const url = `${baseUrl}/api/ice-servers?room=${encodeURIComponent(this.room.name)}${relayOnly ? '&turn=required' : ''}`;
      const doFetch = this.options.fetch ?? globalThis.fetch;
      const res = await doFetch(url, { headers: { Authorization: `Bearer ${token}` } });
      const body = await res.json() as { iceServers?: RTCIceServer[]; expiresAt?: number; error?: { code: string; message: string } };
      if (!res.ok || !Array.isArray(body.iceServers)) {
        throw new AqueductError(body.error?.code === 'UNAVAILABLE' ? 'UNAVAILABLE' : 'BAD_REQUEST', `ice servers: ${body.error?.message ?? res.status}`, res.status >= 500);
      }
      this.iceServers = body.iceServers;
      this.iceExpiresAt = body.expiresAt ?? Infinity;
      return this.iceServers;
    } catch (err) {
      this.emit('error', err instanceof AqueductError ? err : new AqueductError('UNAVAILABLE', `ice servers: ${(err as Error).message}`, true));
      // Host candidates still work on a LAN; a relay-only mesh has no way to connect at all.
      return relayOnly ? undefined : [];
    }
  }

  /**
   * Creates the peer connection. Initial offers: only the impolite side offers first. Both sides
   * create their negotiated DataChannels at once, so both would fire `negotiationneeded`; perfect
   * negotiation resolves that collision, but a polite side that rolls back an offer whose ICE
   * gathering is still running can end up gathering nothing for its answer (seen in Chromium under
   * CPU load: ICE stays `new`, the pair never connects). So the polite side waits for the offer;
   * if none comes within the connect timeout, it starts afresh and offers itself. Renegotiations
   * after the first (tracks added or removed) use the full pattern on both sides.
   */
  private async startConnection(peer: Peer, opts: { offer?: boolean; restarted?: boolean } = {}): Promise<void> {
    const PC = this.PC;
    const iceServers = PC ? await this.getIceServers() : undefined;
    if (peer.closed || peer.pc) return;
    if (!PC || !iceServers) {
      this.setPath(peer, 'server');
      return;
    }
    const pc = new PC({ iceServers, iceTransportPolicy: this.options.iceTransportPolicy ?? 'all' });
    peer.pc = pc;
    peer.gen = this.nextGen++;
    peer.remoteGen = -1;
    peer.restarted = opts.restarted ?? false;
    peer.awaitOffer = peer.polite && !opts.offer;
    peer.reported = false;
    peer.makingOffer = peer.ignoreOffer = peer.settingRemoteAnswer = false;
    this.setPath(peer, 'connecting');
    const live = () => peer.pc === pc && !peer.closed;
    pc.onnegotiationneeded = () => {
      // The polite side's first offer is left to the impolite side (its offer covers our channels;
      // anything else we need is renegotiated once that exchange is done).
      if (peer.awaitOffer && !pc.remoteDescription) return;
      void this.makeOffer(peer, pc);
    };
    pc.onicecandidate = (ev) => {
      if (ev.candidate && live()) this.queueSignal(peer, { candidate: ev.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (!live()) return;
      switch (pc.connectionState) {
        case 'connected':
          clearTimeout(peer.timer);
          peer.restarted = false; // a later failure gets its own ICE restart
          void this.onConnected(peer, pc);
          return;
        case 'failed':
          this.onConnectTrouble(peer, pc);
          return;
        case 'disconnected':
          // Often transient (a brief network change); give it the connect timeout to come back.
          this.armTimer(peer, pc);
          return;
        default:
          return;
      }
    };
    pc.ontrack = (ev) => {
      if (live()) this.emit('track', peer.id, ev.track, ev.streams);
    };
    this.openControlChannel(peer, pc);
    for (const channel of this.channels.values()) this.openChannel(peer, channel);
    for (const [track, streams] of this.tracks) peer.senders.set(track, pc.addTrack(track, ...streams));
    this.armTimer(peer, pc);
  }

  private async makeOffer(peer: Peer, pc: RTCPeerConnection): Promise<void> {
    const live = () => peer.pc === pc && !peer.closed;
    try {
      peer.makingOffer = true;
      await pc.setLocalDescription();
      if (live() && pc.localDescription) this.queueSignal(peer, { sdp: pc.localDescription.toJSON() as RTCSessionDescriptionInit });
    } catch (err) {
      if (live()) this.emit('error', new AqueductError('INTERNAL', `negotiation with ${peer.id} failed: ${(err as Error).message}`));
    } finally {
      if (peer.pc === pc) peer.makingOffer = false;
    }
  }

  private armTimer(peer: Peer, pc: RTCPeerConnection): void {
    clearTimeout(peer.timer);
    // The polite side waits half as long again, so that when a connection does not form both
    // sides do not start afresh at the same moment: the impolite one does, the polite one follows.
    const timeout = (this.options.connectTimeoutMs ?? 15_000) * (peer.polite ? 1.5 : 1);
    peer.timer = setTimeout(() => {
      if (peer.pc === pc && !peer.closed && pc.connectionState !== 'connected') this.onConnectTrouble(peer, pc);
    }, timeout);
  }

  /**
   * Timed out or failed. A connection whose first offer/answer exchange never completed starts
   * afresh (a new connection generation, offered by this side; an ICE restart needs a completed
   * negotiation). Otherwise ICE restarts once. After that, the bus carries data and a fresh
   * connection is tried later.
   */
  private onConnectTrouble(peer: Peer, pc: RTCPeerConnection): void {
    if (!peer.restarted && (!pc.remoteDescription || !pc.localDescription || pc.signalingState !== 'stable')) {
      this.closeConnection(peer);
      void this.startConnection(peer, { offer: true, restarted: true });
      return;
    }
    if (!peer.restarted) {
      peer.restarted = true;
      this.armTimer(peer, pc);
      void this.restartIce(peer, pc);
      return;
    }
    this.closeConnection(peer);
    this.setPath(peer, 'server');
    peer.timer = setTimeout(() => {
      if (!peer.closed && !peer.pc) void this.startConnection(peer);
    }, this.options.retryAfterMs ?? 30_000);
  }

  /** ICE restart with current ICE servers (TURN credentials expire; a restart allocates anew). */
  private async restartIce(peer: Peer, pc: RTCPeerConnection): Promise<void> {
    const iceServers = this.options.iceServers ? undefined : await this.getIceServers();
    if (peer.pc !== pc || peer.closed) return;
    if (iceServers) {
      try {
        pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
      } catch { /* keep the old servers */ }
    }
    pc.restartIce();
  }

  private async onConnected(peer: Peer, pc: RTCPeerConnection): Promise<void> {
    let stats: PeerStats | undefined;
    try {
      stats = await this.stats(peer.id);
    } catch { /* the connection closed meanwhile */ }
    if (peer.pc !== pc || peer.closed) return;
    const relayed = stats?.relayed ?? false;
    this.setPath(peer, relayed ? 'p2p-relay' : 'p2p-direct');
    if (!peer.reported && this.options.reportStats !== false) {
      peer.reported = true;
      void this.report(relayed ? 'relay' : 'direct');
    }
  }

  private async report(path: 'relay' | 'direct'): Promise<void> {
    try {
      const { baseUrl, token } = await this.client._http();
      const doFetch = this.options.fetch ?? globalThis.fetch;
      const res = await doFetch(`${baseUrl}/api/webrtc/stats`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ path }),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
    } catch (err) {
      this.emit('error', new AqueductError('UNAVAILABLE', `stats report failed: ${(err as Error).message}`, true));
    }
  }

  private closeConnection(peer: Peer): void {
    clearTimeout(peer.timer);
    const pc = peer.pc;
    peer.pc = undefined;
    peer.channels.clear();
    peer.senders.clear();
    peer.outSdp = undefined;
    peer.outCandidates = [];
    if (pc) {
      pc.onnegotiationneeded = pc.onicecandidate = pc.onconnectionstatechange = pc.ontrack = null;
      pc.close();
    }
  }

  private openControlChannel(peer: Peer, pc: RTCPeerConnection): void {
    // Always present, so every offer has a data section even before the app declares channels.
    pc.createDataChannel(CONTROL_CHANNEL.name, { negotiated: true, id: CONTROL_CHANNEL.id });
  }

  private openChannel(peer: Peer, channel: MeshChannel): void {
    const pc = peer.pc;
    if (!pc || peer.channels.has(channel.name)) return;
    const { ordered, maxRetransmits, maxPacketLifeTime, id } = channel.options;
    const init: RTCDataChannelInit = { negotiated: true, id, ordered: ordered ?? true };
    if (maxRetransmits !== undefined) init.maxRetransmits = maxRetransmits;
    if (maxPacketLifeTime !== undefined) init.maxPacketLifeTime = maxPacketLifeTime;
    const dc = pc.createDataChannel(channel.name, init);
    peer.channels.set(channel.name, dc);
    dc.onopen = () => { if (peer.pc === pc) channel._opened(peer.id); };
    dc.onmessage = (ev: MessageEvent) => {
      if (peer.pc !== pc || typeof ev.data !== 'string') return;
      let data: unknown;
      try { data = JSON.parse(ev.data); } catch { return; }
      channel._emit(peer.id, data, { via: 'p2p' });
    };
  }

  // ------------------------------------------------------------------ signaling

  private queueSignal(peer: Peer, item: { sdp?: RTCSessionDescriptionInit; candidate?: RTCIceCandidateInit }): void {
    if (item.sdp) peer.outSdp = item.sdp;
    if (item.candidate) peer.outCandidates.push(item.candidate);
    if (!peer.sending) void this.flushSignals(peer);
  }

  /** Sends queued signals one request at a time: in order, candidates batched, retried when rate-limited. */
  private async flushSignals(peer: Peer): Promise<void> {
    peer.sending = true;
    try {
      while (!peer.closed && (peer.outSdp || peer.outCandidates.length > 0)) {
        const signal: MeshSignal = { aq: 'mesh', gen: peer.gen, ack: peer.remoteGen };
        // A description goes before the candidates gathered after it; candidates queued before a
        // newer description belong to the same or a later generation and are harmless if stale.
        if (peer.outSdp) {
          signal.sdp = peer.outSdp;
          peer.outSdp = undefined;
        } else {
          signal.candidates = peer.outCandidates.splice(0, 32);
        }
        await this.sendSignal(peer, signal);
      }
    } finally {
      peer.sending = false;
    }
  }

  private async sendSignal(peer: Peer, signal: MeshSignal): Promise<void> {
    for (let attempt = 0; attempt < 5 && !peer.closed; attempt++) {
      try {
        await this.room.signal(peer.id, signal);
        return;
      } catch (err) {
        const e = err as AqueductError;
        if (e.code === 'PEER_NOT_FOUND' || e.code === 'CLOSED') return; // it left; presence will say so
        if (!e.temporary && e.code !== 'DISCONNECTED') {
          this.emit('error', e);
          return;
        }
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
      }
    }
  }

  private onSignal(from: Origin, payload: unknown): void {
    if (!isMeshSignal(payload) || this.closed) return;
    // A signal can come before presence told us about its sender (joins racing): accept it.
    const peer = this.peers.get(from.client) ?? this.addPeer(from.client, from.user);
    if (!peer) return;
    peer.inbound = peer.inbound.then(() => this.handleSignal(peer, payload)).catch((err: unknown) => {
      if (!peer.closed) this.emit('error', new AqueductError('INTERNAL', `signal from ${peer.id}: ${(err as Error).message}`));
    });
  }

  private async handleSignal(peer: Peer, signal: MeshSignal): Promise<void> {
    if (peer.closed) return;
    // Generations keep a fresh connection apart from the remains of an old one:
    // - a signal for an older connection of ours (ack set, not our current one) is stale;
    // - a signal from an older remote connection than the one we paired with is stale;
    // - a newer remote connection while ours is paired means the remote started afresh: follow it;
    // - an unpaired connection of ours pairs with the first remote generation it hears from.
    const acked = signal.ack === -1 || (peer.pc !== undefined && signal.ack === peer.gen);
    if (!acked || signal.gen < peer.remoteGen) return;
    if (signal.gen > peer.remoteGen && peer.remoteGen !== -1) this.closeConnection(peer);
    if (!peer.pc) await this.startConnection(peer);
    if (peer.closed || !peer.pc) return;
    if (peer.remoteGen === -1) peer.remoteGen = signal.gen;
    else if (signal.gen !== peer.remoteGen) return; // raced with another fresh start; the next signal decides
    const pc = peer.pc;
    if (!pc || peer.closed) return;
    if (signal.sdp) {
      const description = signal.sdp;
      const readyForOffer = !peer.makingOffer && (pc.signalingState === 'stable' || peer.settingRemoteAnswer);
      const collision = description.type === 'offer' && !readyForOffer;
      peer.ignoreOffer = !peer.polite && collision;
      if (peer.ignoreOffer) return;
      peer.settingRemoteAnswer = description.type === 'answer';
      try {
        await pc.setRemoteDescription(description); // a polite side in collision rolls back implicitly
      } finally {
        peer.settingRemoteAnswer = false;
      }
      if (description.type === 'offer') {
        await pc.setLocalDescription();
        if (peer.pc === pc && pc.localDescription) this.queueSignal(peer, { sdp: pc.localDescription.toJSON() as RTCSessionDescriptionInit });
      }
    }
    for (const candidate of signal.candidates ?? []) {
      try {
        await pc.addIceCandidate(candidate);
      } catch {
        // Candidates of an ignored offer or of a previous ICE generation do not apply; a real
        // problem shows up as a connection that never connects (restart, then the bus path).
      }
    }
  }

  // ------------------------------------------------------------------ data

  /** @internal */
  _channelOpen(name: string, peerId: string): boolean {
    return this.peers.get(peerId)?.channels.get(name)?.readyState === 'open';
  }

  /** @internal Sends channel data: DataChannel where open, else one bus publication for the rest. */
  _send(channel: MeshChannel, data: unknown, to: string[] | undefined): string[] {
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
