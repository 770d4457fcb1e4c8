import type { AqueductError } from './errors.js';
import type { MeshSignal } from './mesh-types.js';
import type { Peer } from './peer.js';

/** One outbound signal item: a session description or an ICE candidate. */
export interface SignalItem {
  sdp?: RTCSessionDescriptionInit;
  candidate?: RTCIceCandidateInit;
}

/** Candidates sent per signal message at most. */
const MAX_CANDIDATES_PER_SIGNAL = 32;
/** Attempts per signal message when the bus refuses it temporarily (250 ms doubling backoff). */
const MAX_SIGNAL_ATTEMPTS = 5;

/**
 * The outbound half of mesh signaling over `room.signal`: per peer, one request in flight at a
 * time, so signals arrive in order; candidates batch while one is in flight; temporary refusals
 * (rate limit, reconnect) are retried with backoff.
 */
export class Signaling {
  constructor(
    private readonly signal: (to: string, payload: MeshSignal) => Promise<void>,
    private readonly onError: (err: AqueductError) => void,
  ) {}

  queue(peer: Peer, item: SignalItem): void {
    if (item.sdp) peer.outSdp = item.sdp;
    if (item.candidate) peer.outCandidates.push(item.candidate);
    if (!peer.sending) void this.flush(peer);
  }

  /** Sends queued signals one request at a time: in order, candidates batched, retried when rate-limited. */
  private async flush(peer: Peer): Promise<void> {
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
          signal.candidates = peer.outCandidates.splice(0, MAX_CANDIDATES_PER_SIGNAL);
        }
        await this.send(peer, signal);
      }
    } finally {
      peer.sending = false;
    }
  }

  private async send(peer: Peer, signal: MeshSignal): Promise<void> {
    for (let attempt = 0; attempt < MAX_SIGNAL_ATTEMPTS && !peer.closed; attempt++) {
      try {
        await this.signal(peer.id, signal);
        return;
      } catch (err) {
        const e = err as AqueductError;
        if (e.code === 'PEER_NOT_FOUND' || e.code === 'CLOSED') return; // it left; presence will say so
        if (!e.temporary && e.code !== 'DISCONNECTED') {
          this.onError(e);
          return;
        }
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
      }
    }
  }
}
