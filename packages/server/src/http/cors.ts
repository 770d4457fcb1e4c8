import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from './http-util.js';
import type { HttpModule } from './http-module.js';
import type { ServerContext } from '../context.js';

/** Request headers a browser may send to `/api/*` (Last-Event-ID: EventSource reconnects). */
export const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, Last-Event-ID, X-API-Key, Idempotency-Key';
export const CORS_ALLOW_METHODS = 'GET, POST, OPTIONS';
/** How long a browser may cache a preflight answer. */
export const CORS_MAX_AGE_SEC = 600;

/**
 * CORS for `/api/*`, from `allowedOrigins`:
 * - empty list (default): any origin, `Access-Control-Allow-Origin: *` without credentials
 *   (tokens travel in `Authorization` or `?token=`; cookies are not sent cross-origin);
 * - a list: listed origins are echoed with `Access-Control-Allow-Credentials: true` (cookie auth
 *   works cross-origin); any other origin gets 403 PERMISSION_DENIED.
 * Requests without an `Origin` header (backends, same-origin GETs) and same-origin requests (`Origin`
 * equal to the `Host` the request was sent to) are untouched.
 *
 * Mounted before the API modules: it answers preflights and sets the headers, then lets the
 * request through (`handle` resolves false).
 */
export function corsModule(ctx: ServerContext): HttpModule {
  return {
    name: 'cors',
    async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
      if (!url.pathname.startsWith('/api/')) return false;
      const origin = req.headers.origin;
      if (origin === undefined) {
        if (req.method === 'OPTIONS') {
          res.writeHead(204, { Allow: CORS_ALLOW_METHODS });
          res.end();
          return true;
        }
        return false;
      }
      const allowed = ctx.config.allowedOrigins;
      // Same-origin requests (browsers send Origin on POSTs too) are not cross-origin: no CORS headers.
      if (isSameOrigin(origin, req.headers.host)) return false;
      if (allowed.length > 0 && !allowed.includes(origin)) {
        ctx.logger.info({ origin, path: url.pathname }, 'api request refused: origin not allowed');
        sendError(res, 403, 'PERMISSION_DENIED', `origin ${origin} is not allowed`);
        return true;
      }
      if (allowed.length === 0) {
        res.setHeader('Access-Control-Allow-Origin', '*');
      } else {
        res.setHeader('Access-Control-Allow-Origin', origin);
        res.setHeader('Access-Control-Allow-Credentials', 'true');
        res.setHeader('Vary', 'Origin');
      }
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'Access-Control-Allow-Methods': CORS_ALLOW_METHODS,
          'Access-Control-Allow-Headers': CORS_ALLOW_HEADERS,
          'Access-Control-Max-Age': String(CORS_MAX_AGE_SEC),
        });
        res.end();
        return true;
      }
      return false;
    },
  };
}

function isSameOrigin(origin: string, host: string | undefined): boolean {
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}
