import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Position } from '@aqueduct/protocol';
import type { ServerContext } from '../context.js';
import { authenticateRequest, sendError } from '../http/http-util.js';
import type { HttpModule } from '../http/http-module.js';
import { SseStream } from './sse.js';
import { admitStream } from '../hooks/http-hooks.js';
import type { StreamRegistry } from './stream-registry.js';
import { authorizeRooms, lastEventIdOf, parseCursor, parseRooms } from './stream-request.js';

/**
 * `GET /api/events?rooms=a,b[&named=0][&lastEventId=...]`: authenticate (Bearer, cookie or
 * `?token=`), check `sub` per room, parse the resume id, then stream.
 */
export function sseModule(ctx: ServerContext, registry: StreamRegistry, onStream?: (s: SseStream) => void): HttpModule {
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
      const rooms = parseRooms(url, config.sse.maxRoomsPerStream);
      authorizeRooms(user, 'sub', rooms);
      await admitStream(ctx.hub, user, req, rooms, 'sse'); // backend hooks
      const id = lastEventIdOf(req, url);
      const resume = id === undefined ? new Map<string, Position>() : parseCursor(id, 'Last-Event-ID', rooms);
      const named = url.searchParams.get('named') !== '0';
      const stream = new SseStream(user, res, { rooms, named }, ctx, registry);
      onStream?.(stream);
      await stream.start(resume);
      return true;
    },
  };
}
