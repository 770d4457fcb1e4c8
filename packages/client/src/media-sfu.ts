import type { Feed, IceCandidate, Jsep, MediaEvent, MediaJoinResult, MediaJsepResult, SubscribedStream } from '@aqueduct/protocol';
import { AqueductError } from './errors.js';
import type { MediaBackend, MediaBackendHost, MediaTrackInfo, PublishOptions } from './media-types.js';

/** Candidates are sent in batches gathered over this long (one `trickle` request per batch). */
const TRICKLE_BATCH_MS = 20;

/** Three VP8 simulcast layers (Janus VideoRoom forwards one per subscriber; default the highest). */
const SIMULCAST_ENCODINGS: RTCRtpEncodingParameters[] = [
  { rid: 'h', active: true, maxBitrate: 600_000 },
  { rid: 'm', active: true, maxBitrate: 200_000, scaleResolutionDownBy: 2 },
  { rid: 'l', active: true, maxBitrate: 80_000, scaleResolutionDownBy: 4 },
];

interface RemoteFeed { feed: Feed; stream: MediaStream; tracks: Map<string, MediaStreamTrack> }

/**
 * The SFU side of a `MediaSession`: one send-only peer connection to Janus (publish) and one
 * receive-only multistream connection (every subscribed feed), negotiated through `media`
 * requests on the room bus. Subscriber renegotiations (feeds added by us, or removed by Janus) run
 * one at a time.
 */
export class SfuMedia implements MediaBackend {
  private pub: RTCPeerConnection | undefined;
  private sub: RTCPeerConnection | undefined;
  private readonly remote = new Map<number, RemoteFeed>();
  /** Subscription m-lines by mid, from the latest offer. */
  private mids = new Map<string, SubscribedStream>();
  private chain: Promise<void> = Promise.resolve();
  private ownFeed = 0;
  private closed = false;
  canSubscribe = true;

  constructor(private readonly host: MediaBackendHost) {}

  async join(): Promise<void> {
    const r = await this.host.request({ op: 'join' }) as MediaJoinResult;
    this.ownFeed = r.feed;
    this.canSubscribe = r.subscribe;
    if (r.subscribe) this.addFeeds(r.feeds);
  }

