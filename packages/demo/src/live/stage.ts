import type { Member } from '@aqueduct/client';
import { el } from '../dom.js';

/** A remote track as the SDK's media session reports it. */
export interface StageTrack { userId: string; track: MediaStreamTrack; stream: MediaStream }

/**
 * The part of the SDK's media session (`client.media(room, { mode: 'sfu' })`) the stage uses: join,
 * publish the camera, receive everyone's tracks, mute, leave.
 */
export interface StageMedia {
  /** Rejects with an error whose `temporary` says whether trying again may help. */
  join(): Promise<void>;
  publish(stream: MediaStream): Promise<void>;
  mute(kind: 'audio' | 'video', muted: boolean): void;
  leave(): Promise<void>;
  on(event: 'track' | 'trackremoved', fn: (t: StageTrack) => void): unknown;
  on(event: 'state', fn: (state: string) => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
}

export interface StageNodes { tiles: HTMLElement; badge: HTMLElement; status: HTMLElement; sound: HTMLButtonElement }

/** Video tiles on the stage at most (host and co-hosts); more streams are not shown. */
export const MAX_TILES = 4;
/** Joins of the media session tried while they fail with a temporary error (SFU unreachable), 1 s doubling to 10 s apart. */
export const MAX_JOIN_ATTEMPTS = 30;

interface Tile { node: HTMLElement; video: HTMLVideoElement; label: HTMLElement; userId: string; local: boolean }

/**
 * The stage: one tile per video stream, the host's first and largest. Hosts and co-hosts publish
 * their camera through the SFU; viewers only subscribe. Videos start muted (browsers let muted
 * video autoplay); "Sound on" unmutes the remote ones.
 */
export class Stage {
  private readonly tiles = new Map<string, Tile>();
  private members = new Map<string, Member>();
  private soundOn = false;

  constructor(private readonly nodes: StageNodes, private readonly media: StageMedia, private readonly me: string) {
    media.on('track', (t) => this.addTrack(t));
    media.on('trackremoved', (t) => this.removeTrack(t));
    media.on('state', (s) => this.setBadge(s));
    media.on('error', (err) => this.say(`Video: ${err.message}`));
    nodes.sound.addEventListener('click', () => this.toggleSound());
    this.setBadge('idle');
  }

  /** Joins the media session; `publish` (host, co-host) also sends the camera and microphone. */
  async start(publish: boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.media.join();
        break;
      } catch (err) {
        const temporary = (err as { temporary?: unknown }).temporary === true;
        if (!temporary || attempt >= MAX_JOIN_ATTEMPTS) throw err;
        this.say(`Video: ${(err as Error).message}; retrying…`);
        await new Promise((r) => setTimeout(r, Math.min(10_000, 1000 * 2 ** (attempt - 1))));
      }
    }
    this.say('');
    if (!publish) return;
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 360 } }, audio: true });
    } catch (err) {
      this.say(`No camera: ${(err as Error).message}. You are watching only.`);
      return;
    }
    this.show(`local:${stream.id}`, this.me, stream, true);
    await this.media.publish(stream);
  }

  /** Presence of the room: names and roles for the tile labels. */
  setMembers(members: Member[]): void {
    this.members = new Map(members.map((m) => [m.user, m]));
    for (const t of this.tiles.values()) this.label(t);
    this.order();
  }

  private addTrack({ userId, track, stream }: StageTrack): void {
    if (track.kind !== 'video') return;
    this.show(stream.id, userId, stream, false);
  }

  private removeTrack({ track, stream }: StageTrack): void {
    const tile = this.tiles.get(stream.id);
    if (!tile) return;
    if (track.kind === 'video' || stream.getVideoTracks().every((t) => t.readyState === 'ended' || t === track)) {
      tile.node.remove();
      this.tiles.delete(stream.id);
      this.order();
    }
  }

  private show(key: string, userId: string, stream: MediaStream, local: boolean): void {
    let tile = this.tiles.get(key);
    if (!tile) {
      if (this.tiles.size >= MAX_TILES) return;
      const video = el('video', { autoplay: true, playsinline: true, 'data-user': userId });
      video.muted = true;
      const label = el('span', { class: 'tile-label' });
      tile = { node: el('div', { class: 'tile', 'data-user': userId }, video, label), video, label, userId, local };
      this.tiles.set(key, tile);
      this.label(tile);
    }
    if (tile.video.srcObject !== stream) tile.video.srcObject = stream;
    tile.video.muted = local || !this.soundOn;
    void tile.video.play().catch(() => undefined);
    this.order();
  }

  private label(t: Tile): void {
    const info = this.members.get(t.userId)?.info;
    const name = typeof info?.name === 'string' ? info.name : t.userId;
    t.node.classList.toggle('host', info?.role === 'host');
    t.label.textContent = t.local ? `${name} (you)` : name;
  }

  /** Host first, then co-hosts in arrival order. */
  private order(): void {
    const all = [...this.tiles.values()];
    const sorted = [...all.filter((t) => t.node.classList.contains('host')), ...all.filter((t) => !t.node.classList.contains('host'))];
    const current = [...this.nodes.tiles.children];
    // Moving a playing video in the DOM is allowed but not free: only when the order changed.
    if (current.length !== sorted.length || sorted.some((t, i) => current[i] !== t.node)) this.nodes.tiles.replaceChildren(...sorted.map((t) => t.node));
    this.nodes.tiles.dataset.count = String(sorted.length);
  }

  private toggleSound(): void {
    this.soundOn = !this.soundOn;
    this.nodes.sound.setAttribute('aria-pressed', String(this.soundOn));
    this.nodes.sound.textContent = this.soundOn ? 'Sound off' : 'Sound on';
    for (const t of this.tiles.values()) if (!t.local) t.video.muted = !this.soundOn;
  }

  private setBadge(state: string): void {
    this.nodes.badge.dataset.state = state;
    this.nodes.badge.textContent = `Video: ${state}`;
  }

  private say(text: string): void {
    this.nodes.status.textContent = text;
  }

  /** Host controls: camera and microphone on/off (the tracks stay published, sending black/silence). */
  mute(kind: 'audio' | 'video', muted: boolean): void {
    this.media.mute(kind, muted);
  }

  leave(): Promise<void> {
    return this.media.leave();
  }
}
