import type { Position, Publication } from '@aqueduct/protocol';
import type { Broker, HistoryPage } from '../broker/broker.js';
import { HttpError } from '../http/http-util.js';

/**
 * How a room of a one-way stream starts, given the position the client resumes from (if any).
 * Shared by SSE and long polling so both give the same sequence for the same cursor.
 */
export type RoomStart =
  /** No position for this room: start at the room's current position (live only). */
  | { kind: 'live'; position: Position }
  /** History covers the position: replay from `since`, starting with `page`. */
  | { kind: 'replay'; since: Position; page: HistoryPage }
  /** History does not cover the position (too short, or lost): tell the client, continue from `position`. */
  | { kind: 'reset'; since: Position; position: Position };

/**
 * Plans one room. Call after the stream subscribed to the room (so every later publication reaches
 * it live). Throws HttpError 400 for a position the server cannot have issued: same epoch, but an
 * offset beyond the room's top.
 */
export async function planRoom(broker: Broker, room: string, since: Position | undefined, limit: number): Promise<RoomStart> {
  if (!since) return { kind: 'live', position: await broker.position(room) };
  const page = await broker.history(room, { since, limit });
  if (page.epoch === since.epoch && since.offset > page.offset) {
    throw new HttpError(400, 'BAD_REQUEST', `event id is ahead of room ${room} (offset ${since.offset}, room is at ${page.offset}): it was not issued by this server`);
  }
  if (!page.recovered) return { kind: 'reset', since, position: { epoch: page.epoch, offset: page.offset } };
  return { kind: 'replay', since, page };
}

/**
 * The pages of a replay, oldest first, starting with `first`. Ends when a page reaches the top the
 * broker reported with it; a page with `recovered: false` (history trimmed while paging) ends it too
 * and the caller sends a reset.
 */
export async function* replayPages(broker: Broker, room: string, first: HistoryPage, limit: number): AsyncGenerator<HistoryPage> {
  let page = first;
  for (;;) {
    yield page;
    if (!page.recovered) return;
    const last: Publication | undefined = page.publications[page.publications.length - 1];
    if (!last || last.offset >= page.offset || page.publications.length < limit) return;
    page = await broker.history(room, { since: { epoch: last.epoch, offset: last.offset }, limit });
  }
}
