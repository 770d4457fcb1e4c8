/**
 * What this page received, in arrival order, for tests and the curious (`window.live.log`): chat
 * lines with their room offsets, leaderboard updates with their sequence numbers, reaction counts.
 * Each list keeps its latest `MAX_LOG_ENTRIES` entries.
 */
export const MAX_LOG_ENTRIES = 2000;

export interface ChatLogEntry {
  offset: number;
  nonce: string;
  text: string;
  user?: string;
  /** Delivered from the room's history when the page joined (before the `joined` event). */
  history: boolean;
}

export interface BoardLogEntry { seq: number; offset: number }

export class LiveLog {
  readonly chat: ChatLogEntry[] = [];
  readonly board: BoardLogEntry[] = [];
  readonly reactions = { sent: 0, received: 0, refused: 0 };

  add<T>(list: T[], entry: T): void {
    list.push(entry);
    if (list.length > MAX_LOG_ENTRIES) list.splice(0, list.length - MAX_LOG_ENTRIES);
  }
}
