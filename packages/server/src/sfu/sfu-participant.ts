import type { Feed, FeedStream, IceCandidate, Jsep, SubscribedStream } from '@aqueduct/protocol';
import { JanusError, type JanusConnection, type JanusMessage } from './janus-connection.js';

const PLUGIN = 'janus.plugin.videoroom';

/** VideoRoom error codes this module reacts to. */
export const VR_NO_SUCH_ROOM = 426;
export const VR_ROOM_EXISTS = 427;
export const VR_NO_SUCH_FEED = 428;
export const VR_PUBLISHERS_FULL = 432;

/** What a participant reports from Janus events, to be pushed to its client. */
export interface ParticipantEvents {
  feeds(added: Feed[], removed: number[]): void;
  offer(jsep: Jsep, streams: SubscribedStream[]): void;
  hangup(reason: string): void;
}

/** The Janus room settings of a new room. */
export interface RoomSettings { description: string; publishers: number; bitrate: number }

type Data = Record<string, unknown>;

/** The publisher's display name carries the Aqueduct identity of the feed. */
function displayOf(user: string, client: string): string {
  return JSON.stringify({ u: user, c: client });
}

/** A Janus publisher entry as a Feed; undefined for entries not made by Aqueduct. */
export function feedOf(p: Data): Feed | undefined {
  if (typeof p.id !== 'number' || typeof p.display !== 'string') return undefined;
  let who: { u?: unknown; c?: unknown };
  try { who = JSON.parse(p.display) as { u?: unknown; c?: unknown }; } catch { return undefined; }
  if (typeof who.u !== 'string' || typeof who.c !== 'string') return undefined;
  const streams: FeedStream[] = [];
  for (const s of Array.isArray(p.streams) ? (p.streams as Data[]) : []) {
    if (s.disabled === true || typeof s.mid !== 'string') continue;
    const type = s.type === 'audio' || s.type === 'video' || s.type === 'data' ? s.type : undefined;
    if (!type) continue;
    const fs: FeedStream = { mid: s.mid, type };
    if (typeof s.codec === 'string') fs.codec = s.codec;
    if (s.simulcast === true) fs.simulcast = true;
    streams.push(fs);
  }
  return { feed: p.id, user: who.u, client: who.c, streams };
}

function streamsOf(data: Data | undefined): SubscribedStream[] {
  const out: SubscribedStream[] = [];
  for (const s of Array.isArray(data?.streams) ? (data.streams as Data[]) : []) {
    if (typeof s.mid !== 'string' || typeof s.feed_id !== 'number') continue;
    const type = s.type === 'audio' || s.type === 'video' || s.type === 'data' ? s.type : undefined;
    if (type) out.push({ mid: s.mid, feed: s.feed_id, type, active: s.active !== false });
  }
  return out;
}

function jsepOf(msg: JanusMessage): Jsep | undefined {
  const j = msg.jsep;
  return j && (j.type === 'offer' || j.type === 'answer') && typeof j.sdp === 'string' ? { type: j.type, sdp: j.sdp } : undefined;
}

/**
 * One client in one media room: its own Janus session with a publisher handle (joined as a
 * publisher, so it hears about feeds even when it never sends) and, once it subscribes, one
 * multistream subscriber handle. Destroying the session detaches both and leaves the room.
 */
export class SfuParticipant {
  feed = 0;
  publishing = false;
  private subHandle = 0;
  private readonly subscribed = new Set<number>();
  private closed = false;

  private constructor(private readonly janus: JanusConnection, readonly sessionId: number, private readonly pubHandle: number, readonly roomId: number, private readonly on: ParticipantEvents) {}

  /** Creates the Janus session and publisher handle; `join` makes it a member of the room. */
  static async create(janus: JanusConnection, roomId: number, on: ParticipantEvents, register: (p: SfuParticipant) => void): Promise<SfuParticipant> {
    const s = await janus.request({ janus: 'create' });
    const sessionId = s.data?.id as number;
    janus.track(sessionId);
    try {
      const h = await janus.request({ janus: 'attach', session_id: sessionId, plugin: PLUGIN });
      const p = new SfuParticipant(janus, sessionId, h.data?.id as number, roomId, on);
      register(p);
      return p;
    } catch (err) {
      janus.forget(sessionId);
      void janus.request({ janus: 'destroy', session_id: sessionId }).catch(() => undefined);
      throw err;
    }
  }

