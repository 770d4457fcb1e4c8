import type { LatencySummary } from './measure.js';

/** Room-bus servers (fanout, idle) and document servers (documents scenarios). */
export type BusServerName = 'aqueduct' | 'ws' | 'socketio';
export type DocServerName = 'aqueduct' | 'y-websocket' | 'hocuspocus';

/** A job the harness hands to the load generator process over IPC. */
export type LoadJob =
  | {
    kind: 'fanout';
    server: BusServerName;
    port: number;
    rooms: number;
    subscribersPerRoom: number;
    /** Publications per second, all rooms together (round robin). */
    pubsPerSec: number;
    payloadBytes: number;
    warmupMs: number;
    measureMs: number;
    drainMs: number;
    jwtSecret?: string;
  }
  | {
    kind: 'idle';
    server: BusServerName;
    port: number;
    /** Connection counts at which the harness measures RSS, ascending. */
    checkpoints: number[];
    concurrency: number;
    jwtSecret?: string;
  }
  | {
    kind: 'docs';
    server: DocServerName;
    port: number;
    clients: number;
    updatesPerSecPerClient: number;
    warmupMs: number;
    measureMs: number;
    drainMs: number;
    jwtSecret?: string;
  }
  | {
    kind: 'coldload';
    server: DocServerName;
    port: number;
    /** Seed by editing through the server (false: the harness pre-seeded the store). */
    seed: boolean;
    updates: number;
    jwtSecret?: string;
  };

/** Load generator -> harness. `sync` waits for `sync-ok` (the harness samples the server there). */
export type LoadMessage =
  | { type: 'sync'; id: number; name: string; value?: number }
  | { type: 'result'; result: Record<string, unknown> }
  | { type: 'error'; message: string };

export type HarnessMessage = { type: 'job'; job: LoadJob } | { type: 'sync-ok'; id: number };

export interface FanoutLoadResult {
  published: number;
  /** Deliveries received during the measure window. */
  deliveredInWindow: number;
  windowSec: number;
  /** Deliveries received from the window start to the end of the drain (CPU per delivery uses these). */
  deliveredSinceWindow: number;
  /** Time the drain took (up to drainMs). */
  drainSec: number;
  /** Deliveries expected over the whole run (published x subscribers of the room). */
  expected: number;
  /** Deliveries received over the whole run (warm-up, window and drain). */
  received: number;
  /** Deliveries that skipped ahead of the next expected sequence number. */
  gaps: number;
  /** Deliveries at or below a sequence number already seen (duplicates, reordering). */
  outOfOrder: number;
  /** Subscribers whose connection closed during the run. */
  disconnected: number;
  complete: boolean;
  latency: LatencySummary;
  publishErrors: number;
  /** p99 of the load generator's event-loop delay during the window. */
  loadgenLoopDelayP99Ms: number;
  /** Latency seen by the first subscriber alone (the first to be written to by most servers). */
  firstSubscriberLatency: LatencySummary;
}
