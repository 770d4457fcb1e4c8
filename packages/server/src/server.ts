import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { CloseCodes, isValidRoomName } from '@aqueduct/protocol';
import { Authenticator } from './auth/auth.js';
import type { Broker, PublishOutcome } from './broker/broker.js';
import type { Config, ConfigInput } from './config.js';
import type { HealthCheck, NodeHost, ServerContext, UpgradeHandler } from './context.js';
import { Hub, type ServerPublishOptions } from './core/hub.js';
import { dataBytes } from './core/publish-policy.js';
import { HttpError, sendError } from './http/http-util.js';
import type { HttpModule } from './http/http-module.js';
import { createLogger, type Logger } from './logger.js';
import { readyzGraceMs } from './shutdown-config.js';
import { Metrics } from './metrics.js';
import { opsModule } from './http/ops.js';
import type { Presence } from './presence/presence.js';
import type { Session } from './core/session.js';
import type { SessionExtensions } from './core/session-extensions.js';
import { WsBus } from './ws/ws.js';
import type { InstallDocsOptions } from './docs/install.js';
import { Hooks } from './hooks/hooks.js';
import type { ServerHooks } from './hooks/hook-types.js';
import type { DocsModule } from './docs/index.js';
import type { StreamsHandle } from './http/api-mount.js';
import type { ApiRoutes } from './http/route.js';
import { opsRoutes } from './http/ops-routes.js';
import { websocketRoutes } from './ws/ws-routes.js';

export interface CreateServerOptions {
  /** Configuration: a validated Config, or input validated here (defaults + env are NOT applied; use loadConfig for that). */
  config?: ConfigInput | Config;
  /** Attach to an existing HTTP server: upgrades on `/ws` and `/yjs/*` are handled; mount `handle` for HTTP routes. */
  server?: HttpServer;
  logger?: Logger;
  /** Inject implementations (tests, custom backends). Defaults follow the config (memory / Redis). */
  broker?: Broker;
  presence?: Presence;
  /** Documents: a custom store, lifecycle hooks (onLoad to seed, onChange, onStore), a cross-node bus. */
  docs?: InstallDocsOptions;
  /** Backend hooks (onConnect, onJoin, onPublish, onDocUpdate); webhooks are configured under `config.hooks`. */
  hooks?: ServerHooks;
  /** Extra parts mounted after the built-in ones, in order (see node.ts). */
  modules?: Array<(server: AqueductServer) => Promise<void> | void>;
}

export type { ServerContext, UpgradeHandler } from './context.js';

/**
 * One Aqueduct node: HTTP server, room bus, and the modules (SSE, HTTP API, documents, WebRTC,
 * demo) mounted on it.
 */
export class AqueductServer implements NodeHost {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly auth: Authenticator;
  readonly hub: Hub;
  readonly nodeId: string;
  readonly http: HttpServer;
  readonly context: ServerContext;
  /** The SSE / long-poll / HTTP API part, once mounted (tests, the admin dashboard). */
  streams?: StreamsHandle;
  /**
   * The documents part (embedding apps: `read`, `readJson`, `transact`, versions, restore). Mounted
   * by createServer before it resolves (set by docs/install.ts).
   */
  docs!: DocsModule;
  /** Backend hooks (hooks/): every pipe asks them through the hub. */
  readonly hooks: Hooks;
  private readonly ownsHttp: boolean;
  private readonly apiParts: ApiRoutes[] = [];
  private readonly bus: WsBus;
  private readonly sessions = new Set<Session>();
  /** Parts' request handlers for the room bus (the SFU sets `media`). */
  readonly extensions: SessionExtensions = {};
  private readonly modules: HttpModule[] = [];
  private readonly upgrades: UpgradeHandler[] = [];
  private readonly closers: Array<() => Promise<void>> = [];
  private readonly health: Array<[string, HealthCheck]> = [];
  private sweepTimer?: NodeJS.Timeout;
  private readonly sweeps: Array<(now: number) => void> = [];
  private closing?: Promise<void>;
  /** Set at the start of close(): `/readyz` answers 503 from then on. */
  private shuttingDown = false;

