import { CloseCodes } from '@aqueduct/protocol';
import { HttpError } from './http-util.js';
import type { HttpModule } from './http-module.js';
import type { NodeHost, ServerContext } from '../context.js';
import { corsModule } from './cors.js';
import { httpApiModule } from './http-api.js';
import { openApiModule } from './openapi.js';
import { pollModule } from '../streams/poll.js';
import type { SseStream } from '../streams/sse.js';
import { sseModule } from '../streams/sse-route.js';
import { StreamRegistry } from '../streams/stream-registry.js';

/** What the SSE/HTTP module exposes on a server (tests, the admin dashboard, other modules). */
export interface StreamsHandle {
  registry: StreamRegistry;
  /** SSE streams currently open on this node. */
  streams: ReadonlySet<SseStream>;
}
/** @deprecated old name of StreamsHandle. */
export type SseHttpHandle = StreamsHandle;

/** The SSE/HTTP module of a server, once installed (AqueductServer.streams). */
export function sseHttpOf(server: { streams?: StreamsHandle }): StreamsHandle | undefined {
  return server.streams;
}

/** 4xx answers are bad input: logged at info with their code (the server stays up, nothing is only printed). */
function logged(ctx: ServerContext, module: HttpModule): HttpModule {
  return {
    name: module.name,
    async handle(req, res, url) {
      try {
        return await module.handle(req, res, url);
      } catch (err) {
        if (err instanceof HttpError) ctx.logger.info({ path: url.pathname, status: err.status, code: err.code, reason: err.message }, 'api request rejected');
        throw err;
      }
    },
  };
}

/**
 * Mounts CORS for `/api/*`, `/api/openapi.json`, SSE (`/api/events`), long polling (`/api/poll`)
 * and the HTTP API (`/api/publish`, `/api/rooms/:room/*`). Streams are closed on shutdown with
 * `event: disconnect` (4000, reconnect).
 */
export function installSseHttp(server: NodeHost): StreamsHandle {
  const ctx = server.context;
  const registry = new StreamRegistry(ctx.config, ctx.hub);
  const streams = new Set<SseStream>();
  const handle: StreamsHandle = { registry, streams };
  server.use(corsModule(ctx));
  server.use(openApiModule(ctx.config, () => server.openApiFragments));
  server.use(logged(ctx, sseModule(ctx, registry, (s) => {
    streams.add(s);
    s.onEnd(() => streams.delete(s));
  })));
  server.use(logged(ctx, pollModule(ctx, registry)));
  server.use(logged(ctx, httpApiModule(ctx)));
  server.onClose(async () => registry.closeAll(CloseCodes.SHUTDOWN));
  return handle;
}
