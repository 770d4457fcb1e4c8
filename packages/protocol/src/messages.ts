import type { ErrorCode } from './codes.js';
import type { MediaEvent, MediaInfoResult, MediaJoinResult, MediaJsepResult, MediaRequest } from './media.js';
import type { Position } from './position.js';

/** WebSocket subprotocols. The first one the client offers that the server supports is used. */
export const SUBPROTOCOL_JSON = 'aqueduct.json.v1';
export const SUBPROTOCOL_MSGPACK = 'aqueduct.msgpack.v1';
export type CodecName = 'json' | 'msgpack';

/** Who published or signalled: the connection id and the user (`sub`). */
export interface Origin {
  client: string;
  user: string;
}

/** A publication as delivered. Volatile publications carry no position. */
export interface Publication {
  epoch: string;
  offset: number;
  data: unknown;
  event?: string;
  from?: Origin;
}

/** A presence entry. */
export interface Member {
  client: string;
  user: string;
  info?: Record<string, unknown>;
  /** Joined with `mesh: true`: a WebRTC peer-mesh member (docs/webrtc.md §Mesh). */
  mesh?: boolean;
}

// ---------------------------------------------------------------- client -> server

export interface AuthRequest { t: 'auth'; id: number; token: string }
export interface RefreshRequest { t: 'refresh'; id: number; token: string }
export interface JoinRequest {
  t: 'join'; id: number; room: string;
  /** Last position seen; the server sends everything after it, or says `recovered: false`. */
  since?: Position;
  /** On a fresh join (no `since`), also return up to this many of the latest publications. */
  history?: number;
  /**
   * Join as a WebRTC peer-mesh member: needs the `signal` permission and presence; refused with
   * MESH_FULL when the room already has `limits.maxMeshPeers` mesh members.
   */
  mesh?: boolean;
}
export interface LeaveRequest { t: 'leave'; id: number; room: string }
export interface PublishRequest {
  t: 'pub'; id: number; room: string; data: unknown;
  /** Client-made publish id: resends with the same id are acknowledged, never published twice. */
  cid?: string;
  event?: string;
  /** Not stored in history, dropped first under backpressure, no position. */
  volatile?: boolean;
}
export interface PresenceRequest { t: 'presence'; id: number; room: string }
export interface HistoryRequest { t: 'history'; id: number; room: string; since?: Position; limit?: number }
export interface SignalRequest { t: 'signal'; id: number; room: string; to: string; payload: unknown }
export interface PongMessage { t: 'pong' }

export type ClientRequest =
  | AuthRequest | RefreshRequest | JoinRequest | LeaveRequest | PublishRequest
  | PresenceRequest | HistoryRequest | SignalRequest | MediaRequest;
export type ClientMessage = ClientRequest | PongMessage;

// ---------------------------------------------------------------- server -> client

export interface ReplyError { code: ErrorCode; message: string; temporary: boolean }

export interface AuthResult { client: string; user: string; expiresAt: number; node: string; pingIntervalMs: number }
export interface RefreshResult { expiresAt: number }
export interface JoinResult {
  epoch: string;
  offset: number;
  /** True when `since` was given and every publication after it is in `publications`. */
  recovered: boolean;
  publications: Publication[];
  /** Present when the user has the presence permission and presence is on. */
  members?: Member[];
  /**
   * The recovery did not fit in one reply (`limits.recoveryChunkBytes`): `publications` is its
   * beginning, `offset` is the last one's offset, and the room is NOT joined. Join again with
   * `since` = that position to continue. Absent otherwise.
   */
  more?: boolean;
}
export interface PublishResult { epoch?: string; offset?: number; duplicate?: boolean }
export interface PresenceResult { members: Member[] }
export interface HistoryResult { epoch: string; offset: number; recovered: boolean; publications: Publication[] }
export type EmptyResult = Record<string, never>;

export interface ResultMap {
  auth: AuthResult;
  refresh: RefreshResult;
  join: JoinResult;
  leave: EmptyResult;
  pub: PublishResult;
  presence: PresenceResult;
  history: HistoryResult;
  signal: EmptyResult;
  /** Media (SFU) requests: the result depends on the op (PROTOCOL.md §Media (SFU)). */
  media: MediaInfoResult | MediaJoinResult | MediaJsepResult | EmptyResult;
}

export type Reply =
  | { t: 'reply'; id: number; result: unknown; error?: undefined }
  | { t: 'reply'; id: number; error: ReplyError; result?: undefined };

/** A publication delivered to a joined room. */
export interface MessageEvent extends Publication { t: 'msg'; room: string; volatile?: boolean }
export interface PresenceJoinEvent { t: 'presence.join'; room: string; member: Member }
export interface PresenceLeaveEvent { t: 'presence.leave'; room: string; member: Member }
export interface SignalEvent { t: 'signal'; room: string; from: Origin; payload: unknown }
export interface PingMessage { t: 'ping' }
/**
 * The room's history was lost while the client was joined (e.g. Redis lost its data): the client must
 * resync the room; subsequent publications continue from the given position.
 */
export interface ResetEvent { t: 'reset'; room: string; epoch: string; offset: number }
/** Sent just before the server closes the connection, with the same code as the close frame. */
export interface DisconnectEvent { t: 'disconnect'; code: number; reason: string; reconnect: boolean }

export type ServerMessage =
  | Reply | MessageEvent | PresenceJoinEvent | PresenceLeaveEvent | SignalEvent
  | PingMessage | ResetEvent | DisconnectEvent | MediaEvent;
