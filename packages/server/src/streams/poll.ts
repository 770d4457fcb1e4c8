import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeCursor, type PollEvent, type PollResult, type Position, type Publication } from '@aqueduct/protocol';
import type { User } from '../auth/grants.js';
import type { EphemeralMessage } from '../broker/broker.js';
import type { Delivery } from '../core/delivery.js';
import type { CloseReason, Subscriber } from '../core/hub.js';
import { authenticateRequest, sendError, sendJson } from '../http/http-util.js';
import type { HttpModule } from '../http/http-module.js';
import type { ServerContext } from '../context.js';
import { replayPages } from '../core/recovery.js';
import { admitStream } from '../hooks/http-hooks.js';
import { fastCursor, messageData, toJson } from './stream-events.js';
import type { StreamRegistry } from './stream-registry.js';
import { asHttpError, authorizeRooms, intParam, parseCursor, parseRooms, planRoom, type StreamStart as RoomStart } from './stream-request.js';

interface RoomState {
  epoch: string;
  offset: number;
}

const newPollId = () => `poll-${randomBytes(9).toString('base64url')}`;

/**
 * One long poll: the same cursor semantics and reset rule as an SSE stream, answered as one JSON
 * body. Replays what every room missed since the cursor (at most `limit` events, `more: true` when
 * there is more); when nothing is newer, holds until the first live event or the timeout.
 */
export class PollWaiter implements Subscriber {
  readonly id = newPollId();
  private readonly rooms = new Map<string, RoomState>();
  private readonly events: PollEvent[] = [];
  /** Live deliveries that arrived during the replay, in arrival order. */
  private held: Delivery[] | undefined = [];
  private more = false;
  private done = false;
  private timer?: NodeJS.Timeout;
  private flushScheduled = false;
  private release: () => void = () => undefined;

  constructor(
    readonly user: User,
    private readonly res: ServerResponse,
    private readonly roomNames: readonly string[],
    private readonly limit: number,
    private readonly ctx: ServerContext,
    private readonly registry: StreamRegistry,
  ) {}

  async run(resume: Map<string, Position>, timeoutMs: number): Promise<void> {
    const { hub, config } = this.ctx;
    this.release = this.registry.admit(this.user, this);
    this.res.on('close', () => this.cleanup());
    hub.register(this);
    let plans: RoomStart[];
    try {
      await Promise.all(this.roomNames.map((room) => hub.subscribe(room, this)));
      plans = await Promise.all(this.roomNames.map((room) => planRoom(hub, room, resume.get(room), config.limits.maxHistoryLimit)));
      if (this.done) return;
      this.roomNames.forEach((room, i) => {
        const plan = plans[i];
        const pos = plan.kind === 'live' ? plan.position : plan.since;
        this.rooms.set(room, { epoch: pos.epoch, offset: pos.offset });
      });
      for (let i = 0; i < plans.length && !this.more && !this.done; i++) await this.replayRoom(this.roomNames[i], plans[i]);
    } catch (err) {
      this.cleanup();
      throw asHttpError(err);
    }
    if (this.done) return;
    const held = this.held ?? [];
    this.held = undefined;
    // Held deliveries are newer than every replayed event; ones the cursor already covers are dropped.
    if (!this.more) for (const d of held) this.deliver(d);
    if (this.events.length > 0 || this.more || timeoutMs === 0) return this.respond();
    this.timer = setTimeout(() => this.respond(), timeoutMs);
  }

  private async replayRoom(room: string, plan: RoomStart): Promise<void> {
    const state = this.rooms.get(room) as RoomState;
    if (plan.kind === 'reset') {
      this.pushReset(room, state, plan.position);
      return;
    }
    if (plan.kind !== 'replay') return;
    for await (const page of replayPages(this.ctx.hub, room, plan.page, this.ctx.config.limits.maxHistoryLimit)) {
      if (!page.recovered) {
        this.pushReset(room, state, { epoch: page.epoch, offset: page.offset });
        return;
      }
      for (const pub of page.publications) {
        if (pub.epoch !== state.epoch || pub.offset <= state.offset) continue;
        if (this.events.length >= this.limit) {
          this.more = true;
          return;
        }
        this.pushMessage(room, state, pub);
      }
    }
  }

  private cursor(): string {
    return fastCursor(this.rooms);
  }

  private pushMessage(room: string, state: RoomState, pub: Publication): void {
    state.epoch = pub.epoch;
    state.offset = pub.offset;
    this.events.push({ type: 'message', id: this.cursor(), ...messageData(room, pub, false) });
  }

