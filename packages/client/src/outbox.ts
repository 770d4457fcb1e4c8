import type { ResultMap } from '@aqueduct/protocol';
import { backoffDelay } from './backoff.js';
import { AqueductError } from './errors.js';
import type { SocketLink } from './socket-link.js';

/** A publish waiting for its ack; resent with the same `cid` after a reconnect. */
interface QueuedPublish {
  frame: { t: 'pub'; id: number; room: string; data: unknown; cid: string; event?: string };
  resolve: (value: ResultMap['pub']) => void;
  reject: (err: AqueductError) => void;
  /** RATE_LIMITED replies so far; resent after a backoff up to MAX_THROTTLED_RESENDS times. */
  throttled?: number;
  awaitingResend?: boolean;
}

/** How often a rate-limited publish is retried before its promise rejects with RATE_LIMITED. */
const MAX_THROTTLED_RESENDS = 20;

const newId = (): string => {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
};

/**
 * Publishes awaiting the server's ack, in order. Each carries a client-made id (`cid`), so a
 * resend after a reconnect is published once. Bounded by `maxQueued`; rate-limited publishes stay
 * queued and are resent after a backoff.
 */
export class Outbox {
  private readonly publishes = new Map<string, QueuedPublish>();
  private throttleTimer?: ReturnType<typeof setTimeout>;
  private throttleAttempt = 0;

  constructor(private readonly link: SocketLink, private readonly maxQueued: number) {}

  /** Publishes waiting to be sent or acknowledged. */
  get size(): number {
    return this.publishes.size;
  }

  /** Queues a publish (sent now when connected); resolves on the server's ack. */
  publish(room: string, data: unknown, event: string | undefined): Promise<ResultMap['pub']> {
    const max = this.maxQueued;
    if (this.publishes.size >= max) return Promise.reject(new AqueductError('QUEUE_FULL', `more than ${max} publishes waiting`, true));
    return new Promise((resolve, reject) => {
      const cid = newId();
      const frame: QueuedPublish['frame'] = { t: 'pub', id: 0, room, data, cid };
      if (event !== undefined) frame.event = event;
      const entry: QueuedPublish = { frame, resolve, reject };
      this.publishes.set(cid, entry);
      if (this.link.ready) this.send(entry);
    });
  }

  /** Resends every unacknowledged publish in its original order, with its original id. */
  resendAll(): void {
    for (const p of this.publishes.values()) this.send(p);
  }

  /** Rejects every queued publish (final close or `client.close()`). */
  failAll(err: AqueductError): void {
    for (const p of this.publishes.values()) p.reject(err);
    this.publishes.clear();
  }

  /** Stops the throttled-resend timer (client closed). */
  stop(): void {
    clearTimeout(this.throttleTimer);
  }

  /** Resends every rate-limited publish, in queue order, after a backoff delay. */
  private scheduleThrottledResend(): void {
    if (this.throttleTimer) return;
    const delay = Math.max(100, backoffDelay(this.throttleAttempt++, { minDelayMs: 500, maxDelayMs: 5000 }));
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = undefined;
      if (!this.link.ready) return; // the reconnect resends everything anyway
      let resent = false;
      for (const p of this.publishes.values()) {
        if (p.throttled && p.awaitingResend) { p.awaitingResend = false; this.send(p); resent = true; }
      }
      if (!resent) this.throttleAttempt = 0;
    }, delay);
  }

  private send(entry: QueuedPublish): void {
    const id = this.link.nextId();
    entry.frame.id = id;
    if (!this.link.sendFrame(entry.frame)) return;
    const { cid } = entry.frame;
    // No timeout: an unacknowledged publish stays queued and is resent on the next connection.
    this.link.awaitReply(id, {
      resolve: (v) => {
        if (this.publishes.delete(cid)) entry.resolve(v as ResultMap['pub']);
      },
      reject: (err) => {
        if (err.code === 'DISCONNECTED') return; // resent after reconnect
        if (err.code === 'RATE_LIMITED' && (entry.throttled ?? 0) < MAX_THROTTLED_RESENDS && this.publishes.has(cid)) {
          // A resent offline queue can outrun the server's publish burst: keep it queued and
          // resend later (same cid, so it is still published once) instead of failing it.
          entry.throttled = (entry.throttled ?? 0) + 1;
          entry.awaitingResend = true;
          this.scheduleThrottledResend();
          return;
        }
        if (this.publishes.delete(cid)) entry.reject(err);
      },
    });
  }
}
