import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Position } from '@aqueduct/protocol';
import type { ServerContext } from '../context.js';
import { authenticateRequest, sendError } from '../http/http-util.js';
import type { HttpModule } from '../http/http-module.js';
import { SseStream } from './sse.js';
import { admitStream } from '../hooks/http-hooks.js';
import type { StreamRegistry } from './stream-registry.js';
import { authorizeRooms, parseCursor } from './stream-request.js';
import { parseHeaders, parseQuery } from '../http/route.js';
import { streamRoutes } from './stream-routes.js';

/**
 * `GET /api/events?rooms=a,b[&named=0][&lastEventId=...]`: authenticate (Bearer, cookie or
 * `?token=`), check `sub` per room, parse the resume id, then stream.
 */
export function sseModule(ctx: ServerContext, registry: StreamRegistry, onStream?: (s: SseStream) => void): HttpModule {
  const spec = streamRoutes(ctx.config).events;
  return {
    name: 'sse',
    async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
      if (url.pathname !== '/api/events') return false;
      if (req.method !== 'GET') {
        res.setHeader('Allow', 'GET');
        sendError(res, 405, 'BAD_REQUEST', 'use GET for /api/events');
        return true;
      }
      const { config } = ctx;
      const user = await authenticateRequest(req, url, ctx.auth, config.apiKey).catch((err: unknown) => {
        ctx.metrics.authFailures.inc({ code: (err as { code?: string }).code ?? 'UNKNOWN' });
        throw err;
      });
      const query = parseQuery(spec, url);
      const { rooms } = query;
      authorizeRooms(user, 'sub', rooms);
      await admitStream(ctx.hub, user, req, rooms, 'sse'); // backend hooks
      // The resume id: the Last-Event-ID header (set by EventSource on reconnect) wins over ?lastEventId=.
      const header = parseHeaders(spec, req)['Last-Event-ID'];
      const id = header !== undefined && header !== '' ? header : query.lastEventId !== '' ? query.lastEventId : undefined;
      const resume = id === undefined ? new Map<string, Position>() : parseCursor(id, 'Last-Event-ID', rooms);
      const named = query.named !== '0';
      const stream = new SseStream(user, res, { rooms, named }, ctx, registry);
      onStream?.(stream);
      await stream.start(resume);
      return true;
    },
  };
}