  private pushReset(room: string, state: RoomState, pos: Position): void {
    state.epoch = pos.epoch;
    state.offset = pos.offset;
    this.events.push({ type: 'reset', id: this.cursor(), room, epoch: pos.epoch, offset: pos.offset });
  }

  // ------------------------------------------------------------------ Subscriber

  deliver(delivery: Delivery): void {
    if (this.done) return;
    if (this.held) {
      if (!delivery.volatile && this.held.length < this.limit) this.held.push(delivery);
      return;
    }
    const state = this.rooms.get(delivery.room);
    if (!state || this.events.length >= this.limit) return;
    const { pub } = delivery;
    if (delivery.volatile) {
      this.events.push({ type: 'message', ...messageData(delivery.room, pub, true) });
    } else {
      if (pub.epoch !== state.epoch) this.pushReset(delivery.room, state, { epoch: pub.epoch, offset: pub.offset - 1 });
      if (pub.offset <= state.offset) return;
      this.pushMessage(delivery.room, state, pub);
    }
    this.scheduleRespond();
  }

  deliverEphemeral(_room: string, _message: EphemeralMessage): void {
    // Presence and signals are room-bus features.
  }

  reset(room: string, position: Position): void {
    const state = this.rooms.get(room);
    if (this.done || !state) return;
    this.pushReset(room, state, position);
    if (!this.held) this.scheduleRespond();
  }

  disconnect(reason: CloseReason): void {
    this.close(reason);
  }

  close(reason: CloseReason): void {
    if (this.done) return;
    this.events.push({ type: 'disconnect', code: reason.code, reason: reason.reason, reconnect: reason.reconnect });
    if (this.held === undefined) this.respond();
    else {
      // Mid-replay: answer with what is known so far; the cursor stays consistent with `events`.
      this.held = undefined;
      this.respond();
    }
  }

  /** Answers on the next turn, so a burst of publications goes out in one response. */
  private scheduleRespond(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.respond());
  }

  private respond(): void {
    if (this.done) return;
    const body: PollResult = { cursor: this.cursor(), events: this.events, more: this.more };
    this.cleanup();
    if (!this.res.headersSent && !this.res.destroyed) {
      const text = toJson(body);
      this.res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
      this.res.end(text);
      this.ctx.metrics.messagesOut.labels('poll').inc(body.events.length);
    }
  }

  private cleanup(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    const { hub } = this.ctx;
    for (const room of this.roomNames) hub.unsubscribe(room, this);
    hub.unregister(this);
    this.release();
  }
}

/**
 * `GET /api/poll?rooms=a,b[&cursor=...][&timeoutMs=...][&limit=...]`. Without a cursor it answers
 * at once with the current cursor (start here); with one, see PollWaiter.
 */
export function pollModule(ctx: ServerContext, registry: StreamRegistry): HttpModule {
  return {
    name: 'poll',
    async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
      if (url.pathname !== '/api/poll') return false;
      if (req.method !== 'GET') {
        res.setHeader('Allow', 'GET');
        sendError(res, 405, 'BAD_REQUEST', 'use GET for /api/poll');
        return true;
      }
      const { config } = ctx;
      const user = await authenticateRequest(req, url, ctx.auth, config.apiKey);
      const rooms = parseRooms(url, config.sse.maxRoomsPerStream);
      authorizeRooms(user, 'sub', rooms);
      await admitStream(ctx.hub, user, req, rooms, 'poll'); // backend hooks
      const timeoutMs = intParam(url, 'timeoutMs', config.sse.pollTimeoutMs, config.sse.pollTimeoutMs);
      const limit = Math.max(1, intParam(url, 'limit', config.limits.maxHistoryLimit, config.limits.maxHistoryLimit));
      const raw = url.searchParams.get('cursor');
      if (raw === null || raw === '') {
        // Start: the current position of every room, nothing to wait for.
        const positions: Record<string, Position> = Object.create(null) as Record<string, Position>;
        try {
          for (const room of rooms) positions[room] = await ctx.hub.position(room);
        } catch (err) {
          throw asHttpError(err);
        }
        const body: PollResult = { cursor: encodeCursor(positions), events: [], more: false };
        sendJson(res, 200, body);
        return true;
      }
      const resume = parseCursor(raw, 'cursor', rooms);
      await new PollWaiter(user, res, rooms, limit, ctx, registry).run(resume, timeoutMs);
      return true;
    },
  };
}