  constructor(readonly options: CreateServerOptions & { config: Config }, readonly broker: Broker, readonly presence: Presence) {
    this.config = options.config;
    this.nodeId = this.config.nodeId ?? randomBytes(4).toString('hex');
    this.logger = options.logger ?? createLogger(this.config.logLevel);
    this.metrics = new Metrics({ node: this.nodeId });
    this.auth = new Authenticator(this.config.jwt, { dataDir: this.config.dataDir });
    this.hooks = new Hooks({ hooks: options.hooks, config: this.config.hooks, logger: this.logger, nodeId: this.nodeId, maxMessageBytes: this.config.limits.maxMessageBytes });
    this.hub = new Hub(broker, presence, this.config, this.metrics, this.logger, this.hooks);
    const sessions = this.sessions;
    this.context = {
      config: this.config,
      logger: this.logger,
      metrics: this.metrics,
      auth: this.auth,
      hub: this.hub,
      nodeId: this.nodeId,
      sessions,
      readiness: () => this.readiness(),
    };
    this.bus = new WsBus({
      deps: { config: this.config, hub: this.hub, auth: this.auth, metrics: this.metrics, logger: this.logger, nodeId: this.nodeId, extensions: this.extensions },
      onSession: (s) => sessions.add(s),
      onSessionClosed: (s) => sessions.delete(s),
    });
    this.ownsHttp = !options.server;
    this.http = options.server ?? createHttpServer();
    if (this.ownsHttp) this.http.on('request', (req, res) => void this.handle(req, res));
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.addHealth('broker', () => broker.health());
    this.addHealth('presence', () => presence.health());
    this.use(opsModule(this.context));
    this.addOpenApi(opsRoutes);
    this.addOpenApi(websocketRoutes(this.config));
  }

  addOpenApi(part: ApiRoutes): void {
    this.apiParts.push(part);
  }

  get openApiParts(): readonly ApiRoutes[] {
    return this.apiParts;
  }

  /** Mounts an HTTP module (checked in mount order). */
  use(module: HttpModule): void {
    this.modules.push(module);
  }

  addUpgrade(handler: UpgradeHandler): void {
    this.upgrades.push(handler);
  }

  /** Adds a part's work to the node's one heartbeat sweep (e.g. `/yjs` pings). */
  addSweep(fn: (now: number) => void): void {
    this.sweeps.push(fn);
  }

  addHealth(name: string, check: HealthCheck): void {
    this.health.push([name, check]);
  }

  /** Runs on close, before the broker and presence are closed (flush documents etc.). */
  onClose(fn: () => Promise<void>): void {
    this.closers.push(fn);
  }

  readiness(): Record<string, { ok: boolean; detail?: string }> {
    const checks: Record<string, { ok: boolean; detail?: string }> = Object.fromEntries(this.health.map(([name, check]) => [name, check()]));
    if (this.shuttingDown) checks.shutdown = { ok: false, detail: 'shutting down' };
    return checks;
  }

  /** How long close() keeps serving with `/readyz` at 503 before it closes connections (`shutdown.readyzGraceMs`). */
  get readyzGraceMs(): number {
    return readyzGraceMs(this.config.shutdown, this.ownsHttp);
  }

  /** Handles an HTTP request; resolves false if no Aqueduct route matched (404 when we own the server). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendError(res, 400, 'BAD_REQUEST', 'invalid URL');
      return true;
    }
    try {
      for (const m of this.modules) if (await m.handle(req, res, url)) return true;
    } catch (err) {
      if (err instanceof HttpError) sendError(res, err.status, err.code, err.message);
      else {
        this.logger.error({ err, path: url.pathname }, 'http handler failed');
        sendError(res, 500, 'INTERNAL', 'internal server error');
      }
      return true;
    }
    if (this.ownsHttp) sendError(res, 404, 'NOT_FOUND', `no route for ${req.method} ${url.pathname}`);
    return false;
  }

  private originAllowed(req: IncomingMessage): boolean {
    const allowed = this.config.allowedOrigins;
    const origin = req.headers.origin;
    return allowed.length === 0 || origin === undefined || allowed.includes(origin);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroyOnError);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return rejectUpgrade(socket, 400, 'Bad Request');
    }
    if (!this.originAllowed(req)) {
      this.logger.info({ origin: req.headers.origin, path: url.pathname }, 'upgrade refused: origin not allowed');
      return rejectUpgrade(socket, 403, 'Forbidden');
    }
    if (this.closing) return rejectUpgrade(socket, 503, 'Service Unavailable');
    if (url.pathname === '/ws') {
      if (this.sessions.size >= this.config.limits.maxConnections) return rejectUpgrade(socket, 503, 'Service Unavailable');
      this.bus.handleUpgrade(req, socket, head, url);
      // ws has its own error listener on the socket from here on (upgraded or refused): ours would
      // stay for the connection's lifetime (an array of listeners per idle connection).
      socket.removeListener('error', destroyOnError);
      return;
    }
    for (const h of this.upgrades) if (h(req, socket, head, url)) return;
    if (this.ownsHttp) rejectUpgrade(socket, 404, 'Not Found');
  }

  /** Publishes from the embedding app. Resolves with the position (none for volatile). */
  publish(room: string, data: unknown, options: Omit<ServerPublishOptions, 'from'> = {}): Promise<PublishOutcome | undefined> {
    if (!isValidRoomName(room)) return Promise.reject(new Error(`invalid room name "${room}"`));
    // Clients can send at most maxMessageBytes per frame; hold the app to the same bound, so no
    // publication can exceed what every subscriber's outbound queue accepts.
    const size = dataBytes(data);
    if (size > this.config.limits.maxMessageBytes) {
      return Promise.reject(new Error(`publication of ${size} bytes exceeds limits.maxMessageBytes (${this.config.limits.maxMessageBytes})`));
    }
    return this.hub.publish(room, data, options);
  }

