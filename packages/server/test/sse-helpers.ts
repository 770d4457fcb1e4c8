import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { connectClient, type TestServer } from './helpers.js';

const API_KEY = 'test-api-key-0123456789abcdef';

/** One parsed text/event-stream event. */
export interface ParsedEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * A raw SSE reader over node:http with its own spec-following parser, so tests see exactly what
 * went over the wire (fields, comments, `retry:`), independent of any EventSource implementation.
 */
export class RawSse {
  status = 0;
  headers: IncomingHttpHeaders = {};
  body = '';
  readonly events: ParsedEvent[] = [];
  comments = 0;
  retry?: number;
  ended = false;
  /** Last id seen (the EventSource "last event ID" rules: a field without value resets it). */
  lastId?: string;
  private buffer = '';
  private current: { event?: string; data: string[]; id?: string } = { data: [] };
  private res?: IncomingMessage;
  private readonly waiters = new Set<() => void>();
  private readonly done: Promise<void>;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.done = new Promise((resolve) => {
      const req = request(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
        this.res = res;
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.feed(chunk));
        const end = () => {
          this.ended = true;
          this.notify();
          resolve();
        };
        res.on('end', end);
        res.on('close', end);
        res.on('error', end);
        this.notify();
      });
      req.on('error', () => {
        this.ended = true;
        this.notify();
        resolve();
      });
      req.end();
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private feed(chunk: string): void {
    this.body += chunk;
    if (this.status !== 200) return this.notify();
    this.buffer += chunk;
    let i: number;
    while ((i = this.buffer.search(/\r\n|\r|\n/)) !== -1) {
      const line = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(this.buffer[i] === '\r' && this.buffer[i + 1] === '\n' ? i + 2 : i + 1);
      this.line(line);
    }
    this.notify();
  }

  private line(line: string): void {
    if (line === '') {
      const c = this.current;
      this.current = { data: [] };
      if (c.id !== undefined) this.lastId = c.id;
      if (c.data.length === 0) return;
      this.events.push({ event: c.event ?? 'message', data: c.data.join('\n'), id: c.id });
      return;
    }
    if (line.startsWith(':')) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') this.current.data.push(value);
    else if (name === 'event') this.current.event = value;
    else if (name === 'id') this.current.id = value;
    else if (name === 'retry') this.retry = Number(value);
  }

  /** Resolves when `predicate` holds; rejects on timeout or when the stream ended first. */
  async until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what} (status ${this.status}, ${this.events.length} events)`));
      }, timeoutMs);
      const check = () => {
        if (predicate()) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        } else if (this.ended) {
          clearTimeout(timer);
          this.waiters.delete(check);
          reject(new Error(`stream ended before ${what} (status ${this.status}, body ${this.body.slice(0, 200)})`));
        }
      };
      this.waiters.add(check);
    });
  }

  /** Resolves once the response has ended (for error statuses: with the whole body). */
  finished(): Promise<void> {
    return this.done;
  }

  json(): { error?: { code: string; message: string } } {
    return JSON.parse(this.body) as { error?: { code: string; message: string } };
  }

  close(): void {
    this.res?.destroy();
  }
}

/** `fetch` a JSON route; returns status and parsed body. */
export async function api(url: string, init: RequestInit & { json?: unknown } = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers = new Headers(init.headers);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(init.json);
  }
  const res = await fetch(url, { ...init, headers, body });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try { parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>); } catch { parsed = { text }; }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Rooms and event count of the kill-mid-stream tests. */
export const ROOMS = ['feed:a', 'feed:b', 'feed:c'];
export const TOTAL = 5000;

/**
 * Publishes `total` events round-robin over `rooms` (mostly in-process, every 50th over
 * POST /api/publish, every 50th over the room bus), yielding to the event loop so streams flush, and
 * calls `cut` at the given counts.
 */
export async function publishMany(ts: TestServer, rooms: string[], total: number, cutAt: number[], cut: (published: number) => void | Promise<void>): Promise<void> {
  const writer = connectClient(ts.url, await ts.token('writer', { 'feed:*': ['sub', 'pub'] }));
  const bus = new Map(rooms.map((r) => [r, writer.room(r)]));
  await Promise.all([...bus.values()].map((r) => r.ready()));
  try {
    for (let i = 0; i < total; i++) {
      const room = rooms[i % rooms.length];
      const data = { i };
      if (i % 50 === 7) {
        const r = await api(`${ts.url}/api/publish`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { room, data } });
        assert.equal(r.status, 200);
      } else if (i % 50 === 31) {
        await bus.get(room)?.publish(data);
      } else {
        await ts.server.publish(room, data);
      }
      if (cutAt.includes(i)) await cut(i + 1);
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
  } finally {
    writer.close();
  }
}

/** Checks that every room got exactly its publications, once each, in order. */
export function assertExactlyOnce(received: Array<{ room: string; i: number; offset: number }>, rooms: string[], total: number): void {
  for (const [k, room] of rooms.entries()) {
    const got = received.filter((e) => e.room === room);
    const expected: number[] = [];
    for (let i = k; i < total; i += rooms.length) expected.push(i);
    assert.equal(got.length, expected.length, `${room}: ${got.length} events, expected ${expected.length}`);
    assert.deepEqual(got.map((e) => e.i), expected, `${room}: order`);
    assert.deepEqual(got.map((e) => e.offset), expected.map((_, j) => j + 1), `${room}: offsets`);
  }
}

