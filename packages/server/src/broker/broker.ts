import type { Member, Origin, Position, Publication } from '@aqueduct/protocol';

/** What a publisher hands the broker. */
export interface PublishInput {
  data: unknown;
  event?: string;
  from?: Origin;
}

/** Per-publication settings, resolved from the room's namespace by the caller. */
export interface PublishOptions {
  /** Publications kept in the room's history; 0 keeps none. */
  historySize: number;
  historyTtlMs: number;
  /**
   * De-duplication key (client publish id or HTTP idempotency key, already scoped by the caller).
   * A publish with a key seen within `idempotencyTtlMs` publishes nothing and returns the first
   * result with `duplicate: true`.
   */
  idempotencyKey?: string;
  idempotencyTtlMs: number;
}

export interface PublishOutcome extends Position {
  duplicate: boolean;
}

export interface HistoryQuery {
  /** Return publications after this position; `recovered` says whether that was complete. */
  since?: Position;
  /** Most publications to return. With `since`, the earliest ones after it; without, the latest. */
  limit: number;
}

export interface HistoryPage {
  /** The room's current epoch and top offset. */
  epoch: string;
  offset: number;
  /**
   * With `since`: true iff the epoch matches and `publications` holds every publication after
   * `since` up to the top (or up to `limit` of them, oldest first, when more are available).
   * Without `since`: always true.
   */
  recovered: boolean;
  publications: Publication[];
}

/** Messages that reach every node with subscribers to a room but are never stored. */
export type EphemeralMessage =
  | { kind: 'volatile'; data: unknown; event?: string; from?: Origin }
  | { kind: 'signal'; to: string; from: Origin; payload: unknown }
  | { kind: 'presence.join'; member: Member }
  | { kind: 'presence.leave'; member: Member };

/** Cluster-wide commands (reach every node). */
export type ControlMessage =
  | { kind: 'disconnect'; user: string; room?: string };

/** Callbacks from the broker to the local hub. */
export interface BrokerHandler {
  /** A stored publication. Called in offset order per room, once per node that subscribed to the room. */
  onPublication(room: string, pub: Publication): void;
  onEphemeral(room: string, message: EphemeralMessage): void;
  /** The room's history was lost (epoch changed) while this node was subscribed to it. */
  onReset(room: string, position: Position): void;
  onControl(message: ControlMessage): void;
}

/**
 * The ordered per-room log, and cross-node pub/sub.
 *
 * Contract (the conformance suite in test/broker-conformance.ts checks it for every implementation):
 * - `publish` assigns the next offset of the room's current epoch and appends to history atomically:
 *   two concurrent publishes never get the same offset, and a publication is in history before any
 *   node receives it.
 * - Every node subscribed to a room receives its publications in offset order, with no gaps while
 *   the broker is healthy. A node that could have missed some (connection loss) gets `onReset` or
 *   reads history itself.
 * - An epoch change means history before it is gone: recovery from an older epoch reports
 *   `recovered: false`.
 * - Methods reject with `BrokerUnavailableError` when the backing service is down.
 */
export interface Broker {
  /** Starts the broker with the hub's callbacks. */
  start(handler: BrokerHandler): Promise<void>;
  publish(room: string, input: PublishInput, options: PublishOptions): Promise<PublishOutcome>;
  publishEphemeral(room: string, message: EphemeralMessage): Promise<void>;
  publishControl(message: ControlMessage): Promise<void>;
  history(room: string, query: HistoryQuery): Promise<HistoryPage>;
  /** The room's current position, creating the room's epoch if it has none. */
  position(room: string): Promise<Position>;
  /** This node is interested in the room (has local subscribers). Idempotent. */
  subscribe(room: string): Promise<void>;
  unsubscribe(room: string): Promise<void>;
  /** Health for `/readyz`. */
  health(): { ok: boolean; detail?: string };
  close(): Promise<void>;
}

/** The backing service is unreachable; the operation may succeed later (reply code UNAVAILABLE). */
export class BrokerUnavailableError extends Error {
  readonly temporary = true;
  constructor(message = 'broker unavailable') {
    super(message);
    this.name = 'BrokerUnavailableError';
  }
}
