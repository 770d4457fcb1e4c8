import type { User } from '../auth/grants.js';
import type { Config } from '../config.js';
import type { CloseReason, Hub } from '../core/hub.js';
import { HttpError } from '../http/http-util.js';

/** Anything the registry can close on shutdown. */
export interface ClosableStream {
  close(reason: CloseReason): void;
}

/**
 * Open one-way streams of this node (SSE streams and waiting long polls): bounds them per user
 * (`sse.maxStreamsPerUser`) and per node (`limits.maxConnections`, shared with the room bus), and
 * closes them all on shutdown.
 */
export class StreamRegistry {
  private readonly perUser = new Map<string, number>();
  private readonly streams = new Set<ClosableStream>();

  constructor(private readonly config: Config, private readonly hub: Hub) {}

  get size(): number {
    return this.streams.size;
  }

  /** Streams open for a user on this node. */
  count(user: User): number {
    return this.perUser.get(userKey(user)) ?? 0;
  }

  /**
   * Admits a stream, or throws 429 RATE_LIMITED (too many for this user) / 503 UNAVAILABLE (node
   * full). Returns the release function (idempotent).
   */
  admit(user: User, stream: ClosableStream): () => void {
    const key = userKey(user);
    const n = this.perUser.get(key) ?? 0;
    const max = this.config.sse.maxStreamsPerUser;
    if (n >= max) throw new HttpError(429, 'RATE_LIMITED', `at most ${max} open streams per user`);
    if (this.hub.connectionCount >= this.config.limits.maxConnections) throw new HttpError(503, 'UNAVAILABLE', 'server is at its connection limit');
    this.perUser.set(key, n + 1);
    this.streams.add(stream);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.streams.delete(stream);
      const left = (this.perUser.get(key) ?? 1) - 1;
      if (left <= 0) this.perUser.delete(key);
      else this.perUser.set(key, left);
    };
  }

  /** Closes every open stream (shutdown). */
  closeAll(reason: CloseReason): void {
    for (const s of [...this.streams]) s.close(reason);
  }
}

// The API key is not a token `sub`: its key cannot collide with a user's.
const userKey = (user: User): string => (user.superuser ? '\u0000api' : user.id);
