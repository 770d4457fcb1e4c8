import type { PeerInfo, PeerPath } from './mesh-types.js';

/** One remote member of the mesh and the peer connection to it. */
export class Peer {
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

/** Closes the peer's current connection (if any) and forgets everything tied to it. */
export function closeConnection(peer: Peer): void {
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
