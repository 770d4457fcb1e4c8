import { AqueductError } from './errors.js';
import { openChannel, type MeshChannel } from './mesh-channel.js';
import { CONTROL_CHANNEL, type MeshSignal, type PeerMeshOptions, type PeerPath, type PeerStats } from './mesh-types.js';
import { closeConnection, type Peer } from './peer.js';
import type { SignalItem } from './signaling.js';

/** What negotiation needs from its mesh. */
export interface NegotiationHost {
  readonly options: PeerMeshOptions;
  readonly PC: typeof RTCPeerConnection | undefined;
  iceServers(): Promise<RTCIceServer[] | undefined>;
  channels(): Iterable<MeshChannel>;
  tracks(): Iterable<[MediaStreamTrack, MediaStream[]]>;
  signal(peer: Peer, item: SignalItem): void;
  setPath(peer: Peer, path: PeerPath): void;
  stats(peerId: string): Promise<PeerStats | undefined>;
  report(path: 'relay' | 'direct'): void;
  track(peerId: string, track: MediaStreamTrack, streams: readonly MediaStream[]): void;
  error(err: AqueductError): void;
}

/**
 * The peer connections of a mesh: creating them, perfect negotiation of offers and answers,
 * connect timeouts, ICE restarts and fresh starts, and the fall back to the bus path.
 */
export class Negotiation {
  private nextGen = 0;

  constructor(private readonly host: NegotiationHost) {}

  /**
   * Creates the peer connection. Initial offers: only the impolite side offers first. Both sides
   * create their negotiated DataChannels at once, so both would fire `negotiationneeded`; perfect
   * negotiation resolves that collision, but a polite side that rolls back an offer whose ICE
   * gathering is still running can end up gathering nothing for its answer (seen in Chromium under
   * CPU load: ICE stays `new`, the pair never connects). So the polite side waits for the offer;
   * if none comes within the connect timeout, it starts afresh and offers itself. Renegotiations
   * after the first (tracks added or removed) use the full pattern on both sides.
   */
  async start(peer: Peer, opts: { offer?: boolean; restarted?: boolean } = {}): Promise<void> {
    const host = this.host;
    const PC = host.PC;
    const iceServers = PC ? await host.iceServers() : undefined;
    if (peer.closed || peer.pc) return;
    if (!PC || !iceServers) {
      host.setPath(peer, 'server');
      return;
    }
    const pc = new PC({ iceServers, iceTransportPolicy: host.options.iceTransportPolicy ?? 'all' });
    peer.pc = pc;
    peer.gen = this.nextGen++;
    peer.remoteGen = -1;
    peer.restarted = opts.restarted ?? false;
    peer.awaitOffer = peer.polite && !opts.offer;
    peer.reported = false;
    peer.makingOffer = peer.ignoreOffer = peer.settingRemoteAnswer = false;
    host.setPath(peer, 'connecting');
    const live = () => peer.pc === pc && !peer.closed;
    pc.onnegotiationneeded = () => {
      // The polite side's first offer is left to the impolite side (its offer covers our channels;
      // anything else we need is renegotiated once that exchange is done).
      if (peer.awaitOffer && !pc.remoteDescription) return;
      void this.makeOffer(peer, pc);
    };
    pc.onicecandidate = (ev) => {
      if (ev.candidate && live()) host.signal(peer, { candidate: ev.candidate.toJSON() });
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
      if (live()) host.track(peer.id, ev.track, ev.streams);
    };
    // Always present, so every offer has a data section even before the app declares channels.
    pc.createDataChannel(CONTROL_CHANNEL.name, { negotiated: true, id: CONTROL_CHANNEL.id });
    for (const channel of host.channels()) openChannel(peer, channel);
    for (const [track, streams] of host.tracks()) peer.senders.set(track, pc.addTrack(track, ...streams));
    this.armTimer(peer, pc);
  }

  /** Replaces the connection with a fresh one offered by this side (the peer follows). */
  restart(peer: Peer): void {
    closeConnection(peer);
    void this.start(peer, { offer: true }); // the peer learns of the fresh start from our offer
  }

  private async makeOffer(peer: Peer, pc: RTCPeerConnection): Promise<void> {
    const live = () => peer.pc === pc && !peer.closed;
    try {
      peer.makingOffer = true;
      await pc.setLocalDescription();
      if (live() && pc.localDescription) this.host.signal(peer, { sdp: pc.localDescription.toJSON() as RTCSessionDescriptionInit });
    } catch (err) {
      if (live()) this.host.error(new AqueductError('INTERNAL', `negotiation with ${peer.id} failed: ${(err as Error).message}`));
    } finally {
      if (peer.pc === pc) peer.makingOffer = false;
    }
  }

  private armTimer(peer: Peer, pc: RTCPeerConnection): void {
    clearTimeout(peer.timer);
    // The polite side waits half as long again, so that when a connection does not form both
    // sides do not start afresh at the same moment: the impolite one does, the polite one follows.
    const timeout = (this.host.options.connectTimeoutMs ?? 15_000) * (peer.polite ? 1.5 : 1);
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
      closeConnection(peer);
      void this.start(peer, { offer: true, restarted: true });
      return;
    }
    if (!peer.restarted) {
      peer.restarted = true;
      this.armTimer(peer, pc);
      void this.restartIce(peer, pc);
      return;
    }
    closeConnection(peer);
    this.host.setPath(peer, 'server');
    peer.timer = setTimeout(() => {
      if (!peer.closed && !peer.pc) void this.start(peer);
    }, this.host.options.retryAfterMs ?? 30_000);
  }

  /** ICE restart with current ICE servers (TURN credentials expire; a restart allocates anew). */
  private async restartIce(peer: Peer, pc: RTCPeerConnection): Promise<void> {
    const iceServers = this.host.options.iceServers ? undefined : await this.host.iceServers();
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
      stats = await this.host.stats(peer.id);
    } catch { /* the connection closed meanwhile */ }
    if (peer.pc !== pc || peer.closed) return;
    const relayed = stats?.relayed ?? false;
    this.host.setPath(peer, relayed ? 'p2p-relay' : 'p2p-direct');
    if (!peer.reported && this.host.options.reportStats !== false) {
      peer.reported = true;
      this.host.report(relayed ? 'relay' : 'direct');
    }
  }

  /** Applies one inbound signal (called in order per peer). */
  async handleSignal(peer: Peer, signal: MeshSignal): Promise<void> {
    if (peer.closed) return;
    // Generations keep a fresh connection apart from the remains of an old one:
    // - a signal for an older connection of ours (ack set, not our current one) is stale;
    // - a signal from an older remote connection than the one we paired with is stale;
    // - a newer remote connection while ours is paired means the remote started afresh: follow it;
    // - an unpaired connection of ours pairs with the first remote generation it hears from.
    const acked = signal.ack === -1 || (peer.pc !== undefined && signal.ack === peer.gen);
    if (!acked || signal.gen < peer.remoteGen) return;
    if (signal.gen > peer.remoteGen && peer.remoteGen !== -1) closeConnection(peer);
    if (!peer.pc) await this.start(peer);
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
        if (peer.pc === pc && pc.localDescription) this.host.signal(peer, { sdp: pc.localDescription.toJSON() as RTCSessionDescriptionInit });
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
}
