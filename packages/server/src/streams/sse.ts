import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import {
  CloseCodes,
  type Position, type Publication, type SseDisconnectData, type SseReadyData, type SseResetData,
} from '@aqueduct/protocol';
import type { User } from '../auth/grants.js';
import type { EphemeralMessage } from '../broker/broker.js';
import type { Delivery } from '../core/delivery.js';
import type { CloseReason, Subscriber } from '../core/hub.js';
import type { ServerContext } from '../context.js';
import { sendError } from '../http/http-util.js';
import { replayPages } from '../core/recovery.js';
import { comment, dataLines, field, formatEvent, retryField } from './sse-format.js';
import { deliveryJson, fastCursor, messageData, singleRoomFrame, sseEventName, toJson } from './stream-events.js';
import type { StreamRegistry } from './stream-registry.js';
import { asHttpError, planRoom, type StreamStart as RoomStart } from './stream-request.js';

/** Response headers of an event stream (proxies must neither cache nor buffer it). */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
};

interface RoomState {
  /** Position of the last event the client was sent (or the start position). */
  epoch: string;
  offset: number;
  /** Live deliveries held while the room replays history; undefined once live. */
  pending: Delivery[] | undefined;
  /** A broker reset that arrived during the replay; applied when the room goes live. */
  resetDuringReplay?: Position;
}

/** Options of one stream, from its request. */
export interface SseStreamOptions {
  rooms: readonly string[];
  /** False (`named=0`): every publication is sent as `event: message`. */
  named: boolean;
}

const newStreamId = () => `sse-${randomBytes(9).toString('base64url')}`;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Replayed events are written in batches of about this many characters (one write each). */
const REPLAY_BATCH_CHARS = 64 * 1024;

/**
 * One Server-Sent Events stream: a hub subscriber for each of its rooms. Every publication event
 * carries, as `id:`, the cursor of every room's position after it, so a reconnect with
 * `Last-Event-ID` resumes each room exactly. Writes are bounded by `sse.bufferBytes`: a reader that
 * falls behind is closed and resumes by id.
 */
export class SseStream implements Subscriber {
  readonly id = newStreamId();
  private readonly rooms = new Map<string, RoomState>();
  private closed = false;
  private cleaned = false;
  private live = false;
  private pendingBytes = 0;
  private wroteSinceTick = false;
  private corked = false;
  private heartbeatTimer?: NodeJS.Timeout;
  private expiryTimer?: NodeJS.Timeout;
  private release: () => void = () => undefined;
  private readonly endListeners: Array<() => void> = [];
  /** Largest number of bytes seen queued on the response (tests, diagnostics). */
  peakQueuedBytes = 0;