  async publish(stream: MediaStream, opts: PublishOptions): Promise<void> {
    if (this.pub) {
      // Replacing the stream: Janus takes a new offer only after the old one was unpublished.
      this.closePub();
      await this.host.request({ op: 'unpublish' });
    }
    const pc = await this.newPc('publisher');
    this.pub = pc;
    for (const track of stream.getTracks()) {
      const init: RTCRtpTransceiverInit = { direction: 'sendonly', streams: [stream] };
      if (track.kind === 'video' && opts.simulcast) init.sendEncodings = SIMULCAST_ENCODINGS.map((e) => ({ ...e }));
      pc.addTransceiver(track, init);
    }
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const r = await this.host.request({ op: 'publish', jsep: { type: 'offer', sdp: offer.sdp ?? '' }, simulcast: opts.simulcast === true }) as MediaJsepResult;
      if (this.pub !== pc) return;
      if (!r.jsep) throw new AqueductError('INTERNAL', 'the server sent no SDP answer');
      await pc.setRemoteDescription(r.jsep);
    } catch (err) {
      if (this.pub === pc) this.closePub();
      throw err;
    }
  }

  async unpublish(): Promise<void> {
    this.closePub();
    await this.host.request({ op: 'unpublish' });
  }

  /** A `media` event for this room. */
  receive(ev: MediaEvent): void {
    if (this.closed) return;
    switch (ev.ev) {
      case 'feeds':
        for (const id of ev.removed) this.dropFeed(id);
        if (this.canSubscribe) this.addFeeds(ev.added);
        return;
      case 'offer':
        this.enqueue(() => this.answer(ev.jsep, ev.streams));
        return;
      case 'error':
        this.host.error(new AqueductError(ev.code === 'UNAVAILABLE' ? 'UNAVAILABLE' : 'INTERNAL', ev.message, true));
        return;
      case 'reset':
        return; // handled by the session (re-join)
    }
  }

  /** Tears down both connections (tracks end with `trackremoved`); `leave` tells the server too. */
  close(): void {
    this.closed = true;
    this.closePub();
    this.sub?.close();
    this.sub = undefined;
    for (const id of [...this.remote.keys()]) this.dropFeed(id);
    this.mids.clear();
  }

  async leave(): Promise<void> {
    this.close();
    await this.host.request({ op: 'leave' });
  }

  private closePub(): void {
    this.pub?.close();
    this.pub = undefined;
  }

  private enqueue(task: () => Promise<void>): void {
    this.chain = this.chain.then(task).catch((err: unknown) => {
      if (!this.closed) this.host.error(err instanceof AqueductError ? err : new AqueductError('INTERNAL', `subscription: ${(err as Error).message}`, true));
    });
  }

  private addFeeds(feeds: Feed[]): void {
    const fresh: number[] = [];
    for (const f of feeds) {
      if (f.feed === this.ownFeed) continue;
      const known = this.remote.get(f.feed);
      if (known) { known.feed = f; continue; }
      this.remote.set(f.feed, { feed: f, stream: new MediaStream(), tracks: new Map() });
      fresh.push(f.feed);
    }
    if (fresh.length === 0) return;
    this.enqueue(async () => {
      const wanted = fresh.filter((id) => this.remote.has(id));
      if (wanted.length === 0 || this.closed) return;
      const r = await this.host.request({ op: 'subscribe', feeds: wanted }) as MediaJsepResult;
      if (r.jsep?.type === 'offer') await this.answer(r.jsep, r.streams ?? []);
    });
  }

  private dropFeed(id: number): void {
    const rf = this.remote.get(id);
    if (!rf) return;
    this.remote.delete(id);
    for (const track of rf.tracks.values()) this.host.trackRemoved(this.info(rf, track));
  }

  private info(rf: RemoteFeed, track: MediaStreamTrack): MediaTrackInfo {
    return { peerId: rf.feed.client, userId: rf.feed.user, feed: rf.feed.feed, track, stream: rf.stream };
  }

  /** Applies Janus's subscription offer and sends our answer (`start`). */
  private async answer(offer: Jsep, streams: SubscribedStream[]): Promise<void> {
    if (this.closed) return;
    this.mids = new Map(streams.map((s) => [s.mid, s]));
    // Streams Janus marked inactive (a feed left): their tracks end.
    for (const s of streams) {
      if (s.active) continue;
      const rf = this.remote.get(s.feed);
      const t = rf?.tracks.get(s.mid);
      if (rf && t) { rf.tracks.delete(s.mid); rf.stream.removeTrack(t); this.host.trackRemoved(this.info(rf, t)); }
    }
    this.sub ??= await this.newPc('subscriber');
    const pc = this.sub;
    await pc.setRemoteDescription(offer);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (this.sub !== pc) return;
    await this.host.request({ op: 'start', jsep: { type: 'answer', sdp: answer.sdp ?? '' } });
  }

  private onTrack(ev: RTCTrackEvent): void {
    const mid = ev.transceiver.mid ?? '';
    const s = this.mids.get(mid);
    const rf = s ? this.remote.get(s.feed) : undefined;
    if (!s || !rf) return;
    const old = rf.tracks.get(mid);
    if (old === ev.track) return;
    if (old) rf.stream.removeTrack(old);
    rf.tracks.set(mid, ev.track);
    rf.stream.addTrack(ev.track);
    this.host.track(this.info(rf, ev.track));
  }

  private async newPc(target: 'publisher' | 'subscriber'): Promise<RTCPeerConnection> {
    const PC = this.host.RTCPeerConnection;
    if (!PC) throw new AqueductError('UNAVAILABLE', 'no RTCPeerConnection in this environment');
    const pc = new PC({ iceServers: await this.host.iceServers(), bundlePolicy: 'max-bundle' });
    let batch: IceCandidate[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = (completed: boolean) => {
      clearTimeout(timer);
      timer = undefined;
      const candidates = batch;
      batch = [];
      if (this.closed || pc.signalingState === 'closed') return;
      this.host.request({ op: 'trickle', target, candidates, completed }).catch((err: unknown) => {
        if (!this.closed && pc.signalingState !== 'closed') this.host.error(err instanceof AqueductError ? err : new AqueductError('INTERNAL', String(err), true));
      });
    };
    pc.onicecandidate = (e) => {
      if (!e.candidate) { flush(true); return; }
      if (!e.candidate.candidate) return;
      batch.push({ candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex });
      timer ??= setTimeout(() => flush(false), TRICKLE_BATCH_MS);
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' && !this.closed) this.host.connectionFailed(target);
    };
    if (target === 'subscriber') pc.ontrack = (ev) => this.onTrack(ev);
    return pc;
  }

  /** `outbound-rtp`/`inbound-rtp` stats of both connections (tests, dashboards). */
  async stats(): Promise<{ publisher?: RTCStatsReport; subscriber?: RTCStatsReport }> {
    return { publisher: await this.pub?.getStats(), subscriber: await this.sub?.getStats() };
  }
}
