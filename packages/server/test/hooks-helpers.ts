import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AqueductServer, type ConfigInput, type ServerHooks } from '../src/index.js';
import { TEST_SECRET } from './helpers.js';

export const API_KEY = 'hooks-api-key-0123456789abcdef';

export interface HooksTestServer {
  server: AqueductServer;
  url: string;
  wsUrl: string;
  yjsUrl: string;
  token(sub: string, rooms: Record<string, string[]>): Promise<string>;
  /** JSON request to the HTTP API: status and parsed body. */
  api(method: string, path: string, auth: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** A server with backend hooks (in-process functions and / or `config.hooks` for the webhook). */
export async function startHooksServer(hooks: ServerHooks | undefined, config: DeepPartial<ConfigInput> = {}): Promise<HooksTestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-hooks-'));
  const input = { port: 0, dataDir, logLevel: 'silent', apiKey: API_KEY, ...config, jwt: { secret: TEST_SECRET } } as ConfigInput;
  const server = await createServer({ config: input, hooks });
  const url = server.url;
  return {
    server,
    url,
    wsUrl: url.replace('http', 'ws') + '/ws',
    yjsUrl: url.replace('http', 'ws') + '/yjs',
    token: (sub, rooms) => server.auth.sign({ sub, rooms: rooms as never, ttlSec: 3600 }),
    async api(method, path, auth, body) {
      const res = await fetch(url + path, {
        method,
        headers: { Authorization: `Bearer ${auth}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
    },
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Status and first bytes of an SSE request (the stream is cancelled after the head). */
export async function sseStatus(url: string, token: string): Promise<{ status: number; body: string }> {
  const ctrl = new AbortController();
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, signal: ctrl.signal });
  if (res.status !== 200) return { status: res.status, body: await res.text() };
  ctrl.abort();
  return { status: 200, body: '' };
}
