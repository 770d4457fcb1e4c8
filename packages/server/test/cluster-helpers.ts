import { request } from 'node:http';
import type { PollEvent, PollResult, SseMessageData } from '@aqueduct/protocol';

/** One parsed text/event-stream event. */
export interface SseEvent { event: string; data: string; id?: string }

/**
 * A minimal SSE reader over node:http (no reconnect): collects events and lets the test await a
 * condition on them.
 */
export class SseReader {
  readonly events: SseEvent[] = [];
  private buffer = '';
  private waiters: Array<() => void> = [];
  private req?: ReturnType<typeof request>;
  closed = false;

  constructor(url: string, token: string, lastEventId?: string) {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    this.req = request(url, { headers }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.push(chunk));
      res.on('end', () => { this.closed = true; this.notify(); });
    });
    this.req.on('error', () => { this.closed = true; this.notify(); });
    this.req.end();
  }

  private push(chunk: string): void {
    this.buffer += chunk.replace(/\r\n/g, '\n');
    let i: number;
    while ((i = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 2);
      const ev: SseEvent = { event: 'message', data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':') || line === '') continue;
        const c = line.indexOf(':');
        const name = c === -1 ? line : line.slice(0, c);
        const value = c === -1 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (name === 'data') data.push(value);
        else if (name === 'event') ev.event = value;
        else if (name === 'id') ev.id = value;
      }
      if (data.length === 0) continue;
      ev.data = data.join('\n');
      this.events.push(ev);
    }
    this.notify();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Publications received (events carrying a room position). */
  messages(): SseMessageData[] {
    return this.events.filter((e) => e.event !== 'ready' && e.event !== 'reset' && e.event !== 'disconnect')
      .map((e) => JSON.parse(e.data) as SseMessageData);
  }

  async until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (this.closed) throw new Error(`SSE stream ended while waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  close(): void {
    this.closed = true;
    this.req?.destroy();
  }
}

/** The start cursor of a long-poll client: the rooms' current positions. */
export async function pollStart(base: string, token: string, rooms: string[]): Promise<string> {
  const url = new URL('/api/poll', base);
  url.searchParams.set('rooms', rooms.join(','));
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`poll answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as PollResult).cursor;
}

/** Long-polls `GET /api/poll` from `cursor` until `want` message events arrived (or the deadline passes). */
export async function pollUntil(base: string, token: string, rooms: string[], start: string, want: number, timeoutMs = 60_000): Promise<Array<PollEvent & { type: 'message' }>> {
  return (await pollFrom(base, token, rooms, start, want, timeoutMs)).events;
}

/** Like `pollUntil`, also returning the cursor to continue from. */
export async function pollFrom(base: string, token: string, rooms: string[], start: string, want: number, timeoutMs = 60_000): Promise<{ events: Array<PollEvent & { type: 'message' }>; cursor: string }> {
  const out: Array<PollEvent & { type: 'message' }> = [];
  let cursor = start;
  const deadline = Date.now() + timeoutMs;
  while (out.length < want) {
    if (Date.now() > deadline) throw new Error(`long poll: ${out.length}/${want} messages before the deadline`);
    const url = new URL('/api/poll', base);
    url.searchParams.set('rooms', rooms.join(','));
    url.searchParams.set('timeoutMs', '5000');
    url.searchParams.set('cursor', cursor);
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`poll answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as PollResult;
    cursor = body.cursor;
    for (const e of body.events) if (e.type === 'message') out.push(e);
  }
  return { events: out, cursor };
}

/** Asserts-free check helper: offsets strictly consecutive from `first`. */
export function consecutive(offsets: number[], first = 1): boolean {
  return offsets.every((o, i) => o === first + i);
}
