import WebSocket from 'ws';
import { signToken, spawnServer, type ServerProcess } from '@aqueduct/testkit';
import { AqueductClient, type ClientOptions, type WebSocketConstructor } from '../src/index.js';

export const SECRET = 'client-test-secret-0123456789abcdef';
export const API_KEY = 'client-test-api-key-0123456789abcdef';

/** A real Aqueduct server process (CLI from source) on a free port, with a known secret and API key. */
export interface RealServer {
  proc: ServerProcess;
  url: string;
  token(sub: string, rooms: Record<string, string[]>): Promise<string>;
  client(token: ClientOptions['token'], opts?: Partial<ClientOptions>): AqueductClient;
  /** The HTTP API with the API key. */
  api(path: string, body: unknown): Promise<Response>;
  close(): Promise<void>;
}

export async function startRealServer(): Promise<RealServer> {
  const proc = await spawnServer({ env: { AQUEDUCT_JWT_SECRET: SECRET, AQUEDUCT_API_KEY: API_KEY } });
  const clients: AqueductClient[] = [];
  return {
    proc,
    url: proc.url,
    token: (sub, rooms) => signToken(SECRET, { sub, rooms }),
    client(token, opts = {}) {
      const c = new AqueductClient({
        url: proc.url, token, WebSocket: WebSocket as unknown as WebSocketConstructor,
        reconnect: { minDelayMs: 20, maxDelayMs: 300 }, ...opts,
      });
      clients.push(c);
      return c;
    },
    api: (path, body) => fetch(`${proc.url}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    }),
    async close() {
      for (const c of clients) c.close();
      await proc.kill();
    },
  };
}
