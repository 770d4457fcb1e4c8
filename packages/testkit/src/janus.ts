import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort } from './ports.js';
import { LineTail, exitOf, stopChild } from './process-util.js';

export interface JanusOptions {
  /** Janus log level 0..7. Default 3 (warnings and errors; 4 adds per-session info). */
  debugLevel?: number;
  /** Janus `session_timeout` (seconds without a request or keepalive before a session is dropped). Default 60. */
  sessionTimeoutSec?: number;
}

/** A throwaway Janus owned by a test: WebSocket API and Admin API on free loopback ports. */
export interface JanusHandle {
  /** Janus API over WebSocket (`janus-protocol`), e.g. `ws://127.0.0.1:40123`. */
  url: string;
  /** Admin API over WebSocket (`janus-admin-protocol`). */
  adminUrl: string;
  apiSecret: string;
  adminSecret: string;
  /** Graceful stop (SIGTERM, SIGKILL after 5 s); removes the config dir. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL, leaving the ports closed until `restart`. */
  kill(): Promise<void>;
  /** Stops Janus if running and starts a fresh one (no sessions, no rooms) on the same ports. */
  restart(): Promise<void>;
  /** The last lines Janus logged (for failure messages). */
  logs(): string;
}

const PLUGINS = ['audiobridge', 'duktape', 'echotest', 'lua', 'nosip', 'recordplay', 'sip', 'streaming', 'textroom', 'videocall', 'voicemail'];
const TRANSPORTS = ['http', 'mqtt', 'nanomsg', 'pfunix', 'rabbitmq'];

/** The three config files of a loopback-only Janus with only the VideoRoom plugin and WebSockets. */
function writeConfigs(dir: string, p: { wsPort: number; adminPort: number; apiSecret: string; adminSecret: string; rtpMin: number; debugLevel: number; sessionTimeoutSec: number }): string {
  const main = join(dir, 'janus.jcfg');
  writeFileSync(main, `general: {
  configs_folder = "${dir}"
  plugins_folder = "/usr/lib/x86_64-linux-gnu/janus/plugins"
  transports_folder = "/usr/lib/x86_64-linux-gnu/janus/transports"
  events_folder = "/usr/lib/x86_64-linux-gnu/janus/events"
  loggers_folder = "/usr/lib/x86_64-linux-gnu/janus/loggers"
  debug_level = ${p.debugLevel}
  debug_timestamps = true
  debug_colors = false
  api_secret = "${p.apiSecret}"
  admin_secret = "${p.adminSecret}"
  session_timeout = ${p.sessionTimeoutSec}
  server_name = "aqueduct-test"
}
certificates: {
}
media: {
  rtp_port_range = "${p.rtpMin}-${p.rtpMin + 199}"
}
nat: {
  ice_enforce_list = "lo"
  nice_debug = false
}
plugins: {
  disable = "${PLUGINS.map((n) => `libjanus_${n}.so`).join(',')}"
}
transports: {
  disable = "${TRANSPORTS.map((n) => `libjanus_${n}.so`).join(',')}"
}
events: {
  broadcast = false
}
loggers: {
  disable = "libjanus_jsonlog.so"
}
`);
  writeFileSync(join(dir, 'janus.transport.websockets.jcfg'), `general: {
  json = "plain"
  ws = true
  ws_port = ${p.wsPort}
  ws_ip = "127.0.0.1"
  wss = false
}
admin: {
  admin_ws = true
  admin_ws_port = ${p.adminPort}
  admin_ws_ip = "127.0.0.1"
  admin_wss = false
}
`);
  writeFileSync(join(dir, 'janus.plugin.videoroom.jcfg'), `general: {
}
`);
  return main;
}

/**
 * Starts Debian's `janus` (1.x) on 127.0.0.1 with only the VideoRoom plugin and the WebSockets
 * transport (API + Admin API), an API secret and an admin secret, ICE on the loopback interface
 * only, and a random 200-port RTP range. Resolves once the API answers an `info` request.
 */