  private message(handle: number, body: Data, jsep?: Jsep): Promise<JanusMessage> {
    return this.janus.request({ janus: 'message', session_id: this.sessionId, handle_id: handle, body, ...(jsep ? { jsep } : {}) });
  }

  /** Creates the Janus room unless it exists (a concurrent create by another node is fine). */
  async ensureRoom(settings: RoomSettings): Promise<void> {
    const r = await this.message(this.pubHandle, { request: 'exists', room: this.roomId });
    if (r.plugindata?.data.exists === true) return;
    try {
      await this.message(this.pubHandle, {
        request: 'create', room: this.roomId, description: settings.description, publishers: settings.publishers,
        bitrate: settings.bitrate, is_private: false, videocodec: 'vp8', audiocodec: 'opus', notify_joining: false,
        fir_freq: 5, permanent: false,
      });
    } catch (err) {
      if (!(err instanceof JanusError && err.code === VR_ROOM_EXISTS)) throw err;
    }
  }

  /** Joins the room as a publisher (not sending yet); resolves with the feeds already publishing. */
  async join(user: string, client: string): Promise<Feed[]> {
    const r = await this.message(this.pubHandle, { request: 'join', ptype: 'publisher', room: this.roomId, display: displayOf(user, client) });
    const data = r.plugindata?.data ?? {};
    this.feed = data.id as number;
    return (Array.isArray(data.publishers) ? (data.publishers as Data[]) : []).map(feedOf).filter((f): f is Feed => f !== undefined);
  }

  /** Publishes the client's offer; resolves with Janus's answer. Janus reads simulcast (rids) from the SDP. */
  async publish(offer: Jsep): Promise<Jsep> {
    const r = await this.message(this.pubHandle, { request: 'configure', audio: true, video: true }, offer);
    const answer = jsepOf(r);
    if (!answer) throw new JanusError(0, 'no SDP answer to the publish offer');
    this.publishing = true;
    return answer;
  }

  async unpublish(): Promise<void> {
    if (!this.publishing) return;
    this.publishing = false;
    await this.message(this.pubHandle, { request: 'unpublish' });
  }

  /** Feeds of the room that are publishing now (`listparticipants`), excluding this participant. */
  async publishingFeeds(): Promise<Set<number>> {
    const r = await this.message(this.pubHandle, { request: 'listparticipants', room: this.roomId });
    const list = Array.isArray(r.plugindata?.data.participants) ? (r.plugindata.data.participants as Data[]) : [];
    return new Set(list.filter((p) => p.publisher === true && p.id !== this.feed).map((p) => p.id as number));
  }

  /** Participants in the Janus room other than this one (publishing or not). */
  async otherParticipants(): Promise<number> {
    const r = await this.message(this.pubHandle, { request: 'listparticipants', room: this.roomId });
    const list = Array.isArray(r.plugindata?.data.participants) ? (r.plugindata.data.participants as Data[]) : [];
    return list.filter((p) => p.id !== this.feed).length;
  }

  get subscriptions(): number {
    return this.subscribed.size;
  }

  /** Adds feeds to the subscription; resolves with Janus's new offer (answer it with `start`). */
  async subscribe(feeds: number[]): Promise<{ jsep?: Jsep; streams: SubscribedStream[] }> {
    const live = await this.publishingFeeds();
    const wanted = feeds.filter((f) => live.has(f) && !this.subscribed.has(f));
    if (wanted.length === 0) return { streams: [] };
    let r: JanusMessage;
    if (!this.subHandle) {
      const h = await this.janus.request({ janus: 'attach', session_id: this.sessionId, plugin: PLUGIN });
      const handle = h.data?.id as number;
      try {
        r = await this.message(handle, { request: 'join', ptype: 'subscriber', room: this.roomId, streams: wanted.map((feed) => ({ feed })) });
      } catch (err) {
        // Not joined: the next subscribe starts over with a fresh handle.
        void this.janus.request({ janus: 'detach', session_id: this.sessionId, handle_id: handle }).catch(() => undefined);
        throw err;
      }
      this.subHandle = handle;
    } else {
      r = await this.message(this.subHandle, { request: 'update', subscribe: wanted.map((feed) => ({ feed })) });
    }
    for (const f of wanted) this.subscribed.add(f);
    return { jsep: jsepOf(r), streams: streamsOf(r.plugindata?.data) };
  }

