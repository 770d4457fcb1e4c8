import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import type { DocsModule } from '../src/docs/index.js';
import { docsOf, installDocs } from '../src/docs/install.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AqueductServer, type ConfigInput } from '../src/index.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

/** Resolves when `predicate` holds, polling on a short interval; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
type ConfigArg = DeepPartial<ConfigInput>;

export interface DocsTestServer {
  server: AqueductServer;
  url: string;
  token(sub: string, rooms: Record<string, string[]>, opts?: { ttlSec?: number }): Promise<string>;
  /** Closes the server (and removes the data dir unless the caller passed one). */
  close(): Promise<void>;
  docs: DocsModule;
  yjsUrl: string;
  /** GET/POST helper for /api/docs routes: returns status and parsed JSON. */
  api(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** Starts a server with documents mounted (installs them if the built-in modules do not yet). */
export async function startDocsServer(config: ConfigArg = {}): Promise<DocsTestServer> {
  const ownDir = config.dataDir === undefined;
  const dataDir = config.dataDir ?? mkdtempSync(join(tmpdir(), 'aqueduct-docs-test-'));
  const input = {
    port: 0, logLevel: 'silent', ...config, dataDir, jwt: { secret: TEST_SECRET, ...(config.jwt ?? {}) },
    // close() without the drain delay unless a test asks for one.
    shutdown: { readyzGraceMs: 0, ...(config.shutdown ?? {}) },
  } as ConfigInput;
  const server = await createServer({ config: input });
  const docs = docsOf(server) ?? installDocs(server);
  const url = server.url;
  return {
    server,
    url,
    docs,
    yjsUrl: url.replace('http', 'ws') + '/yjs',
    token: (sub, rooms, opts = {}) => server.auth.sign({ sub, rooms: rooms as never, ttlSec: opts.ttlSec ?? 3600 }),
    async close() {
      await server.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
    async api(method, path, token, body) {
      const res = await fetch(url + path, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
    },
  };
}

export interface TestProvider {
  ydoc: Y.Doc;
  provider: WebsocketProvider;
  /** Reasons of permission-denied auth messages received. */
  denied: string[];
  closes: Array<{ code: number; reason: string }>;
  destroy(): void;
}

/** A stock y-websocket provider in Node (ws polyfill, BroadcastChannel off so only the server syncs). */
export function connectProvider(yjsUrl: string, doc: string, token: string, opts: { connect?: boolean } = {}): TestProvider {
  const ydoc = new Y.Doc();
  const provider = new WebsocketProvider(yjsUrl, doc, ydoc, {
    params: { token },
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    maxBackoffTime: 300,
    connect: opts.connect ?? true,
  });
  const denied: string[] = [];
  const closes: Array<{ code: number; reason: string }> = [];
  // Record auth messages instead of the stock console.warn.
  provider.messageHandlers[2] = (_enc, dec) => {
    if (decoding.readVarUint(dec) === 0) denied.push(decoding.readVarString(dec));
  };
  provider.on('connection-close', (ev) => { if (ev) closes.push({ code: ev.code, reason: ev.reason }); });
  return {
    ydoc, provider, denied, closes,
    destroy() { provider.destroy(); ydoc.destroy(); },
  };
}

/** Waits until the provider has synced with the server. */
export function synced(p: TestProvider, timeoutMs = 15_000): Promise<void> {
  return until(() => p.provider.synced, timeoutMs, 'provider synced');
}

/** Frames a raw y-websocket message. */
export function syncFrame(sub: 0 | 1 | 2, payload: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);
  encoding.writeVarUint(e, sub);
  encoding.writeVarUint8Array(e, payload);
  return encoding.toUint8Array(e);
}

/** A raw socket on /yjs/<doc>: collects frames and the close event. */
export interface RawYjs {
  ws: WebSocket;
  frames: Uint8Array[];
  closed: Promise<{ code: number; reason: string }>;
  /** Permission-denied reasons seen. */
  denied(): string[];
  send(data: Uint8Array | Buffer): void;
}

export async function rawYjs(yjsUrl: string, doc: string, token?: string): Promise<RawYjs> {
  const ws = new WebSocket(`${yjsUrl}/${doc}${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  const frames: Uint8Array[] = [];
  ws.on('message', (d: Buffer) => frames.push(new Uint8Array(d)));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  return {
    ws, frames, closed,
    denied: () => frames.filter((f) => f[0] === 2 && f[1] === 0).map((f) => {
      const d = decoding.createDecoder(f);
      decoding.readVarUint(d); decoding.readVarUint(d);
      return decoding.readVarString(d);
    }),
    send: (data) => ws.send(data),
  };
}

/** Content of the three shared types the tests edit. */
export function snapshotOf(doc: Y.Doc): { text: string; map: unknown; array: unknown } {
  return { text: doc.getText('text').toString(), map: doc.getMap('map').toJSON(), array: doc.getArray('array').toJSON() };
}
