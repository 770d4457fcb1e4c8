import type { Awareness } from 'y-protocols/awareness';
import * as Y from 'yjs';
import { recordVersion, versionContent } from '../versions-api.js';
import type { Board } from './board.js';
import { shapesOf, type Shape } from './shapes.js';

/** Default time between two frames (`?frameMs=` overrides it, 1000..60000). */
export const FRAME_INTERVAL_MS = 5000;
/** Frames listed in the board's frame index; older ones drop out of the timeline. */
export const MAX_FRAMES = 100;
/** A frame waits until the board has been still this long (no half-made gestures; edits reached the server). */
export const FRAME_SETTLE_MS = 300;
/** Label of the document versions that are frames. */
export const FRAME_LABEL = 'whiteboard frame';

/** One entry of the frame index (`frames`, a Y.Array in the board document). */
export interface FrameRef {
  /** Document version id (`GET /api/docs/:doc/versions/:id`). */
  v: string;
  /** When it was recorded (ms since the epoch). */
  t: number;
  /** Who recorded it (display name). */
  by: string;
  /** Shapes on the board then. */
  n: number;
}

function isFrameRef(v: unknown): v is FrameRef {
  const f = v as Partial<FrameRef> | null;
  return !!f && typeof f.v === 'string' && typeof f.t === 'number' && typeof f.by === 'string' && typeof f.n === 'number';
}

/** The frame index of a board document. */
export function frameIndex(ydoc: Y.Doc): Y.Array<FrameRef> {
  return ydoc.getArray<FrameRef>('frames');
}

/** The valid entries of the frame index, oldest first. */
export function listFrames(frames: Y.Array<FrameRef>): FrameRef[] {
  return frames.toArray().filter(isFrameRef);
}

export interface FrameRecorderOptions {
  board: Board;
  awareness: Awareness;
  /** The board document's name (versions API). */
  doc: string;
  token: () => Promise<string>;
  /** Display name written into the frame index. */
  name: () => string;
  /** Whether the document is connected (offline, the server would not hold the latest edits). */
  online: () => boolean;
  intervalMs?: number;
}

/**
 * Fixes the board into a frame every `intervalMs` while it changes. One page records (the one
 * with the lowest awareness client id among the visible pages present, so there is one recorder
 * per board and another takes over when it leaves or is hidden): it records a document version through the versions
 * API (`POST /api/docs/:doc/versions`, the server stores the full state) and appends
 * `{ v, t, by, n }` to the `frames` index, dropping the oldest beyond `MAX_FRAMES`. Nothing is
 * recorded while the board is unchanged, within `FRAME_SETTLE_MS` of the last change, or while
 * the document is not connected. A failed recording is retried at the next tick.
 */
export class FrameRecorder {
  private dirty = false;
  private lastChange = 0;
  private busy = false;
  private timer?: ReturnType<typeof setInterval>;
  private watchingVisibility = false;
  private readonly origin = { whiteboard: 'frames' };
  /** Frames this page recorded (for tests and the curious). */
  recorded = 0;

  private readonly board: Board;
  private readonly awareness: Awareness;

  constructor(private readonly opts: FrameRecorderOptions) {
    this.board = opts.board;
    this.awareness = opts.awareness;
    this.board.onChange(() => {
      this.dirty = true;
      this.lastChange = Date.now();
    });
  }

  /** Starts ticking; call once the document is synced (loading the board is not a change). */
  start(): void {
    if (this.timer) return;
    if (!this.watchingVisibility) {
      this.watchingVisibility = true;
      const visible = () => this.awareness.setLocalStateField('visible', document.visibilityState === 'visible');
      document.addEventListener('visibilitychange', visible);
      visible();
    }
    this.dirty = false;
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs ?? FRAME_INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Whether a change is waiting to be fixed into a frame (or being recorded). */
  get pending(): boolean {
    return this.dirty || this.busy;
  }

  /**
   * Whether this page is the one that records frames: the lowest awareness client id among the
   * pages that are visible (browsers throttle timers of hidden tabs), or among all when none is.
   */
  get isRecorder(): boolean {
    let lowest = Infinity;
    let lowestVisible = Infinity;
    for (const [id, state] of this.awareness.getStates()) {
      lowest = Math.min(lowest, id);
      if ((state as { visible?: unknown }).visible === true) lowestVisible = Math.min(lowestVisible, id);
    }
    return (lowestVisible === Infinity ? lowest : lowestVisible) === this.awareness.clientID;
  }

  private async tick(): Promise<void> {
    if (!this.dirty || this.busy || Date.now() - this.lastChange < FRAME_SETTLE_MS || !this.opts.online() || !this.isRecorder) return;
    this.busy = true;
    this.dirty = false;
    try {
      const n = this.board.shapes.size;
      const version = await recordVersion(this.opts.doc, await this.opts.token(), FRAME_LABEL);
      const frames = frameIndex(this.board.ydoc);
      this.board.ydoc.transact(() => {
        frames.push([{ v: version.id, t: version.time || Date.now(), by: this.opts.name(), n }]);
        if (frames.length > MAX_FRAMES) frames.delete(0, frames.length - MAX_FRAMES);
      }, this.origin);
      this.recorded++;
    } catch {
      this.dirty = true;
    } finally {
      this.busy = false;
    }
  }
}

export interface TimelineElements {
  slider: HTMLInputElement;
  label: HTMLElement;
  replay: HTMLButtonElement;
}

/**
 * The history slider: positions 0..n-1 are the frames of the index, position n is the live board.
 * Scrubbing to a frame fetches that version's content (`GET /api/docs/:doc/versions/:id`, cached,
 * at most `MAX_FRAMES` entries) and hands its shapes to `show`; back at the end, `show(null)`
 * returns to the live board. "Replay" steps through every frame and back to live.
 */
export class Timeline {
  private readonly cache = new Map<string, Shape[]>();
  private request = 0;
  /** The version shown, while a frame is shown. */
  private shown?: string;
  private playing?: ReturnType<typeof setInterval>;

