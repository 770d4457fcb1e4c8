import type { Origin } from './messages.js';
import type { Position } from './position.js';

/**
 * Wire types of the one-way HTTP pipes: Server-Sent Events (`GET /api/events`) and long polling
 * (`GET /api/poll`). See docs/sse-http.md. Every id and cursor is `encodeCursor` of the positions of
 * every room of the stream, so one value resumes all of them.
 */

/** SSE event names the server uses for its own signals. Publications never use them as `event:`. */
export const SSE_CONTROL_EVENTS = ['ready', 'reset', 'disconnect'] as const;
export type SseControlEvent = (typeof SSE_CONTROL_EVENTS)[number];

/**
 * Names a publication cannot carry on the `event:` line: the control events, and the names
 * `EventSource` gives its own events. Such publications are sent as `event: message`; the JSON keeps
 * their real name in `event`.
 */
export const SSE_RESERVED_EVENTS: readonly string[] = [...SSE_CONTROL_EVENTS, 'error', 'open'];

/** The JSON `data:` of a publication event. Volatile publications carry no position and no `id:`. */
export interface SseMessageData {
  room: string;
  epoch?: string;
  offset?: number;
  /** The publication's event name, when it has one. */
  event?: string;
  data: unknown;
  from?: Origin;
  volatile?: true;
}

/**
 * `event: reset`: the room's history does not cover the stream's position (history too short, or
 * lost: memory broker restart, Redis data loss). The app must reload the room's state by other
 * means; the stream continues after `(epoch, offset)`.
 */
export interface SseResetData extends Position {
  room: string;
}

/** `event: ready`: replay is done; from here on events are live. Sent once per connection. */
export interface SseReadyData {
  rooms: Record<string, Position>;
}

/** `event: disconnect`: sent just before the server ends the stream (same catalogue as close codes). */
export interface SseDisconnectData {
  code: number;
  reason: string;
  /** False: do not reconnect without changing something (the SDK stops). */
  reconnect: boolean;
}

/** One entry of a long-poll answer: the same events, in the same order, as the SSE stream. */
export type PollEvent =
  | ({ type: 'message'; id?: string } & SseMessageData)
  | ({ type: 'reset'; id: string } & SseResetData)
  | ({ type: 'disconnect' } & SseDisconnectData);

/** The body of `GET /api/poll`. */
export interface PollResult {
  /** Pass as `cursor=` on the next poll. */
  cursor: string;
  events: PollEvent[];
  /** More is already available: poll again at once. */
  more: boolean;
}
