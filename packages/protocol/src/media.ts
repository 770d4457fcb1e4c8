/**
 * SFU signaling on the room bus (PROTOCOL.md §Media (SFU)). A client sends `media` requests with an
 * `op`; the server talks to Janus and answers with a reply, and pushes `media` events (`ev`).
 * Pure types and validation: no limits that depend on configuration.
 */

/** Largest SDP accepted in a `jsep` (an offer with audio and three simulcast layers is ~8 KB). */
export const MAX_SDP_LENGTH = 64 * 1024;
/** Most ICE candidates in one `trickle`, and most feeds in one `subscribe` / `unsubscribe`. */
export const MAX_MEDIA_LIST = 64;

export interface Jsep { type: 'offer' | 'answer'; sdp: string }

export interface IceCandidate { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }

/** One published stream of a feed (a Janus VideoRoom stream). */
export interface FeedStream { mid: string; type: 'audio' | 'video' | 'data'; codec?: string; simulcast?: boolean }

/** A publisher in the media room. */
export interface Feed {
  /** Janus feed id (a number; stable while the publisher stays). */
  feed: number;
  /** The publisher's user (`sub`) and bus connection id. */
  user: string;
  client: string;
  streams: FeedStream[];
}

/** A stream of the subscription (one m-line of Janus's offer) and the feed it carries. */
export interface SubscribedStream { mid: string; feed: number; type: 'audio' | 'video' | 'data'; active: boolean }

export type MediaOp =
  | { op: 'info' }
  | { op: 'join' }
  | { op: 'publish'; jsep: Jsep; simulcast?: boolean }
  | { op: 'unpublish' }
  | { op: 'subscribe'; feeds: number[] }
  | { op: 'unsubscribe'; feeds: number[] }
  | { op: 'start'; jsep: Jsep }
  | { op: 'trickle'; target: 'publisher' | 'subscriber'; candidates: IceCandidate[]; completed?: boolean }
  | { op: 'leave' };

export type MediaRequest = { t: 'media'; id: number; room: string } & MediaOp;

/** Replies per op (PROTOCOL.md §Media (SFU)). */
export interface MediaInfoResult {
  /** Whether the SFU is configured and reachable. */
  sfu: boolean;
  /** SFU participants of the room (on the answering node). */
  participants: number;
  /** Peer-mesh members of the room (presence entries with `mesh: true`). */
  meshParticipants: number;
  /** The server's `sfu.meshMaxParticipants` (mode `'auto'`). */
  meshMaxParticipants: number;
}
export interface MediaJoinResult { feed: number; feeds: Feed[]; publish: boolean; subscribe: boolean }
export interface MediaJsepResult { jsep?: Jsep; streams?: SubscribedStream[] }

/** Server → client media events. */
export type MediaEvent = { t: 'media'; room: string } & (
  /** Publishers appeared or left. */
  | { ev: 'feeds'; added: Feed[]; removed: number[] }
  /** Janus renegotiates the subscription (a feed left, a stream changed): answer with `start`. */
  | { ev: 'offer'; jsep: Jsep; streams: SubscribedStream[] }
  /** The SFU lost this participant (Janus restart, connection loss): join again. */
  | { ev: 'reset'; reason: string }
  /** A media failure outside a request (e.g. Janus hung up the publisher's connection). */
  | { ev: 'error'; code: string; message: string }
);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJsep(v: unknown, type: Jsep['type']): Jsep | undefined {
  if (!isObj(v) || v.type !== type || typeof v.sdp !== 'string' || v.sdp.length === 0 || v.sdp.length > MAX_SDP_LENGTH) return undefined;
  return { type, sdp: v.sdp };
}

function parseFeeds(v: unknown): number[] | undefined {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_MEDIA_LIST) return undefined;
  return v.every((f) => typeof f === 'number' && Number.isSafeInteger(f) && f > 0) ? (v as number[]) : undefined;
}

function parseCandidate(v: unknown): IceCandidate | undefined {
  if (!isObj(v) || typeof v.candidate !== 'string' || v.candidate.length > 1024) return undefined;
  const c: IceCandidate = { candidate: v.candidate };
  if (typeof v.sdpMid === 'string' && v.sdpMid.length <= 64) c.sdpMid = v.sdpMid;
  if (typeof v.sdpMLineIndex === 'number' && Number.isSafeInteger(v.sdpMLineIndex) && v.sdpMLineIndex >= 0) c.sdpMLineIndex = v.sdpMLineIndex;
  return c;
}

/** Validates the op-specific part of a `media` request; a message naming the problem, or the op. */
export function parseMediaOp(value: Record<string, unknown>): MediaOp | string {
  switch (value.op) {
    case 'info': case 'join': case 'unpublish': case 'leave':
      return { op: value.op };
    case 'publish': {
      const jsep = parseJsep(value.jsep, 'offer');
      if (!jsep) return 'jsep must be an SDP offer';
      if (value.simulcast !== undefined && typeof value.simulcast !== 'boolean') return 'simulcast must be a boolean';
      return value.simulcast === true ? { op: 'publish', jsep, simulcast: true } : { op: 'publish', jsep };
    }
    case 'start': {
      const jsep = parseJsep(value.jsep, 'answer');
      return jsep ? { op: 'start', jsep } : 'jsep must be an SDP answer';
    }
    case 'subscribe': case 'unsubscribe': {
      const feeds = parseFeeds(value.feeds);
      return feeds ? { op: value.op, feeds } : `feeds must be 1..${MAX_MEDIA_LIST} feed ids`;
    }
    case 'trickle': {
      if (value.target !== 'publisher' && value.target !== 'subscriber') return "target must be 'publisher' or 'subscriber'";
      const raw = value.candidates ?? [];
      if (!Array.isArray(raw) || raw.length > MAX_MEDIA_LIST) return `candidates must be an array of at most ${MAX_MEDIA_LIST}`;
      const candidates = raw.map(parseCandidate);
      if (candidates.some((c) => c === undefined)) return 'invalid ICE candidate';
      if (value.completed !== undefined && typeof value.completed !== 'boolean') return 'completed must be a boolean';
      return { op: 'trickle', target: value.target, candidates: candidates as IceCandidate[], completed: value.completed === true };
    }
    default:
      return 'unknown media op';
  }
}