  constructor(
    private readonly frames: Y.Array<FrameRef>,
    private readonly els: TimelineElements,
    private readonly doc: string,
    private readonly token: () => Promise<string>,
    private readonly show: (shapes: Shape[] | null, frame?: FrameRef, index?: number) => void,
  ) {
    frames.observe(() => this.sync());
    els.slider.addEventListener('input', () => {
      this.stopReplay();
      void this.go(Number(els.slider.value));
    });
    els.replay.addEventListener('click', () => (this.playing ? this.stopReplay() : this.startReplay()));
    this.sync();
  }

  /** Whether the live board is shown. */
  get isLive(): boolean {
    return Number(this.els.slider.value) >= listFrames(this.frames).length;
  }

  /** Shows frame `index` (or the live board when `index` is the number of frames). */
  async go(index: number): Promise<void> {
    const list = listFrames(this.frames);
    const i = Math.max(0, Math.min(list.length, Math.floor(index)));
    this.els.slider.value = String(i);
    const ticket = ++this.request;
    if (i >= list.length) {
      this.shown = undefined;
      this.label(list, i);
      this.show(null);
      return;
    }
    const frame = list[i];
    this.els.label.textContent = `Frame ${i + 1} of ${list.length} · loading…`;
    try {
      const shapes = await this.load(frame.v);
      if (ticket !== this.request) return;
      this.shown = frame.v;
      this.label(list, i);
      this.show(shapes, frame, i);
    } catch (err) {
      if (ticket === this.request) this.els.label.textContent = `Frame ${i + 1}: ${(err as Error).message}`;
    }
  }

  private async load(version: string): Promise<Shape[]> {
    const hit = this.cache.get(version);
    if (hit) return hit;
    const content = await versionContent(this.doc, await this.token(), version);
    const shapes = shapesOf(content.shapes);
    this.cache.set(version, shapes);
    if (this.cache.size > MAX_FRAMES) this.cache.delete(this.cache.keys().next().value as string);
    return shapes;
  }

  private sync(): void {
    const list = listFrames(this.frames);
    const wasLive = Number(this.els.slider.value) >= Number(this.els.slider.max);
    this.els.slider.max = String(list.length);
    this.els.slider.disabled = list.length === 0;
    this.els.replay.disabled = list.length === 0;
    if (wasLive) this.els.slider.value = String(list.length);
    else if (this.shown !== undefined) {
      // Older frames dropped out of the index: keep showing the same frame at its new position
      // (or the oldest left, when it was the one that dropped out).
      const at = list.findIndex((f) => f.v === this.shown);
      if (at >= 0) this.els.slider.value = String(at);
      else void this.go(0);
    }
    this.label(list, Number(this.els.slider.value));
  }

  private label(list: FrameRef[], i: number): void {
    this.els.slider.setAttribute('aria-valuetext', i >= list.length ? 'live' : `frame ${i + 1}`);
    if (i >= list.length) {
      this.els.label.textContent = list.length === 0 ? 'Live · no frames yet' : `Live · ${list.length} frame${list.length > 1 ? 's' : ''}`;
      this.els.label.dataset.view = 'live';
      return;
    }
    const f = list[i];
    const time = new Date(f.t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    this.els.label.textContent = `Frame ${i + 1} of ${list.length} · ${time} · ${f.n} shape${f.n === 1 ? '' : 's'}`;
    this.els.label.dataset.view = 'frame';
  }

  private startReplay(): void {
    let i = 0;
    this.els.replay.textContent = '■ Stop';
    void this.go(0);
    this.playing = setInterval(() => {
      i++;
      void this.go(i);
      if (i >= listFrames(this.frames).length) this.stopReplay();
    }, 700);
  }

  private stopReplay(): void {
    clearInterval(this.playing);
    this.playing = undefined;
    this.els.replay.textContent = '▶ Replay';
  }
}
