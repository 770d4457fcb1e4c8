import type { Origin } from '@aqueduct/client';

/** A chat line as delivered: its payload, author and position (the key that makes it unique). */
export interface CachedLine { data: unknown; user?: string; epoch: string; offset: number }

/** Lines kept per room: enough to fill the panel after a reload, small enough for localStorage. */
export const MAX_CACHED_LINES = 50;

/**
 * The last chat lines of a room in localStorage, so that a reload (also offline) shows them at
 * once. The SDK restores the room's position and resumes after it; lines it delivers again (the
 * position is saved a moment after the line) are recognised by `(epoch, offset)` and skipped.
 * Written synchronously on every line, so the cache is never behind the SDK's saved position.
 */
export class ChatCache {
  /** Lines shown on this page (bounded: a redelivery after a restore is among the latest lines). */
  private readonly shown = new Set<string>();

  constructor(private readonly storageKey: string) {}

  /** The cached lines, oldest first (marked as shown: the page renders them first). */
  load(): CachedLine[] {
    const lines = read(this.storageKey);
    for (const l of lines) this.remember(`${l.epoch}:${l.offset}`);
    return lines;
  }

  /** Adds a delivered line; false when this page showed it already (a repeated delivery). */
  add(data: unknown, from: Origin | undefined, epoch: string, offset: number): boolean {
    const key = `${epoch}:${offset}`;
    if (this.shown.has(key)) return false;
    this.remember(key);
    // Other tabs of the origin write the same key: merge their lines in rather than overwrite them.
    const merged = new Map<string, CachedLine>();
    for (const l of [...read(this.storageKey), { data, user: from?.user, epoch, offset }]) merged.set(`${l.epoch}:${l.offset}`, l);
    const lines = [...merged.values()].sort((a, b) => (a.epoch === b.epoch ? a.offset - b.offset : 0)).slice(-MAX_CACHED_LINES);
    try { localStorage.setItem(this.storageKey, JSON.stringify(lines)); } catch { /* full or private mode: no cache */ }
    return true;
  }

  /** The room's history was lost (epoch changed): the cache starts over. */
  clear(): void {
    try { localStorage.removeItem(this.storageKey); } catch { /* ignore */ }
  }

  private remember(key: string): void {
    this.shown.add(key);
    if (this.shown.size > 4 * MAX_CACHED_LINES) this.shown.delete(this.shown.values().next().value as string);
  }
}

function read(key: string): CachedLine[] {
  try {
    const raw = localStorage.getItem(key);
    const parsed = raw ? (JSON.parse(raw) as unknown) : [];
    return Array.isArray(parsed) ? (parsed as CachedLine[]).filter((l) => typeof l?.epoch === 'string' && typeof l?.offset === 'number').slice(-MAX_CACHED_LINES) : [];
  } catch {
    return [];
  }
}