export async function startJanus(opts: JanusOptions = {}): Promise<JanusHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'aqueduct-janus-'));
  const wsPort = await freePort();
  const adminPort = await freePort();
  const apiSecret = randomBytes(12).toString('hex');
  const adminSecret = randomBytes(12).toString('hex');
  const rtpMin = 20_000 + Math.floor(Math.random() * 90) * 200;
  const config = writeConfigs(dir, {
    wsPort, adminPort, apiSecret, adminSecret, rtpMin,
    debugLevel: opts.debugLevel ?? 3, sessionTimeoutSec: opts.sessionTimeoutSec ?? 60,
  });
  const url = `ws://127.0.0.1:${wsPort}`;
  const adminUrl = `ws://127.0.0.1:${adminPort}`;
  const tail = new LineTail(300);
  let child: ChildProcess | undefined;
  let stopped = false;

  const launch = async (): Promise<void> => {
    const c = spawn('janus', ['-C', config, '-F', dir, '-o'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout?.on('data', (d: Buffer) => tail.push(d));
    c.stderr?.on('data', (d: Buffer) => tail.push(d));
    const early = exitOf(c).then((e) => { throw new Error(`janus exited (code ${e.code}, signal ${e.signal}):\n${tail.text()}`); });
    early.catch(() => { /* an exit after readiness is the test's business (kill/stop) */ });
    await Promise.race([waitForJanus(url, 20_000), early]);
  };

  try {
    await launch();
  } catch (err) {
    if (child) await stopChild(child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url, adminUrl, apiSecret, adminSecret,
    logs: () => tail.text(),
    async kill() {
      if (child) await stopChild(child, 'SIGKILL');
    },
    async restart() {
      if (stopped) throw new Error('janus was stopped');
      if (child) await stopChild(child, 'SIGKILL');
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child) await stopChild(child, 'SIGTERM', 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `info` on the Janus API until it answers (or `timeoutMs` passes). */
async function waitForJanus(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await janusRequest(url, 'janus-protocol', { janus: 'info' }, 2000);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`janus did not answer at ${url} after ${timeoutMs} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** One request on a fresh WebSocket; resolves with the first response carrying its transaction. */
export function janusRequest(url: string, protocol: 'janus-protocol' | 'janus-admin-protocol', body: Record<string, unknown>, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return janusRequests(url, protocol, [body], timeoutMs).then((r) => r[0]);
}

/**
 * Requests in order on one WebSocket (a Janus session lives as long as its socket's requests refer
 * to it): `$session` / `$handle` in a body are replaced with the ids from earlier responses.
 * Resolves with every response; acks (`janus: 'ack'`) are skipped.
 */
export async function janusRequests(url: string, protocol: 'janus-protocol' | 'janus-admin-protocol', bodies: Array<Record<string, unknown>>, timeoutMs = 10_000): Promise<Array<Record<string, unknown>>> {
  const ws = new WebSocket(url, protocol);
  const timer = setTimeout(() => ws.terminate(), timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('close', () => reject(new Error('closed before open')));
    });
    const out: Array<Record<string, unknown>> = [];
    let session: unknown;
    let handle: unknown;
    for (const b of bodies) {
      const transaction = randomBytes(6).toString('hex');
      const body: Record<string, unknown> = { ...b, transaction };
      if (body.session_id === '$session') body.session_id = session;
      if (body.handle_id === '$handle') body.handle_id = handle;
      const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const onMessage = (data: WebSocket.RawData) => {
          const msg = JSON.parse(data.toString()) as Record<string, unknown>;
          if (msg.transaction !== transaction || msg.janus === 'ack') return;
          ws.off('message', onMessage);
          resolve(msg);
        };
        ws.on('message', onMessage);
        ws.once('close', () => reject(new Error('janus closed the socket')));
        ws.send(JSON.stringify(body));
      });
      if (b.janus === 'create') session = (reply.data as { id?: unknown } | undefined)?.id;
      if (b.janus === 'attach') handle = (reply.data as { id?: unknown } | undefined)?.id;
      out.push(reply);
    }
    return out;
  } finally {
    clearTimeout(timer);
    ws.terminate();
  }
}

/** Session ids Janus holds now (Admin API `list_sessions`). */
export async function janusSessions(janus: Pick<JanusHandle, 'adminUrl' | 'adminSecret'>): Promise<number[]> {
  const r = await janusRequest(janus.adminUrl, 'janus-admin-protocol', { janus: 'list_sessions', admin_secret: janus.adminSecret });
  if (r.janus !== 'success') throw new Error(`list_sessions failed: ${JSON.stringify(r)}`);
  return (r.sessions as number[]) ?? [];
}

/**
 * VideoRoom rooms Janus holds now (`list` through a short-lived session of its own, which is
 * destroyed before this resolves; the session may still show in `list_sessions` for a moment).
 */
export async function janusRooms(janus: Pick<JanusHandle, 'url' | 'apiSecret'>): Promise<Array<{ room: number | string; description?: string; num_participants?: number }>> {
  const s = janus.apiSecret;
  const r = await janusRequests(janus.url, 'janus-protocol', [
    { janus: 'create', apisecret: s },
    { janus: 'attach', apisecret: s, session_id: '$session', plugin: 'janus.plugin.videoroom' },
    { janus: 'message', apisecret: s, session_id: '$session', handle_id: '$handle', body: { request: 'list' } },
    { janus: 'destroy', apisecret: s, session_id: '$session' },
  ]);
  const data = (r[2].plugindata as { data?: { list?: Array<{ room: number | string; description?: string; num_participants?: number }> } } | undefined)?.data;
  if (!data?.list) throw new Error(`videoroom list failed: ${JSON.stringify(r[2])}`);
  return data.list;
}

/**
 * Waits until Janus holds no session and no room (README §Media (SFU): sessions go with the leave,
 * an empty room at the latest about a second after its last participant left). Resolves with the ms it took.
 */
export async function waitForNoJanusLeftovers(janus: Pick<JanusHandle, 'url' | 'apiSecret' | 'adminUrl' | 'adminSecret'>, timeoutMs = 10_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const sessions = await janusSessions(janus);
    const rooms = sessions.length === 0 ? await janusRooms(janus) : [];
    if (sessions.length === 0 && rooms.length === 0) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`Janus still holds ${sessions.length} sessions and rooms ${JSON.stringify(rooms.map((r) => [r.description, r.num_participants]))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
