import { randomBytes } from 'node:crypto';
import { configuredDocBackends, createBackends } from './cluster/backends.js';
import { loadConfig, parseConfig, type Config } from './config.js';
import { installDemo, withDemoApiKey } from './apps/demo/index.js';
import { installDocs } from './docs/install.js';
import { installSseHttp } from './http/api-mount.js';
import { createLogger } from './logger.js';
import { AqueductServer, isConfig, type CreateServerOptions } from './server.js';
import { installWebrtc } from './webrtc/index.js';
import { installSfu } from './sfu/index.js';

/** A part of the node: mounts routes, upgrade handlers, health checks and close hooks on it. */
export type ServerModuleInstaller = (server: AqueductServer) => Promise<void> | void;

/**
 * The composition root: builds one node from its config. Config is validated once here; the demo's
 * generated API key is settled before any part reads the config (no mutation afterwards). Then, in
 * order: backends (broker + presence), the node (HTTP, `/ws` room bus, ops routes), and its parts.
 */
export async function buildNode(options: CreateServerOptions = {}): Promise<AqueductServer> {
  const parsed = isConfig(options.config) ? options.config : parseConfig(options.config ?? {});
  const logger = options.logger ?? createLogger(parsed.logLevel);
  // The node id is fixed before the backends start: Redis presence entries belong to it.
  const config: Config = withDemoApiKey({ ...parsed, nodeId: parsed.nodeId ?? randomBytes(4).toString('hex') }, logger);
  const { broker, presence } = await createBackends(config, logger, options);
  const server = new AqueductServer({ ...options, config, logger }, broker, presence);
  // The parts, in mount order (HTTP routes are tried in this order):
  server.streams = installSseHttp(server); // CORS for /api/*, OpenAPI, SSE, long poll, HTTP API: first, its CORS layer covers all of /api/*
  installDemo(server); // demo page, demo tokens, admin dashboard and stats
  installDocs(server, await configuredDocBackends(config, logger, options.docs)); // /yjs/:doc and /api/docs/*
  installWebrtc(server); // ICE servers, connection stats
  installSfu(server); // media through Janus: `media` requests on /ws, /api/admin/sfu (README §Media (SFU))
  for (const install of options.modules ?? []) await install(server);
  return server;
}

/**
 * Creates and starts a node. With no `server` option it listens on `config.host:config.port`
 * (port 0 picks a free port); with `server`, it attaches to that HTTP server.
 */
export async function createServer(options: CreateServerOptions = {}): Promise<AqueductServer> {
  const server = await buildNode(options);
  await server.start();
  if (!options.server) await server.listen();
  return server;
}

export { loadConfig };
