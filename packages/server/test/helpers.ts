import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { AqueductClient, type ClientOptions, type WebSocketConstructor } from '@aqueduct/client';
import { codecs, type CodecName } from '@aqueduct/protocol';
import { createServer, type AqueductServer, type ConfigInput } from '../src/index.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

export interface TestServer {
  server: AqueductServer;
  url: string;
  wsUrl: string;
  token(sub: string, rooms: Record<string, string[]>, opts?: { ttlSec?: number; info?: Record<string, unknown> }): Promise<string>;
  close(): Promise<void>;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Starts an in-process server on a free port with a temp data dir and a known JWT secret. */
export async function startTestServer(config: DeepPartial<ConfigInput> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-test-'));
  const input = {
    port: 0,
    dataDir,
    logLevel: 'silent',
    ...config,
    jwt: { secret: TEST_SECRET, ...(config.jwt ?? {}) },
    // close() without the drain delay unless a test asks for one.
    shutdown: { readyzGraceMs: 0, ...(config.shutdown ?? {}) },
  } as ConfigInput;
  const server = await createServer({ config: input });
  const url = server.url;
  return {
    server,
    url,
    wsUrl: url.replace('http', 'ws') + '/ws',
    token: (sub, rooms, opts = {}) => server.auth.sign({ sub, rooms: rooms as never, info: opts.info, ttlSec: opts.ttlSec ?? 3600 }),
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An SDK client over the `ws` package; `codec` may be given by name (the SDK takes the codec object). */
export function connectClient(url: string, token: ClientOptions['token'], opts: Partial<Omit<ClientOptions, 'codec'>> & { codec?: CodecName } = {}): AqueductClient {
  const { codec, ...rest } = opts;
  return new AqueductClient({ url, token, WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: { minDelayMs: 20, maxDelayMs: 300 }, ...rest, codec: codecs[codec ?? 'json'] });
}

/** Resolves when `predicate` holds, polling on a short interval; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves with the first emission of an event on a client/room emitter. */
export function nextEvent<T>(emitter: { once(event: string, fn: (arg: T) => void): unknown }, event: string, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    emitter.once(event, (arg: T) => {
      clearTimeout(timer);
      resolve(arg);
    });
  });
}

/** A raw WebSocket client speaking JSON frames (for bad-input tests). */
export async function rawSocket(wsUrl: string, protocol: string | string[] = 'aqueduct.json.v1', headers: Record<string, string> = {}): Promise<RawSocket> {
  const ws = new WebSocket(wsUrl, protocol, { headers });
  const raw = new RawSocket(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`unexpected response ${res.statusCode}`), { status: res.statusCode })));
  });
  return raw;
}

export class RawSocket {
  readonly messages: Array<Record<string, unknown>> = [];
  closeCode?: number;
  closeReason?: string;
  readonly closed: Promise<number>;
  private waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      try {
        this.messages.push(isBinary ? { binary: true } : JSON.parse(data.toString()));
      } catch {
        this.messages.push({ unparsable: data.toString() });
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      for (const w of this.waiters.splice(0)) w();
      resolve(code);
    }));
  }

  send(obj: unknown): void {
    this.ws.send(typeof obj === 'string' || Buffer.isBuffer(obj) ? obj : JSON.stringify(obj));
  }

  /** Waits for the reply to request `id`. */
  async reply(id: number, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const find = () => this.messages.find((m) => m.t === 'reply' && m.id === id);
    const start = Date.now();
    while (!find()) {
      if (this.closeCode !== undefined) throw new Error(`closed ${this.closeCode} before reply ${id}`);
      if (Date.now() - start > timeoutMs) throw new Error(`no reply ${id}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
    return find() as Record<string, unknown>;
  }

  async request(msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.send(msg);
    return this.reply(msg.id as number);
  }

  close(): void {
    this.ws.terminate();
  }
}