  constructor(
    readonly user: User,
    private readonly res: ServerResponse,
    private readonly options: SseStreamOptions,
    private readonly ctx: ServerContext,
    private readonly registry: StreamRegistry,
  ) {
    for (const room of options.rooms) this.rooms.set(room, { epoch: '', offset: 0, pending: [] });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Subscribes, plans every room from `resume`, then (if nothing failed) sends the headers, replays
   * what each room missed and goes live. Errors before the headers reject (the caller answers with
   * the error status); later ones end the stream.
   */
  async start(resume: Map<string, Position>): Promise<void> {
    const { hub, config, metrics } = this.ctx;
    this.release = this.registry.admit(this.user, this);
    this.res.on('close', () => this.onClosed());
    this.res.on('error', () => this.onClosed());
    hub.register(this);
    let plans: RoomStart[];
    try {
      await Promise.all(this.options.rooms.map((room) => hub.subscribe(room, this)));
      plans = await Promise.all(this.options.rooms.map((room) => planRoom(hub, room, resume.get(room), config.limits.maxHistoryLimit)));
    } catch (err) {
      this.cleanup();
      throw asHttpError(err);
    }
    if (this.closed) return this.cleanup();
    // Every room's starting position is known before the first id is written.
    this.options.rooms.forEach((room, i) => {
      const plan = plans[i];
      const state = this.rooms.get(room) as RoomState;
      const pos = plan.kind === 'live' ? plan.position : plan.since;
      state.epoch = pos.epoch;
      state.offset = pos.offset;
    });
    this.res.writeHead(200, SSE_HEADERS);
    this.res.socket?.setNoDelay(true);
    metrics.connections.labels('sse').inc();
    metrics.connectionsTotal.labels('sse').inc();
    metrics.sseStreams.inc();
    this.push(retryField(config.sse.retryMs));
    this.armHeartbeat();
    this.armExpiry();
    try {
      for (let i = 0; i < plans.length && !this.closed; i++) await this.startRoom(this.options.rooms[i], plans[i]);
    } catch (err) {
      this.ctx.logger.warn({ err: asHttpError(err), stream: this.id }, 'sse replay failed; closing the stream');
      this.close(CloseCodes.RESYNC);
      return;
    }
    if (this.closed) return;
    this.live = true;
    const ready: SseReadyData = { rooms: this.positions() };
    this.push(formatEvent({ event: 'ready', data: JSON.stringify(ready), id: this.cursor() }));
  }

  private async startRoom(room: string, plan: RoomStart): Promise<void> {
    const state = this.rooms.get(room) as RoomState;
    const limit = this.ctx.config.limits.maxHistoryLimit;
    if (plan.kind === 'reset') {
      await this.drained();
      if (this.closed) return;
      this.push(this.resetEvent(room, state, plan.position));
    } else if (plan.kind === 'replay') {
      for await (const page of replayPages(this.ctx.hub, room, plan.page, limit)) {
        if (this.closed) return;
        if (!page.recovered) {
          await this.drained();
          if (this.closed) return;
          this.push(this.resetEvent(room, state, { epoch: page.epoch, offset: page.offset }));
          break;
        }
        const pubs = page.publications;
        let i = 0;
        while (i < pubs.length) {
          await this.drained();
          if (this.closed) return;
          // Built and written in one synchronous step: each id must hold the other rooms' positions
          // as they are on the wire, and live events of rooms already replayed may come in between.
          let batch = '';
          for (; i < pubs.length && batch.length < REPLAY_BATCH_CHARS; i++) {
            const pub = pubs[i];
            if (pub.epoch !== state.epoch || pub.offset <= state.offset) continue;
            state.offset = pub.offset;
            batch += this.publicationEvent(room, pub);
          }
          if (batch !== '') this.push(batch);
        }
      }
    }
    if (this.closed) return;
    // Live from here: deliveries held during the replay follow, without gaps or repeats.
    const held = state.pending ?? [];
    state.pending = undefined;
    if (state.resetDuringReplay) {
      const pos = state.resetDuringReplay;
      state.resetDuringReplay = undefined;
      this.writeLive(this.resetEvent(room, state, pos), false);
    }
    for (const d of held) this.deliver(d);
  }

  // ------------------------------------------------------------------ events

  private positions(): Record<string, Position> {
    // No prototype: a room named `__proto__` must stay an own entry of the id.
    const out: Record<string, Position> = Object.create(null) as Record<string, Position>;
    for (const [room, s] of this.rooms) out[room] = { epoch: s.epoch, offset: s.offset };
    return out;
  }

  /** The id of the stream's current position: every room's position. */
  private cursor(): string {
    return fastCursor(this.rooms);
  }

  private publicationEvent(room: string, pub: Publication): string {
    const event = sseEventName(pub, this.options.named);
    return formatEvent({ event, data: toJson(messageData(room, pub, false)), id: this.cursor() });
  }

  /** Moves the room to `pos` and returns the `reset` event naming it. */
  private resetEvent(room: string, state: RoomState, pos: Position): string {
    state.epoch = pos.epoch;
    state.offset = pos.offset;
    const data: SseResetData = { room, epoch: pos.epoch, offset: pos.offset };
    this.ctx.logger.debug({ stream: this.id, room, epoch: pos.epoch, offset: pos.offset }, 'sse reset');
    return formatEvent({ event: 'reset', data: JSON.stringify(data), id: this.cursor() });
  }

  // ------------------------------------------------------------------ Subscriber

  deliver(delivery: Delivery): void {
    if (this.closed) return;
    const state = this.rooms.get(delivery.room);
    if (!state) return;
    if (state.pending) {
      if (delivery.volatile) return; // volatile traffic during a replay is simply not seen
      this.pendingBytes += deliveryJson(delivery).length + 64;
      if (this.pendingBytes > this.ctx.config.sse.bufferBytes) return this.slow();
      state.pending.push(delivery);
      return;
    }
    const { pub } = delivery;
    const name = sseEventName(pub, this.options.named);
    const head = name === 'message' ? '' : field('event', name);
    if (delivery.volatile) {
      // No id: a volatile publication has no position, and the client's last id stays valid.
      this.writeLive(`${head}${dataLines(deliveryJson(delivery))}\n`, true);
      return;
    }
    if (pub.epoch !== state.epoch) {
      // The room's history was replaced under us: the client must resync from the new position.
      this.writeLive(this.resetEvent(delivery.room, state, { epoch: pub.epoch, offset: pub.offset - 1 }), false);
    }
    if (pub.offset <= state.offset) return;
    state.offset = pub.offset;
    this.writeLive(this.rooms.size === 1
      ? singleRoomFrame(delivery, this.options.named)
      : `${head}${dataLines(deliveryJson(delivery))}${field('id', this.cursor())}\n`, false);
    this.ctx.metrics.messagesOut.labels('sse').inc();
  }

  deliverEphemeral(_room: string, _message: EphemeralMessage): void {
    // Presence and signals are room-bus features; SSE carries publications only.
  }

  reset(room: string, position: Position): void {
    const state = this.rooms.get(room);
    if (!state || this.closed) return;
    if (state.pending) {
      state.resetDuringReplay = position;
      return;
    }
    this.writeLive(this.resetEvent(room, state, position), false);
  }

  disconnect(reason: CloseReason): void {
    this.close(reason);
  }

  // ------------------------------------------------------------------ writing

  private push(chunk: string): void {
    this.res.write(chunk);
    this.wroteSinceTick = true;
    this.ctx.metrics.bytesOut.labels('sse').inc(chunk.length);
    const queued = this.res.writableLength;
    if (queued > this.peakQueuedBytes) this.peakQueuedBytes = queued;
  }

  /**
   * A live write within `sse.bufferBytes`. Volatile events are dropped once the queue passes
   * `limits.volatileDropRatio` of it; a reliable event that does not fit closes the stream as slow
   * (the client resumes by id). An empty queue always takes one event, however large.
   */
  private writeLive(chunk: string, volatile: boolean): void {
    if (this.closed) return;
    const { sse, limits } = this.ctx.config;
    const queued = this.res.writableLength;
    if (volatile && queued + chunk.length > sse.bufferBytes * limits.volatileDropRatio) {
      this.ctx.metrics.drops.labels('sse').inc();
      return;
    }
    if (queued > 0 && queued + Buffer.byteLength(chunk) > sse.bufferBytes) return this.slow();
    if (!this.corked) {
      // Everything written in this turn of the event loop leaves in one system call.
      this.corked = true;
      this.res.cork();
      process.nextTick(() => {
        this.corked = false;
        this.res.uncork();
      });
    }
    this.push(chunk);
  }

  /** Resolves once the socket has drained (at once if it need not): a replay is ours to pace. */
  private async drained(): Promise<void> {
    if (!this.res.writableNeedDrain || this.closed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  private slow(): void {
    if (this.closed) return;
    const { metrics, logger } = this.ctx;
    metrics.slowDisconnects.labels('sse').inc();
    logger.info({ stream: this.id, user: this.user.id, queued: this.res.writableLength }, 'closing slow sse reader');
    // Nothing more can be written to a reader this far behind; it resumes from its last id.
    this.closed = true;
    metrics.disconnects.inc({ code: String(CloseCodes.SLOW_CONSUMER.code) });
    this.res.destroy();
    this.cleanup();
  }

  private armHeartbeat(): void {
    const ms = this.ctx.config.sse.heartbeatMs;
    this.heartbeatTimer = setInterval(() => {
      if (!this.wroteSinceTick) this.writeLive(comment('ping'), true);
      this.wroteSinceTick = false;
    }, ms);
    this.heartbeatTimer.unref();
  }

  private armExpiry(): void {
    const expiresAt = this.user.expiresAt + this.ctx.config.jwt.clockSkewSec * 1000;
    if (!Number.isFinite(expiresAt)) return;
    const delay = expiresAt - Date.now();
    if (delay <= 0) return this.close(CloseCodes.TOKEN_EXPIRED);
    this.expiryTimer = setTimeout(() => this.armExpiry(), Math.min(delay, MAX_TIMER_MS));
    this.expiryTimer.unref();
  }

  /**
   * Ends the stream with a catalogue entry: an `event: disconnect` naming it, then the end of the
   * response. (A plain EventSource reconnects anyway; the SDK honours `reconnect: false`.)
   */
  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.metrics.disconnects.inc({ code: String(reason.code) });
    if (!this.res.headersSent) {
      sendError(this.res, reason.code === CloseCodes.SHUTDOWN.code ? 503 : 409, 'UNAVAILABLE', reason.reason);
    } else {
      const data: SseDisconnectData = { code: reason.code, reason: reason.reason, reconnect: reason.reconnect };
      this.res.end(formatEvent({ event: 'disconnect', data: JSON.stringify(data) }));
    }
    this.cleanup();
  }

  /** Runs `fn` once the stream has ended (for any reason). */
  onEnd(fn: () => void): void {
    if (this.cleaned) fn();
    else this.endListeners.push(fn);
  }

  private onClosed(): void {
    this.closed = true;
    this.cleanup();
  }

  private cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.expiryTimer);
    const { hub, metrics } = this.ctx;
    for (const room of this.rooms.keys()) hub.unsubscribe(room, this);
    hub.unregister(this);
    this.release();
    if (this.res.headersSent && this.res.statusCode === 200) {
      metrics.connections.labels('sse').dec();
      metrics.sseStreams.dec();
    }
    this.pendingBytes = 0;
    for (const s of this.rooms.values()) s.pending = undefined;
    for (const fn of this.endListeners.splice(0)) fn();
  }

  /** Whether replay finished and the stream is live (tests). */
  get isLive(): boolean {
    return this.live;
  }
}
