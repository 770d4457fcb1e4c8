import type { MediaRequest, ResultMap, ServerMessage } from '@aqueduct/protocol';
import type { User } from '../auth/grants.js';

/**
 * Extension points of the room-bus session for parts mounted on the node (the SFU, sfu/): core
 * declares them, parts implement them, so the dependency points from the part to core.
 */

/** What the SFU sees of a room-bus connection (a `Session`). */
export interface MediaClient {
  readonly id: string;
  readonly user: User | undefined;
  readonly isClosed: boolean;
  /** Sends a server message to the client (dropped once the connection is closed). */
  push(message: ServerMessage): void;
}

/** The room bus hands `media` requests and connection ends to the SFU module through this. */
export interface MediaHandler {
  /** Answers one `media` request; throws a ReplyError with the code to send. */
  request(client: MediaClient, msg: MediaRequest): Promise<ResultMap['media']>;
  /** The connection closed: leave every media room it is in. */
  closed(client: MediaClient): void;
}

/** Late-bound session extensions: modules installed after the bus was created fill these in. */
export interface SessionExtensions {
  media?: MediaHandler;
}