  async unsubscribe(feeds: number[]): Promise<{ jsep?: Jsep; streams: SubscribedStream[] }> {
    const gone = feeds.filter((f) => this.subscribed.delete(f));
    if (gone.length === 0 || !this.subHandle) return { streams: [] };
    const r = await this.message(this.subHandle, { request: 'update', unsubscribe: gone.map((feed) => ({ feed })) });
    return { jsep: jsepOf(r), streams: streamsOf(r.plugindata?.data) };
  }

  /** The client's answer to the subscription offer. */
  async start(answer: Jsep): Promise<void> {
    if (!this.subHandle) throw new JanusError(0, 'nothing subscribed');
    await this.message(this.subHandle, { request: 'start' }, answer);
  }

  async trickle(target: 'publisher' | 'subscriber', candidates: IceCandidate[], completed: boolean): Promise<void> {
    const handle = target === 'publisher' ? this.pubHandle : this.subHandle;
    if (!handle) throw new JanusError(0, 'nothing subscribed');
    const base = { janus: 'trickle', session_id: this.sessionId, handle_id: handle };
    if (candidates.length > 0) await this.janus.request({ ...base, candidates });
    if (completed) await this.janus.request({ ...base, candidate: { completed: true } });
  }

  /**
   * Leaves: destroys the Janus room too when no one else is in it (`destroyRoomIfEmpty`), then
   * the session (which detaches the handles). Best effort when Janus is gone.
   */
  async close(destroyRoomIfEmpty: boolean): Promise<boolean> {
    if (this.closed) return false;
    this.closed = true;
    let destroyed = false;
    try {
      // Leave explicitly first: Janus removes the participants of a destroyed session a moment
      // later, so the last one out would still see the others listed.
      if (this.feed) await this.message(this.pubHandle, { request: 'leave' }).catch(() => undefined);
      if (destroyRoomIfEmpty && this.feed && (await this.otherParticipants()) === 0) {
        await this.message(this.pubHandle, { request: 'destroy', room: this.roomId });
        destroyed = true;
      }
    } catch (err) {
      if (!(err instanceof JanusError && err.code === VR_NO_SUCH_ROOM)) throw err;
    } finally {
      this.janus.forget(this.sessionId);
      await this.janus.request({ janus: 'destroy', session_id: this.sessionId }).catch(() => undefined);
    }
    return destroyed;
  }

  /**
   * Destroys the Janus room if no one is in it, through a short-lived session of its own: the
   * safety net for a room whose last participants left at the same moment (each saw the other).
   */
  static async sweepRoom(janus: JanusConnection, roomId: number): Promise<boolean> {
    const s = await janus.request({ janus: 'create' });
    const sessionId = s.data?.id as number;
    try {
      const h = await janus.request({ janus: 'attach', session_id: sessionId, plugin: PLUGIN });
      const msg = (body: Data) => janus.request({ janus: 'message', session_id: sessionId, handle_id: h.data?.id, body });
      const r = await msg({ request: 'listparticipants', room: roomId });
      const list = r.plugindata?.data.participants;
      if (!Array.isArray(list) || list.length > 0) return false;
      await msg({ request: 'destroy', room: roomId });
      return true;
    } catch (err) {
      if (err instanceof JanusError && err.code === VR_NO_SUCH_ROOM) return false;
      throw err;
    } finally {
      await janus.request({ janus: 'destroy', session_id: sessionId }).catch(() => undefined);
    }
  }

  /** An event of this participant's session (routed by session id). */
  onEvent(msg: JanusMessage): void {
    if (this.closed) return;
    if (msg.janus === 'hangup' && msg.sender === this.pubHandle && this.publishing) {
      this.publishing = false;
      this.on.hangup(String(msg.reason ?? 'hangup'));
      return;
    }
    if (msg.janus !== 'event') return;
    const data = msg.plugindata?.data;
    if (!data) return;
    if (msg.sender === this.pubHandle) {
      const added = (Array.isArray(data.publishers) ? (data.publishers as Data[]) : []).map(feedOf).filter((f): f is Feed => f !== undefined);
      const removed: number[] = [];
      for (const key of ['unpublished', 'leaving', 'kicked']) {
        const v = data[key];
        if (typeof v === 'number' && v !== this.feed) removed.push(v);
      }
      if (added.length > 0 || removed.length > 0) this.on.feeds(added.filter((f) => f.feed !== this.feed), removed);
      for (const f of removed) this.subscribed.delete(f);
      return;
    }
    if (msg.sender === this.subHandle && this.subHandle) {
      const jsep = jsepOf(msg);
      if (jsep?.type === 'offer') this.on.offer(jsep, streamsOf(data));
    }
  }
}