  /**
   * Starts the broker and the node's one heartbeat sweep: room-bus sessions (ping, auth and token
   * deadlines, idle rate buckets) and every part's sweep (`addSweep`).
   */
  async start(): Promise<void> {
    await this.broker.start(this.hub);
    const { heartbeatIntervalMs, heartbeatTimeoutMs, authTimeoutMs } = this.config.limits;
    const sweepMs = Math.max(50, Math.min(1000, heartbeatIntervalMs / 2, heartbeatTimeoutMs / 2, authTimeoutMs / 2));
    this.sweepTimer = setInterval(() => {
      const now = Date.now();
      for (const s of this.sessions) s.heartbeat(now);
      for (const fn of this.sweeps) fn(now);
    }, sweepMs);
    this.sweepTimer.unref();
  }

  async listen(port = this.config.port, host = this.config.host): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const url = this.url;
    this.logger.info({ url, node: this.nodeId }, 'listening');
    return url;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get url(): string {
    const addr = this.http.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  /**
   * Graceful shutdown: `/readyz` answers 503 at once and, for `readyzGraceMs` (`shutdown.readyzGraceMs`,
   * README §Shutdown and readiness), everything else keeps working but new upgrades, so load balancers
   * stop routing here; then stop accepting, tell every client to reconnect elsewhere (close 4000), let
   * modules flush (documents), then close the broker and presence. Acknowledged publications are
   * already in the broker; unacknowledged ones are resent by clients with their publish ids.
   */
  close(options: { readyzGraceMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      this.shuttingDown = true;
      const grace = options.readyzGraceMs ?? this.readyzGraceMs;
      if (grace > 0) {
        this.logger.info({ graceMs: grace }, 'shutting down: /readyz answers 503; connections close when the grace period ends');
        await new Promise((resolve) => setTimeout(resolve, grace));
      }
      clearInterval(this.sweepTimer);
      this.hooks.close();
      this.bus.close();
      const closedHttp = this.ownsHttp ? new Promise<void>((resolve) => this.http.close(() => resolve())) : Promise.resolve();
      for (const s of [...this.sessions]) s.close(CloseCodes.SHUTDOWN);
      for (const fn of this.closers) {
        try { await fn(); } catch (err) { this.logger.error({ err }, 'close hook failed'); }
      }
      if (this.ownsHttp) {
        this.http.closeIdleConnections?.();
        const force = setTimeout(() => this.http.closeAllConnections?.(), 3000);
        force.unref();
        await closedHttp;
        clearTimeout(force);
      }
      await this.broker.close();
      await this.presence.close();
      this.logger.info('closed');
    })();
    return this.closing;
  }
}

/** The raw socket's error listener until an upgrade handler owns it (shared: no closure per connection). */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

const CONFIG_MARK = Symbol.for('aqueduct.config');
/** Whether a config is already validated (loadConfig / validatedConfig output). */
export function isConfig(c: unknown): c is Config {
  return typeof c === 'object' && c !== null && (c as Record<symbol, unknown>)[CONFIG_MARK] === true;
}

/** Marks a config as already validated (loadConfig output), so createServer does not re-parse it. */
export function validatedConfig(config: Config): Config {
  Object.defineProperty(config, CONFIG_MARK, { value: true, enumerable: false });
  return config;
}
