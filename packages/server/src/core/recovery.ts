import type { Position, Publication } from '@aqueduct/protocol';
import type { HistoryPage, HistoryQuery } from '../broker/broker.js';

/** What recovery reads: a room's history and position (the hub). */
export interface RoomLog {
  history(room: string, query: HistoryQuery): Promise<HistoryPage>;
  position(room: string): Promise<Position>;
}

/**
 * How a room starts for a reader that resumes from a position (if any). The one recovery decision
 * of every pipe: the room bus's join, SSE and long polling give the same answer for the same
 * position.
 */
export type RoomStart =
  /** No position for this room: start at the room's current position (live only). */
  | { kind: 'live'; position: Position }
  /** History covers the position: replay from `since`, starting with `page`. */
  | { kind: 'replay'; since: Position; page: HistoryPage }
  /** History does not cover the position (too short, or lost): `recovered: false`, continue from `position`. */
  | { kind: 'reset'; since: Position; position: Position }
  /** Same epoch but an offset beyond the room's top: a position this server never issued. */
  | { kind: 'ahead'; since: Position; page: HistoryPage };

/**
 * Decides how a room starts. Call after the reader subscribed to the room (so every later
 * publication reaches it live).
 */
export async function recoverFrom(log: RoomLog, room: string, since: Position | undefined, limit: number): Promise<RoomStart> {
  if (!since) return { kind: 'live', position: await log.position(room) };
  const page = await log.history(room, { since, limit });
  if (page.epoch === since.epoch && since.offset > page.offset) return { kind: 'ahead', since, page };
  if (!page.recovered) return { kind: 'reset', since, position: { epoch: page.epoch, offset: page.offset } };
  return { kind: 'replay', since, page };
}

/**
 * The pages of a replay, oldest first, starting with `first`. Ends when a page reaches the top the
 * broker reported with it; a page with `recovered: false` (history trimmed while paging) ends it too
 * and the caller sends a reset.
 */
export async function* replayPages(log: RoomLog, room: string, first: HistoryPage, limit: number): AsyncGenerator<HistoryPage> {
  let page = first;
  for (;;) {
    yield page;
    if (!page.recovered) return;
    const last: Publication | undefined = page.publications[page.publications.length - 1];
    if (!last || last.offset >= page.offset || page.publications.length < limit) return;
    page = await log.history(room, { since: { epoch: last.epoch, offset: last.offset }, limit });
  }
}

/** Approximate encoded size of a publication (its data as JSON plus the envelope). */
export function publicationBytes(pub: Publication): number {
  let size = 96;
  try { size += Buffer.byteLength(JSON.stringify(pub.data) ?? ''); } catch { /* not JSON-encodable: envelope only */ }
  return size;
}

/** The longest prefix within `budget` bytes (at least one publication). */
export function earliestWithin(pubs: Publication[], budget: number): Publication[] {
  let bytes = 0;
  for (let i = 0; i < pubs.length; i++) {
    bytes += publicationBytes(pubs[i]);
    if (i > 0 && bytes > budget) return pubs.slice(0, i);
  }
  return pubs;
}

/** The longest suffix within `budget` bytes (at least one publication). */
export function latestWithin(pubs: Publication[], budget: number): Publication[] {
  let bytes = 0;
  for (let i = pubs.length - 1; i >= 0; i--) {
    bytes += publicationBytes(pubs[i]);
    if (i < pubs.length - 1 && bytes > budget) return pubs.slice(i + 1);
  }
  return pubs;
}

/** A recovery within a reply budget (the room bus's join): what the client missed, or a reset. */
export type BudgetedRecovery =
  | { recovered: false; epoch: string; offset: number }
  /** `more`: the budget ran out before the top; the client continues from the last publication. */
  | { recovered: true; epoch: string; offset: number; publications: Publication[]; more: boolean };

/**
 * Recovery from `since` (recoverFrom + replayPages), collecting publications until `budget` bytes
 * are used (at least one publication per reply, so long gaps make progress).
 */
export async function recoverWithin(log: RoomLog, room: string, since: Position, limit: number, budget: number): Promise<BudgetedRecovery> {
  const start = await recoverFrom(log, room, since, limit);
  if (start.kind === 'reset') return { recovered: false, epoch: start.position.epoch, offset: start.position.offset };
  if (start.kind === 'live') throw new Error('unreachable: a position was given');
  const publications: Publication[] = [];
  let bytes = 0;
  let more = false;
  let top = start.page;
  for await (const page of replayPages(log, room, start.page, limit)) {
    top = page;
    if (!page.recovered) break;
    for (const pub of page.publications) {
      const size = publicationBytes(pub);
      if (publications.length > 0 && bytes + size > budget) { more = true; break; }
      bytes += size;
      publications.push(pub);
    }
    if (more) break;
  }
  if (!top.recovered) return { recovered: false, epoch: top.epoch, offset: top.offset };
  return { recovered: true, epoch: top.epoch, offset: top.offset, publications, more };
}
