import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { PublishOutcome } from '../broker/broker.js';
import type { ServerDocs } from '../docs/docs-api.js';
import type { ServerPublishOptions } from '../core/hub.js';
import { sendError } from '../http/http-util.js';
import { createServer } from '../node.js';
import type { AqueductServer, CreateServerOptions } from '../server.js';

export interface CreateAqueductOptions extends Omit<CreateServerOptions, 'server'> {
  /**
   * Path prefix of every Aqueduct route: with `/rt`, the room bus is `/rt/ws`, the HTTP API
   * `/rt/api/...`, documents `/rt/yjs/:doc`, health `/rt/healthz`. Default `''` (the root).
   */
  prefix?: string;
}

/** Express / Connect style continuation. */
export type NextFunction = (err?: unknown) => void;

/** Aqueduct mounted in an app's own HTTP server (README §Embedding in your app). */
export interface Aqueduct {
  /** The normalized prefix (`''` or `/segment[/segment...]`, no trailing slash). */
  readonly prefix: string;
  /**
   * Answers requests under the prefix; everything else goes to `next()` (or is left alone, resolving
   * false, without `next`). Bound: pass it as middleware as is (`app.use(aq.handleRequest)`).
   */
  handleRequest(req: IncomingMessage, res: ServerResponse, next?: NextFunction): Promise<boolean>;
  /** Takes WebSocket upgrades under the prefix (`/ws`, `/yjs/:doc`); false (socket untouched) for others. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Listens for upgrades on `server`; returns a function that stops. */
  attach(server: HttpServer): () => void;
  /** Resolves once the node is started (backends connected); rejects if it failed to start. */
  ready(): Promise<AqueductServer>;
  /** Server-side documents API (waits for `ready`). */
  readonly docs: ServerDocs;
  /** Publishes from the app (waits for `ready`). */
  publish(room: string, data: unknown, options?: Omit<ServerPublishOptions, 'from'>): Promise<PublishOutcome | undefined>;
  /** Graceful shutdown of Aqueduct (not of your HTTP server). */
  close(): Promise<void>;
}

/** `/rt/` -> `/rt`, `/` -> ``; throws on anything that is not a plain path. */
export function normalizePrefix(prefix: string | undefined): string {
  const p = (prefix ?? '').replace(/\/+$/, '');
  if (p === '') return '';
  if (!/^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/.test(p)) throw new Error(`invalid prefix ${JSON.stringify(prefix)}: expected a path like "/rt"`);
  return p;
}

/** The URL (path + query) below `prefix`, or undefined when `raw` is not under it. */
export function stripPrefix(prefix: string, raw: string): string | undefined {
  if (prefix === '') return raw;
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q);
  if (path === prefix) return '/' + query;
  if (path.startsWith(prefix + '/')) return path.slice(prefix.length) + query;
  return undefined;
}

/** Upgrade paths Aqueduct serves (below the prefix). */
const isUpgradePath = (path: string) => path === '/ws' || path.startsWith('/yjs/');

/**
 * Creates an Aqueduct node to mount on an existing HTTP server, Express or Fastify app. It never
 * listens itself and never answers outside its prefix. The node starts at once; handlers wait for it.
 */
export function createAqueduct(options: CreateAqueductOptions = {}): Aqueduct {
  const prefix = normalizePrefix(options.prefix);
  const { prefix: _omit, ...serverOptions } = options;
  // Aqueduct's upgrade routing listens on this server; it never listens on a port.
  const internal = createHttpServer();
  const starting = createServer({ ...serverOptions, server: internal });
  starting.catch(() => undefined); // reported by ready() and by each handler
  const detach = new Set<() => void>();
  let closed: Promise<void> | undefined;

  const handleRequest = async (req: IncomingMessage, res: ServerResponse, next?: NextFunction): Promise<boolean> => {
    const original = req.url ?? '/';
    const raw = (req as { originalUrl?: string }).originalUrl ?? original;
    const inner = stripPrefix(prefix, raw);
    if (inner === undefined) {
      next?.();
      return false;
    }
    let server: AqueductServer;
    try {
      server = await starting;
    } catch (err) {
      if (next) next(err);
      else sendError(res, 503, 'UNAVAILABLE', 'Aqueduct failed to start');
      return true;
    }
    req.url = inner;
    const handled = await server.handle(req, res);
    if (handled) return true;
    req.url = original;
    if (next) next();
    else if (prefix !== '') sendError(res, 404, 'NOT_FOUND', `no route for ${req.method} ${raw.split('?')[0]}`);
    return prefix !== '' && !next;
  };

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const inner = stripPrefix(prefix, req.url ?? '/');
    if (inner === undefined) return false;
    if (!isUpgradePath(inner.split('?')[0])) {
      if (prefix === '') return false;
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return true;
    }
    req.url = inner;
    starting.then(
      () => internal.emit('upgrade', req, socket, head),
      () => socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'),
    );
    return true;
  };

  const attach = (server: HttpServer): (() => void) => {
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (handleUpgrade(req, socket, head)) return;
      // Not ours: if nobody else listens, refuse it as Node would without any listener.
      if (server.listenerCount('upgrade') === 1) socket.destroy();
    };
    server.on('upgrade', listener);
    const off = () => { server.off('upgrade', listener); detach.delete(off); };
    detach.add(off);
    return off;
  };

  const docsCall = <K extends keyof ServerDocs>(key: K) =>
    (async (...args: unknown[]) => {
      const server = await starting;
      return (server.docs[key] as (...a: unknown[]) => unknown)(...args);
    }) as unknown as ServerDocs[K];

  return {
    prefix,
    handleRequest,
    handleUpgrade,
    attach,
    ready: () => starting,
    docs: { read: docsCall('read'), readJson: docsCall('readJson'), transact: docsCall('transact') },
    publish: async (room, data, opts) => (await starting).publish(room, data, opts),
    close() {
      closed ??= (async () => {
        for (const off of [...detach]) off();
        const server = await starting.catch(() => undefined);
        await server?.close();
      })();
      return closed;
    },
  };
}
