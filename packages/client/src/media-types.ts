import type { AqueductError } from './errors.js';

/** `client.media(room, options)`. */
export interface MediaOptions {
  /**
   * `'sfu'`: every track goes through the server's SFU (Janus). `'mesh'`: a WebRTC peer mesh
   * (`client.peers`). `'auto'`: the mesh while the room has at most the server's
   * `sfu.meshMaxParticipants` media participants and no one is on the SFU, else the SFU; a mesh
   * member moves to the SFU when the room outgrows the mesh. Default `'sfu'`.
   */
  mode?: 'auto' | 'sfu' | 'mesh';
  /** Send video as three VP8 simulcast layers (SFU mode). Default false. */
  simulcast?: boolean;
  /** ICE servers instead of `GET /api/ice-servers`. */
  iceServers?: RTCIceServer[];
  /** `RTCPeerConnection` implementation; default the global one. */
  RTCPeerConnection?: typeof RTCPeerConnection;
  /** Re-join backoff after a reset (Janus restart, bus reconnect): first delay and cap. Default 300 / 3,000 ms. */
  rejoinMinDelayMs?: number;
  rejoinMaxDelayMs?: number;
}

export interface PublishOptions {
  /** Overrides the session's `simulcast` option for this stream. */
  simulcast?: boolean;
}

/** A remote track and who sends it. */
export interface MediaTrackInfo {
  /** The sender's bus connection id (presence `client`). */
  peerId: string;
  /** The sender's user (`sub`). */
  userId: string;
  /** Janus feed id (SFU mode). */
  feed?: number;
  track: MediaStreamTrack;
  /** One stream per sender, holding its audio and video tracks. */
  stream: MediaStream;
}

export type MediaState = 'connecting' | 'connected' | 'reconnecting' | 'failed';

export interface MediaSessionEvents {
  track: (info: MediaTrackInfo) => void;
  trackremoved: (info: MediaTrackInfo) => void;
  state: (state: MediaState) => void;
  error: (err: AqueductError) => void;
  /** The transport in use: after `join` resolves, and when `'auto'` moves from the mesh to the SFU. */
  mode: (mode: 'sfu' | 'mesh') => void;
}

/** What a backend (SFU or mesh) gets from its session. */
export interface MediaBackendHost {
  request(body: Record<string, unknown>): Promise<unknown>;
  iceServers(): Promise<RTCIceServer[]>;
  readonly RTCPeerConnection: typeof RTCPeerConnection | undefined;
  track(info: MediaTrackInfo): void;
  trackRemoved(info: MediaTrackInfo): void;
  error(err: AqueductError): void;
  /** A peer connection failed for good: the session re-joins. */
  connectionFailed(target: string): void;
}

/** One way of carrying a session's media (SFU or mesh). */
export interface MediaBackend {
  join(): Promise<void>;
  publish(stream: MediaStream, opts: PublishOptions): Promise<void>;
  unpublish(): Promise<void>;
  /** Drops local state without telling the server (it already forgot us). */
  close(): void;
  leave(): Promise<void>;
}
