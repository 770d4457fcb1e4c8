import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Authenticator } from './auth/auth.js';
import type { Config } from './config.js';
import type { Hub } from './core/hub.js';
import type { Session } from './core/session.js';
import type { HttpModule } from './http/http-module.js';
import type { OpenApiFragment } from './http/openapi-common.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/**
 * The shared types between the node (server.ts, node.ts) and the parts mounted on it. Parts import
 * these types only, never the server: the dependency points one way (node -> parts).
 */

/** Upgrade handlers for paths other than `/ws` (e.g. `/yjs/:doc`), registered by modules. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => boolean;

/** A readiness check (`/readyz`). */
export type HealthCheck = () => { ok: boolean; detail?: string };

/** Everything modules need from the running server. */
export interface ServerContext {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  auth: Authenticator;
  hub: Hub;
  nodeId: string;
  /** Open room-bus sessions on this node. */
  sessions: ReadonlySet<Session>;
  readiness(): Record<string, { ok: boolean; detail?: string }>;
}

/** What a part mounts on the node: HTTP routes, upgrade paths, health checks, close hooks, OpenAPI. */
export interface NodeHost {
  readonly context: ServerContext;
  use(module: HttpModule): void;
  addUpgrade(handler: UpgradeHandler): void;
  addHealth(name: string, check: HealthCheck): void;
  /** Runs on the node's one heartbeat sweep (every 50–1000 ms, see server.ts), with the current time. */
  addSweep(fn: (now: number) => void): void;
  /** Runs on close, before the broker and presence are closed (flush documents etc.). */
  onClose(fn: () => Promise<void>): void;
  /** Adds routes to `/api/openapi.json`. */
  addOpenApi(fragment: OpenApiFragment): void;
  /** The fragments added so far (read by the OpenAPI route on each build). */
  readonly openApiFragments: readonly OpenApiFragment[];
}
