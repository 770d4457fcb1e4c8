import type { AqueductError } from './errors.js';

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
export interface MeshSignal {
  aq: 'mesh';
  /** The sender's peer-connection generation: a higher one means the sender started afresh. */
  gen: number;
  /** The receiver's generation the sender's connection is paired with; -1 before it paired. */
  ack: number;
  sdp?: RTCSessionDescriptionInit;
  candidates?: RTCIceCandidateInit[];
}

/** Volatile bus publication carrying channel data to peers without a DataChannel. */
export interface FallbackMessage {
  aq: 'mesh';
  ch: string;
  to: string[];
  d: unknown;
}

/** Bus event name of fallback publications. */
export const FALLBACK_EVENT = 'aq.mesh';
/** The SDK's own negotiated DataChannel, present on every connection. */
export const CONTROL_CHANNEL = { name: '__aq', id: 0 };
export const MAX_CHANNEL_ID = 1000;

/** The default SCTP stream id of a channel name. */
export function channelIdOf(name: string): number {
  // FNV-1a: stable across browsers and releases, so both sides derive the same id.
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % MAX_CHANNEL_ID) + 1;
}

export const isMeshSignal = (v: unknown): v is MeshSignal =>
  typeof v === 'object' && v !== null && (v as MeshSignal).aq === 'mesh' && typeof (v as MeshSignal).gen === 'number';

export const isFallback = (v: unknown): v is FallbackMessage =>
  typeof v === 'object' && v !== null && (v as FallbackMessage).aq === 'mesh' &&
  typeof (v as FallbackMessage).ch === 'string' && Array.isArray((v as FallbackMessage).to);
